"""One config object per concern, stored in ``config.json`` next to the weights.

Each dataclass round-trips through ``to_dict``/``from_dict``; ``from_dict`` refuses
unknown keys and names the nearest valid one, so a typo in a ``--config`` file or a
tampered ``config.json`` is an error, never a silently ignored setting.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from sentirnn.errors import ConfigError

T = TypeVar("T")


PRECISIONS = ("auto", "32", "bf16")  # training arithmetic: training.lightning_precision


class ParamError(ConfigError):
    """A parameter outside its allowed values; ``param``, ``value`` and ``allowed`` let the
    CLI say it again in its own flag's name (:meth:`for_flag`)."""

    def __init__(self, message: str, param: str, value: Any, allowed: tuple):
        super().__init__(message)
        self.param, self.value, self.allowed = param, value, allowed

    def for_flag(self, where: str) -> str:
        """The same complaint about ``where`` (e.g. ``--max-epochs``)."""
        # choices are values without spaces ("cpu", "head+tail"); descriptions have them
        described = all(isinstance(c, str) and " " in c for c in self.allowed)
        wanted = " or ".join(self.allowed) if described else "one of " + ", ".join(
            str(c) for c in self.allowed)
        return f"{where} must be {wanted}; got {self.value!r}"


def check_choice(owner: str, name: str, value: Any, choices: tuple) -> None:
    """Raise ParamError in scikit-learn's parameter template when value is not a choice."""
    if value not in choices:
        shown = "{" + ", ".join(repr(c) for c in choices) + "}"
        raise ParamError(
            f"The {name!r} parameter of {owner} must be one of {shown}. Got {value!r} instead.",
            name, value, choices)


def check_range(owner: str, name: str, value: Any, ok: bool, allowed: str) -> None:
    """Raise ParamError when ``ok`` is false; ``allowed`` describes the valid values."""
    if not ok:
        check_choice(owner, name, value, (allowed,))


def _from_dict(cls: type[T], data: dict[str, Any], where: str) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(data).__name__}")
    names = [f.name for f in fields(cls)]
    for key in data:
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")
    return cls(**data)


class JsonConfig:
    """to_dict/from_dict for the config dataclasses (unknown keys are an error)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | None = None):
        return _from_dict(cls, data, where or cls.__name__)


@dataclass
class TextConfig(JsonConfig):
    """raw text → cleaned text: which cleaning steps run (see text.clean)."""

    normalize: str = "NFKC"  # also folds full-width Latin/digits to half-width
    strip_html: bool = True
    strip_urls: bool = True
    strip_emails: bool = True
    traditional_to_simplified: bool = False
    lowercase: bool = True
    remove_stopwords: bool = False  # negations carry sentiment: off by default
    # off by default: "!!!" and "5 stars" carry sentiment too; see text.clean for what goes
    strip_digits: bool = False
    strip_punct: bool = False


@dataclass
class ModelConfig(JsonConfig):
    """The network: embedding → recurrent encoder → pooling → linear (or TextCNN, C-LSTM, RCNN)."""

    cell: str = "lstm"  # rnn | lstm | gru | cnn (TextCNN: see models/cnn.py)
    bidirectional: bool = True
    layers: int = 1
    embedding_dim: int = 200
    hidden_size: int = 128
    pooling: str = "maxmean"  # last | mean | max | maxmean | attention
    embedding_dropout: float = 0.3
    dropout: float = 0.5  # between layers and before the classifier
    vocab_size: int = 0
    num_classes: int = 2
    hidden_sizes: list[int] | None = None  # per layer, overrides hidden_size (LM transfer)
    kernel_sizes: list[int] | None = None  # cnn, clstm: filter widths; None = [3, 4, 5] / [3]
    # clstm | rcnn: convolution and recurrence in one net (models/clstm.py, models/rcnn.py),
    # ``cell`` being their recurrent cell; None: the plain recurrent classifier (or TextCNN)
    hybrid: str | None = None
    bigram_rows: int = 0  # pair embedding rows, set by fit (0 = none; models/embedding.py)
    bigram_slots: int = 1 << 20  # hash slots of the pair table
    reverse: bool = False  # read each text last token first (made from a backward LM)
    separate_directions: bool = False  # one stack per direction, each on half the embedding
    # a linear bag of tokens and pairs added to the logits (models/wide.py; recurrent nets)
    wide: bool = False
    wide_pair_rows: int = 0  # its pair rows, set by fit (0 = tokens only)
    wide_dropout: float = 0.5  # share of tokens dropped from the bag while training


@dataclass
class TrainConfig(JsonConfig):
    """How fit runs: optimiser, schedule, batching, stopping."""

    max_epochs: int = 8
    max_minutes: float | None = None  # wall-clock budget; None = no limit
    batch_size: int = 64
    min_steps: int = 50  # smaller batches when an epoch would have fewer optimizer steps
    lr: float = 2e-3
    weight_decay: float = 0.0
    l1: float = 0.0  # λ of the λ·Σ|w| penalty on the weight matrices (training.l1_norm)
    optimizer: str = "adam"  # adam | adamw | rmsprop | sgd
    # none | plateau | cosine | linear. "none": every default was measured with a constant lr
    # (docs/lab-notes.md, "Figures moved out of the docstrings")
    scheduler: str = "none"
    grad_clip: float = 5.0
    patience: int = 2
    monitor: str = "macro_f1"  # macro_f1 | accuracy | loss: what picks and stops epochs
    restore_best: bool = True  # end on the best-validating epoch's weights, else the last's
    average_epochs: bool = False  # validate the running mean of the epochs' weights too
    class_weights: str = "none"  # none | balanced
    max_len: int = 400
    truncation: str = "head+tail"  # head | tail | head+tail | sentences (see sentences.py)
    valid_fraction: float = 0.1
    seed: int = 0
    num_threads: int | None = None
    device: str = "auto"  # auto | cpu | cuda
    progress: bool = True
    precision: str = "auto"  # auto | 32 | bf16 (training.lightning_precision)
