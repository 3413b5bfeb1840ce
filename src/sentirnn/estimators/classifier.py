"""The facade: strings in, labels out. ``SentimentClassifier`` composes every stage.

raw text ─text.clean→ cleaned ─tokenize→ tokens ─vocab→ ids ─batching→ (B, T) batches
─models→ logits ─predict→ labels and probabilities. This is the only module that
knows all of them; it follows scikit-learn's conventions (constructor arguments are
hyper-parameters, ``fit`` does the work and returns self, learned state ends in ``_``).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator

from sentirnn import artifacts
from sentirnn.config import (
    PRECISIONS,
    ModelConfig,
    TextConfig,
    TrainConfig,
    check_choice,
    check_range,
)
from sentirnn.data.splits import sentence_split, stratified_split
from sentirnn.errors import ArtifactError, ConfigError, DataError, NotFittedError
from sentirnn.estimators.finetune import fine_tune_classifier, fit_from_language_model, lm_params
from sentirnn.estimators.language_model import LanguageModel
from sentirnn.estimators.presets import preset_params
from sentirnn.inference.calibration import (
    fit_temperature,
    plot_reliability,
    summary,
    temperature_from_config,
)
from sentirnn.inference.explain import explain_text
from sentirnn.inference.postprocess import softmax
from sentirnn.inference.predict import Predictor
from sentirnn.inference.sentences import POOLINGS, SENTENCES, pooled_logits, split_many
from sentirnn.inference.workers import single_threaded_pool
from sentirnn.metrics import EvaluationReport, plot_curves, write_curves
from sentirnn.models import build_net
from sentirnn.models.embedding import build_bigram_slot_rows, pairs_wanted
from sentirnn.models.pooling import POOLINGS as NET_POOLINGS
from sentirnn.preprocess.augment import Neighbours, augment_tokens
from sentirnn.preprocess.batching import TRUNCATIONS, prepare
from sentirnn.preprocess.embeddings import load_vectors, vectors_for_vocab
from sentirnn.preprocess.encode import check_texts, encode_texts, tokenize_texts
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer, detect_language, load_stopwords, resolve_kind
from sentirnn.preprocess.vocab import Vocab
from sentirnn.training import loop
from sentirnn.training.allocator import keep_freed_memory
from sentirnn.training.checkpoints import Run, digest
from sentirnn.training.checkpoints import settings as fingerprinted
from sentirnn.training.loop import OPTIMIZERS, SCHEDULERS, check_run_params
from sentirnn.training.loop import is_number as number

log = logging.getLogger("sentirnn")
ARCHS = {"rnn": ("rnn", False), "birnn": ("rnn", True), "lstm": ("lstm", False),
         "bilstm": ("lstm", True), "gru": ("gru", False), "bigru": ("gru", True),
         "textcnn": ("cnn", False)}
FORMAT = "sentirnn.classifier"
_POOL_LOCK = threading.Lock()


class SentimentClassifier(Predictor, BaseEstimator):
    """A recurrent sentiment classifier for Chinese and English text.

    Parameters
    ----------
    arch : {"rnn", "birnn", "lstm", "bilstm", "gru", "bigru", "textcnn"}
        Recurrent cell and direction; "bi*" read the text both ways. "textcnn" is Kim's
        (2014) convolutional net instead: ``hidden_size`` filters of each width 3, 4 and 5,
        max-pooled over time (``layers`` and ``pooling`` do not apply).
    language : {"auto", "zh", "en"}
        "auto" decides from the share of CJK characters in the training texts.
    tokenizer : {"auto", "jieba-word", "char", "en-word"}
        "auto" is characters for Chinese and words for English.
    pooling : {"last", "mean", "max", "maxmean", "attention", "concat"}
    embedding_dim, hidden_size, layers : network sizes. With ``embeddings`` the default
        ``embedding_dim`` follows the vector file; any other value must equal the file's.
    dropout, embedding_dropout : dropout between layers / before the head, and on embeddings.
        ``embedding_dropout=None`` is 0.3, or 0.5 with token pairs (``bigrams``): their
        tens of thousands of rows each seen a few times overfit within an epoch.
    bigrams : "auto" (on for character tokens, i.e. Chinese), "on" or "off": add to each
        token's vector an embedding of its pair with the next token, for every pair in the
        training texts (the ``max_vocab`` most frequent); see ``sentirnn.models.embedding``.
        On a language model's encoder (``from_language_model``) the pairs start at zero and
        train from the first epoch with the head; on two LMs (``init_from_backward``) "auto"
        adds none (waimai_10k: the joint classifier validated better without them).
    max_epochs, batch_size, lr, weight_decay, optimizer, scheduler, grad_clip, patience :
        training; early stopping watches validation macro-F1 and restores the best weights.
    l1 : λ of an L1 penalty λ·Σ|w| added to the training loss, over the trainable weight
        matrices and embedding tables (parameters of two or more dimensions; biases are left
        out; 0 = off). Beside the L2 of ``weight_decay``, it drives weights towards zero
        (near it, not exactly: a plain subgradient, no proximal step); ``history_`` then has
        an ``l1_penalty`` column (the term's mean over the epoch's batches; ``train_loss``
        stays the data loss).
    monitor : {"auto", "macro_f1", "accuracy", "loss"}
        The validation figure that picks the kept epoch (and the averaged weights), stops
        early and drives the plateau schedule. "auto" is accuracy (macro-F1 for
        :class:`MultiLabelClassifier`): chosen on the evaluation protocol's validation parts,
        where macro-F1 kept epochs that gave up accuracy on three and five classes
        (docs/evaluation-protocol.md).
    restore_best : end on the weights of the epoch with the best validation macro-F1
        (default), or with False on the last epoch's (the best is still reported in
        ``train_summary_``, and ``kept_epoch`` says which one the model holds). Self-training
        gives its students from a language model False: their validation is the few real
        labels, and on IMDb's 50 the best epoch was never a better pick than the last
        (docs/results.md).
    average_epochs : "auto" (on with the standard schedule, off with ULMFiT's), "on" or
        "off": at every epoch's end also validate the mean of the weights of all epochs so
        far, and keep it when its macro-F1 is higher (``history_`` column
        ``averaged_epochs``: how many epochs the kept weights average, 0 for the epoch's own;
        docs/results.md has its effect on SST-2).
    min_steps : optimizer steps an epoch has at least: with fewer than ``min_steps ×
        batch_size`` training texts the batches shrink (not below 8 texts; the lr stays),
        because a few large batches an epoch leave a small set untrained (on 450 IMDb
        reviews: 0.50 accuracy with batches of 64, 0.79 with batches of 9). 0 keeps
        ``batch_size`` as given. The batch used is in ``train_summary_["batch_size"]``.
    max_minutes : optional wall-clock budget for training; it stops mid-epoch when spent
        (the best validated weights so far are kept; the latest with ``restore_best=False``).
    class_weights : {"none", "balanced"}
        "balanced" weighs the loss by inverse class frequency (imbalanced data).
    max_len, truncation : longest text in tokens, and which part of a longer one to keep
        ("head", "tail", "head+tail"), or "sentences": split every text into sentences
        (``sentirnn.inference.sentences.split_sentences``; each still cut head+tail at ``max_len``).
        The network then trains on sentences that each carry their document's label — weak
        labels: a "positive" review's one complaint is trained as positive — and a
        document's probabilities are its sentences' pooled by ``sentence_pooling``.
        Early stopping then watches sentence-level validation macro-F1; the final
        validation report, calibration and every prediction are per document.
    sentence_pooling : {"mean", "logit-mean", "max", "length-weighted"}
        With ``truncation="sentences"``, how sentence probabilities become a document's
        (see ``sentirnn.inference.sentences.aggregate``); ignored otherwise.
    min_freq, max_vocab : vocabulary limits.
    valid_fraction : share of the training data held out for early stopping when ``fit``
        gets no ``valid``; 0 trains on everything for ``max_epochs``.
    lowercase, strip_html, traditional_to_simplified, remove_stopwords : text cleaning.
    strip_digits, strip_punct : remove decimal digits (any script, full-width "１２３" too)
        and punctuation and symbols (Unicode P* and S*, "，。！" and emoji too) in cleaning;
        off by default, as "!!!" and "5 stars" can carry sentiment. See
        ``sentirnn.preprocess.text.clean``; saved with the model, so prediction cleans the same way.
    seed : makes a run repeatable. device : "auto" | "cpu" | "cuda".
    num_threads : torch threads for training; None = all cores. Prediction has its own
        setting, :meth:`set_threads` (a model's ``num_threads`` travels with it in
        config.json, and the training machine's cores say nothing about the predicting one).
    progress : show a progress bar.
    precision : {"auto", "32", "bf16"}
        Training arithmetic: "auto" is bf16 autocast on a CPU with native bf16 products
        (AVX512-BF16 or AMX) and fp32 elsewhere. Weights, optimizer state, validation and
        every prediction stay fp32.
    init_from : path of a language-model directory (``sentirnn pretrain``) whose embedding
        and LSTM stack ``fit`` starts from; see :meth:`from_language_model`.
    init_from_backward : with ``init_from`` a forward LM, a backward LM of the same
        vocabulary and sizes (``pretrain --direction backward``): one classifier reads each
        text with both encoders side by side — its forward stack is the forward LM's, its
        backward stack the backward LM's — and one head sees both (ULMFiT's two directions
        trained as one model instead of averaged as two).
    schedule : {"standard", "ulmfit"}
        "ulmfit" (needs ``init_from``): gradual unfreezing, discriminative learning rates and
        a slanted triangular schedule (see ``sentirnn.estimators.finetune``); when ``min_steps``
        shrinks the batches, its peak lr is scaled by the square root of the batch ratio.
    embeddings : optional path of pretrained word vectors (GloVe text, word2vec text/binary,
        fastText .vec/.bin; ``sentirnn embeddings train`` makes one) copied into the embedding
        table in ``fit``; words the file lacks start random. The coverage report (share of
        vocabulary and of training tokens the file knows) is logged and kept in
        ``train_summary_["embeddings"]``. Saved models do not need the file any more.
    freeze_embeddings : keep the pretrained vectors fixed during training.
    augment : EDA augmentation rate (Wei & Zou 2019; 0 = off, 0.05–0.2 typical): the share
        of a training text's tokens that synonym replacement (nearest neighbours in the
        ``embeddings`` file; skipped without one), random insertion, swap or deletion change.
        Training texts only, never validation. It runs after the vocabulary is built from the
        original texts, so ``min_freq``/``max_vocab`` and the coverage report mean the same
        with or without it (copies would inflate counts), and synonyms are drawn from the
        vocabulary so a replacement never becomes ``<unk>``. See ``sentirnn.preprocess.augment``.
    augment_copies : augmented copies per training text (each keeps its text's label).
    calibrate : after training, fit a temperature T on the validation logits (Guo et al.,
        2017) so that ``predict_proba`` is ``softmax(logits / T)``: probabilities that match
        how often the model is right. Labels never change. Needs validation data (``valid``
        or ``valid_fraction`` > 0); see ``sentirnn.inference.calibration``.
    checkpoint_dir : a folder for the run's checkpoint (``run.json`` + ``last.pt``, written
        after every epoch and left there after ``fit``); ``fit(resume=True)`` continues a
        killed run from it. It changes nothing the run computes, and is not saved with the model.

    :meth:`preset` gives named parameter sets: ``SentimentClassifier.preset("tutorial")`` is
    the source tutorial's Keras model (``sentirnn.estimators.presets``, docs/tutorial-preset.md).

    Examples
    --------
    >>> clf = SentimentClassifier(max_epochs=2).fit(["好吃", "难吃"] * 20, ["pos", "neg"] * 20)
    >>> clf.predict(["好吃"])
    ['pos']
    """

    def __init__(self, arch: str = "bilstm", language: str = "auto", tokenizer: str = "auto",
                 pooling: str = "maxmean", embedding_dim: int = 200, hidden_size: int = 128,
                 layers: int = 1, dropout: float = 0.5, embedding_dropout: float | None = None,
                 bigrams: str = "auto",
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
        self.arch = arch
        self.language = language
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.layers = layers
        self.dropout = dropout
        self.embedding_dropout = embedding_dropout
        self.bigrams = bigrams
        self.embeddings = embeddings
        self.freeze_embeddings = freeze_embeddings
        self.augment = augment
        self.augment_copies = augment_copies
        self.max_epochs = max_epochs
        self.max_minutes = max_minutes
        self.batch_size = batch_size
        self.min_steps = min_steps
        self.lr = lr
        self.weight_decay = weight_decay
        self.l1 = l1
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.grad_clip = grad_clip
        self.patience = patience
        self.monitor = monitor
        self.average_epochs = average_epochs
        self.class_weights = class_weights
        self.max_len = max_len
        self.truncation = truncation
        self.sentence_pooling = sentence_pooling
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.valid_fraction = valid_fraction
        self.lowercase = lowercase
        self.strip_html = strip_html
        self.traditional_to_simplified = traditional_to_simplified
        self.remove_stopwords = remove_stopwords
        self.strip_digits = strip_digits
        self.strip_punct = strip_punct
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.progress = progress
        self.init_from = init_from
        self.schedule = schedule
        self.precision = precision
        self.restore_best = restore_best
        self.calibrate = calibrate
        self.init_from_backward = init_from_backward
        self.checkpoint_dir = checkpoint_dir

    format_name = FORMAT  # config.json's "format"; MultiLabelClassifier has its own
    auto_monitor = "accuracy"  # what monitor="auto" watches

    # ---- scikit-learn protocol: get_params/set_params come from BaseEstimator ---------------
    @classmethod
    def _param_names(cls) -> list[str]:
        return cls._get_param_names()

    @classmethod
    def preset(cls, name: str, **params) -> SentimentClassifier:
        """An unfitted classifier with a named preset's parameters, ``params`` over them.

        Parameters
        ----------
        name : {"tutorial"}
            "tutorial" is the source tutorial's Keras model: embedding 50 → one SimpleRNN
            layer of 50 units (its last state) → softmax, texts cut to 100 tokens, RMSprop
            at 1e-3, 10 epochs of batches of 32, and none of our extras (early stopping,
            epoch averaging, token pairs, dropout, gradient clipping). The mapping, and
            where it still differs from Keras, is in ``sentirnn.estimators.presets``.
        **params : other SentimentClassifier parameters; they override the preset's.

        The saved model's config.json records ``"preset": name`` beside the resolved params.

        Examples
        --------
        >>> clf = SentimentClassifier.preset("tutorial", max_epochs=2)
        >>> clf.arch, clf.hidden_size, clf.max_epochs
        ('rnn', 50, 2)
        """
        clf = cls(**{**preset_params(name), **params})
        clf._preset = name
        return clf

    _preset: str | None = None  # the preset a classifier was made from (config.json "preset")

    def __repr__(self) -> str:
        defaults = SentimentClassifier().get_params()
        changed = {k: v for k, v in self.get_params().items() if defaults[k] != v}
        shown = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({shown})"

    # ---- configuration ---------------------------------------------------------------------
    def _check_params(self) -> None:
        name = "SentimentClassifier"
        check_choice(name, "arch", self.arch, tuple(ARCHS))
        check_choice(name, "language", self.language, ("auto", "zh", "en"))
        check_choice(name, "tokenizer", self.tokenizer,
                     ("auto", "jieba-word", "char", "en-word", "subword"))
        check_choice(name, "schedule", self.schedule, ("standard", "ulmfit"))
        check_choice(name, "precision", str(self.precision), PRECISIONS)
        check_choice(name, "bigrams", self.bigrams, ("auto", "on", "off"))
        check_choice(name, "average_epochs", self.average_epochs, ("auto", "on", "off"))
        check_choice(name, "monitor", self.monitor, ("auto", "macro_f1", "accuracy", "loss"))
        if self.schedule == "ulmfit" and not self.init_from:
            raise ConfigError("schedule='ulmfit' fine-tunes a pretrained encoder: set init_from "
                              "(or use SentimentClassifier.from_language_model)")
        check_choice(name, "truncation", self.truncation, (*TRUNCATIONS, SENTENCES))
        check_choice(name, "sentence_pooling", self.sentence_pooling, POOLINGS)
        check_choice(name, "class_weights", self.class_weights, ("none", "balanced"))
        for key in ("embedding_dim", "hidden_size", "layers", "max_epochs", "batch_size",
                    "min_freq", "max_vocab"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                check_choice(name, key, value, ("an integer ≥ 1",))
        if self.init_from_backward and not self.init_from:
            raise ConfigError("init_from_backward is the backward LM beside a forward one: set "
                              "init_from to the forward language model too")
        if self.init_from and self.embeddings:
            raise ConfigError("embeddings and init_from both set the embedding table; the "
                              "language model already has one, so drop embeddings")
        if not isinstance(self.min_steps, int) or self.min_steps < 0:
            check_choice(name, "min_steps", self.min_steps, ("an integer ≥ 0 (0 = off)",))
        if not 0.0 <= self.augment < 1.0:
            check_choice(name, "augment", self.augment, ("a rate in [0, 1); 0 = off",))
        if not isinstance(self.augment_copies, int) or self.augment_copies < 1:
            check_choice(name, "augment_copies", self.augment_copies, ("an integer ≥ 1",))
        if self.embedding_dropout is not None and not 0.0 <= self.embedding_dropout < 1.0:
            check_choice(name, "embedding_dropout", self.embedding_dropout,
                         ("None (0.3, or 0.5 with bigrams)", "a rate in [0, 1)"))
        if not 0.0 <= self.valid_fraction < 1.0:
            check_choice(name, "valid_fraction", self.valid_fraction, ("a number in [0, 1)",))
        self._check_training_params(name)

    def _check_training_params(self, name: str) -> None:
        """The rest of what fit would only meet after reading the data and building the net."""
        check_choice(name, "pooling", self.pooling, NET_POOLINGS)
        check_choice(name, "optimizer", self.optimizer, OPTIMIZERS)
        check_choice(name, "scheduler", self.scheduler, SCHEDULERS)
        check_run_params(name, self)
        for key in ("weight_decay", "l1", "grad_clip"):
            value = getattr(self, key)
            check_range(name, key, value, number(value) and value >= 0, "a number ≥ 0")
        check_range(name, "dropout", self.dropout,
                    number(self.dropout) and 0 <= self.dropout < 1, "a rate in [0, 1)")
        check_range(name, "patience", self.patience,
                    isinstance(self.patience, int) and self.patience >= 0,
                    "an integer ≥ 0 (0 = no early stopping)")
        check_range(name, "max_len", self.max_len,
                    isinstance(self.max_len, int) and self.max_len >= 1, "an integer ≥ 1")
        check_range(name, "max_minutes", self.max_minutes,
                    self.max_minutes is None or number(self.max_minutes) and self.max_minutes > 0,
                    "a number of minutes > 0, or None")

    def _text_config(self) -> TextConfig:
        return TextConfig(lowercase=self.lowercase, strip_html=self.strip_html,
                          traditional_to_simplified=self.traditional_to_simplified,
                          remove_stopwords=self.remove_stopwords,
                          strip_digits=self.strip_digits, strip_punct=self.strip_punct)

    def _train_config(self) -> TrainConfig:
        return TrainConfig(
            max_epochs=self.max_epochs, max_minutes=self.max_minutes,
            batch_size=self.batch_size, min_steps=self.min_steps, lr=self.lr,
            weight_decay=self.weight_decay, l1=self.l1, optimizer=self.optimizer,
            scheduler=self.scheduler,
            grad_clip=self.grad_clip, patience=self.patience,
            monitor=self.auto_monitor if self.monitor == "auto" else self.monitor,
            class_weights=self.class_weights,
            average_epochs=self.average_epochs == "on" or (self.average_epochs == "auto"
                                                           and self.schedule == "standard"),
            max_len=self.max_len, truncation=self.truncation,
            valid_fraction=self.valid_fraction, seed=self.seed,
            num_threads=self.num_threads, device=self.device, progress=self.progress,
            precision=self.precision, restore_best=self.restore_best)

    def _model_config(self, vocab_size: int, num_classes: int,
                      bigram_rows: int = 0) -> ModelConfig:
        cell, bidirectional = ARCHS[self.arch]
        cnn = cell == "cnn"  # TextCNN: always max over time, recorded as such
        return ModelConfig(cell=cell, bidirectional=bidirectional, layers=self.layers,
                           embedding_dim=self.embedding_dim, hidden_size=self.hidden_size,
                           pooling="max" if cnn else self.pooling,
                           embedding_dropout=self._embedding_dropout(bigram_rows),
                           dropout=self.dropout, vocab_size=vocab_size,
                           num_classes=num_classes, kernel_sizes=[3, 4, 5] if cnn else None,
                           bigram_rows=bigram_rows)

    def _embedding_dropout(self, bigram_rows: int) -> float:
        if self.embedding_dropout is not None:
            return self.embedding_dropout
        return 0.5 if bigram_rows else 0.3

    def _bigram_table(self, train_ids: list[list[int]]):
        """(slot → row table, rows) of the training pairs, or (None, 0) without bigrams."""
        if not pairs_wanted(self.bigrams, self.tokenizer_.kind, bool(self.init_from_backward)):
            return None, 0
        # Every pair, not min_freq: on waimai_10k pairs seen once helped (3 seeds: 0.9087
        # mean with them, 0.9052 with min_freq=2), unlike rare characters.
        return build_bigram_slot_rows(train_ids, 1, self.max_vocab)

    # ---- stages ----------------------------------------------------------------------------
    def _tokens(self, texts: list[str]) -> list[list[str]]:
        return tokenize_texts(texts, self.text_config_, self.tokenizer_)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """raw texts → truncated id sequences, each of length ≥ 1 (shared with ONNX)."""
        return encode_texts(texts, self.text_config_, self.tokenizer_, self.vocab_,
                            self.max_len, self.truncation)

    def _batch_logits(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One padded batch (numpy int64) → (B, C) logits, in eval mode without autograd."""
        return self._run_net("forward", ids, lengths)

    def _batch_features(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One padded batch → (B, P) pooled encoder states (the head's input)."""
        return self._run_net("features", ids, lengths)

    def _run_net(self, method: str, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        keep_freed_memory()  # once per process; 1.08-1.21x on IMDb (bench_allocator predict)
        net = self.net_.eval()
        with torch.inference_mode():
            out = getattr(net, method)(torch.from_numpy(ids), torch.from_numpy(lengths))
            return out.float().numpy()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors: the pooled encoder state of each text, what the network's
        final linear layer reads (``net_.features``; for "maxmean" pooling the max and the
        mean of the states over the text, side by side).

        Texts are cleaned, tokenized, cut at ``max_len`` and batched exactly as in
        :meth:`predict_proba`, and a text's vector does not depend on the texts batched with
        it. An empty text gets a vector like any other (that of a lone unknown token), as it
        gets a row of ``predict_proba``; filter such texts out first when that matters.
        With ``truncation="sentences"`` a text's vector is the mean of its sentences'.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        ndarray of float32, shape (n_texts, n_features)
            One row per text, in input order; ``n_features`` is ``net_.feature_size``.
            Without sentences, ``net_.head`` applied to a row gives the text's logits, whose
            ``softmax(logits / temperature_)`` is its row of :meth:`predict_proba` (a
            multi-label model takes sigmoids instead).

        Examples
        --------
        >>> clf = sentirnn.load("models/waimai")  # doctest: +SKIP
        >>> clf.embed(["很好吃", "送餐太慢了"]).shape  # doctest: +SKIP
        (2, 512)
        """
        texts = check_texts(texts, "embed")
        self._check_fitted("embed")
        width = self.net_.feature_size
        if self.truncation != "sentences":
            return self._text_rows(texts, self._batch_features, width)
        sentences, owner = split_many(texts, self.language_)
        rows = self._batched(self._encode(sentences), self._batch_features, width)  # (S, P)
        total = np.zeros((len(texts), width), dtype=np.float64)
        np.add.at(total, owner, rows)  # every text has at least one sentence
        return (total / np.bincount(owner, minlength=len(texts))[:, None]).astype(np.float32)

    # ---- threads for prediction ------------------------------------------------------------
    def set_threads(self, threads: int | None) -> SentimentClassifier:
        """See :meth:`Predictor.set_threads`; the worker threads start now."""
        super().set_threads(threads)
        with _POOL_LOCK:
            self._start_pool(self.threads_ or os.cpu_count() or 1)
        return self

    def _pool(self):
        """Network calls run on single-threaded workers, never in the caller's thread: a
        call there would use torch's intra-op threads, which collapse on a busy machine
        (see ``sentirnn.inference.workers``). The pool starts on first use unless set_threads
        ran."""
        workers, pool = self.workers_, self.executor_
        # A forked child inherits the pool but not its threads: it would wait forever.
        if pool is None or self._pool_pid_ != os.getpid():
            with _POOL_LOCK:  # a server's request threads may all arrive at once
                if self.executor_ is None or self._pool_pid_ != os.getpid():
                    self._start_pool(self.threads_ or os.cpu_count() or 1)
                workers, pool = self.workers_, self.executor_
        return workers, pool

    def _start_pool(self, workers: int) -> None:
        old = self.executor_ if self._pool_pid_ == os.getpid() else None
        self.executor_, self.workers_ = single_threaded_pool(workers), workers
        self._pool_pid_ = os.getpid()
        if old is not None:
            old.shutdown(wait=False)  # calls already queued on it still finish

    _pool_pid_: int | None = None  # the process whose threads executor_ holds

    def __getstate__(self) -> dict:
        # A thread pool cannot be copied or pickled; a copy starts its own on first use.
        state = dict(self.__dict__)
        for name in ("executor_", "workers_", "_pool_pid_"):
            state.pop(name, None)
        return state

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError(f"This SentimentClassifier instance is not fitted yet. Call "
                                 f"'fit' (or sentirnn.load) before {method!r}.")

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str],
            valid: tuple[Sequence[str], Sequence[str]] | None = None,
            resume: bool = False) -> SentimentClassifier:
        """Train from scratch on labelled texts; returns self.

        Parameters
        ----------
        texts, labels : sequences of str of the same length.
        valid : optional (texts, labels) for early stopping and the final report; without it,
            a seeded stratified ``valid_fraction`` of the training data is held out.
        resume : continue the killed run whose checkpoint is in ``checkpoint_dir`` after its
            last completed epoch (same data and settings required); the model equals an
            uninterrupted run's.
        """
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
        texts, labels, valid = self._split(texts, labels, valid)
        if self.calibrate and valid is None:
            raise ConfigError("calibrate=True fits the temperature on validation data: pass "
                              "valid=(texts, labels) or set valid_fraction > 0")
        if self.init_from:
            return fit_from_language_model(self, texts, labels, valid, run)
        self.text_config_ = self._text_config()
        self.language_ = self.language if self.language != "auto" else detect_language(texts)
        documents = len(texts)
        texts, labels = self._units(texts, labels)
        self.tokenizer_ = Tokenizer(resolve_kind(self._tokenizer_kind(), self.language_),
                                    self.language_, remove_stopwords=self.remove_stopwords)
        if self.tokenizer_.kind == "subword":  # the BPE vocabulary is learnt from the texts
            self.tokenizer_.fit(clean_many(texts, self.text_config_))
        tokens = self._tokens(texts)
        self.vocab_ = Vocab.build(tokens, min_freq=self.min_freq, max_size=self.max_vocab)
        vectors, coverage, keyed = self._pretrained(tokens)
        tokens, labels = self._augmented(tokens, labels, keyed)
        del keyed  # a big vector file is not kept in memory while training
        self.classes_ = classes
        train_ids = prepare(self.vocab_.encode_many(tokens), self.max_len, self.truncation)
        valid_ids, valid_y, valid_pool = None, None, None
        if valid is not None:
            valid_ids, valid_y, valid_pool = self._valid_rows(valid[0],
                                                              self._targets(valid[1]))
        bigram_table, bigram_rows = self._bigram_table(train_ids)
        self.model_config_ = self._model_config(len(self.vocab_), len(classes), bigram_rows)
        if vectors is not None:  # the dimension follows the vector file
            self.model_config_.embedding_dim = int(vectors.shape[1])
        torch.manual_seed(self.seed)
        self.net_ = build_net(self.model_config_)
        if vectors is not None:
            self.net_.embedding.load_vectors(torch.from_numpy(vectors), self.freeze_embeddings)
        if bigram_table is not None:
            self.net_.embedding.set_bigram_slot_rows(bigram_table)
        self._train(train_ids, self._targets(labels), valid_ids, valid_y, valid_pool=valid_pool,
                    run=run)
        if self.truncation == SENTENCES:
            self.train_summary_["train_documents"] = documents
        if bigram_rows:
            self.train_summary_["bigrams"] = bigram_rows - 1
        if coverage is not None:
            self.train_summary_["embeddings"] = coverage.to_dict()
        if self.augment:
            self.train_summary_["augment"] = {"rate": self.augment,
                                              "copies": self.augment_copies}
        self._finish_fit(valid)
        return self

    def _units(self, texts: list[str], labels: list) -> tuple[list[str], list]:
        """Texts and labels → what the network trains and validates on: the texts, or with
        ``truncation="sentences"`` their sentences, each carrying its text's label."""
        if self.truncation != SENTENCES:
            return texts, labels
        sentences, owner = split_many(texts, self.language_)
        log.info("truncation='sentences': %d texts → %d sentences", len(texts), len(sentences))
        return sentences, [labels[i] for i in owner]

    def _valid_rows(self, texts: list[str], targets: list):
        """Validation texts and targets → (id sequences, targets, valid_pool) for the fit
        loop. With ``truncation="sentences"`` the rows are sentences and ``valid_pool`` pools
        their logits back into documents, so early stopping watches document macro-F1."""
        if self.truncation != SENTENCES:
            return self._encode(texts), targets, None
        sentences, owner = split_many(texts, self.language_)
        seqs = self._encode(sentences)
        lengths, how, y = [len(s) for s in seqs], self.sentence_pooling, np.asarray(targets)

        def valid_pool(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return pooled_logits(logits, owner, len(texts), how, lengths), y

        return seqs, [targets[i] for i in owner], valid_pool

    def _label_targets(self, labels: list) -> tuple[list[str], list]:
        """Training labels → (classes_, labels as ``_targets`` takes them)."""
        labels = [str(y) for y in labels]
        return sorted(set(labels)), labels

    def _targets(self, labels: list) -> list:
        """Labels → what the loss takes (class indices here), refusing unknown labels."""
        index = {c: i for i, c in enumerate(self.classes_)}
        unknown = sorted({str(y) for y in labels} - set(index))
        if unknown:
            raise DataError(f"validation labels {unknown[:5]} do not occur in the training "
                            f"data (training labels: {self.classes_})")
        return [index[str(y)] for y in labels]

    def _stratum(self, labels: list) -> list[str]:
        """What the held-out split is stratified on."""
        return labels

    def _after_training(self, valid) -> None:
        """Hook for what depends on the trained network (multi-label thresholds)."""

    def _finish_fit(self, valid) -> None:
        """After any training (fit, LM transfer, fine_tune): the temperature when
        ``calibrate``, then the validation report."""
        self._after_training(valid)
        if getattr(self, "_split_info", None):
            self.train_summary_["validation_split"] = {"kind": "sentences", **self._split_info}
        self.temperature_, self.calibration_, self._reliability = 1.0, None, None
        if self.calibrate and valid is None:  # fine_tune without validation data
            log.warning("calibrate=True but there is no validation data: probabilities are "
                        "left uncalibrated (pass valid or set valid_fraction > 0)")
        elif self.calibrate:
            self._calibrate(*valid)
        self.report_ = self.evaluate(*valid) if valid is not None else None

    def _calibrate(self, texts: list[str], labels: list[str]) -> None:
        """Fit T on held-out logits (temperature scaling, ``sentirnn.inference.calibration``)."""
        logits, y = self._text_logits(texts), np.array(self._targets(labels))
        self.temperature_ = fit_temperature(logits, y)
        self.calibration_ = summary(logits, y, self.temperature_)
        self._reliability = (softmax(logits), softmax(logits / self.temperature_), y)
        log.info("calibrated on %d validation texts: temperature %.3f, ECE %.4f → %.4f",
                 len(y), self.temperature_, self.calibration_["ece_before"],
                 self.calibration_["ece_after"])

    def _pretrained(self, tokens: list[list[str]]):
        """(matrix, Coverage, KeyedVectors) from ``embeddings`` for ``vocab_``, or Nones."""
        if not self.embeddings:
            return None, None, None
        from itertools import chain

        keyed = load_vectors(self.embeddings)
        default = inspect.signature(SentimentClassifier.__init__).parameters["embedding_dim"]
        dim = None if self.embedding_dim == default.default else self.embedding_dim
        matrix, coverage = vectors_for_vocab(
            self.vocab_, keyed, dim, Counter(chain.from_iterable(tokens)), seed=self.seed,
            source=str(self.embeddings), dim_name="embedding_dim (--embedding-dim)")
        log.info("%s", coverage)
        return matrix, coverage, keyed

    def _augmented(self, tokens: list[list[str]], labels: list[str], keyed=None):
        """Training tokens and labels plus EDA copies when ``augment`` > 0 (training only)."""
        if not self.augment:
            return tokens, labels
        specials = set(self.vocab_.specials)
        allowed = [t for t in self.vocab_.itos if t not in specials]
        neighbours = Neighbours(keyed, allowed=allowed) if keyed is not None else None
        protected = specials | load_stopwords(self.language_)
        out, ys = augment_tokens(tokens, labels, float(self.augment), self.augment_copies,
                                 self.seed, neighbours, protected)
        log.info("augment: %d training texts → %d (rate %g, %d cop%s)", len(tokens), len(out),
                 self.augment, self.augment_copies, "y" if self.augment_copies == 1 else "ies")
        return out, ys

    def _tokenizer_kind(self) -> str:
        # Characters beat jieba words on Chinese reviews here (waimai_10k, see docs/results.md);
        # "auto" therefore means characters for zh and words for en.
        if self.tokenizer == "auto" and self.language_ == "zh":
            return "char"
        return self.tokenizer

    def _split(self, texts, labels, valid):
        self._split_info = None
        if valid is not None:
            vt, vl = check_texts(valid[0], "fit"), list(valid[1])
            return texts, labels, (vt, vl)
        if self.valid_fraction <= 0:
            return texts, labels, None
        strata = self._stratum(labels)
        found = sentence_split(texts, strata, self.valid_fraction, self.seed)
        if found is not None:
            keep, held, self._split_info = found
            log.info("phrase-level data (%d of %d rows are whole sentences, the rest phrases "
                     "inside them): holding out %d sentences for validation and leaving out "
                     "the %d phrases found only inside them", self._split_info["sentences"],
                     len(texts), len(held), self._split_info["phrases_dropped"])
        else:
            keep, held = stratified_split(strata, (1 - self.valid_fraction,
                                                   self.valid_fraction), self.seed)
            log.info("holding out %d of %d training texts for validation", len(held),
                     len(texts))
        return ([texts[i] for i in keep], [labels[i] for i in keep],
                ([texts[i] for i in held], [labels[i] for i in held]))

    def _open_run(self, resume: bool):
        """The run folder of ``checkpoint_dir`` (None without one), opened to resume or anew."""
        if not self.checkpoint_dir:
            if resume:
                raise ConfigError("resume needs the checkpoint folder of the interrupted run: "
                                  "set checkpoint_dir (--checkpoint-dir)")
            return None
        return Run(self.checkpoint_dir, resume)

    def _check_run_inputs(self, run, texts, labels, valid, **settings) -> None:
        """Fingerprint what the run is given (settings, data) before any work is done."""
        if run is None:
            return
        run.check({"settings": fingerprinted(self.get_params(), **settings),
                   "training data": digest(texts, labels),
                   "validation data": digest(*valid) if valid is not None else None})

    def _train(self, train_ids, train_y, valid_ids, valid_y, config: TrainConfig | None = None,
               run=None, **kwargs) -> None:
        if run is not None:  # what preprocessing made of the data (vs. the resumed run's)
            run.check({"tokenizer and vocabulary": digest(
                self.tokenizer_.to_dict(), self.vocab_.to_dict(), self.classes_)}, derived=True)
        weights = None
        if self.class_weights == "balanced":
            counts = Counter(train_y)
            weights = torch.tensor([len(train_y) / (len(self.classes_) * counts.get(i, 1))
                                    for i in range(len(self.classes_))], dtype=torch.float32)
        # looked up at call time: tests replace loop.train_net to interrupt a run
        self.history_, self.train_summary_ = loop.train_net(
            self.net_, train_ids, train_y, valid_ids, valid_y, config or self._train_config(),
            class_weights=weights, run=run, **kwargs)
        self.train_summary_["train_texts"] = len(train_ids)
        self.train_summary_["train_tokens"] = int(sum(len(s) for s in train_ids))

    # ---- transfer ----------------------------------------------------------------------------
    @classmethod
    def from_language_model(cls, lm, backward=None, **params) -> SentimentClassifier:
        """An unfitted classifier whose ``fit`` starts from a language model's encoder.

        Parameters
        ----------
        lm : str, Path or LanguageModel
            A language-model directory (``sentirnn pretrain``) or a fitted LanguageModel.
        backward : str, Path or LanguageModel, optional
            A backward LM beside a forward ``lm`` (same vocabulary and sizes): both encoders
            in one classifier (``init_from_backward``).
        **params : other SentimentClassifier parameters; defaults become ULMFiT's
            (``pooling="concat"``, ``schedule="ulmfit"``, ``embedding_dropout=0.05``, or 0.5
            with the token pairs a single character LM gets by default); the sizes, tokenizer and
            cleaning are the LM's. The config records ``init_from`` (LM path and weights sha256).

        Examples
        --------
        >>> clf = SentimentClassifier.from_language_model("models/imdb-lm")  # doctest: +SKIP
        >>> clf.fit(texts, labels)  # doctest: +SKIP
        """
        def loaded(m):
            return m if isinstance(m, LanguageModel) else LanguageModel.load(m)

        model = loaded(lm)
        if backward is not None:
            back = loaded(backward)
            source = getattr(back, "source_", None)
            params = {**params,
                      "init_from_backward": source["path"] if source else "<unsaved LanguageModel>"}
        clf = cls(**lm_params(model, params))
        clf._language_model = model
        if backward is not None:
            clf._backward_language_model = back
        return clf

    def fine_tune(self, texts: Sequence[str], labels: Sequence[str],
                  valid: tuple[Sequence[str], Sequence[str]] | None = None,
                  freeze: str | None = None, epochs: int | None = None,
                  schedule: str = "ulmfit", resume: bool = False) -> SentimentClassifier:
        """Continue training on new-domain data from the current weights; returns self.

        When the labels differ from ``classes_`` a new head is trained for them. ``freeze``
        ("embeddings" or "encoder") keeps those layers fixed; ``schedule="ulmfit"`` unfreezes
        the other groups one per epoch, top first (see ``sentirnn.estimators.finetune``). ``resume``
        continues a killed fine-tuning from ``checkpoint_dir``, as in :meth:`fit`.
        """
        return fine_tune_classifier(self, texts, labels, valid, freeze=freeze, epochs=epochs,
                                    schedule=schedule, resume=resume)

    # ---- predict -----------------------------------------------------------------------------
    def explain(self, text: str, steps: int = 32):
        """Signed per-token scores for the predicted label (Integrated Gradients, captum).

        Returns an ``Explanation`` (tokens, scores, label, probabilities, attention weights
        where the model pools with attention); see ``sentirnn.inference.explain``.
        """
        self._check_fitted("explain")
        return explain_text(self, text, steps=steps)

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path, report: EvaluationReport | None = None, data: dict | None = None,
             force: bool = False) -> Path:
        """Write the model directory; returns its path.

        A new folder appears whole; in an existing model directory only the files sentirnn
        wrote are replaced. ``force`` writes into a non-empty folder that is not a model
        directory (its other files are kept).
        """
        self._check_fitted("save")
        report = report or getattr(self, "report_", None)
        config = {
            "format": self.format_name, "format_version": 1, "labels": list(self.classes_),
            "language": self.language_,
            # embeddings=Path(...) too; a loaded model must not write into (or resume from)
            # the checkpoint folder of the run that made it
            "params": {k: str(v) if isinstance(v, Path) else v
                       for k, v in self.get_params().items() if k != "checkpoint_dir"},
            "text": self.text_config_.to_dict(),
            "tokenizer": {k: v for k, v in self.tokenizer_.to_dict().items() if k != "model"},
            "model": self.model_config_.to_dict(), "train": self._train_config().to_dict(),
            "train_summary": getattr(self, "train_summary_", {}), "data": data or {},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if getattr(self, "init_from_", None):  # provenance: the model this one started from
            config["init_from"] = self.init_from_
        if self.calibration_ is not None:  # T, and the validation ECE it was fitted for
            config["calibration"] = self.calibration_
        if self._preset:
            config["preset"] = self._preset
        config.update(self._extra_config())
        tokenizer = {"tokenizer": self.tokenizer_.to_dict(), "vocab": self.vocab_.to_dict()}
        files = {"tokenizer.json": json.dumps(tokenizer, ensure_ascii=False).encode("utf-8")}
        return artifacts.write_dir(path, config, self.net_.state_dict(), files,
                                   self._extras(report), force=force)

    def _extra_config(self) -> dict:
        """More config.json keys of a subclass (read back by ``_read_extra_config``)."""
        return {}

    def _read_extra_config(self, config: dict) -> None:
        pass

    def _extras(self, report: EvaluationReport | None) -> dict:
        extras = {}
        history = getattr(self, "history_", None)
        if history:
            extras["curves.csv"] = lambda p: write_curves(history, p)
            extras["curves.png"] = lambda p: plot_curves(history, p)
        if report is not None:
            extras["metrics.json"] = lambda p: p.write_text(report.to_json(), encoding="utf-8")
            extras["confusion.png"] = report.plot_confusion
        if getattr(self, "_reliability", None) is not None:  # only right after calibrating
            extras["reliability.png"] = lambda p: plot_reliability(*self._reliability, p)
        return extras

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
            clf.text_config_ = TextConfig.from_dict(config["text"], f"{path}/config.json text")
            clf.model_config_ = ModelConfig.from_dict(config["model"],
                                                      f"{path}/config.json model")
            tok = artifacts.read_json_file(path, "tokenizer.json")
            clf.tokenizer_ = Tokenizer.from_dict(tok["tokenizer"])
            clf.vocab_ = Vocab.from_dict(tok["vocab"])
            clf._read_extra_config(config)
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{path}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        clf.net_ = build_net(clf.model_config_)
        artifacts.load_state(clf.net_, artifacts.read_tensors(path), path)
        clf.net_.eval()
        clf.train_summary_ = config.get("train_summary", {})
        if config.get("calibration"):  # older directories have none: T = 1
            clf.temperature_ = temperature_from_config(config, path)
            clf.calibration_ = dict(config["calibration"])
        if config.get("init_from"):
            clf.init_from_ = config["init_from"]
        clf._preset = config.get("preset")
        clf.source_ = {"format": cls.format_name, "path": str(path),
                       "sha256": config["checksums"][artifacts.WEIGHTS]}
        return clf




# format in config.json → "module:Class" whose ``load(path)`` reads that kind of directory
LOADERS = {FORMAT: "sentirnn.estimators.classifier:SentimentClassifier",
           "sentirnn.baseline": "sentirnn.classic.baselines:BaselineClassifier",
           "sentirnn.ensemble": "sentirnn.estimators.ensemble:EnsembleClassifier",
           "sentirnn.multilabel": "sentirnn.estimators.multilabel:MultiLabelClassifier"}


def load(path):
    """Load any classifier directory (``sentirnn train``, a baseline or an ensemble).

    Every kind offers ``predict``, ``predict_proba``, ``evaluate`` and ``classes_``.
    """
    import importlib

    kind = artifacts.read_config(path, tuple(LOADERS))["format"]
    module, name = LOADERS[kind].split(":")
    return getattr(importlib.import_module(module), name).load(path)
