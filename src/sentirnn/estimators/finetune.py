"""LM → classifier transfer: encoder copy, gradual unfreezing, discriminative and slanted LRs.

ULMFiT (Howard & Ruder, 2018) as small pieces around the ordinary fit loop, used by
``SentimentClassifier.fit`` (when it starts from a language model) and ``fine_tune``: the
classifier's network is sized like the LM (:func:`transfer_config`) and starts as its
embedding and LSTM stack (:func:`copy_encoder`; on Chinese characters a token-pair table,
zero at first, is added and trains with the head); *discriminative learning rates* give
each layer group ``lr / 2.6**depth`` (:func:`discriminative_groups`); *gradual unfreezing*
trains the top group (pooling + head) in the first epoch and one more group each epoch
(:class:`GradualUnfreezing`); a *slanted triangular* schedule warms up over the first 10% of
the steps and decays linearly (``sentirnn.training.schedules``). With this schedule early
stopping is off (the schedule is planned for every epoch); the best epoch is still restored.
With few labels the fit loop shrinks the batch (``min_steps``) and :func:`training_schedule`
the peak lr with the square root, because a few steps an epoch leave no room for a warm-up
and a decay.

BPT3C: ULMFiT's classifier reads a long document in bptt-sized chunks, carrying the hidden
state. Our encoder runs ``nn.LSTM`` over the whole document, which computes exactly that (a
chunked run with a carried state is the same recurrence); the only cap is ``max_len``
(head+tail truncation), chosen for time (docs/results.md compares longer caps).

Nothing here touches a classifier's private state: the functions take language models,
networks and configs.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace

import lightning as L
import torch
from torch import nn

from sentirnn.config import ModelConfig, TrainConfig
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.estimators.language_model import LanguageModel
from sentirnn.models.embedding import pairs_wanted
from sentirnn.models.language_model_net import classifier_state
from sentirnn.training.loop import small_data_batch
from sentirnn.training.runtime import world
from sentirnn.training.schedules import stlr_scheduler

log = logging.getLogger("sentirnn")
SCHEDULES = ("standard", "ulmfit")
FREEZE = (None, "embeddings", "encoder")
# The network sizes of a classifier made from a language model are the LM's.
FROM_LM = ("arch", "language", "tokenizer", "embedding_dim", "hidden_size", "layers",
           "strip_digits", "strip_punct")


def layer_groups(net: nn.Module, pairs_on_top: bool = False) -> list[list[nn.Parameter]]:
    """A ClassifierNet's parameters, bottom to top: embedding, each encoder layer, head (with
    the wide bag, models/wide.py, when there is one: it reads no layer below the head).

    ``pairs_on_top`` moves the token-pair table (models/embedding.py) from the embedding
    group into the head's: on a language model's encoder the pairs are new, and like the
    head they must train from the first epoch at the top rate, not only once the pretrained
    embedding below them thaws.
    """
    pairs = net.embedding.bigrams
    on_top = list(pairs.parameters()) if pairs_on_top and pairs is not None else []
    if net.wide is not None:
        on_top += list(net.wide.parameters())
    embedding = [p for p in net.embedding.parameters()
                 if not any(p is q for q in on_top)]
    if hasattr(net, "layer_groups"):  # C-LSTM, RCNN (models/): they name their own groups
        groups = net.layer_groups()
        return [[p for p in groups[0] if not any(p is q for q in on_top)],
                *groups[1:-1], groups[-1] + on_top]
    if not hasattr(net, "encoder"):  # TextCNNNet: embedding, convolutions, head
        return [embedding, list(net.convs.parameters()),
                list(net.head.parameters()) + on_top]
    encoder = net.encoder
    groups = [embedding]
    for i, layer in enumerate(encoder.forward_layers):
        params = list(layer.parameters())
        if encoder.bidirectional:
            params += list(encoder.backward_layers[i].parameters())
        groups.append(params)
    groups.append(list(net.pooling.parameters()) + list(net.head.parameters()) + on_top)
    return groups


def discriminative_groups(groups: list[list[nn.Parameter]], lr: float,
                          factor: float = 2.6) -> list[dict]:
    """Optimizer param groups: the top group gets ``lr``, each one below ``/ factor`` more."""
    top = len(groups) - 1
    return [{"params": g, "lr": lr / factor ** (top - i)} for i, g in enumerate(groups)]


class GradualUnfreezing(L.Callback):
    """Train the top ``epoch + 1`` layer groups (all when not gradual), never ``frozen`` ones.

    Single-process, frozen parameters get ``requires_grad=False`` (no backward through them,
    which is also faster). Under DDP that would break DDP's gradient bookkeeping, so there
    every parameter keeps its gradient and frozen ones are dropped before the optimizer
    step; in both cases an optimizer skips a parameter without gradient, leaving it
    untouched.
    """

    def __init__(self, groups: list[list[nn.Parameter]], frozen=(), gradual: bool = True):
        self.groups, self.frozen, self.gradual = groups, set(frozen), gradual
        self.active: set[int] = set()

    def trainable(self, epoch: int) -> set[int]:
        n = len(self.groups)
        top = min(n, epoch + 1) if self.gradual else n
        return set(range(n - top, n)) - self.frozen

    def on_train_epoch_start(self, trainer, module):
        self.active = self.trainable(trainer.current_epoch)
        if world()[1] == 1:
            for i, group in enumerate(self.groups):
                for p in group:
                    p.requires_grad_(i in self.active)

    def on_before_optimizer_step(self, trainer, module, optimizer):
        for i, group in enumerate(self.groups):
            if i not in self.active:
                for p in group:
                    p.grad = None

    def on_fit_end(self, trainer, module):
        for group in self.groups:
            for p in group:
                p.requires_grad_(True)


def lm_params(lm, params: dict) -> dict:
    """SentimentClassifier params for a classifier built on ``lm`` (a LanguageModel).

    Sizes, tokenizer and cleaning are the LM's; the defaults are ULMFiT's (concat pooling,
    the "ulmfit" schedule, peak lr 1e-2 for the head) unless ``params`` say otherwise.
    """
    c, text, source = lm.net_config_, lm.text_config_, getattr(lm, "source_", None)
    pairs = pairs_wanted(params.get("bigrams", "auto"), lm.tokenizer_.kind,
                         bool(params.get("init_from_backward")))
    base = {"arch": "lstm", "language": lm.language_, "tokenizer": lm.tokenizer_.kind,
            "embedding_dim": c.embedding_dim, "hidden_size": c.hidden_size, "layers": c.layers,
            "pooling": "concat", "schedule": "ulmfit", "lr": 1e-2, "dropout": 0.3,
            "max_epochs": c.layers + 3,  # every group unfrozen in the last two epochs
            # ULMFiT's 0.05; a new pair table needs the from-scratch rate (docs/results.md)
            "embedding_dropout": 0.5 if pairs else 0.05, "lowercase": text.lowercase,
            "strip_html": text.strip_html,
            "traditional_to_simplified": text.traditional_to_simplified,
            "strip_digits": text.strip_digits, "strip_punct": text.strip_punct,
            "init_from": source["path"] if source else "<unsaved LanguageModel>"}
    clash = [k for k in FROM_LM if k in params and params[k] != base[k]]
    if clash:
        raise ConfigError(f"{', '.join(clash)} of a classifier made from a language model come "
                        f"from the model ({', '.join(f'{k}={base[k]!r}' for k in clash)}); "
                        "leave them out")
    return {**base, **params}


def as_language_model(lm) -> LanguageModel:
    """A LanguageModel as given, or loaded from its directory."""
    return lm if isinstance(lm, LanguageModel) else LanguageModel.load(lm)


def language_models(init_from, init_from_backward=None, loaded=None, loaded_backward=None):
    """(forward LM, backward LM or None): the given LanguageModels, else loaded from the
    paths; a pair is checked to fit one classifier (:func:`check_pair`)."""
    lm = loaded or LanguageModel.load(init_from)
    back = None
    if init_from_backward:
        back = loaded_backward or LanguageModel.load(init_from_backward)
        check_pair(lm, back)
    return lm, back


def check_cleaning(clf, lm) -> None:
    """A classifier cleans as its LM does: refuse ``strip_digits``/``strip_punct`` that differ
    (``init_from`` set directly, not through :func:`lm_params`)."""
    for key in ("strip_digits", "strip_punct"):
        if getattr(clf, key) != getattr(lm.text_config_, key):
            raise ConfigError(f"{key}={getattr(clf, key)!r} differs from the cleaning of the "
                              f"language model {clf.init_from} ({key}="
                              f"{getattr(lm.text_config_, key)!r}); a classifier made from it "
                              f"cleans as it does, so leave {key} out")


def transfer_config(lm, back, pooling: str, dropout: float, embedding_dropout: float,
                    num_classes: int, bigram_rows: int, wide: bool = False,
                    wide_pair_rows: int = 0) -> ModelConfig:
    """The network of a classifier on ``lm``'s encoder (sizes, direction and vocabulary are
    the LM's). With a backward LM beside it: one table of both LMs' vectors side by side,
    and each LM's stack reading its own half (RNNEncoder's separate stacks). ``wide`` adds
    the new bag of tokens and pairs (models/wide.py) beside it."""
    c = lm.net_config_
    return ModelConfig(
        cell="lstm", bidirectional=back is not None, layers=c.layers,
        embedding_dim=c.embedding_dim * (2 if back else 1), hidden_size=c.hidden_size,
        hidden_sizes=c.layer_sizes(), pooling=pooling, embedding_dropout=embedding_dropout,
        dropout=dropout, vocab_size=len(lm.vocab_), num_classes=num_classes,
        bigram_rows=bigram_rows, reverse=lm.direction == "backward",
        separate_directions=back is not None, wide=wide, wide_pair_rows=wide_pair_rows)


def provenance(lm, back=None) -> dict:
    """config.json's ``init_from``: format, path and weights sha256 of the LM(s) started from."""
    unsaved = {"format": "sentirnn.language_model", "path": None, "sha256": None}
    record = dict(getattr(lm, "source_", None) or unsaved)
    if back is not None:
        record["backward"] = dict(getattr(back, "source_", None) or unsaved)
    return record


def check_pair(forward, backward) -> None:
    """A forward and a backward LM that can share one classifier: same tokens, same sizes."""
    if (forward.direction, backward.direction) != ("forward", "backward"):
        raise ConfigError(f"init_from must be a forward language model and init_from_backward "
                          f"a backward one; got {forward.direction} and {backward.direction}")
    if forward.vocab_.itos != backward.vocab_.itos \
            or forward.tokenizer_.to_dict() != backward.tokenizer_.to_dict() \
            or forward.text_config_ != backward.text_config_:
        raise ConfigError("the forward and the backward language model have different "
                          "vocabularies, tokenizers or cleaning; pretrain both on the same "
                          "text with the same settings (pretrain --direction backward)")
    f, b = forward.net_config_, backward.net_config_
    if (f.embedding_dim, f.layer_sizes()) != (b.embedding_dim, b.layer_sizes()):
        raise ConfigError(f"the two language models differ in size (embedding {f.embedding_dim} "
                          f"vs {b.embedding_dim}, layers {f.layer_sizes()} vs "
                          f"{b.layer_sizes()}); pretrain both with the same sizes")


def copy_encoder(lm_net: nn.Module, clf_net: nn.Module,
                 backward_net: nn.Module | None = None) -> None:
    """Load the LM's embedding and LSTM weights into a ClassifierNet (pooling/head stay new).

    With ``backward_net`` (separate direction stacks), the forward LM's vectors fill the
    table's first half and its layers the forward stack; the backward LM's the rest.
    """
    state = classifier_state(lm_net.state_dict())
    if backward_net is not None:
        back = classifier_state(backward_net.state_dict())
        for key, value in back.items():
            if key.startswith("embedding."):
                state[key] = torch.cat([state[key], value], dim=1)  # (V, E) + (V, E)
            else:
                state[key.replace("encoder.forward_", "encoder.backward_", 1)] = value
    own = clf_net.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    if bad:
        raise ArtifactError(f"the language model's weights do not fit the classifier: {bad[:3]}")
    missing = clf_net.load_state_dict(state, strict=False).missing_keys
    # pooling, head and token pairs are the classifier's own
    left = [k for k in missing
            if not k.startswith(("pooling.", "head.", "embedding.bigram", "wide."))]
    if left:
        raise ArtifactError(f"the language model has no weights for {left[:3]}")


def training_schedule(net: nn.Module, config: TrainConfig, schedule: str, n_train: int,
                      frozen=(), new_pairs: bool = False) -> tuple[TrainConfig, dict]:
    """The fit loop's config and extra arguments for ``schedule`` and ``frozen`` groups.

    "ulmfit": discriminative lrs, STLR, gradual unfreezing, no early stopping, and the batch
    the loop would pick for ``n_train`` texts (``min_steps``) with the peak lr scaled by the
    square root of the batch ratio. "standard" trains every group but the ``frozen`` ones.
    """
    if schedule != "ulmfit" and not frozen:
        return config, {}
    groups = layer_groups(net, pairs_on_top=new_pairs)
    if schedule != "ulmfit":
        return config, {"callbacks": [GradualUnfreezing(groups, frozen, gradual=False)]}
    # the batch train_net would pick anyway, computed here because the lr follows it
    batch = small_data_batch(n_train // world()[1], config.batch_size, config.min_steps)
    # Adam's square-root scaling rule (Malladi et al., 2022): smaller batches, noisier
    # steps, a smaller peak lr. The standard schedule keeps its lr: from scratch the
    # unchanged lr did better (docs/results.md)
    lr = config.lr * (batch / config.batch_size) ** 0.5
    if batch != config.batch_size:
        log.info("%d training texts: batches of %d and peak lr %.2g instead of %d and "
                 "%.2g, so that an epoch has enough steps for the ulmfit schedule",
                 n_train, batch, lr, config.batch_size, config.lr)
    config = replace(config, patience=0, batch_size=batch, lr=lr)
    return config, {"param_groups": discriminative_groups(groups, lr),
                    "scheduler": stlr_scheduler,
                    "callbacks": [GradualUnfreezing(groups, frozen, gradual=True)]}


def fit_from_language_model(clf, texts: list[str], labels: list[str], valid, run=None):
    """Deprecated: ``clf.fit(texts, labels, valid)`` does the transfer when ``init_from`` is
    set (``SentimentClassifier.from_language_model``); this calls it. ``run`` is ignored:
    fit opens the run of ``clf.checkpoint_dir`` itself."""
    warnings.warn("fit_from_language_model is deprecated and will be removed in sentirnn "
                  "0.2: call clf.fit(texts, labels, valid) on a classifier made with "
                  "SentimentClassifier.from_language_model", FutureWarning, stacklevel=2)
    return clf.fit(texts, labels, valid=valid)


def fine_tune_classifier(clf, texts, labels, valid=None, freeze: str | None = None,
                         epochs: int | None = None, schedule: str = "ulmfit",
                         resume: bool = False):
    """Continue training a fitted classifier on new texts: ``clf.fine_tune`` (kept for
    callers of this function)."""
    return clf.fine_tune(texts, labels, valid, freeze=freeze, epochs=epochs,
                         schedule=schedule, resume=resume)
