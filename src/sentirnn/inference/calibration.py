"""logits → trustworthy probabilities: temperature scaling, ECE and reliability diagrams.

A network trained with cross-entropy is usually over-confident: when it says 0.99 it is
right less often than 99% of the time. Temperature scaling (Guo et al., 2017, "On
Calibration of Modern Neural Networks") divides every logit by one scalar T > 0 fitted on
held-out data by minimising the negative log-likelihood of ``softmax(logits / T)``. One
parameter cannot overfit much, and dividing by T never changes the argmax, so labels —
accuracy, F1, the confusion matrix — stay exactly as they were.

Torch-free (numpy + scipy) so that the ONNX predictor can use it too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from sentirnn.errors import ArtifactError, DataError
from sentirnn.inference.postprocess import softmax
from sentirnn.metrics import load_pyplot

# Searched range of T. NLL is convex in 1/T, so the bounded 1-D search finds the optimum
# whenever it lies inside; a validation set the model labels perfectly pushes T to the lower
# bound (sharper is always better there), which is why the bound is not much below 1.
T_BOUNDS = (0.05, 20.0)
ECE_BINS = 15


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _check(logits, y, what: str) -> tuple[np.ndarray, np.ndarray]:
    logits, y = np.asarray(logits, dtype=np.float64), np.asarray(y)
    if logits.ndim != 2 or len(logits) != len(y) or len(y) == 0:
        raise DataError(f"{what} needs an (n, C) array and n integer labels with n ≥ 1; got "
                        f"shapes {logits.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= logits.shape[1]:
        raise DataError(f"{what}: labels must be class indices in [0, {logits.shape[1]})")
    return logits, y.astype(np.int64)


def nll(logits, y, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``softmax(logits / temperature)`` at labels ``y``."""
    logits, y = _check(logits, y, "nll")
    return float(-_log_softmax(logits / temperature)[np.arange(len(y)), y].mean())


def fit_temperature(logits, y) -> float:
    """The temperature T > 0 that minimises the NLL of ``softmax(logits / T)`` on (logits, y).

    Parameters
    ----------
    logits : array (n, C) of held-out (validation) logits — never the training data's.
    y : n class indices.

    Returns
    -------
    float
        T within ``T_BOUNDS``; > 1 softens over-confident probabilities, < 1 sharpens.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(4000, 3)) * 2
    >>> y = np.array([rng.choice(3, p=np.exp(r) / np.exp(r).sum()) for r in z])
    >>> round(fit_temperature(z * 4, y), 1)  # logits 4× too confident → T ≈ 4
    4.0
    """
    logits, y = _check(logits, y, "fit_temperature")
    rows = np.arange(len(y))

    def loss(log_t: float) -> float:  # searched on log T: scale-free and always T > 0
        return float(-_log_softmax(logits / math.exp(log_t))[rows, y].mean())

    low, high = (math.log(b) for b in T_BOUNDS)
    result = minimize_scalar(loss, bounds=(low, high), method="bounded",
                             options={"xatol": 1e-5})
    # The bounded search may stop just off T = 1 on an already calibrated model; keep 1
    # when it is not worse, so that "no change" stays exactly no change.
    t = math.exp(float(result.x))
    return 1.0 if loss(0.0) <= loss(math.log(t)) else t


def expected_calibration_error(probs, y, bins: int = ECE_BINS) -> float:
    """ECE: the |accuracy − confidence| gap, averaged over equal-width confidence bins
    weighted by their share of the texts (confidence = the top class's probability).

    Parameters
    ----------
    probs : array (n, C) of class probabilities.
    y : n class indices.
    bins : number of equal-width bins over [0, 1] (15 as in Guo et al.).
    """
    probs, y = _check(probs, y, "expected_calibration_error")
    confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(ece)


def reliability_bins(probs, y, bins: int = ECE_BINS) -> list[dict]:
    """Per non-empty bin: mean confidence, accuracy and count (what a reliability diagram
    plots)."""
    probs, y = _check(probs, y, "reliability_bins")
    confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == y)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    return [{"confidence": float(confidence[which == b].mean()),
             "accuracy": float(correct[which == b].mean()), "count": int((which == b).sum())}
            for b in range(bins) if (which == b).any()]


def summary(logits, y, temperature: float, bins: int = ECE_BINS) -> dict:
    """What config.json and metrics.json record: T, and ECE and NLL before and after."""

    logits, y = _check(logits, y, "calibration summary")
    return {"temperature": float(temperature), "bins": bins, "n": len(y),
            "ece_before": expected_calibration_error(softmax(logits), y, bins),
            "ece_after": expected_calibration_error(softmax(logits / temperature), y, bins),
            "nll_before": nll(logits, y), "nll_after": nll(logits, y, temperature)}


def temperature_from_config(config: dict, where) -> float:
    """T from a model directory's config.json; 1.0 when it was never calibrated."""
    section = config.get("calibration") or {}
    value = section.get("temperature", 1.0) if isinstance(section, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or not math.isfinite(value) or value <= 0:
        raise ArtifactError(f"{where}/config.json has an invalid calibration temperature "
                            f"({value!r}); it must be a number > 0 — retrain with --calibrate "
                            "or remove the 'calibration' entry")
    return float(value)


def plot_reliability(probs_before, probs_after, y, path, bins: int = ECE_BINS,
                     labels: Sequence[str] = ("before", "after")) -> None:
    """A reliability diagram: accuracy against confidence per bin, before and after scaling.

    A perfectly calibrated model lies on the diagonal; points below it are over-confident.
    """
    plt = load_pyplot()
    fig, (curve, hist) = plt.subplots(2, 1, figsize=(4.8, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    curve.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for probs, name, marker in ((probs_before, labels[0], "o"), (probs_after, labels[1], "s")):
        points = reliability_bins(probs, y, bins)
        ece = expected_calibration_error(probs, y, bins)
        curve.plot([p["confidence"] for p in points], [p["accuracy"] for p in points],
                   marker=marker, label=f"{name} (ECE {ece:.3f})")
        hist.hist(np.asarray(probs).max(axis=1), bins=np.linspace(0, 1, bins + 1), alpha=0.5,
                  label=name)
    curve.set_ylabel("accuracy")
    curve.set_xlim(0, 1)
    curve.set_ylim(0, 1.02)
    curve.set_title("reliability (validation)")
    curve.legend(loc="upper left")
    hist.set_xlabel("confidence (top-class probability)")
    hist.set_ylabel("texts")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
