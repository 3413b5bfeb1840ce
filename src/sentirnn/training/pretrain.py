"""The language-model fit loop: next-token training on BPTT windows, checkpoints, resume.

Lightning owns the loop (devices, DDP under torchrun, gradient clipping, progress bar); this
file owns the language-model parts: the hidden state carried from window to window, held-out
perplexity after every epoch, and checkpoints. A checkpoint (``last.pt`` in the run folder,
written atomically every ``checkpoint_every`` steps and at each epoch's end) holds the
weights, optimizer and schedule state, the position (epoch, step), the carried hidden state
and torch's RNG state; because an epoch's batches are a function of (seed, epoch), a
single-process run resumed from it continues exactly as if never stopped. The run folder,
its fingerprint and the atomic, weights-only checkpoint files are checkpoints.py's, shared with
the classifier loop.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch

from sentirnn.config import JsonConfig
from sentirnn.models.language_model_net import LanguageModelNet, detach_hidden
from sentirnn.preprocess.lm_batching import BPTTBatches
from sentirnn.training.allocator import keep_freed_memory
from sentirnn.training.checkpoints import write_checkpoint
from sentirnn.training.machine import (
    distributed_layout,
    fit_interruptibly,
    lightning_accelerator,
    lightning_precision,
    set_threads,
)
from sentirnn.training.optim import FUSED_ADAM, clip_gradients
from sentirnn.training.runtime import world
from sentirnn.training.schedules import slanted_triangular

log = logging.getLogger("sentirnn")


@dataclass
class PretrainConfig(JsonConfig):
    """How the language model trains (the loop's settings, not the network's)."""

    max_epochs: int = 1
    batch_size: int = 64
    bptt: int = 70
    lr: float = 3e-3
    weight_decay: float = 0.01
    grad_clip: float = 0.5
    seed: int = 0
    checkpoint_every: int = 500  # steps; 0 = only at the end of each epoch
    num_threads: int | None = None
    device: str = "auto"
    progress: bool = True
    precision: str = "auto"


def evaluate_nll(net: LanguageModelNet, data: BPTTBatches) -> tuple[float, int]:
    """(sum of next-token NLL, number of tokens) over ``data``, without dropout."""
    was_training = net.training
    net.eval()
    total, count, hidden = 0.0, 0, None
    device = next(net.parameters()).device.type
    # fp32 even when training runs under bf16 autocast: perplexities stay comparable.
    with torch.inference_mode(), torch.autocast(device, enabled=False):
        for x, y in iter(data):
            states, hidden = net(x, hidden)
            total += float(net.nll(states, y).sum())
            count += y.numel()
    net.train(was_training)
    return total, count


class LanguageModelModule(L.LightningModule):
    """Next-token loss, carried hidden state, per-epoch perplexity and checkpoints."""

    def __init__(self, net: LanguageModelNet, config: PretrainConfig, data: BPTTBatches,
                 valid: BPTTBatches | None, run_dir: Path | None, state: dict | None):
        super().__init__()
        self.net, self.config, self.data, self.valid = net, config, data, valid
        self.run_dir, self.state = run_dir, state
        self.epoch0 = state["epoch"] if state else 0
        self.step_in_epoch = state["step"] if state else 0
        self.history: list[dict] = list(state["history"]) if state else []
        self.hidden = None
        self._reset_counters()

    def _reset_counters(self):
        self._loss_sum, self._tokens, self._start = 0.0, 0, time.perf_counter()

    @property
    def epoch(self) -> int:
        return self.epoch0 + self.current_epoch

    def training_step(self, batch, batch_idx):
        x, y = batch  # (B, T) each
        states, hidden = self.net(x, self.hidden)
        self.hidden = detach_hidden(hidden)
        loss = self.net.nll(states, y).mean()
        self._loss_sum += float(loss.detach()) * y.numel()
        self._tokens += y.numel()
        rate = self._tokens * world()[1] / max(time.perf_counter() - self._start, 1e-9)
        self.log("loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False)
        self.log("tok/s", rate, prog_bar=True, on_step=True, on_epoch=False)
        return loss

    def on_before_optimizer_step(self, optimizer):
        clip_gradients(optimizer, self.config.grad_clip)

    def on_train_start(self):
        if self.state:  # resume: optimizer, schedule, RNG and carried state as saved
            self.trainer.optimizers[0].load_state_dict(self.state["optimizer"])
            self.trainer.lr_scheduler_configs[0].scheduler.load_state_dict(
                self.state["scheduler"])
            torch.set_rng_state(self.state["rng"])
            flat = self.state.get("hidden") or []
            self.hidden = [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)] or None

    def on_train_epoch_start(self):
        if self.state is None or self.current_epoch > 0:
            self.hidden, self.step_in_epoch = None, 0  # a new epoch is a new stream
        self._reset_counters()

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.step_in_epoch += 1
        every = self.config.checkpoint_every
        if every and self.step_in_epoch % every == 0 and self.step_in_epoch < len(self.data):
            self.save_checkpoint(self.epoch, self.step_in_epoch)

    def on_train_epoch_end(self):
        seconds = time.perf_counter() - self._start
        row = {"epoch": self.epoch + 1, "train_loss": self._loss_sum / max(self._tokens, 1),
               "seconds": seconds, "train_tokens": self._tokens * world()[1],
               "train_tokens_per_s": self._tokens * world()[1] / max(seconds, 1e-9),
               "lr": self.trainer.optimizers[0].param_groups[0]["lr"]}
        if self.valid is not None:
            total, count = evaluate_nll(self.net, self.valid)
            row["val_loss"] = total / max(count, 1)
            row["val_perplexity"] = math.exp(min(row["val_loss"], 50.0))
            self.log("val_ppl", row["val_perplexity"], prog_bar=True, sync_dist=True)
        self.history.append(row)
        if self.trainer.is_global_zero:
            log.info("epoch %d: train loss %.3f, %s, %.0f tokens/s", row["epoch"],
                     row["train_loss"],
                     f"held-out perplexity {row['val_perplexity']:.1f}"
                     if "val_perplexity" in row else "no held-out text",
                     row["train_tokens_per_s"])
        self.state = None
        self.save_checkpoint(self.epoch + 1, 0)

    def save_checkpoint(self, epoch: int, step: int) -> None:
        """Write ``last.pt`` atomically (rank 0 only): a kill never leaves half a file."""
        if self.run_dir is None or not self.trainer.is_global_zero:
            return
        hidden = []
        if world()[1] == 1 and self.hidden is not None and step > 0:
            hidden = [t for pair in self.hidden for t in pair]
        bundle = {"net": self.net.state_dict(), "epoch": epoch, "step": step,
                  "optimizer": self.trainer.optimizers[0].state_dict(),
                  "scheduler": self.trainer.lr_scheduler_configs[0].scheduler.state_dict(),
                  "rng": torch.get_rng_state(), "hidden": hidden, "history": self.history}
        write_checkpoint(self.run_dir, bundle)

    def configure_optimizers(self):

        c = self.config
        opt = torch.optim.AdamW(self.net.parameters(), lr=c.lr, betas=(0.8, 0.99),
                                weight_decay=c.weight_decay, fused=FUSED_ADAM or None)
        total = max(1, c.max_epochs * len(self.data))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: slanted_triangular(s, total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def train_lm(net: LanguageModelNet, train_docs: list[np.ndarray],
             valid_docs: list[np.ndarray] | None, config: PretrainConfig, eos: int,
             run_dir: Path | None = None, state: dict | None = None) -> tuple[list[dict], dict]:
    """Train ``net`` in place on documents of ids; returns (per-epoch history, summary).

    ``state`` is a checkpoint (``sentirnn.training.checkpoints.Run.begin``): its weights are
    loaded and training continues at its (epoch, step).
    """
    set_threads(config.num_threads)
    keep_freed_memory()
    L.seed_everything(config.seed, verbose=False)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*(IterableDataset|does not have many workers"
                            "|LeafSpec|Total length of).*")
    rank, size = world()
    data = BPTTBatches(train_docs, config.batch_size, config.bptt, eos, config.seed, rank, size)
    valid = (BPTTBatches(valid_docs, min(config.batch_size, 16), config.bptt, eos,
                         variable=False) if _enough(valid_docs, config) else None)
    if state:
        net.load_state_dict(state["net"])
        data.epoch, data.skip = state["epoch"], state["step"]
    if run_dir is not None:
        Path(run_dir).mkdir(parents=True, exist_ok=True)
    net.train()  # a loaded model is in eval mode; the dropouts must be on while training
    module = LanguageModelModule(net, config, data, valid, run_dir, state)
    remaining = config.max_epochs - (state["epoch"] if state else 0)
    precision = lightning_precision(config.precision, config.device, "LanguageModel")
    start = time.perf_counter()
    if remaining > 0:
        trainer = L.Trainer(
            max_epochs=remaining, accelerator=lightning_accelerator(config.device),
            **distributed_layout(), logger=False, enable_checkpointing=False,
            enable_model_summary=False, enable_progress_bar=config.progress,
            num_sanity_val_steps=0, limit_val_batches=0, use_distributed_sampler=False,
            precision=precision)
        loader = torch.utils.data.DataLoader(data, batch_size=None)
        fit_interruptibly(trainer, module, loader)
    net.cpu().eval()
    summary = {"train_seconds": time.perf_counter() - start, "epochs_run": len(module.history),
               "resumed_at": [state["epoch"], state["step"]] if state else None,
               "precision": precision}
    return module.history, summary


def _enough(docs, config: PretrainConfig) -> bool:
    return bool(docs) and sum(len(d) + 1 for d in docs) >= 2 * min(config.batch_size, 16)
