"""ids → logits of a linear model over the text's bag of tokens and token pairs ("wide").

Added to a recurrent classifier's logits (``ModelConfig.wide``), it is the "wide" half of
wide & deep (Cheng et al. 2016): TF-IDF + logistic regression reads exactly this evidence —
which tokens and pairs occur, wherever they are — and leads the recurrent net on a few
thousand long or short texts (docs/evaluation-protocol.md). The recurrent half then only has
to learn what a bag cannot see (order, negation, scope). One weight vector per token and per
kept pair (the pair table of ``models/embedding.py``), summed over the text and divided by
√length (a bag's size grows with the text; a unit-norm TF-IDF row shrinks by about √length),
so a long review's bag weighs as much as a short one's. Training drops whole tokens
(``dropout``) so that the bag cannot memorise the training texts before the recurrent half
has learned anything. Zero at first: training starts from the recurrent net alone.

The lookups are integer arithmetic and gathers on the ids every net already gets, so the
inputs, padding invariance (padding is id 0, row 0, zero) and ONNX export stay as they are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sentirnn.models.embedding import install_slot_rows, pair_rows


class WideBag(nn.Module):
    """(B, T) ids and (B,) lengths → (B, C) logits of the bag of tokens and pairs.

    Parameters
    ----------
    vocab_size, num_classes : the token table is (vocab_size, num_classes).
    pair_rows : rows of the pair table (0 = tokens only).
    pair_slots : size of the bag's own slot → row table, filled by ``set_pair_slot_rows``;
        0 when the bag shares the embedding's (a net with token pairs: the caller passes
        that table to ``forward``, and 4 MB is not kept twice).
    dropout : probability of dropping a token (and its pair) from the bag while training.
    """

    def __init__(self, vocab_size: int, num_classes: int, pair_rows: int, pair_slots: int,
                 dropout: float):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, num_classes, padding_idx=0)
        nn.init.zeros_(self.tokens.weight)
        self.pairs = None
        if pair_rows:
            self.pairs = nn.Embedding(pair_rows, num_classes, padding_idx=0)
            nn.init.zeros_(self.pairs.weight)
        if pair_rows and pair_slots:
            self.register_buffer("pair_slot_rows", torch.zeros(pair_slots, dtype=torch.int32))
        else:
            self.pair_slot_rows = None
        self.dropout = dropout

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor,
                slot_rows: torch.Tensor | None = None) -> torch.Tensor:
        """``slot_rows``: the embedding's slot → row table of the pairs, if it has one (read
        when the bag has none of its own)."""
        x = self._weights(ids, slot_rows)  # (B, T, C)
        return x.sum(1) / lengths.to(x.dtype).sqrt().unsqueeze(1)  # (B, C)

    def terms(self, ids: torch.Tensor, lengths: torch.Tensor,
              slot_rows: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, C): each position's share of the logits — its token's weights and those of
        its pair with the next token, over √length (what explanations attribute to it)."""
        x = self._weights(ids, slot_rows)  # (B, T, C)
        return x / lengths.to(x.dtype).sqrt().view(-1, 1, 1)

    def _weights(self, ids: torch.Tensor, slot_rows: torch.Tensor | None) -> torch.Tensor:
        x = self.tokens(ids)  # (B, T) → (B, T, C)
        if self.pairs is not None:
            table = slot_rows if self.pair_slot_rows is None else self.pair_slot_rows
            x = x + self.pairs(pair_rows(ids, table))
        if self.training and self.dropout > 0:  # whole positions: a token with its pair
            keep = torch.rand(x.shape[:2], device=x.device) >= self.dropout  # (B, T)
            x = x * keep.unsqueeze(2).to(x.dtype) / (1 - self.dropout)
        return x

    def for_classes(self, num_classes: int) -> WideBag:
        """A new zero bag of the same tokens and pairs for ``num_classes`` (a new head)."""
        bag = WideBag(self.tokens.num_embeddings, num_classes,
                      0 if self.pairs is None else self.pairs.num_embeddings,
                      0 if self.pair_slot_rows is None else self.pair_slot_rows.numel(),
                      self.dropout)
        if self.pair_slot_rows is not None:
            bag.pair_slot_rows.copy_(self.pair_slot_rows)
        return bag.to(self.tokens.weight.device)

    def set_pair_slot_rows(self, table: np.ndarray) -> None:
        """Install the slot → row table of ``build_bigram_slot_rows`` (a bag with its own)."""
        if self.pair_slot_rows is None:
            raise ValueError("this bag has no pair table of its own to fill")
        install_slot_rows(self.pair_slot_rows, self.pairs, table)
