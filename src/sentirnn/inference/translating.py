"""Sentences → translations, for any decoder: what Translator and OnnxTranslator share.

A class that mixes in :class:`TranslatingMixin` has ``source_``/``target_`` text sides,
``beam``, ``alpha``, ``max_ratio``, ``max_source_tokens`` and ``target_language``, and decodes
one padded batch of source ids in :meth:`_decode` (PyTorch or onnxruntime); cutting, sorting,
batching, detokenizing, attention rows and scoring are written here once. Imports no torch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from sentirnn.errors import ConfigError, DataError
from sentirnn.inference.decode import Hypothesis
from sentirnn.inference.mt_metrics import corpus_scores, group_references
from sentirnn.preprocess.batching import pad

log = logging.getLogger("sentirnn")


def _empty(s) -> bool:
    return s is None or (isinstance(s, float) and math.isnan(s)) or not str(s).strip()


def check_pairs(sources, targets, what: str, skip: bool = True) -> tuple[list[str], list[str]]:
    """Check a parallel corpus; with ``skip``, drop pairs with an empty side (logged)."""
    if isinstance(sources, str) or isinstance(targets, str):
        raise DataError(f"the {what} sources and targets must be lists of sentences, "
                        "not one string.")
    sources, targets = list(sources), list(targets)
    if len(sources) != len(targets):
        raise DataError(f"{len(sources)} {what} sources but {len(targets)} targets: give one "
                        "target per source.")
    keep = [i for i in range(len(sources)) if not (_empty(sources[i]) or _empty(targets[i]))]
    if not keep:
        raise DataError(f"the {what} data has no pair with text on both sides.")
    if not skip:
        keep = list(range(len(sources)))
    elif len(keep) < len(sources):
        log.warning("%d %s pair(s) with an empty side were skipped", len(sources) - len(keep),
                    what)
    return [str(sources[i]) for i in keep], [str(targets[i]) for i in keep]


class TranslatingMixin:
    """translate / translate_with_attention / plot_attention / score over ``_decode``."""

    def _check_fitted(self, method: str) -> None:  # a loaded predictor is always ready
        pass

    def _decode(self, src: np.ndarray, lengths: np.ndarray, beam: int) -> list[Hypothesis]:
        raise NotImplementedError

    def _source_ids(self, texts: Sequence[str], warn: bool = True) -> list[list[int]]:
        ids = self.source_.encode(texts)
        long = sum(len(row) > self.max_source_tokens for row in ids)
        if long and warn:
            log.warning("%d sentence(s) longer than %d tokens were cut to that length",
                        long, self.max_source_tokens)
        return [row[:self.max_source_tokens] for row in ids]

    def _translate(self, texts: Sequence[str], beam: int | None = None, batch_size: int = 64
                   ) -> list[tuple[str, Hypothesis | None]]:
        """(translation, hypothesis) per text, in order; sorted by length and batched inside;
        an empty source gives ("", None)."""
        beam = self.beam if beam is None else int(beam)
        if beam < 1:
            raise ConfigError(f"beam must be >= 1, not {beam}.")
        ids = self._source_ids(texts)
        order = sorted((i for i in range(len(ids)) if ids[i]), key=lambda i: len(ids[i]))
        out: list[tuple[str, Hypothesis | None]] = [("", None)] * len(ids)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            src, lengths = pad([ids[i] for i in rows])
            for i, hyp in zip(rows, self._decode(src, lengths, beam)):
                out[i] = (self.target_.decode(hyp.ids), hyp)
        return out

    def translate(self, texts: Sequence[str] | str, beam: int | None = None,
                  batch_size: int = 64) -> list[str]:
        """Translate sentences; an empty sentence gives an empty string."""
        self._check_fitted("translate")
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [t for t, _ in self._translate(texts, beam, batch_size)]

    def translate_with_attention(self, texts: Sequence[str], beam: int | None = None
                                 ) -> list[dict]:
        """Each translation with its source and output tokens and the attention weights
        (one row per output token, ``</s>`` included, one column per source token; no
        tokens for an empty source)."""
        self._check_fitted("translate_with_attention")
        texts = list(texts)
        sources = [t[:self.max_source_tokens] for t in self.source_.tokenize(texts)]
        itos = self.target_.vocab.itos
        results = []
        for text, source, (translation, hyp) in zip(texts, sources,
                                                    self._translate(texts, beam)):
            output = [itos[i] for i in hyp.ids] + ["</s>"] if hyp else []
            weights = hyp.attention if hyp else np.zeros((0, len(source)))
            results.append({"source": text, "translation": translation,
                            "source_tokens": source, "output_tokens": output,
                            "attention": weights.round(4).tolist()})
        return results

    def plot_attention(self, texts: Sequence[str], path, beam: int | None = None) -> None:
        """Draw the attention of each text's translation as a heat-map PNG."""
        # start-up: matplotlib and scikit-learn (via metrics) load only to draw
        from sentirnn.inference.mt_plots import plot_attention

        plot_attention([(r["source_tokens"], r["output_tokens"],
                         np.asarray(r["attention"]).reshape(len(r["output_tokens"]),
                                                            len(r["source_tokens"])))
                        for r in self.translate_with_attention(texts, beam)], path)

    def score(self, sources: Sequence[str], references: Sequence[str],
              beam: int | None = None) -> dict:
        """BLEU and chrF; rows sharing a source are that source's alternative references."""
        self._check_fitted("score")
        sources, references = check_pairs(sources, references, "test", skip=False)
        distinct, refs = group_references(sources, references)
        refs = [self.target_.clean(r) for r in refs]  # simplified Chinese, like the output
        return corpus_scores(self.translate(distinct, beam), refs, self.target_language)
