"""vectors → contextual states: the recurrent encoder (SimpleRNN, LSTM, GRU).

Variable lengths are handled without ``pack_padded_sequence``: padding always comes
*after* the valid steps, so a forward-direction RNN never reads it before a valid
step, and the backward direction runs a forward RNN over each sequence reversed
*within its own length* (pads stay at the end), then flips the outputs back. The
result is exactly padding-invariant, needs no packed tensors (which ONNX cannot
export), and is one code path for training, inference and export. Length
bucketing keeps the cost of the padded steps small.
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first ``lengths[b]`` steps, leaving the padding in place.

    x: (B, T, F), lengths: (B,). The operation is its own inverse.
    """
    steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # (1, T)
    last = (lengths.to(x.device) - 1).unsqueeze(1)  # (B, 1)
    index = torch.where(steps <= last, last - steps, steps)  # (B, T)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.size(2)))


class RNNEncoder(nn.Module):
    """Stacked, optionally bidirectional recurrent encoder over padded batches.

    Parameters
    ----------
    cell : "rnn" (tanh: h_t = tanh(W x_t + U h_{t-1} + b)), "lstm" or "gru".
    input_size, hidden_size, layers, bidirectional : the usual sizes.
    dropout : dropout between stacked layers.
    hidden_sizes : optional size of each layer, overriding hidden_size and layers (an
        encoder taken over from a language model, whose top layer matches its embedding).
    separate : bidirectional only: each direction is its own stack over its own half of the
        input (the forward stack reads features ``[:E/2]``, the backward one ``[E/2:]``) and
        the two meet only in the output — the shape of a forward and a backward language
        model's encoders side by side, so each maps one to one onto its LM's layers.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.0,
                 hidden_sizes: list[int] | None = None, separate: bool = False):
        super().__init__()
        if separate and (not bidirectional or input_size % 2):
            raise ValueError("separate direction stacks need bidirectional=True and an even "
                             f"input size (got {input_size})")
        make = CELLS[cell]
        self.bidirectional = bidirectional
        self.separate = separate
        self.hidden_size = hidden_size
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        size = input_size // 2 if separate else input_size
        for width in hidden_sizes or [hidden_size] * layers:
            self.forward_layers.append(make(size, width, batch_first=True))
            if bidirectional:
                self.backward_layers.append(make(size, width, batch_first=True))
            size = width * (2 if bidirectional and not separate else 1)
        self.dropout = nn.Dropout(dropout)
        self.output_size = size * 2 if separate else size

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E), (B,) → (B, T, D·H); steps at or beyond a length hold garbage."""
        if self.separate:
            half = x.size(2) // 2
            out = self._stack(self.forward_layers, x[..., :half])
            back = self._stack(self.backward_layers, reverse_within_length(x[..., half:], lengths))
            return torch.cat([out, reverse_within_length(back, lengths)], dim=2)  # (B, T, 2H)
        for i, fwd in enumerate(self.forward_layers):
            if i > 0:
                x = self.dropout(x)
            out, _ = fwd(x)  # (B, T, H)
            if self.bidirectional:
                back, _ = self.backward_layers[i](reverse_within_length(x, lengths))
                out = torch.cat([out, reverse_within_length(back, lengths)], dim=2)  # (B, T, 2H)
            x = out
        return x

    def layer_parameters(self) -> list[list[nn.Parameter]]:
        """Each layer's parameters, both directions', bottom to top (fine-tuning's groups)."""
        backward = list(self.backward_layers) or [None] * len(self.forward_layers)
        return [list(fwd.parameters()) + (list(bwd.parameters()) if bwd is not None else [])
                for fwd, bwd in zip(self.forward_layers, backward)]

    def _stack(self, layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        """One direction's layers in turn (separate stacks), dropout between them."""
        for i, layer in enumerate(layers):
            x, _ = layer(self.dropout(x) if i > 0 else x)
        return x
