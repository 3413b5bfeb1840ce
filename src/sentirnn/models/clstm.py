"""ids → logits: convolutions feeding a recurrent encoder (C-LSTM, Zhou et al. 2015).

embedding → 1-D convolutions (ReLU) → bidirectional LSTM/GRU over the window features →
pooling → dropout → linear. The convolution turns every position into the features of the
phrase around it; the recurrent layer then reads the sequence of phrase features in order.
TextCNN keeps only each filter's strongest phrase and so loses word order beyond the
window; a plain BiLSTM must learn phrases through its recurrence. C-LSTM gives the
recurrence phrases to read.

Padding. The paper's convolution is "valid" (a text of n tokens gives n - k + 1 windows),
which would leave texts shorter than the kernel with no step at all. Here every convolution
is "same": position i's window is centred on token i, with ``(k - 1) // 2`` zeros before the
text and ``k // 2`` after it — the zeros at the text's *true* ends, because embeddings at
and beyond each text's length are zeroed before the convolution. Lengths are unchanged
(any text of ≥ 1 token has as many steps as tokens), the window features at padded
positions are zeroed as well, and the recurrent encoder and the pooling read only the valid
steps (models/rnn.py, models/pooling.py): a text gets exactly what it gets alone, whatever
batch it is in.
"""

from __future__ import annotations

import torch
from torch import nn

from sentirnn.config import ModelConfig
from sentirnn.models.classifier_net import HeadedNet
from sentirnn.models.cnn import kernel_sizes
from sentirnn.models.embedding import TokenEmbedding
from sentirnn.models.pooling import Pooling, valid_mask
from sentirnn.models.rnn import RNNEncoder

KERNEL_SIZES = (3,)  # the paper's best single width


class CLSTMNet(HeadedNet):
    """Tensors in, tensors out: (B, T) ids and (B,) lengths → (B, C) logits.

    ``hidden_size`` filters per kernel width (``kernel_sizes``, default 3; several widths
    are concatenated per position, which "same" convolutions allow), then ``cell``
    (lstm/gru), ``layers``, ``bidirectional`` with ``hidden_size`` units, then ``pooling``
    as in ClassifierNet.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.kernel_sizes = kernel_sizes(config, KERNEL_SIZES)
        self.embedding = TokenEmbedding(config.vocab_size, config.embedding_dim,
                                        config.embedding_dropout, config.bigram_rows,
                                        config.bigram_slots)
        self.convs = nn.ModuleList(nn.Conv1d(config.embedding_dim, config.hidden_size, k)
                                   for k in self.kernel_sizes)
        windows = config.hidden_size * len(self.kernel_sizes)  # F
        self.encoder = RNNEncoder(config.cell, windows, config.hidden_size, config.layers,
                                  config.bidirectional, config.dropout)
        self.pooling = Pooling(config.pooling, self.encoder.output_size, config.bidirectional)
        self.dropout = nn.Dropout(config.dropout)
        self.feature_size = self.pooling.output_size  # P
        self.head = nn.Linear(self.feature_size, config.num_classes)

    def features_embedded(self, x: torch.Tensor, lengths: torch.Tensor,
                          encoder: nn.Module | None = None) -> torch.Tensor:
        """(B, T, E) → (B, P); ``encoder`` stands in for ``self.encoder`` (ONNX export)."""
        return self.pooling(self.states(x, lengths, encoder), lengths)  # (B, P)

    def states(self, x: torch.Tensor, lengths: torch.Tensor,
               encoder: nn.Module | None = None) -> torch.Tensor:
        """(B, T, E) → (B, T, D·H) recurrent states over the window features."""
        encoder = self.encoder if encoder is None else encoder
        return encoder(self.windows(x, lengths), lengths)  # (B, T, D·H)

    def windows(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T, E) → (B, T, F) "same" window features, zero at and beyond each length."""
        mask = valid_mask(lengths, x.size(1)).unsqueeze(2)  # (B, T, 1)
        x = x.masked_fill(~mask, 0.0).transpose(1, 2)  # (B, E, T): zeros at the true ends
        maps = [torch.relu(conv(nn.functional.pad(x, ((k - 1) // 2, k // 2))))  # (B, H, T)
                for conv, k in zip(self.convs, self.kernel_sizes)]
        return torch.cat(maps, 1).transpose(1, 2).masked_fill(~mask, 0.0)  # (B, T, F)

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """Parameters bottom to top: embedding, convolutions, each recurrent layer, head."""
        return [list(self.embedding.parameters()), list(self.convs.parameters()),
                *self.encoder.layer_parameters(),
                list(self.pooling.parameters()) + list(self.head.parameters())]
