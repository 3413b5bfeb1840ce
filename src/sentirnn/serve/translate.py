"""translations (+ attention) over HTTP: the app ``sentirnn serve`` builds for a translator.

``create_app`` hands a directory whose config.json says "sentirnn.translator" to
:func:`create_translator_app`: ``POST /v1/translate`` answers translations and, on request,
each text's source tokens, output tokens and attention matrix (what
``Translator.translate_with_attention`` returns), and ``GET /`` serves ``static/translate.html``,
which draws that matrix as a heat-map. The limits, error answers and ``/healthz`` are the
classifier's (``sentirnn.serve.base``); ``/v1/predict`` and ``/v1/explain`` answer 404 with a
message saying that this model translates.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from sentirnn import __version__
from sentirnn.serve.base import base_app, check_texts, read_metrics, refuse_paths

log = logging.getLogger("sentirnn")
TRANSLATOR = "sentirnn.translator"  # the config.json format served here
# Beam search costs about beam × greedy's work per text: the cap keeps one request from
# asking for an unbounded amount of it, as max_texts and max_chars bound the texts.
MAX_BEAM = 16


# ---- request and response bodies ---------------------------------------------------------------
class TranslateRequest(BaseModel):
    """Texts to translate; the per-request limits are listed on ``GET /v1/model``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(..., description="Sentences to translate, one translation each; "
                                              "an empty text gets an empty translation.",
                             examples=[["i see two cats .", "where is the station ?"]])
    beam: int | None = Field(None, ge=1, le=MAX_BEAM,
                             description="Beam width (1 = greedy); the model's own by default.")
    attention: bool = Field(False, description="Also answer each text's tokens and attention "
                                               "weights (in 'alignments').")


class Alignment(BaseModel):
    source_tokens: list[str] = Field(..., description="The source as the model reads it.")
    output_tokens: list[str] = Field(..., description="The tokens written, '</s>' last "
                                                      "(none for an empty text).")
    attention: list[list[float]] = Field(..., description="One row per output token, one "
                                                          "column per source token; rows sum "
                                                          "to 1.")


class TranslateResponse(BaseModel):
    translations: list[str]
    alignments: list[Alignment] | None = Field(
        None, description="One per text when the request set 'attention', else null.")
    beam: int = Field(..., description="The beam width used.")
    model: str = Field(..., description="Name of the served model directory.")


class TranslatorInfo(BaseModel):
    model: str
    kind: Literal["translator"] = "translator"
    source_language: str
    target_language: str
    beam: int = Field(..., description="Beam width used when a request gives none.")
    architecture: dict[str, Any]
    params: dict[str, Any]
    train_summary: dict[str, Any]
    metrics: dict[str, Any] | None
    sentirnn_version: str
    backend: Literal["torch"] = "torch"
    threads: int = Field(..., description="Model calls that run side by side, one core each.")
    limits: dict[str, int]


# ---- the app -----------------------------------------------------------------------------------
def create_translator_app(model_dir: Path, config: dict, limits: dict[str, int],
                          num_threads: int | None = None) -> FastAPI:
    """The app serving a translation model directory (``config`` is its config.json).

    ``limits`` holds max_texts, max_chars and max_body_bytes, as checked by ``create_app``;
    ``num_threads`` single-threaded model calls run side by side (None = one per core), a
    request's texts split across them. Use ``sentirnn.serve.app.create_app``, which calls this
    for a translator's directory.
    """
    # start-up: torch loads only when a translator is served
    from sentirnn.estimators.translator import Translator
    from sentirnn.inference.workers import single_threaded_pool

    translator = Translator.load(model_dir)
    workers = num_threads or os.cpu_count() or 1
    pool = single_threaded_pool(workers)
    name = model_dir.resolve().name
    max_texts, max_chars = limits["max_texts"], limits["max_chars"]
    info = TranslatorInfo(model=name, source_language=translator.source_language,
                          target_language=translator.target_language, beam=translator.beam,
                          architecture=config.get("model", {}), params=config.get("params", {}),
                          train_summary=config.get("train_summary", {}),
                          metrics=read_metrics(model_dir), sentirnn_version=__version__,
                          threads=workers, limits={**limits, "max_beam": MAX_BEAM})
    log.info("serving %s (translation %s → %s)", model_dir, info.source_language,
             info.target_language)

    app = base_app(f"Translation ({info.source_language} → {info.target_language}) with "
                   f"model **{name}**.", limits["max_body_bytes"], "translate.html")
    refuse_paths(app, ("/v1/predict", "/v1/explain"),
                 f"this server's model ({name}) translates and does not classify: send "
                 "{\"texts\": [...]} to POST /v1/translate")

    @app.get("/v1/model", response_model=TranslatorInfo)
    def model_info() -> TranslatorInfo:
        """Languages, architecture, hyper-parameters, metrics and limits of the served model."""
        return info

    @app.post("/v1/translate", response_model=TranslateResponse)
    def translate(request: TranslateRequest) -> TranslateResponse:
        """The translation of each text, and on request its tokens and attention weights."""
        texts = request.texts
        check_texts(texts, max_texts, max_chars)
        beam = info.beam if request.beam is None else request.beam
        call = translator.translate_with_attention if request.attention else translator.translate
        size = -(-len(texts) // workers)  # ceil: one contiguous share per worker thread
        futures = [pool.submit(call, texts[i:i + size], beam)
                   for i in range(0, len(texts), max(1, size))]
        results = [r for future in futures for r in future.result()]
        if not request.attention:
            return TranslateResponse(translations=results, beam=beam, model=name)
        return TranslateResponse(translations=[r["translation"] for r in results],
                                 alignments=[_alignment(r) for r in results], beam=beam,
                                 model=name)

    return app


def _alignment(result: dict) -> Alignment:
    if not result["source_tokens"]:
        # Nothing was decoded for an empty text: no output token either (the library lists
        # '</s>' against an attention matrix with no row).
        return Alignment(source_tokens=[], output_tokens=[], attention=[])
    return Alignment(source_tokens=result["source_tokens"],
                     output_tokens=result["output_tokens"],
                     attention=[[round(float(w), 4) for w in row]
                                for row in result["attention"]])
