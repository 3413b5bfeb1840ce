"""constructor parameters → checked settings: the classifier's TextConfig, TrainConfig, ModelConfig.

A classifier's parameters are checked here before ``fit`` reads any text (scikit-learn's
message template, via ``sentirnn.config.check_choice``), and turned into the config objects
that are saved with the model. Everything here reads public parameters only.
"""

from __future__ import annotations

from sentirnn.config import (
    PRECISIONS,
    ModelConfig,
    TextConfig,
    TrainConfig,
    check_choice,
    check_range,
)
from sentirnn.errors import ConfigError
from sentirnn.inference.sentences import POOLINGS, SENTENCES
from sentirnn.models.pooling import POOLINGS as NET_POOLINGS
from sentirnn.preprocess.batching import TRUNCATIONS
from sentirnn.training.loop import OPTIMIZERS, SCHEDULERS, check_run_params
from sentirnn.training.loop import is_number as number

# arch → (cell, bidirectional)
ARCHS = {"rnn": ("rnn", False), "birnn": ("rnn", True), "lstm": ("lstm", False),
         "bilstm": ("lstm", True), "gru": ("gru", False), "bigru": ("gru", True),
         "textcnn": ("cnn", False), "clstm": ("lstm", True), "rcnn": ("lstm", True)}
# arch → ModelConfig.hybrid: convolution and recurrence in one net (models/clstm.py, rcnn.py)
HYBRIDS = {"clstm": "clstm", "rcnn": "rcnn"}


def check_params(clf) -> None:
    """Refuse invalid parameters of a SentimentClassifier (or subclass) before any work.

    Messages name the owner's class (``type(clf).__name__``), so a subclass needs no renaming.
    """
    owner = type(clf).__name__
    check_choice(owner, "arch", clf.arch, tuple(ARCHS))
    check_choice(owner, "language", clf.language, ("auto", "zh", "en"))
    check_choice(owner, "tokenizer", clf.tokenizer,
                 ("auto", "jieba-word", "char", "en-word", "subword"))
    check_choice(owner, "schedule", clf.schedule, ("standard", "ulmfit"))
    check_choice(owner, "precision", str(clf.precision), PRECISIONS)
    check_choice(owner, "bigrams", clf.bigrams, ("auto", "on", "off"))
    check_choice(owner, "average_epochs", clf.average_epochs, ("auto", "on", "off"))
    check_choice(owner, "monitor", clf.monitor, ("auto", "macro_f1", "accuracy", "loss"))
    if clf.schedule == "ulmfit" and not clf.init_from:
        raise ConfigError("schedule='ulmfit' fine-tunes a pretrained encoder: set init_from "
                          "(or use SentimentClassifier.from_language_model)")
    check_choice(owner, "truncation", clf.truncation, (*TRUNCATIONS, SENTENCES))
    check_choice(owner, "sentence_pooling", clf.sentence_pooling, POOLINGS)
    check_choice(owner, "class_weights", clf.class_weights, ("none", "balanced"))
    for key in ("embedding_dim", "hidden_size", "layers", "max_epochs", "batch_size",
                "min_freq", "max_vocab"):
        value = getattr(clf, key)
        if not isinstance(value, int) or value < 1:
            check_choice(owner, key, value, ("an integer ≥ 1",))
    if clf.init_from_backward and not clf.init_from:
        raise ConfigError("init_from_backward is the backward LM beside a forward one: set "
                          "init_from to the forward language model too")
    if clf.init_from and clf.arch in HYBRIDS:
        raise ConfigError(f"arch={clf.arch!r} cannot start from a language model: init_from "
                          "gives the LM's LSTM stack, which has no convolution or context "
                          "layer to fill; leave arch out (or train the hybrid from scratch)")
    check_choice(owner, "wide", clf.wide, (True, False))
    if clf.wide and (clf.arch in HYBRIDS or ARCHS[clf.arch][0] == "cnn"):
        raise ConfigError(f"wide=True adds a bag of tokens to a recurrent classifier; "
                          f"arch={clf.arch!r} has none: use arch 'bilstm' (or 'lstm', 'gru', "
                          "'bigru', 'rnn', 'birnn'), or drop wide")
    if clf.init_from and clf.embeddings:
        raise ConfigError("embeddings and init_from both set the embedding table; the "
                          "language model already has one, so drop embeddings")
    if not isinstance(clf.min_steps, int) or clf.min_steps < 0:
        check_choice(owner, "min_steps", clf.min_steps, ("an integer ≥ 0 (0 = off)",))
    if not 0.0 <= clf.augment < 1.0:
        check_choice(owner, "augment", clf.augment, ("a rate in [0, 1); 0 = off",))
    if not isinstance(clf.augment_copies, int) or clf.augment_copies < 1:
        check_choice(owner, "augment_copies", clf.augment_copies, ("an integer ≥ 1",))
    if clf.embedding_dropout is not None and not 0.0 <= clf.embedding_dropout < 1.0:
        check_choice(owner, "embedding_dropout", clf.embedding_dropout,
                     ("None (0.3, or 0.5 with bigrams)", "a rate in [0, 1)"))
    if not 0.0 <= clf.valid_fraction < 1.0:
        check_choice(owner, "valid_fraction", clf.valid_fraction, ("a number in [0, 1)",))
    check_training_params(clf)


def check_training_params(clf) -> None:
    """The rest of what fit would only meet after reading the data and building the net."""
    owner = type(clf).__name__
    check_choice(owner, "pooling", clf.pooling, NET_POOLINGS)
    check_choice(owner, "optimizer", clf.optimizer, OPTIMIZERS)
    check_choice(owner, "scheduler", clf.scheduler, SCHEDULERS)
    check_run_params(owner, clf)
    for key in ("weight_decay", "l1", "grad_clip"):
        value = getattr(clf, key)
        check_range(owner, key, value, number(value) and value >= 0, "a number ≥ 0")
    check_range(owner, "dropout", clf.dropout,
                number(clf.dropout) and 0 <= clf.dropout < 1, "a rate in [0, 1)")
    check_range(owner, "patience", clf.patience,
                isinstance(clf.patience, int) and clf.patience >= 0,
                "an integer ≥ 0 (0 = no early stopping)")
    check_range(owner, "max_len", clf.max_len,
                isinstance(clf.max_len, int) and clf.max_len >= 1, "an integer ≥ 1")
    check_range(owner, "max_minutes", clf.max_minutes,
                clf.max_minutes is None or number(clf.max_minutes) and clf.max_minutes > 0,
                "a number of minutes > 0, or None")


def text_config(clf) -> TextConfig:
    return TextConfig(lowercase=clf.lowercase, strip_html=clf.strip_html,
                      traditional_to_simplified=clf.traditional_to_simplified,
                      remove_stopwords=clf.remove_stopwords,
                      strip_digits=clf.strip_digits, strip_punct=clf.strip_punct)


def average_epochs(setting: str, schedule: str) -> bool:
    """"auto" averages epochs with the standard schedule, not with ULMFiT's."""
    return setting == "on" or (setting == "auto" and schedule == "standard")


def train_config(clf, auto_monitor: str) -> TrainConfig:
    return TrainConfig(
        max_epochs=clf.max_epochs, max_minutes=clf.max_minutes,
        batch_size=clf.batch_size, min_steps=clf.min_steps, lr=clf.lr,
        weight_decay=clf.weight_decay, l1=clf.l1, optimizer=clf.optimizer,
        scheduler=clf.scheduler, grad_clip=clf.grad_clip, patience=clf.patience,
        monitor=auto_monitor if clf.monitor == "auto" else clf.monitor,
        class_weights=clf.class_weights,
        average_epochs=average_epochs(clf.average_epochs, clf.schedule),
        max_len=clf.max_len, truncation=clf.truncation,
        valid_fraction=clf.valid_fraction, seed=clf.seed,
        num_threads=clf.num_threads, device=clf.device, progress=clf.progress,
        precision=clf.precision, restore_best=clf.restore_best)


def embedding_dropout(clf, bigram_rows: int) -> float:
    """``embedding_dropout``, or its default: 0.5 with token pairs, 0.3 without."""
    if clf.embedding_dropout is not None:
        return clf.embedding_dropout
    return 0.5 if bigram_rows else 0.3


def model_config(clf, vocab_size: int, num_classes: int, bigram_rows: int = 0,
                 wide_pair_rows: int = 0) -> ModelConfig:
    """The network of a classifier trained from scratch."""
    cell, bidirectional = ARCHS[clf.arch]
    cnn = cell == "cnn"
    hybrid = HYBRIDS.get(clf.arch)
    kernel_sizes = [3, 4, 5] if cnn else [3] if hybrid == "clstm" else None
    max_only = cnn or hybrid == "rcnn"  # always max over time, recorded as such
    return ModelConfig(cell=cell, bidirectional=bidirectional, layers=clf.layers,
                       embedding_dim=clf.embedding_dim, hidden_size=clf.hidden_size,
                       pooling="max" if max_only else clf.pooling,
                       embedding_dropout=embedding_dropout(clf, bigram_rows),
                       dropout=clf.dropout, vocab_size=vocab_size,
                       num_classes=num_classes, kernel_sizes=kernel_sizes,
                       bigram_rows=bigram_rows, hybrid=hybrid, wide=clf.wide,
                       wide_pair_rows=wide_pair_rows)
