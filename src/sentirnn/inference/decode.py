"""Source ids → target ids: greedy and beam search, batched over sentences.

Each sentence may emit at most ``ceil(max_ratio × source length) + max_extra`` tokens (then it
stops, as if ``</s>`` had come). Beam search keeps ``beam`` live hypotheses per sentence; a
hypothesis that ends is set aside with its score divided by ``length ** alpha`` (so long
translations are not beaten by short ones for having more factors below one), and a sentence is
done once ``beam`` hypotheses ended. With ``beam=1`` it makes the same choices as greedy.
Every result carries the attention weights of each output token over the source tokens.

The search rules are written once, in numpy, over a :class:`Stepper` — a decoder that turns
the previous tokens into next-token log-probabilities. ``greedy`` and ``beam_search`` run them
on a PyTorch ``Seq2SeqNet``; ``OnnxTranslator`` runs the same functions on onnxruntime, which
is why this module imports torch only inside the PyTorch entry points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from sentirnn.preprocess.parallel import BOS, EOS

if TYPE_CHECKING:
    import torch

    from sentirnn.models.seq2seq import Seq2SeqNet

NEG_INF = np.float32(-np.inf)


@dataclass
class Hypothesis:
    ids: list[int]  # without </s>
    score: float  # summed log-probability (length-normalised for beam search)
    attention: np.ndarray  # (len(ids) + 1, source length): one row per output incl. </s>


class Stepper(Protocol):
    """A decoder over a batch of encoded sentences, as the search sees it (numpy in and out).

    Row ``i`` of every array is one hypothesis; at the start row ``b`` is sentence ``b``.
    """

    def step(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Previous tokens (N,) → next-token log-probabilities (N, V) float32 and attention
        weights (N, S); the decoder state moves one step on."""

    def expand(self, rows: np.ndarray) -> None:
        """Rebuild the batch from these rows (encoder outputs and state), repeats allowed."""

    def reorder(self, rows: np.ndarray) -> None:
        """Keep these rows of the decoder state; each stays within its own sentence, so the
        encoder outputs need no change."""


def max_lengths(lengths, max_ratio: float, max_extra: int, cap: int) -> np.ndarray:
    """Most outputs (``</s>`` included) of each sentence, from its source length."""
    # float32, as the product was computed in torch before the rules moved to numpy
    scaled = np.ceil(np.asarray(lengths).astype(np.float32) * np.float32(max_ratio))
    return np.minimum(scaled.astype(np.int64) + max_extra, cap)


def search_greedy(stepper: Stepper, lengths, max_ratio: float = 2.0, max_extra: int = 10,
                  cap: int = 200) -> list[Hypothesis]:
    """The most likely token at every step, for every sentence at once."""
    lengths = np.asarray(lengths, dtype=np.int64)
    batch = len(lengths)
    limit = max_lengths(lengths, max_ratio, max_extra, cap)
    token = np.full(batch, BOS, dtype=np.int64)
    done = np.zeros(batch, dtype=bool)
    score = np.zeros(batch, dtype=np.float32)
    steps, weights_seen = [], []
    for t in range(int(limit.max())):
        logp, weights = stepper.step(token)
        token = np.where(t + 1 >= limit, EOS, logp.argmax(axis=1))
        chosen = logp[np.arange(batch), token]
        score = score + np.where(done, np.float32(0), chosen)
        steps.append(token)
        weights_seen.append(weights)
        done = done | (token == EOS)
        if done.all():
            break
    ids = np.stack(steps, axis=1).tolist()
    attention = np.stack(weights_seen, axis=1)  # (B, T, S)
    out = []
    for b in range(batch):
        row = ids[b]
        n = row.index(EOS) if EOS in row else len(row)
        out.append(Hypothesis(row[:n], float(score[b]), attention[b, :n + 1, :lengths[b]]))
    return out


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest values of each row, largest first (as torch.topk)."""
    if k < values.shape[1]:
        part = np.argpartition(values, -k, axis=1)[:, -k:]
    else:
        part = np.broadcast_to(np.arange(values.shape[1]), values.shape)
    order = np.argsort(-np.take_along_axis(values, part, 1), axis=1, kind="stable")
    return np.take_along_axis(part, order, 1)


def search_beam(stepper: Stepper, lengths, beam: int = 5, alpha: float = 1.0,
                max_ratio: float = 2.0, max_extra: int = 10, cap: int = 200,
                top: Callable[[np.ndarray, int], np.ndarray] = top_k) -> list[Hypothesis]:
    """Beam search for every sentence at once: ``beam`` rows per sentence.

    ``top`` picks the best candidates (indices of the k largest of each row, largest first);
    any exact implementation gives the same translations up to ties between equal scores.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    batch, k = len(lengths), beam
    # every sentence's encoder output is repeated for its k beams: row b * k + j
    stepper.expand(np.repeat(np.arange(batch), k))
    limit = max_lengths(lengths, max_ratio, max_extra, cap)
    # at the start only the first beam of a sentence is live (the others are copies of it)
    scores = np.full((batch, k), NEG_INF, dtype=np.float32)
    scores[:, 0] = 0.0
    token = np.full(batch * k, BOS, dtype=np.int64)
    history = np.zeros((batch * k, 0), dtype=np.int64)
    attn = None  # (B·k, t, S) once the first step gave the source width
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    offsets = (np.arange(batch) * k)[:, None]
    for t in range(int(limit.max())):
        logp, weights = stepper.step(token)
        vocab = logp.shape[1]
        last = (t + 1 >= limit)[:, None, None]  # past its limit a sentence may only end
        logp = np.where(last & (np.arange(vocab) != EOS), NEG_INF,
                        logp.reshape(batch, k, vocab))
        total = (scores[:, :, None] + logp).reshape(batch, k * vocab)
        cand = top(total, 2 * k)
        cand_score = np.take_along_axis(total, cand, 1)
        cand_beam, cand_token = cand // vocab, cand % vocab
        attn_all = (weights[:, None] if attn is None
                    else np.concatenate([attn, weights[:, None]], axis=1))
        ended = (cand_token == EOS) & (np.arange(2 * k) < k) & np.isfinite(cand_score)
        for b, j in np.argwhere(ended).tolist():
            if len(finished[b]) >= k:
                continue
            row = int(offsets[b, 0] + cand_beam[b, j])
            n = t + 1  # outputs so far, </s> included
            finished[b].append(Hypothesis(
                history[row].tolist(), float(cand_score[b, j]) / n ** alpha,
                attn_all[row, :, :lengths[b]]))
        # the best k candidates that go on (at most k of the 2k end, so k always remain)
        going = np.where(cand_token == EOS, NEG_INF, cand_score)
        keep = top(going, k)
        parent = (offsets + np.take_along_axis(cand_beam, keep, 1)).reshape(-1)
        token = np.take_along_axis(cand_token, keep, 1).reshape(-1)
        scores = np.take_along_axis(going, keep, 1)
        history = np.concatenate([history[parent], token[:, None]], axis=1)
        attn = attn_all[parent]
        stepper.reorder(parent)
        if all(len(f) >= k for f in finished):
            break
    out = []
    for b in range(batch):
        if not finished[b]:  # cannot happen with finite scores; guards an all -inf row
            finished[b].append(Hypothesis([], -math.inf, np.zeros((1, int(lengths[b])))))
        out.append(max(finished[b], key=lambda h: h.score))
    return out


class TorchStepper:
    """:class:`Stepper` over a PyTorch ``Seq2SeqNet`` (call inside ``torch.inference_mode``)."""

    def __init__(self, net: Seq2SeqNet, src: torch.Tensor, lengths: torch.Tensor) -> None:
        self.net = net
        self.memory, self.keys, self.mask, self.state, self.feed = net.encode(src, lengths)

    def step(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch  # start-up: the ONNX translator runs this module without torch

        token = torch.from_numpy(tokens).to(self.feed.device)
        self.feed, self.state, weights = self.net.decoder.step(
            token, self.state, self.feed, self.keys, self.memory, self.mask)
        logp = torch.log_softmax(self.net.decoder.logits(self.feed), dim=1)
        return logp.cpu().numpy(), weights.cpu().numpy()

    def expand(self, rows: np.ndarray) -> None:
        import torch  # start-up: the ONNX translator runs this module without torch

        index = torch.from_numpy(rows).to(self.feed.device)
        self.memory, self.keys, self.mask = self.memory[index], self.keys[index], self.mask[index]
        self.reorder(rows)

    def reorder(self, rows: np.ndarray) -> None:
        import torch  # start-up: the ONNX translator runs this module without torch

        index = torch.from_numpy(rows).to(self.feed.device)
        if isinstance(self.state, tuple):
            self.state = tuple(s.index_select(1, index) for s in self.state)
        else:
            self.state = self.state.index_select(1, index)
        self.feed = self.feed[index]


def greedy(net: Seq2SeqNet, src: torch.Tensor, lengths: torch.Tensor, max_ratio: float = 2.0,
           max_extra: int = 10, cap: int = 200) -> list[Hypothesis]:
    """Greedy decoding of a padded batch of source ids (B, S) with their lengths (B,)."""
    import torch  # start-up: the ONNX translator runs this module without torch

    with torch.inference_mode():
        return search_greedy(TorchStepper(net, src, lengths), lengths.cpu().numpy(),
                             max_ratio, max_extra, cap)


def beam_search(net: Seq2SeqNet, src: torch.Tensor, lengths: torch.Tensor, beam: int = 5,
                alpha: float = 1.0, max_ratio: float = 2.0, max_extra: int = 10,
                cap: int = 200) -> list[Hypothesis]:
    """Beam search over a padded batch of source ids (B, S) with their lengths (B,)."""
    import torch  # start-up: the ONNX translator runs this module without torch

    with torch.inference_mode():
        return search_beam(TorchStepper(net, src, lengths), lengths.cpu().numpy(), beam,
                           alpha, max_ratio, max_extra, cap, top=_torch_top_k)


def _torch_top_k(values: np.ndarray, k: int) -> np.ndarray:
    # torch.topk is several times faster than numpy's argpartition on the (B, beam × V)
    # candidate scores, the largest array the search handles
    import torch  # start-up: the ONNX translator runs this module without torch

    return torch.from_numpy(values).topk(k, dim=1).indices.numpy()
