"""ids → vectors: the token embedding with dropout (optionally from pretrained vectors),
plus, optionally, an embedding of each token's pair with the next one (bigrams).

Bigrams give a recurrent net the n-gram evidence TF-IDF and fastText live on: in Chinese a
character alone says little ("不" + "错" is praise, "不" + "好" is not), and a character net
that must learn each pair through its recurrence trails a bag of bigrams on a few thousand
reviews. The pair ``(a, b)`` of token ids is hashed into ``bigram_slots`` slots; a slot
table, filled at fit time from the training ids (``bigram_slot_rows``), sends the slot of
every kept pair (the classifier keeps every training pair, at most ``max_vocab``) to its own
embedding row and every other slot to row 0 (zero, frozen). The lookup is integer arithmetic
and two gathers on the ids the net already gets, so the net's inputs, padding invariance (a
text's last token pairs with padding → row 0), ONNX export and attributions stay as they
are; an unseen pair costs nothing, and one that lands on a kept pair's slot (about ``kept /
slots`` of them) borrows that pair's vector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

BIGRAM_SLOTS = 1 << 20  # 4 MB of int32; an unseen pair hits a kept one's slot ≤ 5% of the time
_PRIME = 1_000_003


def pairs_wanted(bigrams: str, tokenizer_kind: str, two_lms: bool = False) -> bool:
    """Whether a classifier's ``bigrams`` setting ("auto", "on", "off") adds the pair table
    for this tokenizer: "auto" means characters (Chinese), where pairs carry the words, read
    by one encoder. On two LMs' encoders (``init_from_backward``) "auto" is off: that
    classifier validated better without pairs on both seeds tried (docs/results.md, "Token
    pairs on two LMs")."""
    return bigrams == "on" or (bigrams == "auto" and tokenizer_kind == "char" and not two_lms)


def bigram_slots(first, second, slots: int):
    """Slot of each pair (first, second) of token ids; works on tensors and int64 arrays."""
    return (first * _PRIME + second) % slots


def pair_rows(ids: torch.Tensor, slot_rows: torch.Tensor) -> torch.Tensor:
    """(B, T) ids → (B, T) row of each token's pair with the next one (0: none), through a
    slot → row table of ``build_bigram_slot_rows``."""
    following = nn.functional.pad(ids[:, 1:], (0, 1))  # (B, T); the last pairs with pad
    rows = slot_rows[bigram_slots(ids, following, slot_rows.numel())]
    return torch.where(following > 0, rows, torch.zeros_like(rows))


def install_slot_rows(slot_rows: torch.Tensor, table_rows: nn.Embedding,
                      table: np.ndarray) -> None:
    """Copy a ``build_bigram_slot_rows`` table into the buffer ``slot_rows`` of a module whose
    pair rows are ``table_rows``, after checking that it fits them."""
    if table.shape != tuple(slot_rows.shape):
        raise ValueError("the bigram slot table does not match this embedding")
    if int(table.max()) >= table_rows.num_embeddings:
        raise ValueError("the bigram slot table points past the bigram embedding")
    slot_rows.copy_(torch.from_numpy(table))


def build_bigram_slot_rows(sequences: Sequence[Sequence[int]], min_freq: int, max_rows: int,
                           slots: int = BIGRAM_SLOTS) -> tuple[np.ndarray, int]:
    """The slot → row table of the pairs seen ≥ ``min_freq`` times, most frequent first.

    Returns (int32 array of ``slots`` rows, number of embedding rows incl. row 0); at most
    ``max_rows`` rows. A pair whose slot a more frequent pair already holds shares its row.
    Padding (id 0) never forms a pair.
    """
    keys = [np.asarray(s[:-1], dtype=np.int64) * (1 << 32) + np.asarray(s[1:], dtype=np.int64)
            for s in sequences if len(s) > 1]
    table = np.zeros(slots, dtype=np.int32)
    if not keys:
        return table, 1
    pairs, counts = np.unique(np.concatenate(keys), return_counts=True)
    order = np.argsort(-counts, kind="stable")
    pairs = pairs[order][counts[order] >= min_freq]
    rows = 1
    for slot in bigram_slots(pairs >> 32, pairs & 0xFFFFFFFF, slots).tolist():
        if rows >= max_rows:
            break
        if table[slot] == 0:
            table[slot] = rows
            rows += 1
    return table, rows


class TokenEmbedding(nn.Module):
    """Embedding with ``<pad>`` = 0 kept at zero and dropout on the embedded vectors.

    Parameters
    ----------
    vocab_size, embedding_dim : sizes of the table.
    dropout : probability of zeroing an embedded feature during training.
    bigram_rows : rows of the pair embedding added to each token's vector (0 = none); the
        slot table is filled by ``set_bigram_slot_rows`` (see the module docstring).
    bigram_slots : size of that slot table.
    """

    def __init__(self, vocab_size: int, embedding_dim: int, dropout: float = 0.0,
                 bigram_rows: int = 0, bigram_slots: int = BIGRAM_SLOTS):
        super().__init__()
        self.table = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        nn.init.normal_(self.table.weight, std=0.1)
        with torch.no_grad():
            self.table.weight[0].zero_()
        self.bigrams = None
        if bigram_rows:
            self.bigrams = nn.Embedding(bigram_rows, embedding_dim, padding_idx=0)
            nn.init.normal_(self.bigrams.weight, std=0.1)
            with torch.no_grad():
                self.bigrams.weight[0].zero_()
            self.register_buffer("bigram_slot_rows",
                                 torch.zeros(bigram_slots, dtype=torch.int32))
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.table(ids)  # (B, T) → (B, T, E)
        if self.bigrams is not None:
            x = x + self.bigrams(self.bigram_rows(ids))
        return self.dropout(x)

    def bigram_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T) row of each token's pair with the next one (0: none)."""
        return pair_rows(ids, self.bigram_slot_rows)

    def set_bigram_slot_rows(self, table: np.ndarray) -> None:
        """Install the slot → row table of ``build_bigram_slot_rows``."""
        if self.bigrams is None:
            raise ValueError("the bigram slot table does not match this embedding")
        install_slot_rows(self.bigram_slot_rows, self.bigrams, table)

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
