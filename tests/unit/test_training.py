"""The fit loop: the small-data rule (enough optimizer steps an epoch, whatever batch_size
says) and epoch averaging (the kept weights are an epoch's own or the mean of epochs 1..k)."""

import random
from types import SimpleNamespace

import pytest
import torch
from conftest import FAST, make_corpus

from sentirnn import SentimentClassifier
from sentirnn.errors import ConfigError
from sentirnn.training.optim import small_data_batch


def test_small_sets_get_smaller_batches():
    assert small_data_batch(22_500, 64, 50) == 64  # plenty of steps: the batch stays
    assert small_data_batch(450, 64, 50) == 9  # 8 steps an epoch would be too few: 50
    assert small_data_batch(90, 64, 50) == 8  # never below 8 ...
    assert small_data_batch(90, 4, 50) == 4  # ... unless asked for
    assert small_data_batch(450, 64, 0) == 64  # 0 turns the rule off


def test_fit_trains_a_small_set_with_smaller_batches_and_the_same_lr(monkeypatch):
    steps = []  # the lr of every optimizer step
    adam_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        steps.append(self.param_groups[0]["lr"])
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    texts, labels = make_corpus("en", 200, seed=7)
    params = dict(FAST, batch_size=64, max_epochs=1, valid_fraction=0.0, scheduler="none")
    clf = SentimentClassifier(**params).fit(texts, labels)
    # 200 texts: 25 batches of 8 instead of 4 of 64; Adam's lr unchanged
    assert clf.train_summary_["batch_size"] == 8 and clf.batch_size == 64
    assert len(steps) == 25 and set(steps) == {FAST["lr"]}
    steps.clear()
    clf = SentimentClassifier(**params, min_steps=0).fit(texts, labels)
    assert clf.train_summary_["batch_size"] == 64 and len(steps) == 4


def test_min_steps_must_be_a_count():
    texts, labels = make_corpus("en", 40, seed=8)
    with pytest.raises(ConfigError, match="min_steps"):
        SentimentClassifier(**FAST, min_steps=-1).fit(texts, labels)


def test_epoch_average_is_the_mean_and_swaps_back():
    from sentirnn.training.selection import EpochAverage

    net, avg = torch.nn.Linear(3, 2), EpochAverage()
    states = []
    for value in (1.0, 2.0, 6.0):
        torch.nn.init.constant_(net.weight, value)
        states.append({k: v.clone() for k, v in net.state_dict().items()})
        avg.add(net)
    avg.swap_in(net)
    assert torch.allclose(net.weight, torch.full((2, 3), 3.0)) and avg.count == 3
    avg.swap_out(net)
    assert torch.equal(net.weight, states[-1]["weight"]) and avg.raw is None
    avg.swap_out(net)  # nothing out: a no-op
    assert torch.equal(net.weight, states[-1]["weight"])


@pytest.mark.slow
def test_fit_keeps_the_epoch_or_the_epoch_mean_that_validated_best(monkeypatch):
    import copy

    import lightning as L

    snapshots = []  # the raw weights after each epoch (validation has swapped them back)

    class Capture(L.Callback):
        def on_train_epoch_end(self, trainer, module):
            snapshots.append(copy.deepcopy(module.net.state_dict()))

    from sentirnn.training import loop

    original = loop.train_net
    monkeypatch.setattr(loop, "train_net", lambda *a, callbacks=(), **kw: original(
        *a, callbacks=[*callbacks, Capture()], **kw))
    # a quarter of the labels flipped and a high lr: epochs disagree, so their mean can win
    # (with this seed it does, at the best epoch)
    texts, labels = make_corpus("en", 300, seed=8)
    rng = random.Random(8)
    labels = [{"positive": "negative", "negative": "positive"}[y] if rng.random() < 0.25 else y
              for y in labels]
    clf = SentimentClassifier(**dict(FAST, max_epochs=6, patience=0, lr=5e-2, seed=8)).fit(
        texts, labels)
    history = clf.history_
    assert history[0]["averaged_epochs"] == 0  # one epoch: its mean is itself
    assert all(0 <= h["averaged_epochs"] <= h["epoch"] for h in history)
    best = clf.train_summary_["best_epoch"]
    k = history[best - 1]["averaged_epochs"]
    assert k > 0
    # the epoch's own weights are reported too: the mean won, so it beat them
    assert history[best - 1]["val_macro_f1"] > history[best - 1]["own_val_macro_f1"]
    kept = clf.net_.state_dict()
    for name, value in kept.items():
        if not value.is_floating_point():
            continue
        expected = (sum(s[name] for s in snapshots[:k]) / k if k
                    else snapshots[best - 1][name])
        assert torch.allclose(value, expected, atol=1e-6), (name, best, k)
    off = SentimentClassifier(**dict(FAST, max_epochs=2, average_epochs="off")).fit(texts, labels)
    assert all("averaged_epochs" not in h for h in off.history_)
    with pytest.raises(ConfigError, match="average_epochs"):
        SentimentClassifier(average_epochs="yes").fit(texts, labels)


@pytest.mark.slow
def test_epoch_averaging_leaves_the_training_path_alone():
    # validating the mean opens the validation loader once more, which draws a seed from the
    # global RNG: without care every later shuffle and dropout mask differs (IMDb, 2026-12-02:
    # averaging on vs off parted after epoch 2 although the mean never won)
    texts, labels = make_corpus("en", 200, seed=3)
    runs = {mode: SentimentClassifier(**dict(FAST, max_epochs=4, patience=0, seed=3,
                                             average_epochs=mode)).fit(texts, labels).history_
            for mode in ("on", "off")}
    assert [h["train_loss"] for h in runs["on"]] == [h["train_loss"] for h in runs["off"]]
    own = [h.get("own_val_macro_f1", h["val_macro_f1"]) for h in runs["on"]]
    assert own == [h["val_macro_f1"] for h in runs["off"]]


@pytest.mark.slow
def test_bf16_training_learns_as_fp32_does_with_fp32_weights_and_fp32_validation(monkeypatch):
    from sentirnn.training.loop import ClassifierModule

    seen = {"mean": set(), "sum": set()}  # logits' dtypes: training (mean) / validation (sum)
    loss = ClassifierModule.compute_loss

    def spy(self, logits, labels, reduction="mean"):
        seen[reduction].add(logits.dtype)
        return loss(self, logits, labels, reduction)

    monkeypatch.setattr(ClassifierModule, "compute_loss", spy)
    texts, labels = make_corpus("en", 400, seed=11)
    params = dict(FAST, max_epochs=3)
    full = SentimentClassifier(**params, precision="32").fit(texts, labels)
    assert seen == {"mean": {torch.float32}, "sum": {torch.float32}}
    seen["mean"].clear()
    half = SentimentClassifier(**params, precision="bf16").fit(texts, labels)
    assert seen == {"mean": {torch.bfloat16}, "sum": {torch.float32}}
    assert full.train_summary_["precision"] == "32-true"
    assert half.train_summary_["precision"] == "bf16-mixed"
    losses = [h["train_loss"] for h in half.history_]
    assert losses[-1] < losses[0] and half.train_summary_["best_val_macro_f1"] >= 0.9
    assert {p.dtype for p in half.net_.parameters()} == {torch.float32}


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32", "bf16"])
def test_gradients_are_clipped_in_either_precision(precision):
    texts, labels = make_corpus("en", 300, seed=12)
    params = dict(FAST, max_epochs=3, valid_fraction=0.0, scheduler="none",
                  precision=precision)
    free = SentimentClassifier(**params, grad_clip=0).fit(texts, labels)
    # gradients of norm 1e-12 against Adam's eps of 1e-8: steps of ~1e-4 × lr, no learning
    clipped = SentimentClassifier(**params, grad_clip=1e-12).fit(texts, labels)
    assert free.history_[-1]["train_loss"] < 0.5 * clipped.history_[-1]["train_loss"]


def test_an_unknown_precision_is_refused_before_training():
    texts, labels = make_corpus("en", 40, seed=12)
    with pytest.raises(ConfigError, match="'precision' parameter"):
        SentimentClassifier(**FAST, precision="fp16").fit(texts, labels)


@pytest.mark.slow
@pytest.mark.parametrize("restore_best", [True, False])
def test_the_model_ends_on_the_best_or_on_the_last_epochs_weights(monkeypatch, restore_best):
    from sentirnn.training.selection import BestWeights

    seen, original = [], BestWeights.on_validation_end
    scores = [0.9, 0.5, 0.4]  # validation as it will be reported: the first epoch is best

    def spy(self, trainer, module):
        seen.append({k: v.clone() for k, v in module.net.state_dict().items()})
        score = {key: torch.tensor(scores[trainer.current_epoch])
                 for key in ("val_macro_f1", "val_watched")}
        original(self, SimpleNamespace(callback_metrics=score,
                                       current_epoch=trainer.current_epoch), module)

    monkeypatch.setattr(BestWeights, "on_validation_end", spy)
    texts, labels = make_corpus("en", 200, seed=13)
    clf = SentimentClassifier(**dict(FAST, max_epochs=3, patience=0, scheduler="none",
                                         average_epochs="off"),
                              restore_best=restore_best).fit(texts, labels)
    kept = seen[0] if restore_best else seen[-1]
    assert all(torch.equal(v, kept[k]) for k, v in clf.net_.state_dict().items())
    assert not all(torch.equal(v, seen[0][k]) for k, v in seen[-1].items())
    s = clf.train_summary_
    assert (s["best_epoch"], s["best_val_macro_f1"]) == (1, pytest.approx(0.9))
    assert s["kept_epoch"] == (1 if restore_best else 3) and s["epochs_run"] == 3


@pytest.mark.slow
@pytest.mark.parametrize("monitor,epoch", [("macro_f1", 1), ("accuracy", 2), ("loss", 3)])
def test_the_kept_epoch_is_the_best_by_the_monitored_figure(monkeypatch, monitor, epoch):
    from sentirnn.training.loop import ClassifierModule

    # (macro-F1, accuracy, loss) as validation will report them: each figure has its own best
    scripted = iter([(0.9, 0.5, 0.9), (0.5, 0.9, 0.8), (0.4, 0.4, 0.1)])
    original = ClassifierModule.validation_scores

    def scores(self):
        original(self)  # consumes the epoch's batches
        return next(scripted)

    monkeypatch.setattr(ClassifierModule, "validation_scores", scores)
    texts, labels = make_corpus("en", 200, seed=13)
    clf = SentimentClassifier(**dict(FAST, max_epochs=3, patience=0, average_epochs="off"),
                              monitor=monitor).fit(texts, labels)
    assert clf.train_summary_["best_epoch"] == epoch
    assert clf.train_summary_["best_val_macro_f1"] == pytest.approx([0.9, 0.5, 0.4][epoch - 1])


@pytest.mark.slow
def test_the_plateau_scheduler_halves_the_lr_when_validation_stops_improving():
    """It was never created: the optimiser was built before Lightning attached the validation
    loader, so every run with scheduler="plateau" kept a constant lr."""
    texts, labels = make_corpus("en", 240, seed=1)
    rng = random.Random(0)
    flip = {"negative": "positive", "positive": "negative"}
    labels = [flip[y] if rng.random() < 0.3 else y for y in labels]  # scores wander
    params = dict(FAST, max_epochs=10, patience=0, average_epochs="off")
    lrs = [row["lr"] for row in SentimentClassifier(**params, scheduler="plateau").fit(
        texts, labels, valid=make_corpus("en", 80, seed=5)).history_]
    assert lrs[0] == FAST["lr"] and min(lrs) <= FAST["lr"] / 2
    assert all(b in (a, a / 2) for a, b in zip(lrs, lrs[1:]))
    flat = SentimentClassifier(**params, scheduler="none").fit(
        texts, labels, valid=make_corpus("en", 80, seed=5)).history_
    assert {row["lr"] for row in flat} == {FAST["lr"]}


@pytest.mark.parametrize("setting, message", [
    ({"optimizer": "adamx"}, "'optimizer' parameter"), ({"lr": 0}, "'lr' parameter"),
    ({"patience": -1}, "'patience' parameter"), ({"pooling": "top"}, "'pooling' parameter"),
    ({"max_len": 0}, "'max_len' parameter"), ({"dropout": 1.0}, "'dropout' parameter")])
def test_bad_settings_are_refused_before_any_text_is_read(monkeypatch, setting, message):
    import sentirnn.estimators.classifier

    monkeypatch.setattr(sentirnn.estimators.classifier, "check_texts",
                        lambda *a: pytest.fail("read"))
    with pytest.raises(ConfigError, match=message):
        SentimentClassifier(**{**FAST, **setting}).fit(["a"], ["b"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_where_there_is_none_is_one_clear_error():
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        SentimentClassifier(**FAST, device="cuda").fit(["a", "b"], ["x", "y"])


def _near_zero_share(net: torch.nn.Module) -> float:
    weights = torch.cat([p.detach().flatten() for p in net.parameters() if p.dim() >= 2])
    return float((weights.abs() < 1e-3).float().mean())


@pytest.mark.slow
def test_l1_makes_the_weights_sparser_as_lambda_grows():
    texts, labels = make_corpus("en", 200, seed=21)
    params = dict(FAST, max_epochs=4, valid_fraction=0.0)
    fits = {l1: SentimentClassifier(**params, l1=l1).fit(texts, labels) for l1 in (0, 3e-4, 1e-2)}
    shares = [_near_zero_share(clf.net_) for clf in fits.values()]
    # 2026-12-05, this 2-core CPU: 0.006, 0.23, 0.49
    assert shares[0] < 0.05 < shares[1] < shares[2] and shares[2] > 0.3
    assert all("l1_penalty" not in row for row in fits[0].history_)
    penalties = [row["l1_penalty"] for row in fits[1e-2].history_]
    assert all(p > 0 for p in penalties) and penalties[-1] < penalties[0]


def test_l1_penalises_weight_matrices_only():
    from sentirnn.training.optim import l1_norm

    net = torch.nn.Sequential(torch.nn.Embedding(4, 3), torch.nn.Linear(3, 2))
    for p in net.parameters():
        torch.nn.init.constant_(p, -0.5)
    assert float(l1_norm(net).detach()) == pytest.approx(0.5 * (4 * 3 + 3 * 2))  # no bias
    net[0].weight.requires_grad_(False)  # frozen embeddings are not trained, not penalised
    assert float(l1_norm(net).detach()) == pytest.approx(0.5 * 3 * 2)


def test_l1_zero_leaves_training_as_it_was(monkeypatch):
    import sentirnn.training.loop

    texts, labels = make_corpus("en", 120, seed=22)
    params = dict(FAST, max_epochs=2)
    before = SentimentClassifier(**params).fit(texts, labels)
    # l1=0 never computes the penalty: the loss, its graph and the weights are untouched
    monkeypatch.setattr(sentirnn.training.loop, "l1_norm", lambda net: pytest.fail("penalised"))
    after = SentimentClassifier(**params, l1=0.0).fit(texts, labels)
    assert all(torch.equal(v, after.net_.state_dict()[k])
               for k, v in before.net_.state_dict().items())
    assert before.history_[0].keys() == after.history_[0].keys()


@pytest.mark.parametrize("l1", [-0.1, "0.1", None])
def test_a_bad_l1_is_refused_before_training(l1):
    with pytest.raises(ConfigError, match="The 'l1' parameter of SentimentClassifier"):
        SentimentClassifier(**FAST, l1=l1).fit(["a"], ["b"])


def _ctrl_c_trainer():
    """A Trainer and a module whose first training step is a Ctrl-C (KeyboardInterrupt)."""
    import lightning as L

    class CtrlC(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def training_step(self, batch, batch_idx):
            raise KeyboardInterrupt

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu", devices=1)
    loader = torch.utils.data.DataLoader(torch.zeros(4, 1), batch_size=2)
    return trainer, CtrlC(), loader


@pytest.mark.filterwarnings("ignore:.*LeafSpec")  # Lightning's own, about a torch API
@pytest.mark.parametrize("handler", ["default", "ignored", "own"])
def test_ctrl_c_in_fit_is_keyboard_interrupt_and_the_handler_is_put_back(handler):
    """Lightning answers Ctrl-C by ignoring SIGINT and calling sys.exit(1); the loop gives the
    caller a KeyboardInterrupt and the SIGINT handler that was in place before."""
    import signal

    from sentirnn.training.machine import fit_interruptibly

    own = {"default": signal.default_int_handler, "ignored": signal.SIG_IGN,
           "own": lambda signum, frame: None}[handler]
    before = signal.signal(signal.SIGINT, own)
    try:
        trainer, module, loader = _ctrl_c_trainer()
        with pytest.raises(KeyboardInterrupt):
            fit_interruptibly(trainer, module, loader)
        assert signal.getsignal(signal.SIGINT) is own
    finally:
        signal.signal(signal.SIGINT, before)
