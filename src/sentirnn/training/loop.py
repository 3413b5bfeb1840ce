"""The fit loop: a Lightning module around a ClassifierNet, and the Trainer set-up.

Lightning owns the loop (devices, DDP under torchrun, gradient clipping, progress
bar, early stopping); this file owns what is specific to us: bucketed batches, the
loss with class weights, macro-F1 on validation, restoring the best weights and a
per-epoch history (the CSV log and ``curves.png``). Given a run folder, the whole loop state
is checkpointed after every epoch and a killed run resumes from it (checkpoints.py).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import replace
from datetime import timedelta

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from sentirnn.config import PRECISIONS, TrainConfig, check_choice, check_range
from sentirnn.metrics import tune_thresholds
from sentirnn.preprocess.batching import (
    BucketSampler,
    EncodedDataset,
    bucket_batches,
    collate_labelled,
)
from sentirnn.training.allocator import TrimFreedMemory, keep_freed_memory
from sentirnn.training.checkpoints import NOT_FINGERPRINTED, EpochCheckpoints, digest
from sentirnn.training.runtime import world

log = logging.getLogger("sentirnn")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
# One fused kernel per Adam step (CPU since torch 2.4): 35% less step time with the 50k-row
# token-pair table, 8% without it (demo-scale BiLSTM, batch 64 × 60, 2026-11-29).
FUSED_ADAM = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 4)
SCHEDULERS = ("none", "plateau", "cosine", "linear")
MIN_BATCH = 8  # small_data_batch never shrinks a batch below this


def lightning_precision(precision: str, device: str, owner: str = "SentimentClassifier") -> str:
    """"auto" | "32" | "bf16" → Lightning's precision setting for this machine.

    "auto" is bf16 autocast on a CPU that multiplies bf16 natively (AVX512-BF16 or AMX):
    there the default IMDb LM trained at 1.37× the fp32 tokens/s and the ULMFiT classifier
    at 2.18× (docs/results.md "bf16 training"), while on a CPU without it bf16 is emulated and
    slower. Weights, optimizer state and losses stay fp32 (autocast). GPUs keep fp32
    unless asked.
    """
    precision = str(precision)  # 32 from a JSON config or --set means "32"
    check_choice(owner, "precision", precision, PRECISIONS)
    if precision == "auto":
        on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
        precision = "bf16" if on_cpu and native_bf16() else "32"
    return {"32": "32-true", "bf16": "bf16-mixed"}[precision]


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (the probes are private torch API)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def clip_gradients(optimizer: torch.optim.Optimizer, max_norm: float | None) -> None:
    """Clip the optimizer's gradients to a total norm of ``max_norm`` (None/0: no clipping).

    Done by the modules rather than by the Trainer: Lightning's mixed-precision plugin
    refuses to clip for a fused optimizer (it guards fp16's loss scaling, which bf16 has
    not). Same parameters and arithmetic as the Trainer's own clipping.
    """
    if max_norm:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]],
                                       max_norm)


def small_data_batch(n: int, batch_size: int, min_steps: int) -> int:
    """The batch size for ``n`` training texts: ``batch_size``, or smaller (not below
    ``MIN_BATCH``) where an epoch would have fewer than ``min_steps`` optimizer steps.

    With 450 IMDb reviews, batches of 64 are 8 steps an epoch: the default BiLSTM stopped at
    chance (0.50); batches of 9 reached 0.79 with the same lr (docs/results.md). ``min_steps`` < 1
    keeps ``batch_size``.
    """
    if min_steps < 1:
        return batch_size
    return max(min(batch_size, MIN_BATCH), min(batch_size, n // min_steps))


def l1_norm(net: torch.nn.Module) -> torch.Tensor:
    """Σ|w| over the trainable weights: every parameter of two or more dimensions (matrices,
    embedding tables, convolution kernels). Biases and other vectors are left out: the
    sparsity sought is in which inputs a unit uses, and an offset uses none."""
    weights = [p for p in net.parameters() if p.requires_grad and p.dim() >= 2]
    if not weights:
        return torch.zeros(())
    return torch.stack([w.abs().sum() for w in weights]).sum()


class EpochAverage:
    """The running mean of a network's weights at each epoch's end (from the first epoch).

    On SST-2's phrases the from-scratch BiLSTM overfits within two epochs and single epochs
    scored 0.82-0.87 on dev depending on the seed; in two of three per-epoch probes a mean
    of epochs 1..k beat every single epoch of its run (docs/results.md, "SST-2: validating on
    sentences, and epoch averaging").
    """

    def __init__(self):
        self.count, self.chosen = 0, 0
        self.own_f1: float | None = None  # the last validation's score of the epoch's weights
        self.sum: dict[str, torch.Tensor] = {}
        self.raw: dict[str, torch.Tensor] | None = None

    def add(self, net: torch.nn.Module) -> None:
        for name, value in net.state_dict().items():
            if value.is_floating_point():
                value = value.detach().float()
                self.sum[name] = self.sum[name] + value if name in self.sum else value.clone()
        self.count += 1

    def swap_in(self, net: torch.nn.Module) -> None:
        """Load the mean into ``net``, remembering the weights it replaced."""
        self.raw = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.load_state_dict({k: (self.sum[k] / self.count).to(v.dtype) if k in self.sum else v
                             for k, v in self.raw.items()})

    def swap_out(self, net: torch.nn.Module) -> None:
        """Put back the weights ``swap_in`` replaced (nothing when none are out)."""
        if self.raw is not None:
            net.load_state_dict(self.raw)
            self.raw = None

    def state_dict(self) -> dict:
        """The running sum and counts, for a checkpoint (taken between epochs: nothing out)."""
        return {"count": self.count, "chosen": self.chosen, "own_f1": self.own_f1,
                "sum": self.sum}

    def load_state_dict(self, state: dict) -> None:
        self.count, self.chosen, self.own_f1 = state["count"], state["chosen"], state["own_f1"]
        self.sum = dict(state["sum"])


class ClassifierModule(L.LightningModule):
    """Loss, metrics and optimiser for one ClassifierNet."""

    def __init__(self, net: torch.nn.Module, config: TrainConfig,
                 class_weights: torch.Tensor | None = None, param_groups=None,
                 scheduler=None, valid_pool=None, has_valid: bool = False):
        super().__init__()
        # known before fit: Lightning has not attached the loaders when it asks for the
        # optimiser, so trainer.val_dataloaders is still None there
        self.has_valid = has_valid
        self.net = net
        self.config = config
        # (row of each validation logit in loader order, fn): fn pools the rows' logits, in
        # input order, into (document logits, document classes) — truncation="sentences"
        self.valid_pool = valid_pool
        self.param_groups = param_groups
        self.make_scheduler = scheduler  # (optimizer, total_steps) → per-step scheduler
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.average = EpochAverage() if config.average_epochs else None
        self.history: list[dict] = []
        self._reset_epoch()

    def _reset_epoch(self):
        self._loss_sum, self._batches, self._tokens, self._l1_sum = 0.0, 0, 0, 0.0
        self._val_pred, self._val_true, self._val_loss, self._val_logits = [], [], [], []
        self._epoch_start = time.perf_counter()

    def _loss(self, logits, labels, reduction: str = "mean"):
        if labels.dim() == 2:  # multi-label: 0/1 rows, one independent sigmoid per class
            weight = self.class_weights if reduction == "mean" else None
            return F.binary_cross_entropy_with_logits(logits, labels, reduction=reduction,
                                                      pos_weight=weight)
        return F.cross_entropy(logits, labels, reduction=reduction,
                               weight=self.class_weights if reduction == "mean" else None)

    def training_step(self, batch, batch_idx):
        ids, lengths, labels = batch
        loss = self._loss(self.net(ids, lengths), labels)
        self._loss_sum += float(loss.detach())
        self._batches += 1
        self._tokens += int(lengths.sum())
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False,
                 batch_size=len(labels))
        if self.config.l1:  # reported apart: train_loss stays comparable across λ
            penalty = self.config.l1 * l1_norm(self.net)
            self._l1_sum += float(penalty.detach())
            self.log("l1", penalty.detach(), prog_bar=True, on_step=True, on_epoch=False,
                     batch_size=len(labels))
            loss = loss + penalty
        return loss

    def on_train_epoch_start(self):
        self._reset_epoch()

    def on_before_optimizer_step(self, optimizer):
        clip_gradients(optimizer, self.config.grad_clip)

    def validation_step(self, batch, batch_idx):
        ids, lengths, labels = batch
        # fp32 even under bf16 training: early stopping scores what predict will compute
        with torch.autocast(self.device.type, enabled=False):
            logits = self.net(ids, lengths)
        loss = self._loss(logits, labels, reduction="sum")
        self._val_loss.append(float(loss) / (labels.size(1) if labels.dim() == 2 else 1))
        # multi-label keeps the sigmoid probabilities: thresholds are chosen per epoch below
        pred = torch.sigmoid(logits) if labels.dim() == 2 else logits.argmax(1)
        self._val_pred.append(pred.cpu().numpy())
        self._val_true.append(labels.cpu().numpy())
        if self.valid_pool is not None:
            self._val_logits.append(logits.float().cpu().numpy())

    def on_validation_epoch_end(self):
        scores = self._scores()
        if self.average is not None:
            self.average.add(self.net)
        if self.average is not None and self.average.count > 1:
            # the running mean of the weights at every validation so far competes with the
            # current weights; the better one is logged (and kept by BestWeights)
            self.average.swap_in(self.net)
            # a new pass over the loader draws its base seed from the global RNG: restore it,
            # or every later shuffle and dropout mask would differ from a run without averaging
            with torch.random.fork_rng(devices=[]):
                for batch in self.trainer.val_dataloaders:
                    self.validation_step([t.to(self.device) for t in batch], 0)
            mean_scores = self._scores()
            self.average.own_f1 = scores[0]  # reported: what averaging had to beat
            if self._watched(mean_scores) > self._watched(scores):
                scores, self.average.chosen = mean_scores, self.average.count
            else:
                self.average.swap_out(self.net)  # the current weights won
                self.average.chosen = 0
        f1, accuracy, loss = scores
        self.log("val_macro_f1", f1, prog_bar=True)
        self.log("val_accuracy", accuracy)
        self.log("val_loss", loss)
        self.log("val_watched", self._watched(scores))

    def _watched(self, scores: tuple[float, float, float]) -> float:
        """The validation figure that picks epochs (``monitor``), higher is better."""
        f1, accuracy, loss = scores
        return {"macro_f1": f1, "accuracy": accuracy, "loss": -loss}[self.config.monitor]

    def on_validation_end(self):
        # after the callbacks' on_validation_end (BestWeights has copied what won): training
        # goes on from the raw weights
        if self.average is not None:
            self.average.swap_out(self.net)

    def _scores(self) -> tuple[float, float, float]:
        """(macro-F1, accuracy, loss) of the validation batches seen since the last call."""
        pred, true = np.concatenate(self._val_pred), np.concatenate(self._val_true)
        rows = len(true)
        if self.valid_pool is not None:
            # Score documents: on sentences with their documents' weak labels, macro-F1 is
            # too noisy to stop on (a toy task stopped at epoch 2 of 6 with 0.62 accuracy).
            order, pool = self.valid_pool
            logits = np.empty((rows, self._val_logits[0].shape[1]), dtype=np.float32)
            logits[order] = np.concatenate(self._val_logits)  # back in input order
            documents, true = pool(logits)
            pred = documents.argmax(1)
        if pred.ndim == 2:
            # Multi-label: at a fixed 0.5 every frequent class starts "on" and F1 stays flat
            # for epochs; with each class's best threshold (as used after training) it moves.
            # Accuracy is then exact-match (subset) accuracy.

            pred = (pred >= tune_thresholds(pred, true)).astype(true.dtype)
        exact = (pred == true).all(1) if pred.ndim == 2 else pred == true
        loss = sum(self._val_loss) / rows
        self._val_pred, self._val_true, self._val_loss, self._val_logits = [], [], [], []
        return float(f1_score(true, pred, average="macro")), float(exact.mean()), loss

    def on_train_epoch_end(self):
        seconds = time.perf_counter() - self._epoch_start
        metrics = self.trainer.callback_metrics
        row = {"epoch": self.current_epoch + 1,
               "train_loss": self._loss_sum / max(self._batches, 1),
               "lr": self.trainer.optimizers[0].param_groups[-1]["lr"],
               "seconds": seconds, "train_tokens_per_s": self._tokens / max(seconds, 1e-9)}
        for key in ("val_loss", "val_macro_f1", "val_accuracy"):
            if key in metrics:
                row[key] = float(metrics[key])
        if self.config.l1:
            row["l1_penalty"] = self._l1_sum / max(self._batches, 1)
        if self.average is not None and self.average.count:
            row["averaged_epochs"] = self.average.chosen  # 0: the epoch's own weights won
            if self.average.own_f1 is not None:
                row["own_val_macro_f1"] = self.average.own_f1
        self.history.append(row)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["history"] = self.history
        checkpoint["average"] = self.average.state_dict() if self.average is not None else None

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint["history"])
        if self.average is not None:
            self.average.load_state_dict(checkpoint["average"])

    def configure_optimizers(self):
        c = self.config
        check_choice("SentimentClassifier", "optimizer", c.optimizer, OPTIMIZERS)
        check_choice("SentimentClassifier", "scheduler", c.scheduler, SCHEDULERS)
        params = self.param_groups or [p for p in self.net.parameters() if p.requires_grad]
        kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                 "rmsprop": torch.optim.RMSprop}
        if c.optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=c.lr, momentum=0.9, weight_decay=c.weight_decay)
        else:
            extra = {"fused": True} if c.optimizer != "rmsprop" and FUSED_ADAM else {}
            opt = kinds[c.optimizer](params, lr=c.lr, weight_decay=c.weight_decay, **extra)
        if self.make_scheduler is not None:  # e.g. finetune's slanted triangular schedule
            sched = self.make_scheduler(opt, max(1, int(self.trainer.estimated_stepping_batches)))
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
        if c.scheduler == "none":
            return opt
        if c.scheduler == "plateau" and not self.has_valid:
            return opt  # nothing to watch: no validation data
        if c.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5,
                                                               patience=0)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched,
                                                       "monitor": "val_watched"}}
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = max(1, total // 20)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            rest = (step - warmup) / max(1, total - warmup)
            return 0.5 * (1 + np.cos(np.pi * rest)) if c.scheduler == "cosine" else 1 - rest

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class BestWeights(L.Callback):
    """Track the best validation figure (``monitor``, logged as val_watched); keep that
    epoch's weights in memory and restore them at the end (``restore=False``: only track,
    the last epoch's weights stay)."""

    def __init__(self, restore: bool = True):
        self.restore = restore
        self.best_score = -math.inf
        self.best_f1: float | None = None  # the kept epoch's macro-F1, whatever was watched
        self.best_epoch = 0
        self.state = None

    def on_validation_end(self, trainer, module):
        score = trainer.callback_metrics.get("val_watched")
        if score is not None and float(score) > self.best_score:
            self.best_score, self.best_epoch = float(score), trainer.current_epoch + 1
            self.best_f1 = float(trainer.callback_metrics["val_macro_f1"])
            if self.restore:
                self.state = copy.deepcopy(module.net.state_dict())

    def on_fit_end(self, trainer, module):
        if self.state is not None:
            module.net.load_state_dict(self.state)

    def state_dict(self) -> dict:
        return {"best_score": self.best_score, "best_f1": self.best_f1,
                "best_epoch": self.best_epoch,
                "state": self.state}

    def load_state_dict(self, state: dict) -> None:
        self.best_score, self.best_epoch = state["best_score"], state["best_epoch"]
        self.best_f1 = state.get("best_f1", state["best_score"])
        self.state = state["state"]


def set_threads(num_threads: int | None) -> None:
    """Use every core unless told otherwise (torch's default can be lower in containers)."""
    torch.set_num_threads(num_threads or os.cpu_count() or 1)


def distributed_layout() -> dict:
    """Trainer devices/nodes/strategy: under torchrun, one process per device (DDP).

    Lightning counts one CPU device per process by default and then refuses torchrun's world
    size, so the local process count and the node count are passed explicitly.
    """
    size = world()[1]
    if size == 1:
        return {"devices": "auto", "strategy": "auto"}
    local = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    return {"devices": local, "num_nodes": max(1, size // local), "strategy": "ddp"}


def make_loaders(train_ids, train_labels, valid_ids, valid_labels, config: TrainConfig):
    rank, size = world()
    train = EncodedDataset(train_ids, train_labels)
    sampler = BucketSampler([len(s) for s in train_ids], config.batch_size, config.seed,
                            rank=rank, world_size=size)
    train_loader = torch.utils.data.DataLoader(train, batch_sampler=sampler,
                                               collate_fn=collate_labelled)
    valid_loader = None
    if valid_ids:
        valid = EncodedDataset(valid_ids, valid_labels)
        batches = bucket_batches([len(s) for s in valid_ids], config.batch_size * 2, None)
        valid_loader = torch.utils.data.DataLoader(valid, batch_sampler=batches,
                                                   collate_fn=collate_labelled)
    return train_loader, valid_loader


def train_net(net: torch.nn.Module, train_ids, train_labels, valid_ids, valid_labels,
              config: TrainConfig, class_weights: torch.Tensor | None = None,
              param_groups=None, callbacks=(), scheduler=None,
              valid_pool=None, run=None) -> tuple[list[dict], dict]:
    """Train ``net`` in place; returns (per-epoch history, summary).

    ``scheduler``, when given, is called as ``scheduler(optimizer, total_steps)`` and
    replaces ``config.scheduler`` (stepped every batch). ``valid_pool``, when given, maps
    the validation rows' logits (input order) to (document logits, document classes), and
    validation accuracy and macro-F1 are then per document (``truncation="sentences"``).
    ``run``, a :class:`sentirnn.training.checkpoints.Run`, checkpoints every epoch into its folder;
    a resumed one continues after its checkpoint's epoch, with the precision it started with.
    """
    set_threads(config.num_threads)
    keep_freed_memory()
    batch = small_data_batch(len(train_ids) // world()[1], config.batch_size, config.min_steps)
    if batch != config.batch_size:
        # The lr stays: on IMDb's 500 and 100 labels, Adam's square-root rule (lr scaled by
        # √(batch ratio)) scored 7 and 10 points lower than the unchanged 2e-3 (docs/results.md).
        log.info("%d training texts: batches of %d instead of %d, so that an epoch has at "
                 "least %d steps (min_steps)", len(train_ids), batch, config.batch_size,
                 config.min_steps)
        config = replace(config, batch_size=batch)
    L.seed_everything(config.seed, verbose=False)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    train_loader, valid_loader = make_loaders(train_ids, train_labels, valid_ids, valid_labels,
                                              config)
    if valid_pool is not None and valid_loader is not None:
        valid_pool = (np.concatenate(valid_loader.batch_sampler), valid_pool)
    module = ClassifierModule(net, config, class_weights, param_groups, scheduler,
                              valid_pool if valid_loader is not None else None,
                              has_valid=valid_loader is not None)
    best = BestWeights(restore=config.restore_best)
    cbs = [best, TrimFreedMemory(), *callbacks]
    if valid_loader is not None and config.patience > 0:
        cbs.append(L.pytorch.callbacks.EarlyStopping("val_watched", mode="max",
                                                     patience=config.patience))
    precision = lightning_precision(config.precision, config.device)
    checkpoints = None
    if run is not None:
        checkpoints = _checkpoints(run, net, train_loader, config, class_weights,
                                   (train_ids, train_labels, valid_ids, valid_labels), precision)
        precision = checkpoints.extra["precision"]
        cbs.append(checkpoints)
    trainer = L.Trainer(
        max_epochs=config.max_epochs, accelerator=lightning_accelerator(config.device),
        max_time=(timedelta(minutes=config.max_minutes) if config.max_minutes else None),
        **distributed_layout(), logger=False,
        enable_checkpointing=False, enable_model_summary=False,
        enable_progress_bar=config.progress, num_sanity_val_steps=0, precision=precision,
        use_distributed_sampler=False, callbacks=cbs,
        limit_val_batches=1.0 if valid_loader is not None else 0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Lightning's advice about DataLoader workers does not apply: batches are built from
        # ids already in memory, and worker processes would only add start-up and copying.
        for pattern in (".*does not have many workers.*", ".*LeafSpec.*",
                        ".*no `val_dataloader`.*"):
            warnings.filterwarnings("ignore", message=pattern)
        fit_interruptibly(trainer, module, train_loader, valid_loader)
    net.cpu().eval()
    epochs = len(module.history)
    summary = {"train_seconds": checkpoints.elapsed() if checkpoints
               else time.perf_counter() - start, "best_epoch": best.best_epoch,
               "best_val_macro_f1": best.best_f1 if best.best_epoch else None,
               "kept_epoch": best.best_epoch if best.state is not None else epochs,
               "epochs_run": epochs, "batch_size": config.batch_size,
               "precision": precision}
    if checkpoints is not None and checkpoints.state:
        summary["resumed_after"] = checkpoints.state["epoch"]
    return module.history, summary


def _checkpoints(run, net, train_loader, config: TrainConfig, class_weights, data, precision):
    """Check the run's derived fingerprint, then start it or read its checkpoint; → the
    EpochCheckpoints callback (holding the checkpoint to restore, if any)."""

    loop = {k: v for k, v in config.to_dict().items() if k not in NOT_FINGERPRINTED}
    run.check({"training loop settings": loop,
               "preprocessed data": digest(*data, class_weights),
               "initial weights": digest(net.state_dict())}, derived=True)
    state = run.begin()
    if state is not None:
        if state["precision"] != precision:
            log.info("resuming in the run's precision %s (%s would be chosen now)",
                     state["precision"], precision)
        precision = state["precision"]
    return EpochCheckpoints(run, state, train_loader.batch_sampler, {"precision": precision})


def fit_interruptibly(trainer: L.Trainer, *args) -> None:
    """``trainer.fit``, but Ctrl-C arrives as KeyboardInterrupt: Lightning turns it into
    ``sys.exit(1)`` after ignoring SIGINT, which would end a script silently with the wrong
    status. The SIGINT handler in place before is put back however fit ends, or a notebook
    (or a test session) would stay deaf to the next Ctrl-C."""
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        trainer.fit(*args)
    except SystemExit:
        if not trainer.interrupted:
            raise
        raise KeyboardInterrupt from None
    finally:
        if main:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None
                          else previous)


DEVICES = ("auto", "cpu", "cuda", "gpu")


def check_device(owner: str, device: str) -> None:
    """A known device, and a GPU only where there is one (Lightning would say so only in the
    name of one of its exception classes, after the data was read)."""
    check_choice(owner, "device", device, DEVICES)
    check_range(owner, "device", device, device not in ("cuda", "gpu")
                or torch.cuda.is_available(),
                "auto or cpu: this machine has no CUDA GPU that PyTorch can use")


def check_run_params(owner: str, model) -> None:
    """What every trained model (classifier, language model) checks before reading data:
    the device, the lr and the training threads."""
    check_device(owner, model.device)
    check_range(owner, "lr", model.lr, is_number(model.lr) and model.lr > 0, "a number > 0")
    check_range(owner, "num_threads", model.num_threads, model.num_threads is None
                or isinstance(model.num_threads, int) and model.num_threads >= 1,
                "an integer ≥ 1, or None (all cores)")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def lightning_accelerator(device: str) -> str:
    check_device("SentimentClassifier", device)
    return {"cuda": "gpu"}.get(device, device)
