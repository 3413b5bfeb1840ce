"""logits → probabilities → labels: softmax, label names, top-k records.

Kept apart from the networks because turning scores into answers needs the label
names (config), not the model; the predictors and calibration reuse these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """(n, C) logits → (n, C) probabilities whose rows sum to 1 (numerically stable)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def decode_labels(probabilities: np.ndarray, classes: Sequence[str]) -> list[str]:
    """(n, C) probabilities → n label names (argmax; ties go to the first class)."""
    return [classes[i] for i in probabilities.argmax(axis=1)]


def top_k_records(probabilities: np.ndarray, classes: Sequence[str],
                  k: int = 1) -> list[list[dict]]:
    """(n, C) → per text, the k best ``{"label", "score"}`` records, best first."""
    k = max(1, min(k, len(classes)))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return [[{"label": classes[j], "score": float(row[j])} for j in idx]
            for row, idx in zip(probabilities, order)]
