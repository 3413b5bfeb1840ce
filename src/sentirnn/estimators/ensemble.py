"""probabilities of several models → one answer: ensembles of trained model directories.

Models that err differently (a BiLSTM, a TextCNN, a TF-IDF baseline) are often more
accurate together. ``EnsembleClassifier`` combines any directories ``sentirnn.load`` reads,
either by a (weighted) mean of their probabilities or by *stacking*: a small multinomial
logistic regression fitted on the members' probabilities for held-out labelled texts. An
ensemble is itself one self-contained model directory (its members are copied inside it,
the stacker's coefficients are safetensors), so every command that takes a model takes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression

from sentirnn import artifacts
from sentirnn.config import check_choice
from sentirnn.errors import ArtifactError, ConfigError, DataError
from sentirnn.estimators.base import check_fitted
from sentirnn.estimators.classifier import LOADERS, load
from sentirnn.inference.postprocess import softmax
from sentirnn.inference.predict import Predictor
from sentirnn.metrics import evaluate_labels
from sentirnn.preprocess.encode import check_texts

FORMAT = "sentirnn.ensemble"
COMBINERS = ("mean", "stack")
MEMBERS = "members"  # members are copied to members/0, members/1, … inside the directory


class EnsembleClassifier(Predictor, BaseEstimator):
    """Several trained classifiers answering as one.

    Parameters
    ----------
    members : sequence of paths
        Model directories (``sentirnn train``, a baseline, even another ensemble), at least
        two, all trained on the same labels.
    combiner : {"mean", "stack"}
        "mean" averages the members' probabilities (weighted by ``weights``); "stack" fits a
        multinomial logistic regression on their probabilities for the texts given to
        ``fit`` — use texts none of the members was trained on.
    weights : optional sequence of non-negative numbers, one per member ("mean" only);
        normalised to sum to 1. None weighs every member equally.
    C : inverse L2 regularisation strength of the stacker.

    Examples
    --------
    >>> ens = EnsembleClassifier(["models/bilstm", "models/cnn"]).fit()  # doctest: +SKIP
    >>> ens.predict(["送餐太慢了"])  # doctest: +SKIP
    ['negative']
    >>> EnsembleClassifier(["models/a", "models/b"], combiner="stack").fit(
    ...     dev_texts, dev_labels).save("models/ab")  # doctest: +SKIP
    """

    def __init__(self, members: Sequence = (), combiner: str = "mean",
                 weights: Sequence[float] | None = None, C: float = 1.0):
        self.members = members
        self.combiner = combiner
        self.weights = weights
        self.C = C

    # get_params, set_params and the repr (changed parameters only) come from BaseEstimator.

    def _check_fitted(self, method: str) -> None:
        check_fitted(self, "members_", method)

    # ---- fit -----------------------------------------------------------------------------
    def fit(self, texts: Sequence[str] | None = None,
            labels: Sequence[str] | None = None) -> EnsembleClassifier:
        """Load the members and, for "stack", fit the combiner on labelled texts; returns self.

        Parameters
        ----------
        texts, labels : held-out labelled data. Required by "stack"; with "mean" they are
            optional and only give ``report_``.
        """
        check_choice(type(self).__name__, "combiner", self.combiner, COMBINERS)
        paths = [Path(p) for p in self.members]
        if len(paths) < 2:
            raise ConfigError(f"an ensemble needs at least two models, got {len(paths)}")
        if self.combiner == "stack":
            if texts is None or labels is None:
                raise ConfigError("the stack combiner learns from labelled held-out texts: "
                                  "give them to fit (--valid FILE on the command line)")
            if self.weights is not None:
                raise ConfigError("weights apply to the mean combiner; stack learns its own "
                                  "from the validation data")
        self._set_members(paths, [_load_member(p) for p in paths])
        self.weights_ = _check_weights(self.weights, len(paths))
        if texts is not None:
            texts, labels = check_texts(texts, "fit"), [str(y) for y in labels]
            if len(texts) != len(labels):
                raise DataError(f"fit got {len(texts)} texts but {len(labels)} labels")
            unknown = sorted(set(labels) - set(self.classes_))
            if unknown:
                raise DataError(f"validation labels {unknown[:5]} are not known to the members "
                                f"(they predict {self.classes_})")
        if self.combiner == "stack":
            self._fit_stack(texts, labels)
        self.report_ = self.evaluate(texts, labels) if texts is not None else None
        return self

    def _set_members(self, paths: list[Path], members: list) -> None:
        """Check the label sets agree; columns are reordered to the first member's order."""
        first = list(members[0].classes_)
        self.columns_ = []
        for path, member in zip(paths, members):
            classes = list(member.classes_)
            if set(classes) != set(first):
                raise ConfigError(f"{paths[0]} and {path} predict different labels ({first} vs "
                                  f"{classes}); ensemble models trained on the same labels")
            self.columns_.append([classes.index(c) for c in first])
        self.member_dirs_, self.members_, self.classes_ = paths, members, first
        if self.threads_ is not None:
            self.set_threads(self.threads_)

    def _fit_stack(self, texts: list[str], labels: list[str]) -> None:
        missing = sorted(set(self.classes_) - set(labels))
        if missing:
            raise DataError(f"the stack combiner needs every label in the validation data; "
                            f"{missing[:5]} do not occur in it")
        index = {c: i for i, c in enumerate(self.classes_)}
        features = _features(self._member_probabilities(texts))  # (n, M·C)
        # lbfgs on several classes is the multinomial (softmax) model; on two, a logistic one.
        stacker = LogisticRegression(C=self.C, max_iter=1000)
        stacker.fit(features, [index[y] for y in labels])
        self.coef_ = stacker.coef_.astype(np.float64)  # (C, M·C), or (1, M·C) for 2 labels
        self.intercept_ = stacker.intercept_.astype(np.float64)  # (C,) or (1,)

    # ---- predict -------------------------------------------------------------------------
    def _member_probabilities(self, texts: list[str]) -> np.ndarray:
        """(M, n, C) probabilities of every member, columns in ``classes_`` order."""
        return np.stack([np.asarray(m.predict_proba(texts), dtype=np.float64)[:, cols]
                         for m, cols in zip(self.members_, self.columns_)])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities: array of shape (n_texts, n_classes), columns = ``classes_``."""
        texts = check_texts(texts, "predict_proba")
        self._check_fitted("predict_proba")
        probabilities = self._member_probabilities(texts)  # (M, n, C)
        if self.combiner == "mean":
            return np.tensordot(self.weights_, probabilities, axes=1)  # (n, C)
        scores = _features(probabilities) @ self.coef_.T + self.intercept_  # (n, C) or (n, 1)
        if scores.shape[1] == 1:  # two labels: scores are the second one's log-odds
            scores = np.concatenate([np.zeros_like(scores), scores], 1)
        return softmax(scores)

    def set_threads(self, threads: int | None) -> EnsembleClassifier:
        """See :meth:`Predictor.set_threads`: every member gets it (members score one after
        another, so this many cores are busy at a time)."""
        super().set_threads(threads)
        for member in getattr(self, "members_", []):  # else _set_members passes it on
            member.set_threads(threads)
        return self

    def explain(self, text: str, steps: int = 32):
        """Not available: attributions belong to one network; explain a member instead."""
        self._check_fitted("explain")
        where = self.member_dirs_[0]
        raise ConfigError(f"an ensemble cannot explain its predictions; explain one of its "
                          f"members instead (e.g. 'sentirnn explain {where} TEXT')")

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]):
        """Accuracy, per-class and macro/weighted P/R/F1 and the confusion matrix
        (an ``EvaluationReport``), from the combined probabilities."""
        # Predictor.evaluate works on one network's logits; an ensemble has probabilities.
        texts, labels = self._check_labelled(texts, labels)
        return evaluate_labels(labels, self.predict(texts), self.classes_)

    # ---- persistence ---------------------------------------------------------------------
    def save(self, path, report=None, force: bool = False) -> Path:
        """Write one self-contained directory (members copied inside); returns it.

        ``force`` writes into a non-empty folder that is not a model directory.
        """
        self._check_fitted("save")
        path = Path(path)
        for member in self.member_dirs_:  # members are copied before anything is replaced,
            if path.resolve() == member.resolve():  # but this would replace the original
                raise ArtifactError(f"{path} is one of the members; write the ensemble to "
                                    "another folder")
        members = [{"dir": f"{MEMBERS}/{i}", "source": str(p),
                    "format": artifacts.read_config(p, _member_formats())["format"],
                    "config_sha256": artifacts.sha256(p / "config.json")}
                   for i, p in enumerate(self.member_dirs_)]
        config = {
            "format": FORMAT, "format_version": 1, "labels": list(self.classes_),
            "combiner": self.combiner, "C": self.C,
            "weights": [float(w) for w in self.weights_] if self.combiner == "mean" else None,
            "members": members,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        tensors = {}
        if self.combiner == "stack":
            tensors = {"stack.coef": torch.from_numpy(self.coef_),
                       "stack.intercept": torch.from_numpy(self.intercept_)}
        report = report or getattr(self, "report_", None)
        extras = {}
        if report is not None:
            extras["metrics.json"] = lambda p: p.write_text(report.to_json(), encoding="utf-8")
        dirs = {m["dir"]: p for m, p in zip(members, self.member_dirs_)}
        return artifacts.write_dir(path, config, tensors, {}, extras, dirs, force=force)

    @classmethod
    def load(cls, path) -> EnsembleClassifier:
        """Rebuild an ensemble directory: every member is checked and loaded from inside it."""
        path = Path(path)
        config = artifacts.read_config(path, FORMAT)
        artifacts.verify_files(path, config)
        try:
            members = list(config["members"])
            ens = cls(members=[path / MEMBERS / str(i) for i in range(len(members))],
                      combiner=str(config["combiner"]), weights=config.get("weights"),
                      C=float(config.get("C", 1.0)))
            labels = [str(c) for c in config["labels"]]
            digests = [m["config_sha256"] for m in members]
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{path}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        if ens.combiner not in COMBINERS or len(members) < 2:
            raise ArtifactError(f"{path}/config.json: combiner {ens.combiner!r} with "
                                f"{len(members)} member(s) is not a valid ensemble")
        for member, digest in zip(ens.members, digests):
            config_file = member / "config.json"
            if not config_file.exists() or artifacts.sha256(config_file) != digest:
                raise ArtifactError(f"{member} is missing or was modified after the ensemble "
                                    "was written; restore the ensemble directory")
        ens._set_members(list(ens.members), [_load_member(m) for m in ens.members])
        if ens.classes_ != labels:
            raise ArtifactError(f"{path}: the members predict {ens.classes_}, config.json says "
                                f"{labels}; restore the ensemble directory")
        try:
            ens.weights_ = _check_weights(ens.weights, len(members))
        except ConfigError as e:
            raise ArtifactError(f"{path}/config.json: {e}") from None
        if ens.combiner == "stack":
            ens._load_stack(path, len(members))
        ens.source_ = {"format": FORMAT, "path": str(path)}
        return ens

    def _load_stack(self, path: Path, n_members: int) -> None:
        tensors = artifacts.read_tensors(path)
        if set(tensors) != {"stack.coef", "stack.intercept"}:
            raise ArtifactError(f"{path}/{artifacts.WEIGHTS} holds {sorted(tensors)}, not the "
                                "stack combiner's coefficients")
        coef = tensors["stack.coef"].double().numpy()
        intercept = tensors["stack.intercept"].double().numpy()
        n_classes = len(self.classes_)
        rows = 1 if n_classes == 2 else n_classes
        if coef.shape != (rows, n_members * n_classes) or intercept.shape != (rows,):
            raise ArtifactError(f"{path}: stack coefficients of shape {tuple(coef.shape)} do not "
                                f"fit {n_members} members × {n_classes} labels")
        self.coef_, self.intercept_ = coef, intercept


def _features(probabilities: np.ndarray) -> np.ndarray:
    """(M, n, C) member probabilities → (n, M·C) stacker inputs, member-major."""
    m, n, c = probabilities.shape
    return probabilities.transpose(1, 0, 2).reshape(n, m * c)


def _check_weights(weights, n: int) -> np.ndarray:
    """None → equal weights; else n finite non-negative numbers, not all 0, summing to 1."""
    if weights is None:
        return np.full(n, 1.0 / n)
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise ConfigError(f"weights must be numbers, one per model, not {weights!r}") from None
    if len(values) != n:
        raise ConfigError(f"{len(values)} weights given for {n} models; give one per model")
    if any(not math.isfinite(w) or w < 0 for w in values) or sum(values) <= 0:
        raise ConfigError(f"weights must be non-negative and not all zero, not {values}")
    return np.array(values) / sum(values)


def _member_formats() -> tuple[str, ...]:
    return tuple(LOADERS)


def _load_member(path: Path):
    return load(path)
