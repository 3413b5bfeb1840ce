"""ids → logits: embedding → recurrent encoder → pooling → dropout → linear."""

from __future__ import annotations

import torch
from torch import nn

from sentirnn.config import ModelConfig
from sentirnn.models.embedding import TokenEmbedding
from sentirnn.models.pooling import Pooling
from sentirnn.models.rnn import RNNEncoder, reverse_within_length
from sentirnn.models.wide import WideBag


class HeadedNet(nn.Module):
    """What every classifier net shares: ids → embedding → ``features_embedded`` → dropout →
    head. A subclass has ``embedding``, ``dropout``, ``head`` and ``features_embedded``, and
    may have ``wide`` (a WideBag whose logits are added to the head's)."""

    def __init__(self):
        super().__init__()
        self.wide = None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.dropout(self.features(ids, lengths)))  # (B, P) → (B, C)
        return logits if self.wide is None else logits + self.wide_logits(ids, lengths)

    def wide_logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, C) logits of the ``wide`` bag; its pairs are the embedding's
        when the embedding has pairs (one slot table for both)."""
        return self.wide(ids, lengths, getattr(self.embedding, "bigram_slot_rows", None))

    def wide_terms(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, C): each position's share of ``wide_logits``."""
        return self.wide.terms(ids, lengths, getattr(self.embedding, "bigram_slot_rows", None))

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, P) pooled features: what the head reads (document vectors)."""
        return self.features_embedded(self.embedding(ids), lengths)  # (B, T, E) → (B, P)

    def forward_embedded(self, x: torch.Tensor, lengths: torch.Tensor,
                         wide: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, E) embedded inputs → (B, C); the entry point for attributions. A net with
        a ``wide`` bag needs its (B, C) logits for the same ids: they do not depend on ``x``."""
        logits = self.head(self.dropout(self.features_embedded(x, lengths)))  # (B, C)
        return logits if wide is None else logits + wide


class ClassifierNet(HeadedNet):
    """Tensors in, tensors out: (B, T) ids and (B,) lengths → (B, C) logits.

    Every length must be ≥ 1 (the batching stage gives empty texts one ``<unk>``).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = TokenEmbedding(config.vocab_size, config.embedding_dim,
                                        config.embedding_dropout, config.bigram_rows,
                                        config.bigram_slots)
        self.encoder = RNNEncoder(config.cell, config.embedding_dim, config.hidden_size,
                                  config.layers, config.bidirectional, config.dropout,
                                  config.hidden_sizes, config.separate_directions)
        self.pooling = Pooling(config.pooling, self.encoder.output_size, config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        self.feature_size = self.pooling.output_size  # P: the width of ``features``
        self.head = nn.Linear(self.feature_size, config.num_classes)
        if config.wide:  # with token pairs in the embedding, the bag reads the same pairs
            shares = config.bigram_rows > 0
            self.wide = WideBag(config.vocab_size, config.num_classes,
                                config.bigram_rows if shares else config.wide_pair_rows,
                                0 if shares else config.bigram_slots, config.wide_dropout)

    def features_embedded(self, x: torch.Tensor, lengths: torch.Tensor,
                          encoder: nn.Module | None = None) -> torch.Tensor:
        """(B, T, E) embedded inputs → (B, P) pooled states.

        ``encoder`` stands in for ``self.encoder`` (the ONNX exporter's one-op-per-layer
        version, export/onnx_recurrent.py); every net with an RNNEncoder takes it.
        """
        states = self.states(x, lengths, encoder)  # (B, T, D·H)
        return self.pooling(states, lengths)  # (B, P)

    def states(self, x: torch.Tensor, lengths: torch.Tensor,
               encoder: nn.Module | None = None) -> torch.Tensor:
        """(B, T, E) → (B, T, D·H) encoder states in the order the encoder read the tokens.

        A reversed net (``config.reverse``, from a backward language model) reads each text
        from its last token, so its step ``lengths - 1`` — what "last" pooling takes — has
        seen the whole text, as the backward LM's state had.
        """
        encoder = self.encoder if encoder is None else encoder
        return encoder(self.reading_order(x, lengths), lengths)

    def reading_order(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embedded tokens in the order the encoder reads them (also for ONNX)."""
        return reverse_within_length(x, lengths) if self.config.reverse else x
