"""Source ids → target ids: greedy and beam search over a Seq2SeqNet, batched over sentences.

Each sentence may emit at most ``ceil(max_ratio × source length) + max_extra`` tokens (then it
stops, as if ``</s>`` had come). Beam search keeps ``beam`` live hypotheses per sentence; a
hypothesis that ends is set aside with its score divided by ``length ** alpha`` (so long
translations are not beaten by short ones for having more factors below one), and a sentence is
done once ``beam`` hypotheses ended. With ``beam=1`` it makes the same choices as greedy.
Every result carries the attention weights of each output token over the source tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sentirnn.models.seq2seq import Seq2SeqNet
from sentirnn.preprocess.parallel import BOS, EOS


@dataclass
class Hypothesis:
    ids: list[int]  # without </s>
    score: float  # summed log-probability (length-normalised for beam search)
    attention: np.ndarray  # (len(ids) + 1, source length): one row per output incl. </s>


def max_lengths(lengths: torch.Tensor, max_ratio: float, max_extra: int, cap: int
                ) -> torch.Tensor:
    return torch.clamp(torch.ceil(lengths.float() * max_ratio).long() + max_extra, max=cap)


def _select(state, index: torch.Tensor):
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)
    return state.index_select(1, index)


@torch.inference_mode()
def greedy(net: Seq2SeqNet, src: torch.Tensor, lengths: torch.Tensor, max_ratio: float = 2.0,
           max_extra: int = 10, cap: int = 200) -> list[Hypothesis]:
    memory, keys, mask, state, feed = net.encode(src, lengths)
    batch = src.shape[0]
    limit = max_lengths(lengths, max_ratio, max_extra, cap)
    token = torch.full((batch,), BOS, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    score = torch.zeros(batch)
    steps, weights_seen = [], []
    for t in range(int(limit.max())):
        feed, state, weights = net.decoder.step(token, state, feed, keys, memory, mask)
        logp = torch.log_softmax(net.decoder.logits(feed), dim=1)
        token = logp.argmax(dim=1)
        token = torch.where(t + 1 >= limit, torch.full_like(token, EOS), token)
        chosen = logp.gather(1, token[:, None]).squeeze(1)
        score = score + torch.where(done, torch.zeros_like(chosen), chosen)
        steps.append(token)
        weights_seen.append(weights)
        done = done | (token == EOS)
        if bool(done.all()):
            break
    ids = torch.stack(steps, dim=1).tolist()
    attention = torch.stack(weights_seen, dim=1).numpy()
    out = []
    for b in range(batch):
        row = ids[b]
        n = row.index(EOS) if EOS in row else len(row)
        out.append(Hypothesis(row[:n], float(score[b]),
                              attention[b, :n + 1, :int(lengths[b])]))
    return out


@torch.inference_mode()
def beam_search(net: Seq2SeqNet, src: torch.Tensor, lengths: torch.Tensor, beam: int = 5,
                alpha: float = 1.0, max_ratio: float = 2.0, max_extra: int = 10,
                cap: int = 200) -> list[Hypothesis]:
    memory, keys, mask, state, feed = net.encode(src, lengths)
    batch, k = src.shape[0], beam
    # every sentence's encoder output is repeated for its k beams: row b * k + j
    rows = torch.arange(batch).repeat_interleave(k)
    memory, keys, mask = memory[rows], keys[rows], mask[rows]
    state, feed = _select(state, rows), feed[rows]
    limit = max_lengths(lengths, max_ratio, max_extra, cap)
    # at the start only the first beam of a sentence is live (the others are copies of it)
    scores = torch.full((batch, k), float("-inf"))
    scores[:, 0] = 0.0
    token = torch.full((batch * k,), BOS, dtype=torch.long)
    history = torch.zeros((batch * k, 0), dtype=torch.long)
    attn = torch.zeros((batch * k, 0, src.shape[1]))
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    offsets = (torch.arange(batch) * k)[:, None]
    for t in range(int(limit.max())):
        feed, state, weights = net.decoder.step(token, state, feed, keys, memory, mask)
        logp = torch.log_softmax(net.decoder.logits(feed), dim=1)
        vocab = logp.shape[1]
        last = (t + 1 >= limit)[:, None, None]  # past its limit a sentence may only end
        logp = logp.view(batch, k, vocab)
        logp = torch.where(last & (torch.arange(vocab) != EOS), float("-inf"), logp)
        total = (scores[:, :, None] + logp).view(batch, k * vocab)
        cand_score, cand = total.topk(2 * k, dim=1)
        cand_beam, cand_token = cand // vocab, cand % vocab
        attn_all = torch.cat([attn, weights[:, None]], dim=1)
        ended = (cand_token == EOS) & (torch.arange(2 * k) < k) & torch.isfinite(cand_score)
        for b, j in ended.nonzero().tolist():
            if len(finished[b]) >= k:
                continue
            row = int(offsets[b, 0] + cand_beam[b, j])
            n = t + 1  # outputs so far, </s> included
            finished[b].append(Hypothesis(
                history[row].tolist(), float(cand_score[b, j]) / n ** alpha,
                attn_all[row, :, :int(lengths[b])].numpy()))
        # the best k candidates that go on (at most k of the 2k end, so k always remain)
        going = torch.where(cand_token == EOS, float("-inf"), cand_score)
        keep_score, keep = going.topk(k, dim=1)
        parent = (offsets + cand_beam.gather(1, keep)).view(-1)
        token = cand_token.gather(1, keep).view(-1)
        scores = keep_score
        history = torch.cat([history[parent], token[:, None]], dim=1)
        attn = attn_all[parent]
        state, feed = _select(state, parent), feed[parent]
        if all(len(f) >= k for f in finished):
            break
    out = []
    for b in range(batch):
        if not finished[b]:  # cannot happen with finite scores; guards an all -inf row
            finished[b].append(Hypothesis([], -math.inf, np.zeros((1, int(lengths[b])))))
        out.append(max(finished[b], key=lambda h: h.score))
    return out
