"""The classifier's fit loop: a Lightning module around a ClassifierNet, and ``train_net``.

Lightning owns the loop (devices, DDP under torchrun, progress bar, early stopping); this
file owns what is specific to us: bucketed batches, the loss with class weights, macro-F1 on
validation and a per-epoch history (the CSV log and ``curves.png``). Its neighbours hold the
rest: the optimiser and its schedule (optim.py), which weights a run keeps (selection.py),
the Trainer's device, precision, threads and Ctrl-C (machine.py), and the per-epoch
checkpoints a killed run resumes from (checkpoints.py).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import replace
from datetime import timedelta

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import f1_score

from sentirnn.config import TrainConfig
from sentirnn.metrics import tune_thresholds
from sentirnn.preprocess.batching import (
    BucketSampler,
    EncodedDataset,
    bucket_batches,
    collate_labelled,
)
from sentirnn.training.allocator import TrimFreedMemory, keep_freed_memory
from sentirnn.training.checkpoints import NOT_FINGERPRINTED, EpochCheckpoints, digest
from sentirnn.training.machine import (
    check_run_params,
    distributed_layout,
    fit_interruptibly,
    is_number,
    lightning_accelerator,
    lightning_precision,
    set_threads,
)
from sentirnn.training.optim import (
    FUSED_ADAM,
    OPTIMIZERS,
    SCHEDULERS,
    clip_gradients,
    configure_optimizer,
    l1_norm,
    small_data_batch,
)
from sentirnn.training.runtime import world
from sentirnn.training.selection import BestWeights, EpochAverage

# Names that the estimators, the other fit loops and the benchmarks import from here; their
# homes are machine.py and optim.py.
__all__ = [
    "FUSED_ADAM", "OPTIMIZERS", "SCHEDULERS", "ClassifierModule", "check_run_params",
    "clip_gradients", "fit_interruptibly", "is_number", "lightning_accelerator",
    "lightning_precision", "make_loaders", "set_threads", "small_data_batch", "train_net",
]

log = logging.getLogger("sentirnn")


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

    def compute_loss(self, logits, labels, reduction: str = "mean"):
        """The training loss of a batch (class weights apply to the mean only)."""
        if labels.dim() == 2:  # multi-label: 0/1 rows, one independent sigmoid per class
            weight = self.class_weights if reduction == "mean" else None
            return F.binary_cross_entropy_with_logits(logits, labels, reduction=reduction,
                                                      pos_weight=weight)
        return F.cross_entropy(logits, labels, reduction=reduction,
                               weight=self.class_weights if reduction == "mean" else None)

    def training_step(self, batch, batch_idx):
        ids, lengths, labels = batch
        loss = self.compute_loss(self.net(ids, lengths), labels)
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
        loss = self.compute_loss(logits, labels, reduction="sum")
        self._val_loss.append(float(loss) / (labels.size(1) if labels.dim() == 2 else 1))
        # multi-label keeps the sigmoid probabilities: thresholds are chosen per epoch below
        pred = torch.sigmoid(logits) if labels.dim() == 2 else logits.argmax(1)
        self._val_pred.append(pred.cpu().numpy())
        self._val_true.append(labels.cpu().numpy())
        if self.valid_pool is not None:
            self._val_logits.append(logits.float().cpu().numpy())

    def on_validation_epoch_end(self):
        scores = self.validation_scores()
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
            mean_scores = self.validation_scores()
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

    def validation_scores(self) -> tuple[float, float, float]:
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
        params = self.param_groups or [p for p in self.net.parameters() if p.requires_grad]
        return configure_optimizer(
            params, self.config, lambda: max(1, int(self.trainer.estimated_stepping_batches)),
            self.make_scheduler, self.has_valid)


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
        # The lr stays: with few IMDb labels, Adam's square-root rule (lr scaled by
        # √(batch ratio)) scored lower than the unchanged lr (docs/results.md).
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


