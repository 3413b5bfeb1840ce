"""Several labels a text: label sets, sigmoid outputs and per-class thresholds.

A multi-label row carries its labels joined by ``|`` (``"service|price"``) or as a list.
The network is the same; each class gets its own sigmoid (binary cross-entropy), and
after training each class's decision threshold is tuned on the validation texts to
maximise that class's F1 — rare classes rarely want 0.5. Probabilities are then
independent per class (a row need not sum to 1), and a text may get no label at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support

from sentirnn.errors import ConfigError, DataError
from sentirnn.estimators.classifier import SentimentClassifier
from sentirnn.metrics import load_pyplot, tune_thresholds
from sentirnn.preprocess.encode import check_texts

FORMAT = "sentirnn.multilabel"
SEP = "|"


def parse_label_sets(labels: Sequence, sep: str = SEP) -> list[list[str]]:
    """Each row's labels: ``"a|b"`` → ``["a", "b"]``; lists pass through; blanks dropped."""
    sets = []
    for row in labels:
        items = row if isinstance(row, (list, tuple, set)) else str(row).split(sep)
        sets.append(sorted({str(x).strip() for x in items if str(x).strip()}))
    return sets


def multi_hot(sets: list[list[str]], classes: list[str]) -> list[list[int]]:
    index = {c: i for i, c in enumerate(classes)}
    rows = []
    for labels in sets:
        row = [0] * len(classes)
        for label in labels:
            row[index[label]] = 1
        rows.append(row)
    return rows


@dataclass
class MultiLabelReport:
    """``evaluate`` of a multi-label model; ``accuracy`` is exact-match (subset) accuracy."""

    n: int
    accuracy: float
    hamming_loss: float
    micro_f1: float
    macro_f1: float
    labels: list[str]
    per_class: dict[str, dict[str, float]]
    thresholds: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def __str__(self) -> str:
        width = max(12, *(len(label) for label in self.labels))
        lines = [f"{'label':<{width}} precision    recall        f1   support  threshold"]
        for label in self.labels:
            c = self.per_class[label]
            lines.append(f"{label:<{width}} {c['precision']:9.4f} {c['recall']:9.4f} "
                         f"{c['f1']:9.4f} {c['support']:9d} {self.thresholds[label]:10.2f}")
        lines.append(f"micro F1 {self.micro_f1:.4f}, macro F1 {self.macro_f1:.4f}, "
                     f"exact-match accuracy {self.accuracy:.4f}, Hamming loss "
                     f"{self.hamming_loss:.4f} on {self.n} texts")
        return "\n".join(lines)

    def plot_confusion(self, path) -> None:
        """Per-class F1 as a bar chart (a multi-label model has no single confusion matrix)."""
        plt = load_pyplot()
        fig, ax = plt.subplots(figsize=(2.5 + 0.6 * len(self.labels), 3.5))
        ax.bar(self.labels, [self.per_class[c]["f1"] for c in self.labels])
        ax.set_ylim(0, 1)
        ax.set_ylabel("F1")
        ax.set_title(f"micro-F1 {self.micro_f1:.3f}, macro-F1 {self.macro_f1:.3f}")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)


def evaluate_sets(true: np.ndarray, pred: np.ndarray, classes: list[str],
                  thresholds: np.ndarray) -> MultiLabelReport:
    """0/1 matrices (n, C) of true and predicted labels → a MultiLabelReport."""
    p, r, f, s = precision_recall_fscore_support(true, pred, zero_division=0)
    n = len(true)
    return MultiLabelReport(
        n=n, accuracy=float((true == pred).all(1).mean()) if n else 0.0,
        hamming_loss=float(hamming_loss(true, pred)) if n else 0.0,
        micro_f1=float(f1_score(true, pred, average="micro", zero_division=0)),
        macro_f1=float(f1_score(true, pred, average="macro", zero_division=0)),
        labels=list(classes),
        per_class={c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                       "support": int(s[i])} for i, c in enumerate(classes)},
        thresholds={c: float(t) for c, t in zip(classes, thresholds)})


class MultiLabelClassifier(SentimentClassifier):
    """A recurrent classifier that gives each text any number of labels.

    Same parameters, training and model directory as ``SentimentClassifier``; labels are
    label sets (``"a|b"`` strings or lists). ``predict`` returns ``"a|b"`` strings (``""``
    for none), ``predict_proba`` one independent sigmoid probability per class, and
    ``predict_sets`` lists. ``thresholds_`` holds the per-class thresholds tuned on the
    validation texts.

    Examples
    --------
    >>> clf = MultiLabelClassifier(max_epochs=2).fit(texts, ["food|price", "service"])
    ... # doctest: +SKIP
    """

    format_name = FORMAT
    # exact-match accuracy of label sets barely moves between epochs; tuned-threshold F1 does
    auto_monitor = "macro_f1"

    def _check_params(self) -> None:
        super()._check_params()  # its messages name type(self)
        for name, why in (("calibrate", "temperature scaling calibrates a softmax"),
                          ("init_from", "language-model transfer trains single-label heads")):
            if getattr(self, name):
                raise ConfigError(f"MultiLabelClassifier does not support {name} ({why}); "
                                  f"leave {name} unset")
        if self.truncation == "sentences":  # sentence pooling averages softmax probabilities
            raise ConfigError("MultiLabelClassifier does not support truncation='sentences'; "
                              "use 'head', 'tail' or 'head+tail'")

    def _label_targets(self, labels: Sequence) -> tuple[list[str], list]:
        sets = parse_label_sets(labels)
        classes = sorted({c for labels_ in sets for c in labels_})
        return classes, sets

    def _targets(self, sets: list[list[str]]) -> list[list[int]]:
        unknown = sorted({c for labels in sets for c in labels} - set(self.classes_))
        if unknown:
            raise DataError(f"labels {unknown[:5]} do not occur in the training data "
                            f"(training labels: {self.classes_})")
        return multi_hot(sets, self.classes_)

    def _stratum(self, labels: Sequence) -> list[str]:
        return [SEP.join(s) for s in parse_label_sets(labels)]

    def _after_training(self, valid) -> None:
        """Tune each class's threshold on the validation texts (0.5 without them)."""
        self.thresholds_ = np.full(len(self.classes_), 0.5)
        if valid is not None:
            targets = np.array(self._targets(parse_label_sets(valid[1])))
            self.thresholds_ = tune_thresholds(self.predict_proba(valid[0]), targets)

    @staticmethod
    def _probabilities(logits: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-logits))

    def _sets(self, probabilities: np.ndarray) -> list[list[str]]:
        on = probabilities >= self._thresholds()
        return [[c for c, flag in zip(self.classes_, row) if flag] for row in on]

    def predict_sets(self, texts: Sequence[str]) -> list[list[str]]:
        """The labels of each text, as lists (possibly empty)."""
        return self._sets(self.predict_proba(texts))

    def decide(self, probabilities: np.ndarray) -> list[str]:
        """Each class whose probability reaches its threshold, joined by ``|`` (``""``: none)."""
        return [SEP.join(labels) for labels in self._sets(probabilities)]

    def classify(self, texts, top_k: int | None = None):
        """Per text, every class with its probability and whether it is on, best first."""
        single = isinstance(texts, str)
        self._check_fitted("classify")  # before predict_proba, so the message names this call
        probabilities = self.predict_proba([texts] if single else texts)
        thresholds = self._thresholds()
        records = [[{"label": self.classes_[j], "score": float(row[j]),
                     "on": bool(row[j] >= thresholds[j])} for j in np.argsort(-row)]
                   for row in probabilities]
        return records[0] if single else records

    def evaluate(self, texts: Sequence[str], labels: Sequence) -> MultiLabelReport:
        texts = check_texts(texts, "evaluate")
        self._check_fitted("evaluate")
        if len(texts) != len(labels):
            raise DataError(f"evaluate got {len(texts)} texts but {len(labels)} labels")
        true = np.array(self._targets(parse_label_sets(labels)), dtype=int)
        pred = (self.predict_proba(texts) >= self._thresholds()).astype(int)
        return evaluate_sets(true.reshape(len(texts), -1), pred, self.classes_,
                             self._thresholds())

    def _thresholds(self) -> np.ndarray:
        return getattr(self, "thresholds_", None) if getattr(self, "thresholds_", None) \
            is not None else np.full(len(self.classes_), 0.5)

    def _extra_config(self) -> dict:
        return {"multi_label": {"separator": SEP,
                                "thresholds": [float(t) for t in self._thresholds()]}}

    def _read_extra_config(self, config: dict) -> None:
        self.thresholds_ = np.array(config["multi_label"]["thresholds"], dtype=float)
