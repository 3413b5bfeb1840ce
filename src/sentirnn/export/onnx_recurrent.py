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

from sentirnn.models.rnn import RNNEncoder, reverse_within_length

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
    ``direction`` is ONNX's: "forward", "reverse" (from each text's own last step, outputs
    in the tokens' order) or "bidirectional".
    """

    @staticmethod
    def forward(ctx, x, lengths, w, r, b, eager, op, hidden, direction):
        return eager.clone()

    @staticmethod
    def symbolic(g, x, lengths, w, r, b, eager, op, hidden, direction):
        attrs = {"hidden_size_i": hidden, "direction_s": direction}
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

    def __init__(self, fwd: nn.RNNBase, bwd: nn.RNNBase | None, direction: str):
        super().__init__()
        self.fwd, self.bwd, self.direction = fwd, bwd, direction

    def forward(self, x, lengths):
        if self.direction == "reverse":  # a backward stack's layer (separate stacks)
            out, _ = self.fwd(reverse_within_length(x, lengths))
            return reverse_within_length(out, lengths)
        out, _ = self.fwd(x)
        if self.bwd is None:
            return out
        back, _ = self.bwd(reverse_within_length(x, lengths))
        return torch.cat([out, reverse_within_length(back, lengths)], dim=2)


class OnnxRecurrent(nn.Module):
    """Export-time replacement for an ``RNNEncoder`` with the same inputs and outputs.

    Shared stacks: one op a layer (bidirectional when the encoder is). Separate stacks
    (``RNNEncoder.separate``): a chain of "forward" ops over the input's first half and a
    chain of "reverse" ops over its second half, concatenated at the end.
    """

    def __init__(self, encoder: RNNEncoder):
        super().__init__()
        self.layers = nn.ModuleList()
        self.specs = []
        self.separate = encoder.separate
        if self.separate:
            self.chains = [[self._add(layer, None, "forward") for layer in encoder.forward_layers],
                           [self._add(layer, None, "reverse")
                            for layer in encoder.backward_layers]]
        else:
            backward = list(encoder.backward_layers) or [None] * len(encoder.forward_layers)
            self.chains = [[self._add(fwd, bwd, "forward" if bwd is None else "bidirectional")
                            for fwd, bwd in zip(encoder.forward_layers, backward)]]

    def _add(self, fwd: nn.RNNBase, bwd: nn.RNNBase | None, direction: str) -> int:
        cells = [fwd] + ([bwd] if bwd is not None else [])
        w, r, b = onnx_weights(cells)
        index = len(self.layers)
        self.register_buffer(f"w{index}", w)
        self.register_buffer(f"r{index}", r)
        self.register_buffer(f"b{index}", b)
        self.layers.append(_Layer(fwd, bwd, direction))
        op = fwd.mode if fwd.mode in ONNX_OPS else "RNN"
        self.specs.append((op, fwd.hidden_size, direction))
        return index

    def _run(self, chain: list[int], x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        for i in chain:
            op, hidden, direction = self.specs[i]
            x = _RecurrentOp.apply(x, lengths, getattr(self, f"w{i}"), getattr(self, f"r{i}"),
                                   getattr(self, f"b{i}"), self.layers[i](x, lengths), op,
                                   hidden, direction)
        return x

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if not self.separate:
            return self._run(self.chains[0], x, lengths)
        half = x.size(2) // 2
        return torch.cat([self._run(self.chains[0], x[..., :half], lengths),
                          self._run(self.chains[1], x[..., half:], lengths)], dim=2)


class ExportNet(nn.Module):
    """A network with an RNNEncoder (ClassifierNet, CLSTMNet, RCNNNet) with that encoder
    swapped for ``OnnxRecurrent``; same (ids, lengths). Each such net's
    ``features_embedded`` takes the stand-in encoder, so whatever comes before the encoder
    (reading order, convolutions) and after it (contexts, pooling) is traced as it is."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.encoder = OnnxRecurrent(net.encoder)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        features = self.net.features_embedded(self.net.embedding(ids), lengths, self.encoder)
        logits = self.net.head(self.net.dropout(features))  # (B, P) → (B, C)
        return logits if self.net.wide is None else logits + self.net.wide_logits(ids, lengths)
