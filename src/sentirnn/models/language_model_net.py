"""ids → next-token log-probabilities: the AWD-LSTM language model (``LanguageModelNet``).

Embedding → stacked LSTM → tied adaptive softmax, regularised as in Merity et al. (2018):
whole-word embedding dropout, locked (variational) dropout on the input, between layers and
on the output, and DropConnect on every layer's hidden-to-hidden matrix. The last layer's
size is the embedding size, so the decoder can share the embedding table.

Weight drop: each training forward samples a mask for ``weight_hh_l0`` and runs the
unchanged ``nn.LSTM`` through ``torch.func.functional_call`` with the masked matrix. The
stored parameter stays the plain matrix, so the state dict is exactly ``nn.LSTM``'s and the
layers map one to one onto a classifier's encoder (see ``classifier_state``).

Softmax: :class:`TiedAdaptiveSoftmax`, Grave et al.'s adaptive softmax whose output vectors
are *all* rows of the embedding table. Frequent tokens (the head) cost one (E × head) product
per position; a rarer-token cluster is computed only at positions whose target is in it.
``nn.AdaptiveLogSoftmaxWithLoss`` could only be tied on its head (its tails are separate
low-rank projections); this version ties the whole vocabulary and adds just one cluster
logit per tail and a bias per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from sentirnn.config import JsonConfig
from sentirnn.models.embedding import TokenEmbedding

CLUSTER_COST = 64.0  # overhead of one tail cluster, in softmax rows
Hidden = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (h, c), each (1, B, H_l)


def choose_cutoffs(counts: Sequence[int]) -> list[int]:
    """Adaptive-softmax cluster starts that minimise the expected softmax cost.

    Parameters
    ----------
    counts : sequence of int
        Training frequency of every vocabulary id, ids in descending-frequency order.

    Returns
    -------
    list of int
        Start ids of the tail clusters (empty: one plain softmax). The expected cost per
        position is ``head + sum(share_k * size_k)``: a cluster's matrix is only touched when
        the target lies in it; each cluster also costs a fixed ``CLUSTER_COST`` (its logit
        and the per-cluster gather/scatter). Boundaries lie on a doubling grid (256, 512, …).
    """
    size = len(counts)
    total = float(sum(counts)) or 1.0
    cum = [0.0]
    for c in counts:
        cum.append(cum[-1] + c / total)
    grid, g = [], 256
    while g < size:
        grid.append(g)
        g *= 2
    points = [*grid, size]
    best: dict[int, tuple[float, list[int]]] = {size: (0.0, [])}
    for i in range(len(points) - 2, -1, -1):  # best tail split starting at points[i]
        lo = points[i]
        best[lo] = min(((cum[hi] - cum[lo]) * (hi - lo) + CLUSTER_COST + best[hi][0],
                        [hi, *best[hi][1]]) for hi in points[i + 1:])
    options = [(float(size), [])] + [(h + best[h][0], [h, *best[h][1]]) for h in grid]
    cost, cuts = min(options, key=lambda o: o[0])
    return [c for c in cuts if c < size]


@dataclass
class LanguageModelConfig(JsonConfig):
    """The language model: sizes, dropouts and softmax clusters (stored in config.json)."""

    vocab_size: int = 0
    embedding_dim: int = 400
    hidden_size: int = 1150  # every layer but the last, which has embedding_dim units
    layers: int = 3
    embedding_dropout: float = 0.02  # whole words: rows of the table
    input_dropout: float = 0.25  # locked, on the embedded input
    hidden_dropout: float = 0.15  # locked, between layers
    output_dropout: float = 0.1  # locked, on the last layer's output
    weight_dropout: float = 0.2  # DropConnect on hidden-to-hidden matrices
    cutoffs: list[int] = field(default_factory=list)

    def layer_sizes(self) -> list[int]:
        """Hidden size of each layer, bottom to top (the top one is tied to the embedding)."""
        return [self.hidden_size] * (self.layers - 1) + [self.embedding_dim]


def locked_dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout with one mask per sequence, shared by all time steps (variational)."""
    if not training or p <= 0:
        return x
    mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - p) / (1 - p)  # (B, 1, F)
    return x * mask


class TiedAdaptiveSoftmax(nn.Module):
    """Adaptive softmax whose output vectors are rows of a given (V, E) weight.

    Parameters
    ----------
    vocab_size, dim : sizes of the tied table.
    cutoffs : start ids of the tail clusters (ids are frequency-ordered by the vocabulary).
    """

    def __init__(self, vocab_size: int, dim: int, cutoffs: list[int]):
        super().__init__()
        self.cutoffs = [c for c in cutoffs if 0 < c < vocab_size]
        self.edges = [0, *self.cutoffs, vocab_size]
        self.cluster = nn.Linear(dim, len(self.cutoffs)) if self.cutoffs else None
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def _pieces(self, weight: torch.Tensor) -> tuple[tuple[torch.Tensor, ...], ...]:
        """The (head, tail 1, …) row blocks of ``weight`` and of the bias.

        One ``split`` rather than a slice per cluster: a slice's backward writes its gradient
        into a zeroed (V, E) tensor of its own, so with 7 clusters each step zeroed and summed
        7 full tables; the split's backward is one concatenation (docs/lab-notes.md,
        "Adaptive softmax").
        """
        sizes = [hi - lo for lo, hi in zip(self.edges, self.edges[1:])]
        return weight.split(sizes), self.bias.split(sizes)

    def _head_log_probs(self, h: torch.Tensor, weight: torch.Tensor,
                        bias: torch.Tensor) -> torch.Tensor:
        logits = F.linear(h, weight, bias)  # (N, head)
        if self.cluster is not None:
            logits = torch.cat([logits, self.cluster(h)], 1)  # (N, head + K)
        return F.log_softmax(logits, 1)

    def nll(self, h: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """(N, E) states, (N,) target ids → (N,) negative log-likelihoods (exact)."""
        head = self.edges[1]
        weights, biases = self._pieces(weight)
        head_lp = self._head_log_probs(h, weights[0], biases[0])
        if not self.cutoffs:
            return -head_lp.gather(1, targets.unsqueeze(1)).squeeze(1)
        bounds = torch.tensor(self.cutoffs, device=targets.device)
        cluster = torch.bucketize(targets, bounds, right=True)  # (N,) 0 = head
        index = torch.where(cluster == 0, targets, head + cluster - 1)
        lp = head_lp.gather(1, index.unsqueeze(1)).squeeze(1)  # (N,)
        for k in range(1, len(self.edges) - 1):
            lo = self.edges[k]
            rows = (cluster == k).nonzero().squeeze(1)
            if rows.numel() == 0:
                # Keeps every parameter in the graph: DDP expects a gradient for each.
                lp = lp + 0.0 * biases[k].sum()
                continue
            tail = F.log_softmax(F.linear(h[rows], weights[k], biases[k]), 1)
            lp = lp.index_add(0, rows, tail.gather(1, (targets[rows] - lo).unsqueeze(1))
                              .squeeze(1))
        return -lp

    def log_probs(self, h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """(N, E) → (N, V) log-probabilities over the whole vocabulary."""
        head = self.edges[1]
        weights, biases = self._pieces(weight)
        head_lp = self._head_log_probs(h, weights[0], biases[0])
        parts = [head_lp[:, :head]]
        for k in range(1, len(self.edges) - 1):
            tail = F.log_softmax(F.linear(h, weights[k], biases[k]), 1)
            parts.append(tail + head_lp[:, head + k - 1:head + k])  # (N, cluster size)
        return torch.cat(parts, 1)


class LanguageModelNet(nn.Module):
    """Tensors in, tensors out: (B, T) ids (+ hidden state) → (B, T, E) top-layer states.

    ``nll`` and ``log_probs`` turn states into next-token losses / distributions through the
    tied adaptive softmax. There is no padding in a language-model stream, so no lengths.
    """

    def __init__(self, config: LanguageModelConfig):
        super().__init__()
        self.config = config
        self.embedding = TokenEmbedding(config.vocab_size, config.embedding_dim, 0.0)
        sizes = config.layer_sizes()
        inputs = [config.embedding_dim, *sizes[:-1]]
        self.layers = nn.ModuleList(nn.LSTM(i, o, batch_first=True)
                                    for i, o in zip(inputs, sizes))
        self.softmax = TiedAdaptiveSoftmax(config.vocab_size, config.embedding_dim,
                                           config.cutoffs)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        weight = self.embedding.table.weight
        p = self.config.embedding_dropout
        if self.training and p > 0:
            # Whole-word dropout: a dropped token loses its vector at every position.
            mask = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p) / (1 - p)  # (V, 1)
            weight = weight * mask
        return F.embedding(ids, weight, padding_idx=0)  # (B, T) → (B, T, E)

    def _run_layer(self, lstm: nn.LSTM, x: torch.Tensor, hx):
        p = self.config.weight_dropout
        if self.training and p > 0:
            dropped = F.dropout(lstm.weight_hh_l0, p, True)  # DropConnect, fresh each forward
            return functional_call(lstm, {"weight_hh_l0": dropped}, (x, hx))
        return lstm(x, hx)

    def forward(self, ids: torch.Tensor, hidden: Hidden | None = None
                ) -> tuple[torch.Tensor, Hidden]:
        """(B, T) ids → (B, T, E) states and the new per-layer (h, c) state."""
        c = self.config
        x = locked_dropout(self._embed(ids), c.input_dropout, self.training)  # (B, T, E)
        new_hidden: Hidden = []
        for i, lstm in enumerate(self.layers):
            x, state = self._run_layer(lstm, x, hidden[i] if hidden else None)  # (B, T, H_i)
            new_hidden.append(state)
            last = i == len(self.layers) - 1
            x = locked_dropout(x, c.output_dropout if last else c.hidden_dropout, self.training)
        return x, new_hidden

    def nll(self, states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(B, T, E) states, (B, T) next ids → (B·T,) negative log-likelihoods."""
        flat = states.reshape(-1, states.size(-1))  # (B·T, E)
        return self.softmax.nll(flat, targets.reshape(-1), self.embedding.table.weight)

    def log_probs(self, states: torch.Tensor) -> torch.Tensor:
        """(N, E) states → (N, V) next-token log-probabilities."""
        return self.softmax.log_probs(states, self.embedding.table.weight)


def classifier_state(lm_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """LM weights → the matching ClassifierNet keys (embedding and encoder layers).

    ``layers.i.*`` becomes ``encoder.forward_layers.i.*``; the softmax is dropped.
    """
    out = {}
    for key, value in lm_state.items():
        if key.startswith("embedding."):
            out[key] = value
        elif key.startswith("layers."):
            out["encoder.forward_" + key] = value
    return out


def detach_hidden(hidden: Hidden | None) -> Hidden | None:
    """Cut the graph between BPTT windows while keeping the state's values."""
    if hidden is None:
        return None
    return [(h.detach(), c.detach()) for h, c in hidden]
