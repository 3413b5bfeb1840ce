"""exported ONNX graphs → translations: ``OnnxTranslator``, the Translator's API without torch.

It reads a translator directory that ``sentirnn export`` has run on (``encoder.onnx``,
``decoder_step.onnx``, ``export.json``; every file checked against its checksum), prepares
sentences with the torch-free ``TextSide`` and runs the greedy and beam search of
``sentirnn.inference.decode`` — the numpy code the PyTorch path runs too — over onnxruntime,
so both backends follow the same rules (maximum length, candidates, length normalisation).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sentirnn import artifacts
from sentirnn.errors import ArtifactError, ConfigError, DataError
from sentirnn.export.onnx_predictor import _read_onnx, _verify, onnx_session
from sentirnn.inference.decode import Hypothesis, search_beam, search_greedy
from sentirnn.inference.mt_metrics import corpus_scores, group_references
from sentirnn.preprocess.batching import pad
from sentirnn.preprocess.parallel import TextSide

log = logging.getLogger("sentirnn")
FORMAT = "sentirnn.translator"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder_step.onnx"
SIDE_FILES = ("source.json", "target.json")


class OnnxStepper:
    """The search's :class:`~sentirnn.inference.decode.Stepper` over the two graphs."""

    def __init__(self, encoder, decoder, src: np.ndarray, lengths: np.ndarray) -> None:
        names = [o.name for o in encoder.get_outputs()]
        out = dict(zip(names, encoder.run(None, {"src": src, "lengths": lengths})))
        self.decoder = decoder
        self.inputs = [i.name for i in decoder.get_inputs()]
        self.outputs = [o.name for o in decoder.get_outputs()]
        self.state_names = [n for n in ("h", "c") if n in out]
        self.source = {n: out[n] for n in ("memory", "keys", "mask")}
        self.state = [out[n] for n in self.state_names]  # each (layers, batch, hidden)
        self.feed = out["feed"]  # (batch, vector)

    def encoded(self) -> list[np.ndarray]:
        """memory, keys, mask, state and feed, in the encoder graph's output order."""
        return [self.source["memory"], self.source["keys"], self.source["mask"], *self.state,
                self.feed]

    def step(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        values = {"token": tokens, "feed": self.feed, **self.source,
                  **dict(zip(self.state_names, self.state))}
        out = dict(zip(self.outputs,
                       self.decoder.run(None, {n: values[n] for n in self.inputs})))
        self.feed = out["vector"]
        self.state = [out[f"next_{n}"] for n in self.state_names]
        return out["logp"], out["weights"]

    def expand(self, rows: np.ndarray) -> None:
        self.source = {n: v[rows] for n, v in self.source.items()}
        self.reorder(rows)

    def reorder(self, rows: np.ndarray) -> None:
        self.state = [s[:, rows] for s in self.state]
        self.feed = self.feed[rows]


class OnnxTranslator:
    """A translator served by onnxruntime: ``translate``, ``translate_with_attention`` and
    ``score`` as on :class:`~sentirnn.estimators.translator.Translator`, without torch.

    Build one with :meth:`OnnxTranslator.load` on a translator directory that
    ``sentirnn export`` (or ``export_translator``) has run on.

    Examples
    --------
    >>> mt = OnnxTranslator.load("models/en-zh")  # doctest: +SKIP
    >>> mt.translate(["I love you."], beam=5)  # doctest: +SKIP
    ['我爱你。']
    """

    def __init__(self, encoder, decoder, source: TextSide, target: TextSide, params: dict
                 ) -> None:
        self.encoder_, self.decoder_ = encoder, decoder
        self.source_, self.target_ = source, target
        self.source_language = params["source_language"]
        self.target_language = params["target_language"]
        self.max_source_tokens = int(params["max_source_tokens"])
        self.beam = int(params["beam"])
        self.alpha = float(params["alpha"])
        self.max_ratio = float(params["max_ratio"])

    @classmethod
    def load(cls, model_dir, num_threads: int | None = None) -> OnnxTranslator:
        """Load an exported translator directory (checksums verified; torch never imported).

        Parameters
        ----------
        model_dir : path of a translator directory with ``encoder.onnx``,
            ``decoder_step.onnx`` and ``export.json``.
        num_threads : onnxruntime threads per call; None = onnxruntime's default (all cores).
        """
        if num_threads is not None and int(num_threads) < 1:
            raise ConfigError(f"num_threads must be >= 1 or None, not {num_threads!r}")
        model_dir = Path(model_dir)
        config = artifacts.read_config(model_dir, FORMAT)
        graphs = [_read_onnx(model_dir, config, name) for name in (ENCODER_FILE, DECODER_FILE)]
        for name in SIDE_FILES:
            _verify(model_dir, config, name)
        try:
            source, target = (TextSide.from_dict(artifacts.read_json_file(model_dir, name))
                              for name in SIDE_FILES)
            params = dict(config["params"])
            model = cls(*(onnx_session(g, num_threads or 0) for g in graphs), source, target,
                        params)
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{model_dir}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        return model

    # ---- translate ------------------------------------------------------------------------
    def _source_ids(self, texts: Sequence[str]) -> list[list[int]]:
        ids = self.source_.encode(texts)
        long = sum(len(row) > self.max_source_tokens for row in ids)
        if long:
            log.warning("%d sentence(s) longer than %d tokens were cut to that length",
                        long, self.max_source_tokens)
        return [row[:self.max_source_tokens] for row in ids]

    def _translate(self, texts: Sequence[str], beam: int | None = None, batch_size: int = 64
                   ) -> list[tuple[str, Hypothesis | None]]:
        """As ``Translator._translate``: sorted by length, batched; empty sources → ""."""
        beam = self.beam if beam is None else int(beam)
        if beam < 1:
            raise ConfigError(f"beam must be >= 1, not {beam}.")
        ids = self._source_ids(texts)
        order = sorted((i for i in range(len(ids)) if ids[i]), key=lambda i: len(ids[i]))
        out: list[tuple[str, Hypothesis | None]] = [("", None)] * len(ids)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            src, lengths = pad([ids[i] for i in rows])
            stepper = OnnxStepper(self.encoder_, self.decoder_, src, lengths)
            if beam == 1:
                hyps = search_greedy(stepper, lengths, max_ratio=self.max_ratio)
            else:
                hyps = search_beam(stepper, lengths, beam=beam, alpha=self.alpha,
                                   max_ratio=self.max_ratio)
            for i, hyp in zip(rows, hyps):
                out[i] = (self.target_.decode(hyp.ids), hyp)
        return out

    def translate(self, texts: Sequence[str] | str, beam: int | None = None,
                  batch_size: int = 64) -> list[str]:
        """Translate sentences; an empty sentence gives an empty string."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return [t for t, _ in self._translate(texts, beam, batch_size)]

    def translate_with_attention(self, texts: Sequence[str], beam: int | None = None
                                 ) -> list[dict]:
        """Each translation with its source and output tokens and the attention weights
        (one row per output token, ``</s>`` included, one column per source token; none for
        an empty source)."""
        texts = list(texts)
        results = []
        for text, (translation, hyp) in zip(texts, self._translate(texts, beam)):
            source = self.source_.tokenize([text])[0][:self.max_source_tokens]
            output = [self.target_.vocab.itos[i] for i in hyp.ids] if hyp else []
            weights = hyp.attention if hyp else np.zeros((0, len(source)))
            results.append({"source": text, "translation": translation,
                            "source_tokens": source,
                            "output_tokens": output + ["</s>"] if hyp else [],
                            "attention": weights.round(4).tolist()})
        return results

    def plot_attention(self, texts: Sequence[str], path, beam: int | None = None) -> None:
        """Draw the attention of each text's translation as a heat-map PNG."""
        from sentirnn.inference.mt_plots import plot_attention

        examples = [(r["source_tokens"], r["output_tokens"],
                     np.asarray(r["attention"]).reshape(len(r["output_tokens"]),
                                                        len(r["source_tokens"])))
                    for r in self.translate_with_attention(texts, beam)]
        plot_attention(examples, path)

    def score(self, sources: Sequence[str], references: Sequence[str],
              beam: int | None = None) -> dict:
        """BLEU and chrF; rows sharing a source are that source's alternative references."""
        if isinstance(sources, str) or isinstance(references, str):
            raise DataError("the test sources and references must be lists of sentences, "
                            "not one string.")
        sources, references = list(sources), list(references)
        if len(sources) != len(references):
            raise DataError(f"{len(sources)} test sources but {len(references)} references: "
                            "give one reference per source.")
        if not any(_text(s) and _text(r) for s, r in zip(sources, references)):
            raise DataError("the test data has no pair with text on both sides.")
        distinct, refs = group_references([str(s) for s in sources],
                                          [str(r) for r in references])
        refs = [self.target_.clean(r) for r in refs]  # simplified Chinese, like the output
        return corpus_scores(self.translate(distinct, beam), refs, self.target_language)

    def __repr__(self) -> str:
        return (f"OnnxTranslator({self.source_language!r} → {self.target_language!r}, "
                f"beam={self.beam})")


def _text(value) -> bool:
    return not (value is None or (isinstance(value, float) and math.isnan(value))
                or not str(value).strip())
