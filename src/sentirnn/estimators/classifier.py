"""The facade: strings in, labels out. ``SentimentClassifier`` composes every stage.

raw text ─TextPipeline→ ids ─batching→ (B, T) batches ─models→ logits ─predict→ labels. It
follows scikit-learn's conventions (constructor = hyper-parameters, ``fit`` returns self,
learned state ends in ``_``). Its parts live beside it: classifier_config (checks, configs),
fit_data and fitting (training), finetune (LM transfer), model_dir (saving), scoring; what
stays here (~400 lines) is the public surface: its parameter list and the sklearn methods.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

from sentirnn import artifacts
from sentirnn.config import ModelConfig, TrainConfig, check_choice
from sentirnn.errors import ArtifactError, ConfigError, DataError
from sentirnn.estimators import classifier_config as settings
from sentirnn.estimators import finetune, fit_data
from sentirnn.estimators.base import check_fitted
from sentirnn.estimators.fitting import FitSteps
from sentirnn.estimators.model_dir import ModelDirectory
from sentirnn.estimators.presets import preset_params
from sentirnn.estimators.scoring import NetScorer
from sentirnn.inference.explain import explain_text
from sentirnn.inference.predict import Predictor
from sentirnn.metrics import EvaluationReport
from sentirnn.models import build_net
from sentirnn.preprocess.encode import check_texts
from sentirnn.preprocess.pipeline import TextPipeline

log = logging.getLogger("sentirnn")
ARCHS = settings.ARCHS
FORMAT = "sentirnn.classifier"


class SentimentClassifier(FitSteps, ModelDirectory, NetScorer, Predictor, BaseEstimator):
    """A recurrent sentiment classifier for Chinese and English text.

    :meth:`preset` gives named parameter sets (``sentirnn.estimators.presets``).

    Parameters
    ----------
    arch : "rnn", "birnn", "lstm", "bilstm", "gru", "bigru" (cell and direction), "textcnn" (Kim's CNN), "clstm" or "rcnn" (convolution + BiLSTM: ``sentirnn.models.clstm``, ``sentirnn.models.rcnn``).
    language : "auto" (from the share of CJK characters), "zh" or "en".
    tokenizer : "auto" (characters for Chinese, words for English), "jieba-word", "char", "en-word", "subword".
    pooling : "last", "mean", "max", "maxmean", "attention" or "concat": states → one vector.
    embedding_dim : embedding size; with ``embeddings`` the default follows the vector file.
    hidden_size : units per direction and layer (filters per width for "textcnn" and "clstm").
    layers : stacked recurrent layers.
    dropout : dropout between layers and before the head.
    embedding_dropout : dropout on embeddings; None is 0.3, or 0.5 with token pairs (they overfit fast).
    bigrams : "auto" (on for characters), "on" or "off": add an embedding of each token's pair with the next.
    wide : add a linear model over the text's bag of tokens and token pairs to the recurrent net's logits (``sentirnn.models.wide``).
    embeddings : path of pretrained word vectors (GloVe, word2vec, fastText) copied into the table in ``fit``.
    freeze_embeddings : keep the pretrained vectors fixed during training.
    augment : EDA rate (0 = off): share of a training text's tokens changed in its copies (``sentirnn.preprocess.augment``).
    augment_copies : augmented copies per training text.
    max_epochs : most epochs to train.
    max_minutes : wall-clock budget for training (None = none); the best weights so far are kept.
    batch_size : texts per training step.
    min_steps : optimizer steps an epoch has at least: small data gets smaller batches (0 = off).
    lr : learning rate (peak lr of the head with ``schedule="ulmfit"``).
    weight_decay : L2 penalty of the optimizer.
    l1 : λ of an L1 penalty on weight matrices and embeddings (0 = off); drives weights towards zero.
    optimizer : the optimizer, one of ``sentirnn.training.loop.OPTIMIZERS``.
    scheduler : the learning-rate schedule, one of ``sentirnn.training.loop.SCHEDULERS``.
    grad_clip : largest gradient norm.
    patience : epochs without a better validation score before stopping (0 = never stop early).
    monitor : "auto", "macro_f1", "accuracy" or "loss": the validation figure that picks the kept epoch.
    average_epochs : "auto" (on with the standard schedule), "on" or "off": also try the mean of the epochs' weights.
    class_weights : "none" or "balanced" (the loss weighs classes by inverse frequency).
    max_len : longest text in tokens; longer ones are cut by ``truncation``.
    truncation : "head", "tail", "head+tail", or "sentences" (train on sentences, pool them per document).
    sentence_pooling : how sentence probabilities become a document's with ``truncation="sentences"``.
    min_freq : tokens seen fewer times become ``<unk>``.
    max_vocab : largest vocabulary (and most token pairs).
    valid_fraction : share held out for early stopping when ``fit`` gets no ``valid`` (0 = none).
    lowercase : lowercase in cleaning.
    strip_html : remove HTML tags in cleaning.
    traditional_to_simplified : convert traditional Chinese to simplified in cleaning.
    remove_stopwords : drop the language's stop words after tokenizing.
    strip_digits : remove digits in cleaning (off: "5 stars" can carry sentiment).
    strip_punct : remove punctuation and symbols in cleaning (off: "!!!" can carry sentiment).
    seed : makes a run repeatable.
    device : "auto", "cpu" or "cuda".
    num_threads : torch threads for training (None = all cores); prediction has :meth:`set_threads`.
    progress : show a progress bar.
    init_from : path of a language model (``sentirnn pretrain``) whose encoder ``fit`` starts from.
    schedule : "standard" or "ulmfit" (needs ``init_from``; ``sentirnn.estimators.finetune``).
    calibrate : fit a temperature on validation logits so probabilities match accuracy (labels never change).
    init_from_backward : a backward LM beside ``init_from``: both encoders in one classifier.
    precision : "auto" (bf16 where the CPU has native bf16), "32" or "bf16" for training arithmetic.
    restore_best : end on the best validated epoch's weights (True) or the last epoch's.
    checkpoint_dir : folder for the run's checkpoint, so that ``fit(resume=True)`` continues a killed run.

    Examples
    --------
    >>> clf = SentimentClassifier(max_epochs=2).fit(["好吃", "难吃"] * 20, ["pos", "neg"] * 20)
    >>> clf.predict(["好吃"])
    ['pos']
    """  # noqa: E501 (one line per parameter)

    def __init__(self, arch: str = "bilstm", language: str = "auto", tokenizer: str = "auto",
                 pooling: str = "maxmean", embedding_dim: int = 200, hidden_size: int = 128,
                 layers: int = 1, dropout: float = 0.5, embedding_dropout: float | None = None,
                 bigrams: str = "auto", wide: bool = False,
                 embeddings: str | None = None, freeze_embeddings: bool = False,
                 augment: float = 0.0, augment_copies: int = 1,
                 max_epochs: int = 8, max_minutes: float | None = None,
                 batch_size: int = 64, min_steps: int = 50, lr: float = 2e-3,
                 weight_decay: float = 0.0, l1: float = 0.0, optimizer: str = "adam",
                 scheduler: str = "none",
                 grad_clip: float = 5.0, patience: int = 2, monitor: str = "auto",
                 average_epochs: str = "auto",
                 class_weights: str = "none",
                 max_len: int = 400, truncation: str = "head+tail",
                 sentence_pooling: str = "mean", min_freq: int = 2,
                 max_vocab: int = 50000, valid_fraction: float = 0.1, lowercase: bool = True,
                 strip_html: bool = True, traditional_to_simplified: bool = False,
                 remove_stopwords: bool = False, strip_digits: bool = False,
                 strip_punct: bool = False, seed: int = 0, device: str = "auto",
                 num_threads: int | None = None, progress: bool = True,
                 init_from: str | None = None, schedule: str = "standard",
                 calibrate: bool = False, init_from_backward: str | None = None,
                 precision: str = "auto", restore_best: bool = True,
                 checkpoint_dir: str | None = None):
        self.arch, self.language, self.tokenizer, self.pooling = arch, language, tokenizer, pooling
        self.embedding_dim, self.hidden_size, self.layers = embedding_dim, hidden_size, layers
        self.dropout, self.embedding_dropout, self.bigrams = dropout, embedding_dropout, bigrams
        self.embeddings, self.freeze_embeddings = embeddings, freeze_embeddings
        self.augment, self.augment_copies = augment, augment_copies
        self.max_epochs, self.max_minutes, self.batch_size = max_epochs, max_minutes, batch_size
        self.min_steps, self.lr, self.weight_decay, self.l1 = min_steps, lr, weight_decay, l1
        self.optimizer, self.scheduler, self.grad_clip = optimizer, scheduler, grad_clip
        self.patience, self.monitor, self.average_epochs = patience, monitor, average_epochs
        self.class_weights, self.max_len, self.truncation = class_weights, max_len, truncation
        self.sentence_pooling, self.min_freq, self.max_vocab = sentence_pooling, min_freq, max_vocab
        self.valid_fraction, self.lowercase, self.strip_html = valid_fraction, lowercase, strip_html
        self.traditional_to_simplified = traditional_to_simplified
        self.remove_stopwords, self.strip_digits = remove_stopwords, strip_digits
        self.strip_punct, self.seed, self.device = strip_punct, seed, device
        self.num_threads, self.progress, self.init_from = num_threads, progress, init_from
        self.schedule, self.precision, self.restore_best = schedule, precision, restore_best
        self.calibrate, self.init_from_backward = calibrate, init_from_backward
        self.checkpoint_dir, self.wide = checkpoint_dir, wide

    format_name = FORMAT  # config.json's "format"; MultiLabelClassifier has its own
    auto_monitor = "accuracy"  # what monitor="auto" watches
    _preset: str | None = None  # the preset a classifier was made from (config.json "preset")

    @classmethod
    def _param_names(cls) -> list[str]:
        return cls._get_param_names()

    @classmethod
    def preset(cls, name: str, **params) -> SentimentClassifier:
        """An unfitted classifier with a named preset's parameters, ``params`` over them.

        The saved model's config.json records ``"preset": name`` beside the resolved params.

        Parameters
        ----------
        name : "tutorial": the source tutorial's Keras model (``sentirnn.estimators.presets``).
        **params : other SentimentClassifier parameters; they override the preset's.

        Examples
        --------
        >>> clf = SentimentClassifier.preset("tutorial", max_epochs=2)
        >>> clf.arch, clf.hidden_size, clf.max_epochs
        ('rnn', 50, 2)
        """
        clf = cls(**{**preset_params(name), **params})
        clf._preset = name
        return clf

    def __repr__(self) -> str:
        defaults = SentimentClassifier().get_params()
        changed = {k: v for k, v in self.get_params().items() if defaults[k] != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # ---- the text path: one TextPipeline, fitted in fit or taken from the language model ----
    text_config_ = property(lambda self: self.pipeline_.text, doc="The cleaning settings.")
    tokenizer_ = property(lambda self: self.pipeline_.tokenizer, doc="The fitted tokenizer.")
    vocab_ = property(lambda self: self.pipeline_.vocab, doc="The vocabulary.")

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """raw texts → truncated id sequences, each of length ≥ 1 (shared with ONNX)."""
        return self.pipeline_.encode(texts, self.max_len, self.truncation)

    # ---- configuration (sentirnn.estimators.classifier_config) -------------------------------
    def _check_params(self) -> None:
        settings.check_params(self)

    def _train_config(self) -> TrainConfig:
        return settings.train_config(self, self.auto_monitor)

    def _model_config(self, vocab_size: int, num_classes: int, bigram_rows: int = 0,
                      wide_pair_rows: int = 0):
        return settings.model_config(self, vocab_size, num_classes, bigram_rows, wide_pair_rows)

    def _embedding_dropout(self, bigram_rows: int) -> float:
        return settings.embedding_dropout(self, bigram_rows)

    def _check_fitted(self, method: str) -> None:
        check_fitted(self, "net_", method)

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            valid: tuple[Sequence[str], Sequence[str]] | None = None,
            resume: bool = False) -> SentimentClassifier:
        """Train from scratch (or from ``init_from``'s encoder) on labelled texts; returns self.

        Parameters
        ----------
        texts : sequence of str.
        labels : sequence of str, one per text.
        valid : optional (texts, labels) for early stopping and the report; else ``valid_fraction`` is held out.
        resume : continue the killed run in ``checkpoint_dir`` (same data and settings).
        """  # noqa: E501
        self._check_params()
        run = self._open_run(resume)
        texts, labels = check_texts(texts, "fit"), list(labels)
        if len(texts) != len(labels):
            raise DataError(f"fit got {len(texts)} texts but {len(labels)} labels")
        self._check_run_inputs(run, texts, labels, valid)
        classes, labels = self._label_targets(labels)
        if len(classes) < 2:
            what = f"a single class ({classes[0]!r} only)" if classes else "no labels"
            raise DataError(f"the training data has {what}; a classifier needs at least two "
                            "labels")
        texts, labels, valid, self._split_info = fit_data.hold_out(
            texts, labels, valid, self.valid_fraction, self.seed, self._stratum(labels))
        if self.calibrate and valid is None:
            raise ConfigError("calibrate=True fits the temperature on validation data: pass "
                              "valid=(texts, labels) or set valid_fraction > 0")
        self._fit_split(texts, labels, classes, valid, run)
        return self

    # ---- transfer: from a language model, or a fitted classifier to new data ----------------
    @classmethod
    def from_language_model(cls, lm, backward=None, **params) -> SentimentClassifier:
        """An unfitted classifier whose ``fit`` starts from a language model's encoder.

        Sizes, tokenizer and cleaning are the LM's (the classifier shares its TextPipeline);
        the saved config records ``init_from`` (LM path and weights sha256).

        Parameters
        ----------
        lm : a LanguageModel, or the path of its directory (``sentirnn pretrain``).
        backward : a backward LM (or path) of the same vocabulary and sizes: both encoders in one classifier.
        **params : other parameters; defaults become ULMFiT's (``sentirnn.estimators.finetune.lm_params``).

        Examples
        --------
        >>> clf = SentimentClassifier.from_language_model("models/imdb-lm")  # doctest: +SKIP
        >>> clf.fit(texts, labels)  # doctest: +SKIP
        """  # noqa: E501
        model = finetune.as_language_model(lm)
        if backward is not None:
            back = finetune.as_language_model(backward)
            source = getattr(back, "source_", None)
            params = {**params,
                      "init_from_backward": source["path"] if source else "<unsaved LanguageModel>"}
        clf = cls(**finetune.lm_params(model, params))
        clf._language_model = model
        if backward is not None:
            clf._backward_language_model = back
        return clf

    def fine_tune(self, texts: Sequence[str], labels: Sequence[str],
                  valid: tuple[Sequence[str], Sequence[str]] | None = None,
                  freeze: str | None = None, epochs: int | None = None,
                  schedule: str = "ulmfit", resume: bool = False) -> SentimentClassifier:
        """Continue training on new-domain data from the current weights; returns self.

        The vocabulary stays (unknown tokens become ``<unk>``); when the labels differ from
        ``classes_`` a new head is trained for them. ``freeze`` ("embeddings" or "encoder")
        keeps those layers fixed; ``schedule="ulmfit"`` unfreezes the other groups one per
        epoch, top first (``sentirnn.estimators.finetune``). ``resume`` continues a killed
        fine-tuning from ``checkpoint_dir``, as in :meth:`fit`.
        """
        self._check_fitted("fine_tune")
        check_choice("fine_tune", "freeze", freeze, finetune.FREEZE)
        check_choice("fine_tune", "schedule", schedule, finetune.SCHEDULES)
        run = self._open_run(resume)
        texts, labels = check_texts(texts, "fine_tune"), [str(y) for y in labels]
        if len(texts) != len(labels):
            raise DataError(f"fine_tune got {len(texts)} texts but {len(labels)} labels")
        self._check_run_inputs(run, texts, labels, valid, fine_tune={
            "freeze": freeze, "epochs": epochs, "schedule": schedule})
        self._fine_tune(texts, labels, valid, freeze, epochs, schedule, run)
        return self

    # ---- use ---------------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors: each text's pooled encoder state, the input of the final layer.

        Texts are cleaned, tokenized, cut and batched as in :meth:`predict_proba`; a text's
        vector does not depend on the texts batched with it, and an empty text gets one too
        (that of a lone unknown token). With ``truncation="sentences"`` a text's vector is the
        mean of its sentences'.

        Parameters
        ----------
        texts : sequence of str.

        Returns
        -------
        ndarray of float32, shape (n_texts, n_features)
            One row per text in input order (``n_features`` is ``net_.feature_size``);
            ``net_.head`` on a row gives the text's logits (without sentences).

        Examples
        --------
        >>> clf = sentirnn.load("models/waimai")  # doctest: +SKIP
        >>> clf.embed(["很好吃", "送餐太慢了"]).shape  # doctest: +SKIP
        (2, 512)
        """
        texts = check_texts(texts, "embed")
        self._check_fitted("embed")
        return self._features(texts)

    def set_threads(self, threads: int | None) -> SentimentClassifier:
        """See :meth:`Predictor.set_threads`; the worker threads start now."""
        super().set_threads(threads)
        self._restart_pool()
        return self

    def explain(self, text: str, steps: int = 32):
        """Signed per-token scores for the predicted label (Integrated Gradients, captum).

        Returns an ``Explanation`` (tokens, scores, label, probabilities, attention weights
        where the model pools with attention); see ``sentirnn.inference.explain``.
        """
        self._check_fitted("explain")
        return explain_text(self, text, steps=steps)

    # ---- persistence: config.json + model.safetensors + the TextPipeline's files ------------
    def save(self, path, report: EvaluationReport | None = None, data: dict | None = None,
             force: bool = False) -> Path:
        """Write the model directory; returns its path.

        A new folder appears whole; in a model directory only sentirnn's files are replaced;
        ``force`` writes into a non-empty folder that is not one (keeping its other files).
        """
        self._check_fitted("save")
        report = report or getattr(self, "report_", None)
        config = self._config(data)
        return artifacts.write_dir(path, config, self.net_.state_dict(), self.pipeline_.files(),
                                   self._extras(report), force=force)

    @classmethod
    def load(cls, path) -> SentimentClassifier:
        """Rebuild a classifier from a model directory (JSON + safetensors; nothing unpickled)."""
        config = artifacts.read_config(path, cls.format_name)
        artifacts.verify_files(path, config)
        try:
            params = config["params"]
            clf = cls(**{k: v for k, v in params.items() if k in cls._param_names()})
            clf.classes_ = list(config["labels"])
            clf.language_ = config["language"]
            clf.model_config_ = ModelConfig.from_dict(config["model"],
                                                      f"{path}/config.json model")
            clf.pipeline_ = TextPipeline.read(path, config)
            clf._read_extra_config(config)
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{path}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        clf.net_ = build_net(clf.model_config_)
        artifacts.load_state(clf.net_, artifacts.read_tensors(path), path)
        clf.net_.eval()
        clf._restore(config, path)
        return clf


# format in config.json → "module:Class" whose ``load(path)`` reads that kind of directory
LOADERS = {FORMAT: "sentirnn.estimators.classifier:SentimentClassifier",
           "sentirnn.baseline": "sentirnn.classic.baselines:BaselineClassifier",
           "sentirnn.ensemble": "sentirnn.estimators.ensemble:EnsembleClassifier",
           "sentirnn.multilabel": "sentirnn.estimators.multilabel:MultiLabelClassifier"}


# not classifiers (an ensemble cannot hold one), but sentirnn.load reads them too
OTHER_LOADERS = {"sentirnn.translator": "sentirnn.estimators.translator:Translator"}


def load(path):
    """Load any model directory sentirnn wrote: a classifier (``sentirnn train``, a
    baseline, an ensemble, multi-label) or a translator (``sentirnn mt train``).

    Every classifier offers ``predict``, ``predict_proba``, ``evaluate`` and ``classes_``; a
    translator offers ``translate`` and ``score``.
    """
    loaders = {**LOADERS, **OTHER_LOADERS}
    kind = artifacts.read_config(path, tuple(loaders))["format"]
    module, name = loaders[kind].split(":")
    return getattr(importlib.import_module(module), name).load(path)
