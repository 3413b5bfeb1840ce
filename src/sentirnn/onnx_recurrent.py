"""The recurrent encoder as ONNX sees it: one ``LSTM``/``GRU``/``RNN`` op per layer.

PyTorch's exporter turns ``RNNEncoder`` into what it is in PyTorch: per layer a forward
op, a ``Gather`` that reverses every text within its length, a second unidirectional op
and a second reversal. ONNX's recurrent ops take ``sequence_lens`` and run the backward
direction from each text's own last step, so one bidirectional op does the same work in
a single kernel call, with no gathers and no wasted steps on padding (onnxruntime stops
each text at its length). ``OnnxRecurrent`` is a stand-in for ``RNNEncoder`` used only
while exporting: it computes the same thing in PyTorch (so tracing sees real values) and
tells the exporter, through ``symbolic``, to emit the single ONNX op instead.
"""

from __future__ import annotations

import torch
from torch import nn

from sentirnn.models.rnn import RNNEncoder

ONNX_OPS = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "RNN"}
# PyTorch stacks gates as LSTM (i, f, g, o) and GRU (r, z, n); ONNX as LSTM (i, o, f, c)
# and GRU (z, r, h). Each tuple lists PyTorch's blocks in ONNX order.
GATE_ORDER = {"LSTM": (0, 3, 1, 2), "GRU": (1, 0, 2), "RNN": (0,)}
INT32 = 6  # onnx.TensorProto.INT32: sequence_lens must be int32


def _reorder(weight: torch.Tensor, order: tuple[int, ...]) -> torch.Tensor:
    return torch.cat([weight.chunk(len(order), 0)[i] for i in order], 0)


def onnx_weights(cells: list[nn.RNNBase]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer's directions (forward[, backward]) → ONNX W (D, G·H, I), R (D, G·H, H),
    B (D, 2·G·H) with the gates in ONNX order."""
    order = GATE_ORDER[cells[0].mode if cells[0].mode in GATE_ORDER else "RNN"]
    w = torch.stack([_reorder(c.weight_ih_l0, order) for c in cells])
    r = torch.stack([_reorder(c.weight_hh_l0, order) for c in cells])
    b = torch.stack([torch.cat([_reorder(c.bias_ih_l0, order), _reorder(c.bias_hh_l0, order)])
                     for c in cells])
    return w.detach().clone(), r.detach().clone(), b.detach().clone()


class _RecurrentOp(torch.autograd.Function):
    """x (B, T, I), lengths (B,) → (B, T, D·H), exported as one op.

    ``eager`` is the layer's output computed the PyTorch way; it is what tracing sees, and
    the exported graph does not use it (the exporter drops the ops that produced it).
    """

    @staticmethod
    def forward(ctx, x, lengths, w, r, b, eager, op, hidden, bidirectional):
        return eager.clone()

    @staticmethod
    def symbolic(g, x, lengths, w, r, b, eager, op, hidden, bidirectional):
        attrs = {"hidden_size_i": hidden,
                 "direction_s": "bidirectional" if bidirectional else "forward"}
        if op == "GRU":
            attrs["linear_before_reset_i"] = 1  # PyTorch applies r after the matmul
        seq_major = g.op("Transpose", x, perm_i=[1, 0, 2])  # (T, B, I)
        seq_lens = g.op("Cast", lengths, to_i=INT32)
        y, *_ = g.op(op, seq_major, w, r, b, seq_lens, outputs=3 if op == "LSTM" else 2,
                     **attrs)  # (T, D, B, H)
        batch_major = g.op("Transpose", y, perm_i=[2, 0, 1, 3])  # (B, T, D, H)
        shape = g.op("Constant", value_t=torch.tensor([0, 0, -1], dtype=torch.int64))
        return g.op("Reshape", batch_major, shape)  # (B, T, D·H)


class _Layer(nn.Module):
    """One layer of an RNNEncoder, run the PyTorch way (used while tracing)."""

    def __init__(self, fwd: nn.RNNBase, bwd: nn.RNNBase | None):
        super().__init__()
        self.fwd, self.bwd = fwd, bwd

    def forward(self, x, lengths):
        from sentirnn.models.rnn import reverse_within_length

        out, _ = self.fwd(x)
        if self.bwd is None:
            return out
        back, _ = self.bwd(reverse_within_length(x, lengths))
        return torch.cat([out, reverse_within_length(back, lengths)], dim=2)


class OnnxRecurrent(nn.Module):
    """Export-time replacement for an ``RNNEncoder`` with the same inputs and outputs."""

    def __init__(self, encoder: RNNEncoder):
        super().__init__()
        self.layers = nn.ModuleList()
        self.specs = []
        backward = list(encoder.backward_layers) or [None] * len(encoder.forward_layers)
        for fwd, bwd in zip(encoder.forward_layers, backward):
            cells = [fwd] + ([bwd] if bwd is not None else [])
            w, r, b = onnx_weights(cells)
            index = len(self.layers)
            self.register_buffer(f"w{index}", w)
            self.register_buffer(f"r{index}", r)
            self.register_buffer(f"b{index}", b)
            self.layers.append(_Layer(fwd, bwd))
            op = fwd.mode if fwd.mode in ONNX_OPS else "RNN"
            self.specs.append((op, fwd.hidden_size, bwd is not None))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for i, (layer, (op, hidden, bidirectional)) in enumerate(zip(self.layers, self.specs)):
            x = _RecurrentOp.apply(x, lengths, getattr(self, f"w{i}"), getattr(self, f"r{i}"),
                                   getattr(self, f"b{i}"), layer(x, lengths), op, hidden,
                                   bidirectional)
        return x


class ExportNet(nn.Module):
    """A ClassifierNet with its encoder swapped for ``OnnxRecurrent``; same (ids, lengths)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.encoder = OnnxRecurrent(net.encoder)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        states = self.encoder(self.net.reading_order(self.net.embedding(ids), lengths), lengths)
        return self.net.head(self.net.dropout(self.net.pooling(states, lengths)))
