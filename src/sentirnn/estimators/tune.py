"""Hyper-parameter search: an Optuna study over SentimentClassifier's parameters.

Each trial fits one classifier and scores it by validation macro-F1 (the score early
stopping watches, so the number is the one of the restored best epoch). The sampler is
TPE, seeded, so a rerun with the same seed and data proposes the same settings; a
``MedianPruner`` stops a trial whose per-epoch validation macro-F1 falls below the median of
earlier trials at the same epoch. The per-epoch numbers come from a Lightning callback
(:class:`ReportToTrial`) that the trial's classifier passes to ``training.train_net``
alongside its own — nothing in the fit loop knows about Optuna.

Optuna is an optional dependency: ``pip install 'sentirnn[tune]'``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import lightning as L

from sentirnn.errors import ConfigError, SentirnnError
from sentirnn.estimators.classifier import SentimentClassifier

log = logging.getLogger("sentirnn")
TUNING_FILE = "tuning.json"

# A search space maps a SentimentClassifier parameter to a list of choices (categorical) or
# to {"low", "high"[, "log"][, "step"]} (a range: integers when both ends are integers).
# The default one is sized for CPUs: at most a few minutes a trial on ~10k short reviews.
DEFAULT_SPACE: dict[str, Any] = {
    "arch": ["bilstm", "bigru"],
    "pooling": ["maxmean", "max", "mean", "attention"],
    "embedding_dim": [64, 128, 200, 300],
    "hidden_size": [64, 128, 256],
    "dropout": {"low": 0.1, "high": 0.6},
    "embedding_dropout": {"low": 0.0, "high": 0.5},
    "lr": {"low": 5e-4, "high": 1e-2, "log": True},
    "batch_size": [32, 64, 128],
}


class TuningResult(NamedTuple):
    """What :func:`tune` returns."""

    best_params: dict  # every SentimentClassifier parameter of the best trial
    best_classifier: Any  # that trial's fitted SentimentClassifier
    best_score: float  # its validation macro-F1
    trials: list[dict]  # one record per trial: number, state, value, params, epochs, seconds
    search_space: dict

    def to_dict(self) -> dict:
        """The JSON form written as ``tuning.json``."""
        best = max((t for t in self.trials if t["state"] == "COMPLETE"),
                   key=lambda t: t["value"])
        return {"format": "sentirnn.tuning", "format_version": 1, "objective":
                "validation macro-F1", "best_trial": best["number"],
                "best_value": self.best_score, "best_params": self.best_params,
                "search_space": self.search_space, "trials": self.trials}


def _require_optuna():
    try:
        import optuna  # optional: the 'tune' extra
    except ImportError:
        raise ImportError("hyper-parameter tuning needs optuna: pip install 'sentirnn[tune]' "
                          "(or pip install optuna)") from None
    return optuna


class ReportToTrial(L.Callback):
    """Report each epoch's validation macro-F1 to an Optuna trial; prune when it says so.

    Raising ``optuna.TrialPruned`` from the callback ends ``trainer.fit`` (Lightning tears
    down and re-raises), and Optuna records the trial as pruned.
    """

    def __init__(self, trial):
        self.trial = trial

    def on_validation_end(self, trainer, module):
        score = trainer.callback_metrics.get("val_macro_f1")
        if score is None:
            return
        epoch = trainer.current_epoch
        self.trial.report(float(score), step=epoch)
        if self.trial.should_prune():
            raise _require_optuna().TrialPruned(
                f"pruned after epoch {epoch + 1} (validation macro-F1 {float(score):.4f})")


def check_space(space: dict) -> dict:
    """Validate a search space (see ``DEFAULT_SPACE``); returns it in JSON form."""
    names = SentimentClassifier._param_names()
    if not isinstance(space, dict) or not space:
        raise ConfigError("the search space must be a non-empty mapping of parameter → "
                          "choices list or {'low', 'high'} range")
    out = {}
    for name, spec in space.items():
        if name not in names:
            raise ConfigError(f"search space: {name!r} is not a SentimentClassifier "
                              f"parameter; valid: {', '.join(names)}")
        if isinstance(spec, (list, tuple)) and spec:
            out[name] = list(spec)
        elif isinstance(spec, dict) and {"low", "high"} <= set(spec) \
                and set(spec) <= {"low", "high", "log", "step"} \
                and all(isinstance(spec[k], (int, float)) and not isinstance(spec[k], bool)
                        for k in ("low", "high")) and spec["low"] <= spec["high"]:
            out[name] = dict(spec)
        else:
            raise ConfigError(f"search space: {name} must be a non-empty list of choices or "
                              f"{{'low': a, 'high': b[, 'log': true]}} with a ≤ b; got {spec!r}")
    return out


def suggest(trial, space: dict) -> dict:
    """One trial's parameters drawn from the space."""
    params = {}
    for name, spec in space.items():
        if isinstance(spec, list):
            params[name] = trial.suggest_categorical(name, spec)
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            params[name] = trial.suggest_int(name, spec["low"], spec["high"],
                                             step=spec.get("step", 1),
                                             log=bool(spec.get("log", False)))
        else:
            params[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                               step=spec.get("step"),
                                               log=bool(spec.get("log", False)))
    return params


def tune(texts: Sequence[str], labels: Sequence[str],
         valid: tuple[Sequence[str], Sequence[str]] | None = None, n_trials: int | None = 20,
         timeout: float | None = None, seed: int = 0, base_params: dict | None = None,
         search_space: dict | None = None) -> TuningResult:
    """Search SentimentClassifier hyper-parameters for the best validation macro-F1.

    Parameters
    ----------
    texts, labels : the training data.
    valid : (texts, labels) to score trials on; without it every trial holds out the same
        seeded ``valid_fraction`` of the training data.
    n_trials, timeout : stop after this many trials or seconds (whichever comes first; a
        running trial is finished). At least one must be given.
    seed : seeds the sampler and every trial's classifier (``seed`` parameter).
    base_params : the fixed SentimentClassifier parameters (e.g. ``max_epochs``,
        ``language``, ``num_threads``); the searched ones override them.
    search_space : parameter → list of choices, or ``{"low", "high"[, "log"]}``;
        default ``DEFAULT_SPACE`` (architecture, pooling, sizes, dropout, lr, batch size).

    Returns
    -------
    TuningResult
        ``best_params``, ``best_classifier`` (already fitted), ``best_score``, ``trials``.

    Examples
    --------
    >>> result = tune(texts, labels, n_trials=20, timeout=3600)  # doctest: +SKIP
    >>> result.best_classifier.save("models/tuned")  # doctest: +SKIP
    """
    optuna = _require_optuna()
    if n_trials is None and timeout is None:
        raise ConfigError("tune needs n_trials or timeout (or both), or it would never stop")
    if n_trials is not None and n_trials < 1:
        raise ConfigError(f"n_trials must be at least 1, not {n_trials}")
    space = check_space(search_space if search_space is not None else DEFAULT_SPACE)
    base = dict(base_params or {})
    unknown = sorted(set(base) - set(SentimentClassifier._param_names()))
    if unknown:
        raise ConfigError(f"base_params: {unknown} are not SentimentClassifier parameters")
    base["seed"] = seed
    if valid is None and base.get("valid_fraction", 0.1) <= 0:
        raise ConfigError("tuning scores every trial on validation data: pass valid or keep "
                          "valid_fraction > 0")
    best: dict[str, Any] = {"score": -math.inf, "classifier": None}

    def objective(trial) -> float:
        params = {**base, **suggest(trial, space)}
        clf = SentimentClassifier(**params)
        _train_with(clf, [ReportToTrial(trial)])
        try:
            clf.fit(texts, labels, valid=valid)
        finally:
            del clf._train  # the returned classifier carries no reference to the trial
        score = float(clf.report_.macro_f1)
        trial.set_user_attr("epochs", clf.train_summary_.get("epochs_run"))
        if score > best["score"]:  # keep only the best fitted model in memory
            best.update(score=score, classifier=clf, params=clf.get_params())
        return score

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # we log one line per trial instead
    try:
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
        study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=[_log_trial],
                       gc_after_trial=False)
    finally:
        optuna.logging.set_verbosity(level)
    trials = [_record(t) for t in study.trials]
    if best["classifier"] is None:
        raise SentirnnError(f"no tuning trial finished ({len(trials)} started, "
                            f"{sum(t['state'] == 'PRUNED' for t in trials)} pruned); "
                            "raise --timeout or --trials")
    return TuningResult(best["params"], best["classifier"], best["score"], trials, space)


def _train_with(clf, callbacks: list) -> None:
    """Make this classifier's fit loop run extra Lightning callbacks (an instance
    attribute shadowing the method: no other classifier is affected)."""
    train = clf._train

    def _train(*args, **kwargs):
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), *callbacks]
        return train(*args, **kwargs)

    clf._train = _train


def _record(trial) -> dict:
    seconds = trial.duration.total_seconds() if trial.duration is not None else None
    return {"number": trial.number, "state": trial.state.name, "value": trial.value,
            "params": trial.params, "epochs": trial.user_attrs.get(
                "epochs", len(trial.intermediate_values) or None),
            "epoch_scores": [trial.intermediate_values[k]
                             for k in sorted(trial.intermediate_values)],
            "seconds": seconds}


def _log_trial(study, trial) -> None:
    record = _record(trial)
    value = f"macro-F1 {record['value']:.4f}" if record["value"] is not None else \
        f"stopped after {len(record['epoch_scores'])} epoch(s)"
    log.info("trial %d %s: %s in %.1f s  %s", trial.number, record["state"].lower(), value,
             record["seconds"] or 0.0, json.dumps(record["params"]))


def format_trials(result: TuningResult) -> str:
    """A plain-text table of the trials, best marked with '*'."""
    names = list(result.search_space)
    best = result.to_dict()["best_trial"]
    header = ["", "trial", "state", "macro-F1", "epochs", "seconds", *names]
    rows = []
    for t in result.trials:
        value = "" if t["value"] is None else f"{t['value']:.4f}"
        params = [_short(t["params"].get(n, "")) for n in names]
        rows.append(["*" if t["number"] == best else "", str(t["number"]),
                     t["state"].lower(), value, str(t["epochs"] or ""),
                     f"{t['seconds']:.1f}" if t["seconds"] is not None else "", *params])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [header, *rows])


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def write_tuning(result: TuningResult, model_dir) -> Path:
    """Write ``tuning.json`` (all trials) into a model directory, atomically."""
    model_dir = Path(model_dir)
    path = model_dir / TUNING_FILE
    tmp = model_dir / f".{TUNING_FILE}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path
