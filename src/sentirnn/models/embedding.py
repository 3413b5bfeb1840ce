"""ids → vectors: the token embedding with dropout (optionally from pretrained vectors)."""

from __future__ import annotations

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    """Embedding with ``<pad>`` = 0 kept at zero and dropout on the embedded vectors.

    Parameters
    ----------
    vocab_size, embedding_dim : sizes of the table.
    dropout : probability of zeroing an embedded feature during training.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, dropout: float = 0.0):
        super().__init__()
        self.table = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        nn.init.normal_(self.table.weight, std=0.1)
        with torch.no_grad():
            self.table.weight[0].zero_()
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.table(ids))  # (B, T) → (B, T, E)

    def load_vectors(self, vectors: torch.Tensor, freeze: bool = False) -> None:
        """Copy a (vocab_size, embedding_dim) matrix into the table."""
        if tuple(vectors.shape) != tuple(self.table.weight.shape):
            raise ValueError(
                f"pretrained vectors have shape {tuple(vectors.shape)}, "
                f"the embedding table needs {tuple(self.table.weight.shape)}"
            )
        with torch.no_grad():
            self.table.weight.copy_(vectors)
        self.table.weight.requires_grad_(not freeze)
