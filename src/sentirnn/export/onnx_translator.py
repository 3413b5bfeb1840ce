"""exported ONNX graphs → translations: ``OnnxTranslator``, the Translator's API without torch.

It reads a translator directory that ``sentirnn export`` has run on (``encoder.onnx``,
``decoder_step.onnx``, ``export.json``; every file checked against its checksum), prepares
sentences with the torch-free ``TextSide`` and runs the greedy and beam search of
``sentirnn.inference.decode`` — the numpy code the PyTorch path runs too — over onnxruntime,
so both backends follow the same rules (maximum length, candidates, length normalisation).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sentirnn import artifacts
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.export.onnx_predictor import onnx_session, read_onnx, verify_onnx
from sentirnn.inference.decode import Hypothesis, search_beam, search_greedy
from sentirnn.inference.translating import TranslatingMixin
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


class OnnxTranslator(TranslatingMixin):
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
        graphs = [read_onnx(model_dir, config, name) for name in (ENCODER_FILE, DECODER_FILE)]
        for name in SIDE_FILES:
            verify_onnx(model_dir, config, name)
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

    # ---- translate (the rest is TranslatingMixin's) ----------------------------------------
    def _decode(self, src: np.ndarray, lengths: np.ndarray, beam: int) -> list[Hypothesis]:
        stepper = OnnxStepper(self.encoder_, self.decoder_, src, lengths)
        if beam == 1:
            return search_greedy(stepper, lengths, max_ratio=self.max_ratio)
        return search_beam(stepper, lengths, beam=beam, alpha=self.alpha,
                           max_ratio=self.max_ratio)

    def __repr__(self) -> str:
        return (f"OnnxTranslator({self.source_language!r} → {self.target_language!r}, "
                f"beam={self.beam})")
