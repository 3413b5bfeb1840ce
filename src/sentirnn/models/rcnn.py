"""ids → logits: the recurrent convolutional classifier (RCNN, Lai et al. 2015).

Each word is represented by ``[left context; its embedding; right context]``, where the left
context is a forward RNN's state after the words *before* it and the right context a
backward RNN's state after the words *after* it; a linear layer with tanh maps that to a
latent vector per word, and a max over the text's words keeps, per feature, its strongest
word. It is a convolution whose window is the whole text on either side (the recurrence
supplies it) with TextCNN's max over time, so — unlike a fixed window — it sees far context,
and — unlike a BiLSTM's pooled states — each word's own embedding enters directly.

As in the paper, a word's contexts exclude the word itself: the left context of word i is
the forward state at i - 1 and the right context the backward state at i + 1; the first
word's left context and the last word's right context are learned vectors (c_l(w_1) and
c_r(w_n)). With ``layers`` > 1 each direction is its own stack, so no upper layer sees the
word through the other direction. The backward direction runs over each text reversed within
its length, the last word's right context is chosen by length, and the max looks only at
valid words (models/rnn.py, models/pooling.py): padding never changes a result.
"""

from __future__ import annotations

import torch
from torch import nn

from sentirnn.config import ModelConfig
from sentirnn.models.classifier_net import HeadedNet
from sentirnn.models.embedding import TokenEmbedding
from sentirnn.models.pooling import Pooling
from sentirnn.models.rnn import RNNEncoder


class RCNNNet(HeadedNet):
    """Tensors in, tensors out: (B, T) ids and (B,) lengths → (B, C) logits.

    ``cell`` (lstm/gru/rnn) with ``hidden_size`` units for each context and ``layers``
    per direction; the latent layer is ``hidden_size`` wide too. ``bidirectional`` and
    ``pooling`` of the config do not apply (both contexts always; max over words).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        e, h = config.embedding_dim, config.hidden_size
        self.embedding = TokenEmbedding(config.vocab_size, e, config.embedding_dropout,
                                        config.bigram_rows, config.bigram_slots)
        # RNNEncoder's separate stacks: the forward one reads the input's first half, the
        # backward one its second; the embedding is given twice, so each reads all of it.
        self.encoder = RNNEncoder(config.cell, 2 * e, h, config.layers, bidirectional=True,
                                  dropout=config.dropout, separate=True)
        self.left_start = nn.Parameter(torch.zeros(h))  # c_l(w_1)
        self.right_end = nn.Parameter(torch.zeros(h))  # c_r(w_n)
        self.latent = nn.Linear(2 * h + e, h)
        self.pooling = Pooling("max", h, bidirectional=False)
        self.dropout = nn.Dropout(config.dropout)
        self.feature_size = h  # P
        self.head = nn.Linear(h, config.num_classes)

    def features_embedded(self, x: torch.Tensor, lengths: torch.Tensor,
                          encoder: nn.Module | None = None) -> torch.Tensor:
        """(B, T, E) → (B, P); ``encoder`` stands in for ``self.encoder`` (ONNX export)."""
        left, right = self.contexts(x, lengths, encoder)  # (B, T, H) each
        words = torch.tanh(self.latent(torch.cat([left, x, right], 2)))  # (B, T, H)
        return self.pooling(words, lengths)  # (B, H): max over valid words

    def contexts(self, x: torch.Tensor, lengths: torch.Tensor,
                 encoder: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, E) → left and right contexts (B, T, H) of every word, the word excluded."""
        encoder = self.encoder if encoder is None else encoder
        states = encoder(torch.cat([x, x], 2), lengths)  # (B, T, 2H): forward | backward
        h = self.config.hidden_size
        forward, backward = states[..., :h], states[..., h:]  # each has read word i too
        start = self.left_start.expand(x.size(0), 1, h)  # (B, 1, H)
        end = self.right_end.expand(x.size(0), 1, h)  # (B, 1, H)
        left = torch.cat([start, forward[:, :-1]], 1)  # (B, T, H): left[i] = forward[i - 1]
        right = torch.cat([backward[:, 1:], end], 1)  # (B, T, H): right[i] = backward[i + 1]
        # backward[i + 1] of a text's last word is padding (not a word): c_r(w_n) there
        steps = torch.arange(x.size(1), device=x.device).unsqueeze(0)  # (1, T)
        last = (steps == (lengths.to(x.device) - 1).unsqueeze(1)).unsqueeze(2)  # (B, T, 1)
        return left, torch.where(last, end, right)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters bottom to top: embedding, each recurrent layer (both directions), top."""
        top = [self.left_start, self.right_end, *self.latent.parameters(),
               *self.head.parameters()]
        return [list(self.embedding.parameters()), *self.encoder.layer_parameters(), top]
