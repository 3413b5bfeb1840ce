"""ids → logits without recurrence: TextCNN (Kim 2014).

embedding → parallel 1-D convolutions of several widths → ReLU → max over time → dropout →
linear. A strong, fast baseline next to the recurrent nets: every window is computed at
once, so it trains several times faster on a CPU. The max over time looks only at windows
that start inside the text, and everything at or beyond a text's length is zeroed first,
so padding never changes a result; a text shorter than the widest kernel is padded inside
the network (one window, partly over zeros) instead of failing.
"""

from __future__ import annotations

import torch
from torch import nn

from sentirnn.config import ModelConfig
from sentirnn.models.classifier_net import HeadedNet
from sentirnn.models.embedding import TokenEmbedding
from sentirnn.models.pooling import valid_mask

KERNEL_SIZES = (3, 4, 5)


def kernel_sizes(config: ModelConfig, default: tuple[int, ...]) -> tuple[int, ...]:
    """The config's convolution widths (``default`` when unset), checked."""
    sizes = tuple(config.kernel_sizes or default)
    if not sizes or any(not isinstance(k, int) or k < 1 for k in sizes):
        raise ValueError(f"kernel_sizes must be integers ≥ 1, not {config.kernel_sizes!r}")
    return sizes


class TextCNNNet(HeadedNet):
    """Tensors in, tensors out: (B, T) ids and (B,) lengths → (B, C) logits.

    ``hidden_size`` filters per kernel width (``kernel_sizes``, default 3, 4, 5); the
    pooled features are ``hidden_size × len(kernel_sizes)`` wide. ``cell``, ``layers``,
    ``bidirectional`` and ``pooling`` of the config do not apply (pooling is always max).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.kernel_sizes = kernel_sizes(config, KERNEL_SIZES)
        self.embedding = TokenEmbedding(config.vocab_size, config.embedding_dim,
                                        config.embedding_dropout, config.bigram_rows,
                                        config.bigram_slots)
        self.convs = nn.ModuleList(nn.Conv1d(config.embedding_dim, config.hidden_size, k)
                                   for k in self.kernel_sizes)
        self.pooling = _MaxOverTime()
        self.dropout = nn.Dropout(config.dropout)
        self.feature_size = config.hidden_size * len(self.kernel_sizes)  # P
        self.head = nn.Linear(self.feature_size, config.num_classes)

    def features_embedded(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embedded inputs → (B, P), P = hidden_size · len(kernel_sizes)."""
        x = x.masked_fill(~valid_mask(lengths, x.size(1)).unsqueeze(2), 0.0)  # (B, T, E)
        # A constant right pad of (widest - 1) zeros, rather than "pad up to the widest
        # kernel", keeps every shape symbolic when traced for ONNX and gives every text,
        # however short, at least one window. The extra windows are masked below.
        pad = x.new_zeros(x.size(0), max(self.kernel_sizes) - 1, x.size(2))  # (B, K - 1, E)
        x = torch.cat([x, pad], 1).transpose(1, 2)  # (B, E, T + K - 1)
        pooled = [self.pooling(torch.relu(conv(x)), lengths, k)  # (B, H) each
                  for conv, k in zip(self.convs, self.kernel_sizes)]
        return torch.cat(pooled, 1)  # (B, H·len(K))


class _MaxOverTime(nn.Module):
    """(B, H, W) window features → (B, H): max over windows that start inside the text.

    A text of length n has max(n - k + 1, 1) windows of width k; the one window of a
    shorter text covers it and zeros.
    """

    kind = "max"  # read by explain.py, like Pooling.kind

    def forward(self, features: torch.Tensor, lengths: torch.Tensor, k: int) -> torch.Tensor:
        windows = (lengths - (k - 1)).clamp(min=1)  # (B,)
        mask = valid_mask(windows, features.size(2)).unsqueeze(1)  # (B, 1, W)
        return features.masked_fill(~mask, float("-inf")).amax(2)  # (B, H)
