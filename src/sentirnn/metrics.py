"""labels → numbers: accuracy, per-class and macro/weighted P/R/F1, confusion, plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support


@dataclass
class EvaluationReport:
    """What ``evaluate`` returns; ``to_dict`` is what ``metrics.json`` holds."""

    n: int
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    weighted_f1: float
    labels: list[str]
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]  # rows = true label, columns = predicted, in ``labels`` order
    # Only for temperature-scaled models: T, and ECE/NLL on these texts before and after
    # scaling (``sentirnn.inference.calibration.summary``).
    calibration: dict | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["calibration"] is None:  # uncalibrated reports keep their old shape
            del data["calibration"]
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def __str__(self) -> str:
        width = max(12, *(len(label) for label in self.labels))
        lines = [f"{'label':<{width}} precision    recall        f1   support"]
        for label in self.labels:
            c = self.per_class[label]
            lines.append(f"{label:<{width}} {c['precision']:9.4f} {c['recall']:9.4f} "
                         f"{c['f1']:9.4f} {c['support']:9d}")
        lines.append(f"{'macro avg':<{width}} {self.macro_precision:9.4f} "
                     f"{self.macro_recall:9.4f} {self.macro_f1:9.4f} {self.n:9d}")
        lines.append(f"{'weighted F1':<{width}} {'':9} {'':9} {self.weighted_f1:9.4f}")
        lines.append(f"accuracy {self.accuracy:.4f} on {self.n} texts")
        lines.append("confusion (rows = true, columns = predicted): " + " ".join(self.labels))
        lines += ["  " + " ".join(f"{v:6d}" for v in row) for row in self.confusion]
        if self.calibration:
            c = self.calibration
            lines.append(f"calibration: temperature {c['temperature']:.3f}, ECE "
                         f"{c['ece_before']:.4f} → {c['ece_after']:.4f} ({c['bins']} bins)")
        return "\n".join(lines)

    def plot_confusion(self, path) -> None:
        """Write the confusion matrix as a PNG."""
        plt = load_pyplot()
        size = 2.5 + 0.6 * len(self.labels)
        fig, ax = plt.subplots(figsize=(size, size))
        matrix = np.array(self.confusion)
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(self.labels)), self.labels, rotation=45, ha="right")
        ax.set_yticks(range(len(self.labels)), self.labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        threshold = matrix.max() / 2 if matrix.size else 0
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, str(v), ha="center", va="center",
                    color="white" if v > threshold else "black")
        ax.set_title(f"accuracy {self.accuracy:.3f}, macro-F1 {self.macro_f1:.3f}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def evaluate_labels(true: Sequence[str], predicted: Sequence[str],
                    labels: Sequence[str]) -> EvaluationReport:
    """Compare label lists; ``labels`` fixes the class order of the report."""
    labels = list(labels)
    true, predicted = list(true), list(predicted)
    p, r, f, s = precision_recall_fscore_support(true, predicted, labels=labels,
                                                 zero_division=0)
    macro = precision_recall_fscore_support(true, predicted, labels=labels, average="macro",
                                            zero_division=0)
    weighted = precision_recall_fscore_support(true, predicted, labels=labels,
                                               average="weighted", zero_division=0)
    per_class = {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                         "support": int(s[i])} for i, label in enumerate(labels)}
    n = len(true)
    accuracy = float(np.mean([a == b for a, b in zip(true, predicted)])) if n else 0.0
    return EvaluationReport(
        n=n, accuracy=accuracy, macro_precision=float(macro[0]), macro_recall=float(macro[1]),
        macro_f1=float(macro[2]), weighted_f1=float(weighted[2]), labels=labels,
        per_class=per_class,
        confusion=confusion_matrix(true, predicted, labels=labels).tolist(),
    )


VALIDATION_SCORES = (("val_macro_f1", "macro-F1"), ("val_accuracy", "accuracy"))


def plot_curves(history: list[dict], path, scores=VALIDATION_SCORES) -> None:
    """Training and validation loss, and the validation ``scores`` (key, label), per epoch."""
    plt = load_pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    _plot_series(left, history, epochs, (("train_loss", "train"), ("val_loss", "validation")),
                 "loss", "no losses recorded")
    _plot_series(right, history, epochs, scores, "validation", "no validation data")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)



def write_curves(history: list[dict], path) -> None:
    """The per-epoch history as CSV (``epoch`` first), written beside ``curves.png``."""
    keys = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    lines = [",".join(keys)] + [",".join(str(row.get(k, "")) for k in keys) for row in history]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

def _plot_series(ax, history: list[dict], epochs: list, series, ylabel: str,
                 empty: str) -> None:
    """One panel of ``plot_curves``; a panel with nothing to draw (no validation data, say)
    shows ``empty`` instead of a legend (matplotlib warns on a legend with nothing to list)."""
    for key, label in series:
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax.plot(epochs, values, marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if ax.lines:
        ax.legend()
    else:
        ax.text(0.5, 0.5, empty, ha="center", va="center",
                transform=ax.transAxes)


def load_pyplot():
    """matplotlib.pyplot on the headless Agg backend (imported on first use: it is slow)."""
    import matplotlib  # start-up: ~0.5 s with pyplot, and only plots need it

    matplotlib.use("Agg")  # headless servers and CI have no display
    import matplotlib.pyplot as plt  # start-up: as above

    return plt


GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)  # candidate thresholds of tune_thresholds


def tune_thresholds(probabilities: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per class, the grid threshold with the best F1 on (probabilities, 0/1 targets);
    0.5 for a class that never occurs in the targets (nothing to tune on)."""
    thresholds = np.full(probabilities.shape[1], 0.5)
    for j in range(probabilities.shape[1]):
        truth = targets[:, j].astype(bool)
        if not truth.any():
            continue
        pred = probabilities[:, j][:, None] >= GRID[None, :]  # (n, grid)
        tp = (pred & truth[:, None]).sum(0)
        f1 = 2 * tp / np.maximum(pred.sum(0) + truth.sum(), 1)
        thresholds[j] = GRID[int(np.argmax(f1))]  # ties → the lowest threshold
    return thresholds
