"""Classic baselines: TF-IDF / bag-of-words n-grams + naive Bayes, logistic regression or SVM.

A recurrent model should beat these, so they sit behind the same fit/predict/evaluate/save
interface and the same cleaning and tokenizers as ``SentimentClassifier`` (a baseline that
saw differently cleaned text would not be a fair yardstick). scikit-learn does the learning;
the fitted pipeline is saved with skops, never pickle, and loading trusts only the types
listed in ``ALLOWED_TYPES``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import sklearn
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from sentirnn import artifacts
from sentirnn.config import TextConfig, check_choice
from sentirnn.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentirnn.inference.predict import Predictor
from sentirnn.metrics import EvaluationReport
from sentirnn.preprocess.encode import check_texts
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer, detect_language, resolve_kind

FORMAT = "sentirnn.baseline"
MODEL_FILE = "model.skops"
# arch → (features, classifier)
ARCHS = {"bow-nb": ("bow", "nb"), "bow-lr": ("bow", "lr"), "tfidf-nb": ("tfidf", "nb"),
         "tfidf-lr": ("tfidf", "lr"), "tfidf-svm": ("tfidf", "svm")}
# Types skops does not trust by default that our pipelines contain (sklearn 1.9, skops 0.16);
# a model.skops needing anything else was not written by sentirnn and is refused.
ALLOWED_TYPES = frozenset({"sklearn.calibration._CalibratedClassifier",
                           "sklearn.calibration._SigmoidCalibration"})


class BaselineClassifier(Predictor, BaseEstimator):
    """A linear sentiment classifier on word and character n-grams.

    Parameters
    ----------
    arch : {"bow-nb", "bow-lr", "tfidf-nb", "tfidf-lr", "tfidf-svm"}
        Features (raw counts or sublinear TF-IDF) and classifier (multinomial naive Bayes,
        logistic regression, or a linear SVM calibrated by cross-validation for probabilities).
    language : {"auto", "zh", "en"}
        "auto" decides from the share of CJK characters in the training texts.
    tokenizer : {"auto", "jieba-word", "char", "en-word"}
        Word features' tokens; "auto" is jieba words for Chinese and words for English.
    word_ngrams : int
        Word n-grams of 1..word_ngrams tokens; 0 turns word features off.
    char_ngrams : int
        Character n-grams of 1..char_ngrams inside whitespace-separated runs; 0 turns them off.
    min_df : int
        Drop n-grams seen in fewer training texts.
    max_features : int or None
        Keep at most this many n-grams per kind (word, char), the most frequent.
    C : float
        Inverse regularisation strength (lr, svm).
    alpha : float
        Additive smoothing (nb).
    max_iter : int
        Solver iterations (lr, svm).
    lowercase, strip_html, traditional_to_simplified, remove_stopwords : text cleaning,
        exactly as in ``SentimentClassifier``.
    seed : int
        Makes the solvers repeatable.

    Examples
    --------
    >>> clf = BaselineClassifier("tfidf-lr").fit(["good food", "bad food"] * 5, ["pos", "neg"] * 5)
    >>> clf.predict(["good"])
    ['pos']
    """

    def __init__(self, arch: str = "tfidf-lr", language: str = "auto", tokenizer: str = "auto",
                 word_ngrams: int = 2, char_ngrams: int = 3, min_df: int = 1,
                 max_features: int | None = None, C: float = 1.0, alpha: float = 0.1,
                 max_iter: int = 1000, lowercase: bool = True, strip_html: bool = True,
                 traditional_to_simplified: bool = False, remove_stopwords: bool = False,
                 seed: int = 0):
        self.arch = arch
        self.language = language
        self.tokenizer = tokenizer
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.C = C
        self.alpha = alpha
        self.max_iter = max_iter
        self.lowercase = lowercase
        self.strip_html = strip_html
        self.traditional_to_simplified = traditional_to_simplified
        self.remove_stopwords = remove_stopwords
        self.seed = seed

    @classmethod
    def _param_names(cls) -> list[str]:
        return cls._get_param_names()

    # ---- configuration ---------------------------------------------------------------------
    def _check_params(self) -> None:
        name = "BaselineClassifier"
        check_choice(name, "arch", self.arch, tuple(ARCHS))
        check_choice(name, "language", self.language, ("auto", "zh", "en"))
        check_choice(name, "tokenizer", self.tokenizer, ("auto", "jieba-word", "char", "en-word"))
        for key in ("word_ngrams", "char_ngrams"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 0:
                check_choice(name, key, value, ("an integer ≥ 0",))
        if self.word_ngrams == 0 and self.char_ngrams == 0:
            raise ConfigError("BaselineClassifier needs word_ngrams ≥ 1 or char_ngrams ≥ 1; "
                              "both are 0, so there would be no features")
        for key in ("min_df", "max_iter"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                check_choice(name, key, value, ("an integer ≥ 1",))
        if self.max_features is not None and (not isinstance(self.max_features, int)
                                              or self.max_features < 1):
            check_choice(name, "max_features", self.max_features, (None, "an integer ≥ 1"))
        for key in ("C", "alpha"):
            value = getattr(self, key)
            if not isinstance(value, int | float) or value <= 0:
                check_choice(name, key, value, ("a number > 0",))

    def _text_config(self) -> TextConfig:
        return TextConfig(lowercase=self.lowercase, strip_html=self.strip_html,
                          traditional_to_simplified=self.traditional_to_simplified,
                          remove_stopwords=self.remove_stopwords)

    def _pipeline(self, min_class_count: int):
        """The unfitted scikit-learn pipeline: (n, 2) [tokens, cleaned] → probabilities."""
        features, model = ARCHS[self.arch]

        def vectorizer(**kw):
            # Cleaning already lowercased (or not) as configured: the vectorizer must not.
            kw.update(lowercase=False, min_df=self.min_df, max_features=self.max_features,
                      dtype=np.float64)
            return TfidfVectorizer(sublinear_tf=True, **kw) if features == "tfidf" else \
                CountVectorizer(**kw)

        parts = []
        if self.word_ngrams:  # column 0: tokens joined by single spaces, so \S+ gives them back
            parts.append(("word", vectorizer(token_pattern=r"\S+",
                                             ngram_range=(1, self.word_ngrams)), 0))
        if self.char_ngrams:  # column 1: the cleaned text
            parts.append(("char", vectorizer(analyzer="char_wb",
                                             ngram_range=(1, self.char_ngrams)), 1))
        return Pipeline([("features", ColumnTransformer(parts)),
                         ("classifier", self._classifier(model, min_class_count))])

    def _classifier(self, model: str, min_class_count: int):
        if model == "nb":
            return MultinomialNB(alpha=self.alpha)
        if model == "lr":
            return LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        if min_class_count < 2:
            raise DataError("arch 'tfidf-svm' calibrates its probabilities by cross-validation "
                            "and needs at least 2 training texts of every label; use "
                            "'tfidf-lr' for so little data")
        svm = LinearSVC(C=self.C, max_iter=self.max_iter, random_state=self.seed)
        return CalibratedClassifierCV(svm, cv=min(3, min_class_count))

    # ---- stages ----------------------------------------------------------------------------
    def _encode(self, texts: list[str]) -> np.ndarray:
        """raw texts → (n, 2) object array: [space-joined tokens, cleaned text]."""
        cleaned = clean_many(texts, self.text_config_)
        tokens = self.tokenizer_.tokenize_many(cleaned)
        out = np.empty((len(texts), 2), dtype=object)
        out[:, 0] = [" ".join(t) for t in tokens]
        out[:, 1] = cleaned
        return out

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "pipeline_"):
            raise NotFittedError(f"This BaselineClassifier instance is not fitted yet. Call "
                                 f"'fit' (or sentirnn.load) before {method!r}.")

    # ---- fit / predict -----------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            valid: tuple[Sequence[str], Sequence[str]] | None = None) -> BaselineClassifier:
        """Learn from labelled texts; returns self.

        Parameters
        ----------
        texts, labels : sequences of str of the same length.
        valid : optional (texts, labels); only evaluated (``report_``), nothing is tuned on it.
        """
        self._check_params()
        texts, labels = check_texts(texts, "fit"), [str(y) for y in labels]
        if len(texts) != len(labels):
            raise DataError(f"fit got {len(texts)} texts but {len(labels)} labels")
        counts = Counter(labels)
        if len(counts) < 2:
            what = f"a single class ({labels[0]!r} only)" if counts else "no labels"
            raise DataError(f"the training data has {what}; a classifier needs at least two "
                            "labels")
        start = time.perf_counter()
        self.text_config_ = self._text_config()
        self.language_ = self.language if self.language != "auto" else detect_language(texts)
        self.tokenizer_ = Tokenizer(resolve_kind(self.tokenizer, self.language_), self.language_,
                                    remove_stopwords=self.remove_stopwords)
        self.classes_ = sorted(counts)
        try:
            self.pipeline_ = self._pipeline(min(counts.values())).fit(self._encode(texts),
                                                                      labels)
        except ValueError as e:  # e.g. "empty vocabulary" when every text is empty
            raise DataError(f"BaselineClassifier could not fit: {e}") from None
        self.train_summary_ = {"train_texts": len(texts),
                               "train_seconds": round(time.perf_counter() - start, 3),
                               "features": self._n_features()}
        self.report_ = None
        if valid is not None:
            self.report_ = self.evaluate(check_texts(valid[0], "fit"), valid[1])
        return self

    def _n_features(self) -> int:
        features = self.pipeline_.named_steps["features"]
        return int(sum(len(t.vocabulary_) for _, t, _ in features.transformers_
                       if hasattr(t, "vocabulary_")))

    def _logits(self, features: np.ndarray) -> np.ndarray:
        """(n, 2) features → (n, C) log-probabilities.

        They are the "logits" of Predictor's protocol: their softmax gives the pipeline's
        probabilities back, so predict/classify/evaluate are Predictor's, unchanged.
        """
        if not len(features):
            return np.zeros((0, len(self.classes_)))
        with np.errstate(divide="ignore"):  # a probability of exactly 0 → -inf, softmax → 0
            return np.log(self.pipeline_.predict_proba(features))

    def explain(self, text: str, steps: int = 32):
        """Not available: token attributions need a recurrent model."""
        raise ConfigError(f"explain needs a recurrent model; this is the baseline "
                          f"{self.arch!r}, which has no token attributions (train one with "
                          "--arch bilstm)")

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path, report: EvaluationReport | None = None, data: dict | None = None,
             force: bool = False) -> Path:
        """Write the model directory (config.json + model.skops); returns its path.

        ``force`` writes into a non-empty folder that is not a model directory.
        """
        # start-up: skops.io imports torch (~2 s); only save and load need it
        import skops
        import skops.io

        self._check_fitted("save")
        report = report or getattr(self, "report_", None)
        config = {
            "format": FORMAT, "format_version": 1, "labels": list(self.classes_),
            "language": self.language_, "params": self.get_params(),
            "text": self.text_config_.to_dict(), "tokenizer": self.tokenizer_.to_dict(),
            "train_summary": getattr(self, "train_summary_", {}), "data": data or {},
            "sklearn_version": sklearn.__version__, "skops_version": skops.__version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        extras = {}
        if report is not None:
            extras["metrics.json"] = lambda p: p.write_text(report.to_json(), encoding="utf-8")
            extras["confusion.png"] = report.plot_confusion
        files = {MODEL_FILE: skops.io.dumps(self.pipeline_)}
        return artifacts.write_dir(path, config, None, files, extras, force=force)

    @classmethod
    def load(cls, path) -> BaselineClassifier:
        """Rebuild a baseline from its directory; refuses skops files with unexpected types."""
        config = artifacts.read_config(path, FORMAT)
        artifacts.verify_files(path, config, required=MODEL_FILE)
        try:
            params = config["params"]
            clf = cls(**{k: v for k, v in params.items() if k in cls._param_names()})
            clf.classes_ = list(config["labels"])
            clf.language_ = config["language"]
            clf.text_config_ = TextConfig.from_dict(config["text"], f"{path}/config.json text")
            clf.tokenizer_ = Tokenizer.from_dict(config["tokenizer"])
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{path}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        clf.pipeline_ = _read_pipeline(Path(path) / MODEL_FILE)
        found = [str(c) for c in getattr(clf.pipeline_, "classes_", [])]
        if found != clf.classes_:
            raise ArtifactError(f"{path}/{MODEL_FILE} predicts labels {found}, but config.json "
                                f"lists {clf.classes_}; restore the model directory")
        clf.train_summary_ = config.get("train_summary", {})
        clf.source_ = {"format": FORMAT, "path": str(path),
                       "sha256": config["checksums"][MODEL_FILE]}
        return clf


def _read_pipeline(file: Path):
    """skops → Pipeline, trusting only ALLOWED_TYPES beyond skops' own defaults."""
    import skops.io  # start-up: it imports torch (~2 s)

    data = file.read_bytes()
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as e:  # noqa: BLE001 — skops raises many kinds on a damaged file
        raise ArtifactError(f"{file} cannot be read as a skops file ({type(e).__name__}: {e}); "
                            "restore the model directory") from None
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:
        raise ArtifactError(f"{file} holds types sentirnn does not trust "
                            f"({', '.join(refused[:5])}); refusing to load it: it was not "
                            "written by sentirnn or was modified")
    try:
        pipeline = skops.io.loads(data, trusted=untrusted)
    except Exception as e:  # noqa: BLE001
        raise ArtifactError(f"{file} cannot be loaded ({type(e).__name__}: {e}); "
                            "restore the model directory") from None
    if not isinstance(pipeline, Pipeline):
        raise ArtifactError(f"{file} holds a {type(pipeline).__name__}, not a scikit-learn "
                            "Pipeline; it was not written by sentirnn")
    return pipeline

