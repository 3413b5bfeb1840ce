"""LM → classifier transfer: encoder copy, gradual unfreezing, discriminative and slanted LRs.

ULMFiT (Howard & Ruder, 2018) as three small pieces around the ordinary fit loop
(training.py): the classifier's embedding and LSTM stack start as the language model's
(:func:`fit_from_language_model`; on Chinese characters a token-pair table, zero at first,
is added and trains with the head); *discriminative learning rates* give each layer group
``lr / 2.6**depth`` (:func:`discriminative_groups`); *gradual unfreezing* trains the top
group (pooling + head) in the first epoch and one more group each epoch
(:class:`GradualUnfreezing`); a *slanted triangular* schedule warms up over the first 10% of
the steps and decays linearly (:func:`slanted_triangular`). With this schedule early
stopping is off (the schedule is planned for every epoch); the best epoch is still restored.
With few labels the fit loop shrinks the batch (``min_steps``,
:func:`sentirnn.training.loop.small_data_batch`) and this schedule its peak lr with the square
root: 450 texts in batches of 64 are 8 steps an epoch, too few for a warm-up and a decay; on
IMDb with 500 labels the smaller batches took the same 5-epoch schedule from 0.69 to 0.77
accuracy (docs/results.md).

The same tools adapt a trained classifier to a new domain or label set
(:func:`fine_tune_classifier`, optionally keeping the embedding or the whole encoder frozen).

BPT3C: ULMFiT's classifier reads a long document in bptt-sized chunks, carrying the hidden
state and pooling over all of them. Our encoder runs ``nn.LSTM`` over the whole document,
which computes exactly that (a chunked run with a carried state is the same recurrence); on a
CPU memory is not the constraint it was on a GPU, so the only cap is ``max_len`` (head+tail
truncation, default 400 tokens), chosen for time: fastai's cap of 1,440 was slower, took
far more memory and scored no better on IMDb (docs/results.md).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import lightning as L
import torch
from torch import nn

from sentirnn.config import ModelConfig, check_choice
from sentirnn.errors import ArtifactError, ConfigError, DataError
from sentirnn.estimators.language_model import LanguageModel
from sentirnn.models import build_net
from sentirnn.models.embedding import pairs_wanted
from sentirnn.models.language_model_net import classifier_state
from sentirnn.preprocess.batching import prepare
from sentirnn.preprocess.encode import check_coverage, check_texts
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
    """A ClassifierNet's parameters, bottom to top: embedding, each encoder layer, head.

    ``pairs_on_top`` moves the token-pair table (models/embedding.py) from the embedding
    group into the head's: on a language model's encoder the pairs are new, and like the
    head they must train from the first epoch at the top rate, not only once the pretrained
    embedding below them thaws.
    """
    pairs = net.embedding.bigrams
    pair_params = list(pairs.parameters()) if pairs_on_top and pairs is not None else []
    embedding = [p for p in net.embedding.parameters()
                 if not any(p is q for q in pair_params)]
    if not hasattr(net, "encoder"):  # TextCNNNet: embedding, convolutions, head
        return [embedding, list(net.convs.parameters()),
                list(net.head.parameters()) + pair_params]
    encoder = net.encoder
    groups = [embedding]
    for i, layer in enumerate(encoder.forward_layers):
        params = list(layer.parameters())
        if encoder.bidirectional:
            params += list(encoder.backward_layers[i].parameters())
        groups.append(params)
    groups.append(list(net.pooling.parameters()) + list(net.head.parameters()) + pair_params)
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
            # ULMFiT's 0.05; the new pair table needs the from-scratch rate (waimai_10k,
            # docs/results.md: 0.9024 with 0.05, 0.9124 with 0.5, 0.9058 without pairs)
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


def fit_from_language_model(clf, texts: list[str], labels: list[str], valid, run=None):
    """``SentimentClassifier.fit`` when ``init_from`` is set: start from the LM's encoder
    (``run``: the checkpoint folder's Run, see ``sentirnn.training.checkpoints``)."""
    lm = getattr(clf, "_language_model", None) or LanguageModel.load(clf.init_from)
    back = None
    if clf.init_from_backward:
        back = (getattr(clf, "_backward_language_model", None)
                or LanguageModel.load(clf.init_from_backward))
        check_pair(lm, back)
    for key in ("strip_digits", "strip_punct"):  # init_from set directly, not by lm_params
        if getattr(clf, key) != getattr(lm.text_config_, key):
            raise ConfigError(f"{key}={getattr(clf, key)!r} differs from the cleaning of the "
                              f"language model {clf.init_from} ({key}="
                              f"{getattr(lm.text_config_, key)!r}); a classifier made from it "
                              f"cleans as it does, so leave {key} out")
    clf.text_config_, clf.language_ = lm.text_config_, lm.language_
    clf.tokenizer_, clf.vocab_ = lm.tokenizer_, lm.vocab_
    texts, labels = clf._units(texts, labels)  # sentences with truncation="sentences"
    tokens, labels = clf._augmented(clf._tokens(texts), labels)  # EDA copies when augment > 0
    ids = clf.vocab_.encode_many(tokens)
    check_coverage(ids, "the training texts", "language model", clf.tokenizer_)
    clf.classes_ = sorted(set(labels))
    index = {c: i for i, c in enumerate(clf.classes_)}
    valid_ids, valid_y, valid_pool = _encode_valid(clf, valid, index)
    train_ids = prepare(ids, clf.max_len, clf.truncation)
    pair_table, pair_rows = clf._bigram_table(train_ids)  # "auto": characters, one LM
    c = lm.net_config_
    # with a backward LM beside it: one table of both LMs' vectors side by side, and each
    # LM's stack reading its own half (RNNEncoder's separate stacks)
    clf.model_config_ = ModelConfig(
        cell="lstm", bidirectional=back is not None, layers=c.layers,
        embedding_dim=c.embedding_dim * (2 if back else 1), hidden_size=c.hidden_size,
        hidden_sizes=c.layer_sizes(), pooling=clf.pooling,
        embedding_dropout=clf._embedding_dropout(pair_rows), dropout=clf.dropout,
        vocab_size=len(clf.vocab_), num_classes=len(clf.classes_), bigram_rows=pair_rows,
        reverse=lm.direction == "backward", separate_directions=back is not None)
    torch.manual_seed(clf.seed)
    clf.net_ = build_net(clf.model_config_)
    copy_encoder(lm.net_, clf.net_, back.net_ if back else None)
    if pair_table is not None:
        clf.net_.embedding.set_bigram_slot_rows(pair_table)
        with torch.no_grad():  # zero pairs: training starts from exactly the LM's encoder
            clf.net_.embedding.bigrams.weight.zero_()
    unsaved = {"format": "sentirnn.language_model", "path": None, "sha256": None}
    clf.init_from_ = dict(getattr(lm, "source_", None) or unsaved)
    if back is not None:
        clf.init_from_["backward"] = dict(getattr(back, "source_", None) or unsaved)
    _train(clf, train_ids, [index[y] for y in labels], valid_ids, valid_y, set(),
           clf.schedule, clf.max_epochs, valid_pool, new_pairs=pair_table is not None, run=run)
    if pair_rows:
        clf.train_summary_["bigrams"] = pair_rows - 1
    clf._finish_fit(valid)  # the temperature (calibrate=True) and validation report
    return clf


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
    left = [k for k in missing if not k.startswith(("pooling.", "head.", "embedding.bigram"))]
    if left:
        raise ArtifactError(f"the language model has no weights for {left[:3]}")


def fine_tune_classifier(clf, texts, labels, valid=None, freeze: str | None = None,
                         epochs: int | None = None, schedule: str = "ulmfit",
                         resume: bool = False):
    """Continue training a fitted classifier on new texts; see SentimentClassifier.fine_tune."""
    clf._check_fitted("fine_tune")
    check_choice("fine_tune", "freeze", freeze, FREEZE)
    check_choice("fine_tune", "schedule", schedule, SCHEDULES)
    run = clf._open_run(resume)
    texts, labels = check_texts(texts, "fine_tune"), [str(y) for y in labels]
    if len(texts) != len(labels):
        raise DataError(f"fine_tune got {len(texts)} texts but {len(labels)} labels")
    clf._check_run_inputs(run, texts, labels, valid, fine_tune={
        "freeze": freeze, "epochs": epochs, "schedule": schedule})
    new = sorted(set(labels))
    keep_head = set(new) <= set(clf.classes_)
    if not keep_head and len(new) < 2:
        raise DataError(f"the new data has a single class ({new[0]!r}) the model does not know; "
                        "a new head needs at least two labels")
    texts, labels, valid = clf._split(texts, labels, valid)
    texts, labels = clf._units(texts, labels)  # sentences with truncation="sentences"
    ids = clf.vocab_.encode_many(clf._tokens(texts))
    check_coverage(ids, "the new texts", "classifier", clf.tokenizer_)
    if not keep_head:  # a new label set: a new, seeded output layer
        log.info("new labels %s: training a new head", new)
        torch.manual_seed(clf.seed)
        clf.net_.head = nn.Linear(clf.net_.head.in_features, len(new))
        clf.classes_ = new
        clf.model_config_ = replace(clf.model_config_, num_classes=len(new))
    index = {c: i for i, c in enumerate(clf.classes_)}
    valid_ids, valid_y, valid_pool = _encode_valid(clf, valid, index)
    groups = len(layer_groups(clf.net_))
    frozen = {"embeddings": {0}, "encoder": set(range(groups - 1))}.get(freeze, set())
    clf.init_from_ = dict(getattr(clf, "source_", None) or
                          {"format": "sentirnn.classifier", "path": None, "sha256": None})
    clf.init_from_["freeze"] = freeze
    train_ids = prepare(ids, clf.max_len, clf.truncation)
    _train(clf, train_ids, [index[y] for y in labels], valid_ids, valid_y, frozen, schedule,
           epochs or clf.max_epochs, valid_pool, run=run)
    clf._finish_fit(valid)  # the temperature (calibrate=True) and validation report
    return clf


def _encode_valid(clf, valid, index):
    if valid is None:
        return None, None, None
    unknown = sorted(set(valid[1]) - set(index))
    if unknown:
        raise DataError(f"validation labels {unknown[:5]} do not occur in the training data "
                        f"(training labels: {sorted(index)})")
    # (ids, classes, valid_pool); with truncation="sentences" the rows are sentences
    return clf._valid_rows(valid[0], [index[y] for y in valid[1]])


def _train(clf, train_ids, train_y, valid_ids, valid_y, frozen: set[int], schedule: str,
           epochs: int, valid_pool=None, new_pairs: bool = False, run=None) -> None:
    """Run the fit loop with the transfer schedule (or plain training with frozen groups)."""
    groups = layer_groups(clf.net_, pairs_on_top=new_pairs)
    clf.net_.train()  # a loaded model is in eval mode; dropout must be on while training
    average = clf.average_epochs == "on" or (clf.average_epochs == "auto"
                                             and schedule == "standard")
    config = replace(clf._train_config(), max_epochs=epochs, average_epochs=average)
    kwargs = {}
    if schedule == "ulmfit":
        # the batch train_net would pick anyway, computed here because the lr follows it
        batch = small_data_batch(len(train_ids) // world()[1], config.batch_size,
                                 config.min_steps)
        # Adam's square-root scaling rule (Malladi et al., 2022): smaller batches, noisier
        # steps, a smaller peak lr; on IMDb's 500 labels a lower peak lr scored higher in
        # each of 3 single-seed comparisons (+0.6 to +1.2 points). The standard schedule
        # keeps its lr: from scratch, the unchanged lr scored higher (training.py)
        lr = clf.lr * (batch / config.batch_size) ** 0.5
        if batch != config.batch_size:
            log.info("%d training texts: batches of %d and peak lr %.2g instead of %d and "
                     "%.2g, so that an epoch has enough steps for the ulmfit schedule",
                     len(train_ids), batch, lr, config.batch_size, clf.lr)
        config = replace(config, patience=0, batch_size=batch, lr=lr)
        kwargs = {"param_groups": discriminative_groups(groups, lr),
                  "scheduler": stlr_scheduler,
                  "callbacks": [GradualUnfreezing(groups, frozen, gradual=True)]}
    elif frozen:
        kwargs = {"callbacks": [GradualUnfreezing(groups, frozen, gradual=False)]}
    clf._train(train_ids, train_y, valid_ids, valid_y, config=config, valid_pool=valid_pool,
               run=run, **kwargs)
