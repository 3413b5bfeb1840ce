"""The optimiser and what shapes its steps: optimiser and lr schedule, gradient clipping, the
L1 penalty, and the batch size for small training sets.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from sentirnn.config import TrainConfig, check_choice

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
# One fused kernel per Adam step (CPU since torch 2.4): less step time, most of all with a
# large token-pair table (docs/lab-notes.md).
FUSED_ADAM = tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 4)
SCHEDULERS = ("none", "plateau", "cosine", "linear")
MIN_BATCH = 8  # small_data_batch never shrinks a batch below this


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

    With a few hundred texts, batches of 64 leave so few steps an epoch that the default
    BiLSTM can stop at chance, where smaller batches with the same lr learn (docs/results.md).
    ``min_steps`` < 1 keeps ``batch_size``.
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


def configure_optimizer(params, config: TrainConfig, total_steps: Callable[[], int],
                        make_scheduler=None, has_valid: bool = False):
    """What Lightning's ``configure_optimizers`` returns: the ``config.optimizer`` over
    ``params`` and its lr schedule.

    ``make_scheduler(optimizer, total_steps)``, when given (e.g. finetune's slanted triangular
    schedule), replaces ``config.scheduler`` and is stepped every batch. ``total_steps()`` is
    called only when a schedule needs it (Lightning estimates it once the loaders exist).
    "plateau" watches the logged ``val_watched`` and needs validation data (``has_valid``).
    """
    c = config
    check_choice("SentimentClassifier", "optimizer", c.optimizer, OPTIMIZERS)
    check_choice("SentimentClassifier", "scheduler", c.scheduler, SCHEDULERS)
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
             "rmsprop": torch.optim.RMSprop}
    if c.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=c.lr, momentum=0.9, weight_decay=c.weight_decay)
    else:
        extra = {"fused": True} if c.optimizer != "rmsprop" and FUSED_ADAM else {}
        opt = kinds[c.optimizer](params, lr=c.lr, weight_decay=c.weight_decay, **extra)
    if make_scheduler is not None:
        sched = make_scheduler(opt, total_steps())
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
    if c.scheduler == "none":
        return opt
    if c.scheduler == "plateau" and not has_valid:
        return opt  # nothing to watch: no validation data
    if c.scheduler == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5,
                                                           patience=0)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched,
                                                   "monitor": "val_watched"}}
    total = total_steps()
    warmup = max(1, total // 20)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        rest = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + np.cos(np.pi * rest)) if c.scheduler == "cosine" else 1 - rest

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
