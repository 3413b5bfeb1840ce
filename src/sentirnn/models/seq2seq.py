"""The translation network: a bidirectional recurrent encoder and an attentional decoder.

Encoder (Sutskever et al. 2014, read both ways): embeddings → bidirectional GRU/LSTM. Decoder
(Luong et al. 2015): at each step the previous output token's embedding and the previous
attentional vector (input feeding) go through a GRU/LSTM; the new state queries the encoder
states — additive scores (Bahdanau et al. 2015), "general" or "dot" (Luong) — and the state and
context make the attentional vector that predicts the next token. ``attention="none"`` is the
plain encoder–decoder: the decoder sees the source only through its initial state.

Padding never changes a result: the encoder packs its sequences and the attention masks padded
positions, so a sentence translates the same alone and in any batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentirnn.config import JsonConfig, check_choice
from sentirnn.errors import ConfigError

CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
ATTENTIONS = ("bahdanau", "general", "dot", "none")


@dataclass
class Seq2SeqConfig(JsonConfig):
    """Sizes and choices of the network (saved in config.json)."""

    source_vocab: int = 0
    target_vocab: int = 0
    cell: str = "gru"
    embedding_dim: int = 256
    encoder_hidden: int = 256  # per direction
    encoder_layers: int = 1
    decoder_hidden: int = 512
    decoder_layers: int = 1
    attention: str = "bahdanau"
    input_feeding: bool = True
    dropout: float = 0.3
    tie_embeddings: bool = False  # target embedding = output weights (attn vector = emb dim)

    def check(self) -> None:
        check_choice("Seq2SeqConfig", "cell", self.cell, tuple(CELLS))
        check_choice("Seq2SeqConfig", "attention", self.attention, ATTENTIONS)
        for name in ("embedding_dim", "encoder_hidden", "encoder_layers", "decoder_hidden",
                     "decoder_layers"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, not {getattr(self, name)!r}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout!r}.")
        if self.attention == "dot" and self.decoder_hidden != 2 * self.encoder_hidden:
            raise ConfigError(
                f"dot attention compares decoder states with encoder states, so decoder_hidden "
                f"must be 2 × encoder_hidden ({2 * self.encoder_hidden}), not "
                f"{self.decoder_hidden}; or use attention='general'.")


class Attention(nn.Module):
    """Scores of one query against the encoder states; padded positions get none."""

    def __init__(self, kind: str, query_size: int, key_size: int) -> None:
        super().__init__()
        self.kind = kind
        if kind == "bahdanau":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)
            self.query_proj = nn.Linear(query_size, query_size, bias=False)
            self.energy = nn.Linear(query_size, 1, bias=False)
        elif kind == "general":
            self.key_proj = nn.Linear(key_size, query_size, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """Project the encoder states once per sentence, not once per output step."""
        return memory if self.kind == "dot" else self.key_proj(memory)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # query (B, Q), keys (B, S, Q), memory (B, S, K), mask (B, S) → context (B, K), weights
        if self.kind == "bahdanau":
            scores = self.energy(torch.tanh(keys + self.query_proj(query)[:, None])).squeeze(2)
        else:
            scores = torch.bmm(keys, query[:, :, None]).squeeze(2)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        return torch.bmm(weights[:, None], memory).squeeze(1), weights


class Encoder(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.source_vocab, config.embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = CELLS[config.cell](
            config.embedding_dim, config.encoder_hidden, num_layers=config.encoder_layers,
            batch_first=True, bidirectional=True,
            dropout=config.dropout if config.encoder_layers > 1 else 0.0)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor):
        """→ states (B, S, 2H) and the last forward and backward state of the top layer."""
        packed = pack_padded_sequence(self.dropout(self.embedding(ids)), lengths.cpu(),
                                      batch_first=True, enforce_sorted=False)
        out, final = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        h = final[0] if isinstance(final, tuple) else final
        return out, torch.cat([h[-2], h[-1]], dim=1)


class Decoder(nn.Module):
    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        memory = 2 * config.encoder_hidden
        self.out_size = config.embedding_dim if config.tie_embeddings else config.decoder_hidden
        attending = config.attention != "none"
        feed = self.out_size if attending and config.input_feeding else 0
        self.embedding = nn.Embedding(config.target_vocab, config.embedding_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = CELLS[config.cell](
            config.embedding_dim + feed, config.decoder_hidden, num_layers=config.decoder_layers,
            batch_first=True, dropout=config.dropout if config.decoder_layers > 1 else 0.0)
        self.bridge = nn.Linear(memory, config.decoder_hidden * config.decoder_layers)
        self.attention = (Attention(config.attention, config.decoder_hidden, memory)
                          if attending else None)
        self.combine = nn.Linear(config.decoder_hidden + (memory if attending else 0),
                                 self.out_size, bias=False)
        self.output = nn.Linear(self.out_size, config.target_vocab, bias=False)
        if config.tie_embeddings:
            self.output.weight = self.embedding.weight

    def init_state(self, summary: torch.Tensor, batch: int):
        layers, size = self.config.decoder_layers, self.config.decoder_hidden
        h = torch.tanh(self.bridge(summary)).view(batch, layers, size).transpose(0, 1)
        h = h.contiguous()
        feed = summary.new_zeros(batch, self.out_size)
        if self.config.cell == "lstm":
            return (h, torch.zeros_like(h)), feed
        return h, feed

    def step(self, token: torch.Tensor, state, feed: torch.Tensor, keys, memory, mask):
        """One output step: → attentional vector (B, O), new state, weights (B, S)."""
        x = self.embedding(token)
        if self.attention is not None and self.config.input_feeding:
            x = torch.cat([x, feed], dim=1)
        out, state = self.rnn(self.dropout(x)[:, None], state)
        vector, weights = self._attend(out[:, 0], keys, memory, mask)
        return vector, state, weights

    def _attend(self, h, keys, memory, mask):
        if self.attention is None:
            weights = mask.new_zeros(mask.shape, dtype=memory.dtype)
        else:
            context, weights = self.attention(h, keys, memory, mask)
            h = torch.cat([h, context], dim=1)
        return torch.tanh(self.combine(self.dropout(h))), weights

    def logits(self, vectors: torch.Tensor) -> torch.Tensor:
        # no dropout here: the vector was made from dropped-out inputs already, and a second
        # mask in front of the softmax slowed learning (docs/translation-benchmark.md)
        return self.output(vectors)

    def teacher_forced(self, tgt_in: torch.Tensor, state, feed, keys, memory, mask):
        """Attentional vectors (B, T, O) of every target position, given the gold prefix."""
        if self.attention is not None and self.config.input_feeding:
            vectors = []
            for t in range(tgt_in.shape[1]):  # each step needs the previous step's vector
                feed, state, _ = self.step(tgt_in[:, t], state, feed, keys, memory, mask)
                vectors.append(feed)
            return torch.stack(vectors, dim=1)
        # without input feeding the recurrence sees only the gold tokens: one RNN call runs
        # every step, and the attention of all steps is one batched product
        out, _ = self.rnn(self.dropout(self.embedding(tgt_in)), state)
        b, t, _ = out.shape
        flat = out.reshape(b * t, -1)

        def rep(x):
            return x[:, None].expand(b, t, *x.shape[1:]).reshape(b * t, *x.shape[1:])

        vectors, _ = self._attend(flat, rep(keys), rep(memory), rep(mask))
        return vectors.view(b, t, -1)


class Seq2SeqNet(nn.Module):
    """Encoder + decoder; ``forward`` is the teacher-forced training pass."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        config.check()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot-uniform weights (each recurrent gate's block on its own), zero biases, a zero
        padding row: the initialisation of Joey NMT's recurrent models, under which this network
        learns faster than under PyTorch's per-layer defaults (docs/translation-benchmark.md)."""
        gates = 4 if self.config.cell == "lstm" else 3
        with torch.no_grad():
            for name, p in self.named_parameters():
                if "bias" in name:
                    nn.init.zeros_(p)
                elif ".rnn." in name:  # (gates × hidden, inputs): one block per gate
                    for block in p.chunk(gates, dim=0):
                        nn.init.xavier_uniform_(block)
                elif p.dim() > 1:
                    nn.init.xavier_uniform_(p)
            for embedding in (self.encoder.embedding, self.decoder.embedding):
                embedding.weight[0].zero_()

    def encode(self, src: torch.Tensor, lengths: torch.Tensor):
        """→ memory, attention keys, source mask, initial decoder state and fed vector."""
        memory, summary = self.encoder(src, lengths)
        mask = torch.arange(src.shape[1], device=src.device)[None] < lengths[:, None]
        keys = (self.decoder.attention.keys(memory) if self.decoder.attention is not None
                else memory)
        state, feed = self.decoder.init_state(summary, src.shape[0])
        return memory, keys, mask, state, feed

    def forward(self, src: torch.Tensor, lengths: torch.Tensor, tgt_in: torch.Tensor
                ) -> torch.Tensor:
        memory, keys, mask, state, feed = self.encode(src, lengths)
        vectors = self.decoder.teacher_forced(tgt_in, state, feed, keys, memory, mask)
        return self.decoder.logits(vectors)  # one product for all steps: (B, T, V)
