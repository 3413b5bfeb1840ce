"""Which weights a run ends with: the best validated epoch's, or the mean of epochs 1..k.

``BestWeights`` tracks the monitored validation figure and restores the best epoch at the
end; ``EpochAverage`` keeps the running mean of the weights that competes with each epoch.
"""

from __future__ import annotations

import copy
import math

import lightning as L
import torch


class EpochAverage:
    """The running mean of a network's weights at each epoch's end (from the first epoch).

    A from-scratch net that overfits within a few epochs scores unevenly from epoch to epoch
    and seed to seed; a mean of epochs 1..k can beat every single epoch of its run
    (docs/results.md, "SST-2: validating on sentences, and epoch averaging").
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
