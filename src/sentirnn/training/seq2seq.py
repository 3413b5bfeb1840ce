"""The translation fit loop: teacher forcing, label smoothing, validation BLEU each epoch.

Lightning owns the loop (progress bar, gradient clipping, time limit, early stopping), as for
the classifier; this file owns what is specific to translation: length-bucketed pair batches,
the token-level loss (padding ignored), and after every epoch the validation loss plus a
callback that translates the validation sources and scores them (BLEU and chrF), so early
stopping can watch BLEU itself rather than a loss that rewards hedging.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from sentirnn.config import JsonConfig, check_choice
from sentirnn.errors import ConfigError
from sentirnn.models.seq2seq import Seq2SeqNet
from sentirnn.preprocess.batching import bucket_batches, pad
from sentirnn.preprocess.parallel import BOS
from sentirnn.training.allocator import TrimFreedMemory, keep_freed_memory
from sentirnn.training.machine import (
    fit_interruptibly,
    lightning_accelerator,
    lightning_precision,
    set_threads,
)
from sentirnn.training.optim import clip_gradients

log = logging.getLogger("sentirnn")
MONITORS = ("bleu", "loss")


@dataclass
class Seq2SeqTrainConfig(JsonConfig):
    """How a translator trains (saved in config.json)."""

    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 30
    max_minutes: float | None = None
    patience: int = 3  # epochs without a better validation figure before stopping
    monitor: str = "bleu"  # validation BLEU (greedy) or validation loss
    label_smoothing: float = 0.1
    grad_clip: float = 1.0
    lr_decay: float = 0.9  # per epoch (exponential)
    seed: int = 0
    num_threads: int | None = None
    device: str = "cpu"
    precision: str = "auto"  # bf16 autocast where the CPU multiplies bf16 natively
    progress: bool = True

    def check(self) -> None:
        check_choice("Seq2SeqTrainConfig", "monitor", self.monitor, MONITORS)
        if self.batch_size < 1 or self.max_epochs < 1:
            raise ConfigError("batch_size and max_epochs must be >= 1.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}.")


def pair_batch(src: Sequence[list[int]], tgt: Sequence[list[int]]):
    """→ source ids and lengths, decoder inputs (<s> + target) and outputs (target + </s>)."""
    s, s_len = pad(src)
    t, _ = pad(tgt)
    t_in = np.concatenate([np.full((len(tgt), 1), BOS, dtype=np.int64), t[:, :-1]], axis=1)
    return (torch.from_numpy(s), torch.from_numpy(s_len), torch.from_numpy(t_in),
            torch.from_numpy(t))


class PairBatches:
    """Batches of pairs of similar source length, reshuffled every epoch (seeded)."""

    def __init__(self, src, tgt, batch_size: int, seed: int | None) -> None:
        self.src, self.tgt, self.batch_size, self.seed = src, tgt, batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        return math.ceil(len(self.src) / self.batch_size)

    def __iter__(self):
        seed = None if self.seed is None else self.seed + self.epoch
        self.epoch += 1
        lengths = [len(s) + len(t) for s, t in zip(self.src, self.tgt)]
        for rows in bucket_batches(lengths, self.batch_size, seed):
            yield pair_batch([self.src[i] for i in rows], [self.tgt[i] for i in rows])


class Seq2SeqModule(L.LightningModule):
    def __init__(self, net: Seq2SeqNet, config: Seq2SeqTrainConfig,
                 score: Callable[[Seq2SeqNet], dict] | None) -> None:
        super().__init__()
        self.net, self.config, self.score = net, config, score
        self.history: list[dict] = []
        self.best: tuple[float, int, dict] | None = None  # (figure, epoch, weights)
        self._reset()

    def _reset(self) -> None:
        self._loss, self._tokens, self._targets, self._batches = 0.0, 0, 0, 0
        self._val_loss, self._val_tokens = 0.0, 0
        self._start = time.perf_counter()

    def _loss_sum(self, batch, smoothing: float):
        src, lengths, t_in, t_out = batch
        logits = self.net(src, lengths, t_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t_out.reshape(-1),
                               ignore_index=0, label_smoothing=smoothing, reduction="sum")
        return loss, int((t_out != 0).sum())

    def training_step(self, batch, batch_idx):
        loss, tokens = self._loss_sum(batch, self.config.label_smoothing)
        self._loss += float(loss.detach())
        self._targets += tokens
        self._tokens += tokens + int(batch[1].sum())  # source and target tokens read
        self._batches += 1
        mean = loss / max(tokens, 1)
        self.log("loss", mean.detach(), prog_bar=True, on_step=True, on_epoch=False,
                 batch_size=batch[0].shape[0])
        return mean

    def on_train_epoch_start(self) -> None:
        self._reset()

    def on_before_optimizer_step(self, optimizer) -> None:
        clip_gradients(optimizer, self.config.grad_clip)

    def on_train_epoch_end(self) -> None:
        if self.score is None and not self.trainer.limit_val_batches:  # no validation set
            seconds = time.perf_counter() - self._start
            self.history.append({"epoch": self.current_epoch + 1,
                                 "train_loss": self._loss / max(self._targets, 1),
                                 "train_tokens_per_s": self._tokens / max(seconds, 1e-9),
                                 "seconds": seconds})

    def validation_step(self, batch, batch_idx):
        loss, tokens = self._loss_sum(batch, 0.0)  # plain cross-entropy: a perplexity
        self._val_loss += float(loss)
        self._val_tokens += tokens

    def on_validation_epoch_end(self) -> None:
        seconds = time.perf_counter() - self._start
        row = {"epoch": self.current_epoch + 1,
               "train_loss": self._loss / max(self._targets, 1),
               "train_tokens_per_s": self._tokens / max(seconds, 1e-9),
               "train_target_tokens_per_s": self._targets / max(seconds, 1e-9),
               "val_loss": self._val_loss / max(self._val_tokens, 1)}
        row["val_ppl"] = math.exp(min(row["val_loss"], 50.0))
        if self.score is not None:
            self.net.eval()
            row.update({f"val_{k}": v for k, v in self.score(self.net).items()
                        if isinstance(v, float)})
            self.net.train()
        row["seconds"] = time.perf_counter() - self._start
        self.history.append(row)
        watched = (row["val_bleu"] if self.config.monitor == "bleu" and "val_bleu" in row
                   else -row["val_loss"])
        self.log("val_watched", watched, prog_bar=False)
        if "val_bleu" in row:
            self.log("val_bleu", row["val_bleu"], prog_bar=True)
        if self.best is None or watched > self.best[0]:
            self.best = (watched, row["epoch"], copy.deepcopy(self.net.state_dict()))
        log.info("epoch %d: train loss %.3f, val loss %.3f%s", row["epoch"], row["train_loss"],
                 row["val_loss"], f", val BLEU {row['val_bleu']:.2f}" if "val_bleu" in row
                 else "")

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.lr,
                                     weight_decay=self.config.weight_decay)
        schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, self.config.lr_decay)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule,
                                                          "interval": "epoch"}}


def train_seq2seq(net: Seq2SeqNet, train: tuple[list, list], valid: tuple[list, list] | None,
                  config: Seq2SeqTrainConfig,
                  score: Callable[[Seq2SeqNet], dict] | None = None) -> tuple[list[dict], dict]:
    """Train ``net`` in place on (source ids, target ids); keeps the best validation epoch.

    → (per-epoch history, summary).
    """
    config.check()
    set_threads(config.num_threads)
    keep_freed_memory()
    L.seed_everything(config.seed, verbose=False)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    module = Seq2SeqModule(net, config, score if valid is not None else None)
    callbacks: list = [TrimFreedMemory()]
    if valid is not None and config.patience > 0:
        callbacks.append(L.pytorch.callbacks.EarlyStopping("val_watched", mode="max",
                                                           patience=config.patience))
    trainer = L.Trainer(
        max_epochs=config.max_epochs, accelerator=lightning_accelerator(config.device),
        max_time=timedelta(minutes=config.max_minutes) if config.max_minutes else None,
        precision=lightning_precision(config.precision, config.device, "Translator"),
        devices=1, logger=False, enable_checkpointing=False, enable_model_summary=False,
        enable_progress_bar=config.progress, num_sanity_val_steps=0, callbacks=callbacks,
        limit_val_batches=1.0 if valid is not None else 0)
    train_batches = PairBatches(*train, config.batch_size, config.seed)
    valid_batches = PairBatches(*valid, config.batch_size, None) if valid is not None else None
    start = time.perf_counter()
    with warnings.catch_warnings():
        for pattern in (".*does not have many workers.*", ".*no `val_dataloader`.*",
                        ".*`training_step` returned `None`.*"):
            warnings.filterwarnings("ignore", message=pattern)
        fit_interruptibly(trainer, module, train_batches, valid_batches)
    net.cpu().eval()
    if module.best is not None:
        net.load_state_dict(module.best[2])
    summary = {"train_seconds": time.perf_counter() - start, "precision": trainer.precision,
               "epochs_run": len(module.history),
               "best_epoch": module.best[1] if module.best else len(module.history)}
    return module.history, summary
