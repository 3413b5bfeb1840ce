"""contextual states → one vector per text: last / mean / max / attention pooling.

Every pooling looks only at valid (unpadded) steps, so padding never changes a result.
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("last", "mean", "max", "maxmean", "attention", "concat")


def valid_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """(B,) lengths → (B, T) bool mask of valid steps."""
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class Pooling(nn.Module):
    """Pool (B, T, F) states over valid steps into (B, output_size).

    ``last`` takes the forward direction's state at the last valid step and the
    backward direction's state at step 0 (where it has read the whole text);
    ``concat`` is ULMFiT's [last; max; mean].
    """

    def __init__(self, kind: str, size: int, bidirectional: bool):
        super().__init__()
        self.kind = kind
        self.bidirectional = bidirectional
        self.attention = None
        if kind == "attention":
            self.attention = nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1))
        factor = {"maxmean": 2, "concat": 3}.get(kind, 1)
        self.output_size = size * factor

    def forward(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lengths, states.size(1)).unsqueeze(2)  # (B, T, 1)
        if self.kind == "last":
            return self._last(states, lengths)
        if self.kind == "mean":
            return self._mean(states, mask, lengths)
        if self.kind == "max":
            return self._max(states, mask)
        if self.kind == "maxmean":
            return torch.cat([self._max(states, mask), self._mean(states, mask, lengths)], 1)
        if self.kind == "concat":
            return torch.cat([self._last(states, lengths), self._max(states, mask),
                              self._mean(states, mask, lengths)], 1)
        weights = self.attention_weights(states, lengths).unsqueeze(2)  # (B, T, 1)
        return (weights * states).sum(1)  # (B, F)

    def attention_weights(self, states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, F) states → (B, T) attention weights, zero on padding, rows summing to 1.

        A method rather than state kept from the last forward pass, so that concurrent
        requests in a server never read each other's weights.
        """
        mask = valid_mask(lengths, states.size(1)).unsqueeze(2)  # (B, T, 1)
        scores = self.attention(states).masked_fill(~mask, float("-inf"))  # (B, T, 1)
        return torch.softmax(scores, dim=1).squeeze(2)

    def _last(self, states, lengths):
        index = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, states.size(2))
        last = states.gather(1, index).squeeze(1)  # (B, F)
        if not self.bidirectional:
            return last
        half = states.size(2) // 2
        return torch.cat([last[:, :half], states[:, 0, half:]], 1)

    @staticmethod
    def _mean(states, mask, lengths):
        total = (states * mask).sum(1)  # (B, F)
        return total / lengths.clamp(min=1).unsqueeze(1).to(states.dtype)

    @staticmethod
    def _max(states, mask):
        return states.masked_fill(~mask, float("-inf")).amax(1)  # (B, F)
