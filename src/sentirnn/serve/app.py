"""labels + probabilities over HTTP: the FastAPI app behind ``sentirnn serve``.

A translation model directory gets the app of ``sentirnn.serve.translate`` instead
(``POST /v1/translate``); what both share is in ``sentirnn.serve.base``.

One loaded classifier answers ``POST /v1/predict`` (labels and probabilities for a batch of
texts), ``POST /v1/explain`` (signed per-token scores), ``GET /v1/model`` (what is being
served) and ``GET /healthz``, and ``GET /`` serves a small page (``static/index.html``) that
calls them. Every request size is bounded (texts per request, characters per text, body
bytes) so that one client cannot make the server allocate without limit. Model calls run in
FastAPI's threadpool (plain ``def`` endpoints): the event loop stays free for other clients
while a batch is scored.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sentirnn import __version__, artifacts
from sentirnn.config import check_choice
from sentirnn.errors import ConfigError
from sentirnn.export.backends import BACKENDS as RUNTIMES
from sentirnn.export.backends import load_classifier, resolve
from sentirnn.serve.base import base_app, check_length, check_texts, read_metrics, refuse_paths
from sentirnn.serve.translate import TRANSLATOR, create_translator_app

log = logging.getLogger("sentirnn")
BACKENDS = (*RUNTIMES, "auto")
# Environment variables read by ``app_from_env`` (uvicorn's worker processes build their app
# from an import string, so the CLI hands its options over through the environment).
ENV = {"model_dir": "SENTIRNN_MODEL_DIR", "backend": "SENTIRNN_BACKEND",
       "max_texts": "SENTIRNN_MAX_TEXTS", "max_chars": "SENTIRNN_MAX_CHARS",
       "max_body_bytes": "SENTIRNN_MAX_BODY_BYTES", "num_threads": "SENTIRNN_NUM_THREADS"}


# ---- request and response bodies ---------------------------------------------------------------
class PredictRequest(BaseModel):
    """Texts to classify; the per-request limits are listed on ``GET /v1/model``."""

    model_config = ConfigDict(extra="forbid")
    texts: list[str] = Field(..., description="Texts to classify, one prediction each.",
                             examples=[["The food was great", "Delivery was awful"]])


class ExplainRequest(BaseModel):
    """One text whose prediction should be explained token by token."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(..., description="The text to explain.",
                      examples=["The food was great but delivery was slow"])


class Prediction(BaseModel):
    label: str = Field(..., description="The most probable label.")
    probabilities: dict[str, float] = Field(..., description="Probability of every label.")


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    model: str = Field(..., description="Name of the served model directory.")


class ModelInfo(BaseModel):
    model: str
    kind: Literal["classifier"] = Field("classifier", description="What the model does: "
                                        "a translator's server answers 'translator'.")
    labels: list[str]
    architecture: dict[str, Any]
    params: dict[str, Any]
    train_summary: dict[str, Any]
    metrics: dict[str, Any] | None
    sentirnn_version: str
    backend: str
    threads: int = Field(..., description="Model calls that run side by side, one core each.")
    limits: dict[str, int]


# ---- the app -----------------------------------------------------------------------------------
def create_app(model_dir, *, backend: str = "torch", max_texts: int = 256,
               max_chars: int = 5000, max_body_bytes: int = 1_000_000,
               num_threads: int | None = None) -> FastAPI:
    """Load a model directory and build the HTTP app that serves it.

    The model is loaded here, not on the first request, so a missing or damaged model
    directory fails before a server starts listening.

    Parameters
    ----------
    model_dir : str or Path
        A directory written by ``SentimentClassifier.save`` or ``sentirnn train``, or a
        translation model (``Translator.save``, ``sentirnn mt train``): that one is served
        by ``sentirnn.serve.translate`` (torch backend only).
    backend : {"torch", "onnx", "onnx-int8", "openvino", "openvino-bf16", "auto"}
        "onnx"/"onnx-int8" score with onnxruntime, "openvino"/"openvino-bf16" with OpenVINO
        (``sentirnn export`` must have run); they cannot explain. "auto" takes the fastest
        this directory and machine allow (``sentirnn.export.backends.AUTO_ORDER``), torch
        when nothing was exported.
    max_texts : int
        Most texts in one ``/v1/predict`` (or ``/v1/translate``) request.
    max_chars : int
        Most characters in one text.
    max_body_bytes : int
        Largest request body accepted, in bytes.
    num_threads : int, optional
        Cores for the model: that many single-threaded calls side by side, for every
        backend (a request's texts are split across them, see ``sentirnn.inference.pipeline``);
        None = one per core. ``sentirnn serve --threads`` sets it.

    Returns
    -------
    FastAPI
        The app; run it with uvicorn or test it with ``fastapi.testclient.TestClient``.

    Raises
    ------
    ArtifactError
        When ``model_dir`` is not a loadable model directory.

    Examples
    --------
    >>> import uvicorn
    >>> uvicorn.run(create_app("models/waimai"), host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    check_choice("create_app", "backend", backend, BACKENDS)
    for name, value in (("max_texts", max_texts), ("max_chars", max_chars),
                        ("max_body_bytes", max_body_bytes), ("num_threads", num_threads)):
        if value is None and name == "num_threads":
            continue
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, not {value!r}")
    model_dir = Path(model_dir)
    config = artifacts.read_config(model_dir, ("sentirnn.classifier", TRANSLATOR))
    limits = {"max_texts": max_texts, "max_chars": max_chars, "max_body_bytes": max_body_bytes}
    if config["format"] == TRANSLATOR:
        if backend not in ("torch", "auto"):
            raise ConfigError(f"{model_dir} is a translation model, which only the torch "
                              f"backend serves, not {backend!r}: leave out --backend")
        return create_translator_app(model_dir, config, limits, num_threads)
    backend = resolve(model_dir, backend)
    clf = load_classifier(model_dir, backend, num_threads)
    name = model_dir.resolve().name
    info = ModelInfo(model=name, labels=list(clf.classes_), architecture=config.get("model", {}),
                     params=config.get("params", {}),
                     train_summary=config.get("train_summary", {}),
                     metrics=read_metrics(model_dir), sentirnn_version=__version__,
                     backend=backend, threads=clf.workers_, limits=limits)
    log.info("serving %s (%s backend, labels %s)", model_dir, backend, info.labels)

    app = base_app(f"Sentiment classification with model **{name}** "
                   f"({', '.join(info.labels)}).", max_body_bytes, "index.html")
    refuse_paths(app, ("/v1/translate",),
                 f"this server's model ({name}) classifies texts and does not translate: "
                 "send {\"texts\": [...]} to POST /v1/predict, or serve a translation model "
                 "for /v1/translate")
    explain_lock = threading.Lock()

    @app.get("/v1/model", response_model=ModelInfo)
    def model_info() -> ModelInfo:
        """Labels, architecture, hyper-parameters, metrics and limits of the served model."""
        return info

    @app.post("/v1/predict", response_model=PredictResponse)
    def predict(request: PredictRequest) -> PredictResponse:
        """The label and the probability of every label, for each text."""
        texts = request.texts
        check_texts(texts, max_texts, max_chars)
        for i, text in enumerate(texts):
            if not text.strip():  # as `sentirnn predict` leaves such rows unlabelled
                raise HTTPException(422, f"texts[{i}] is empty; an empty text has no "
                                         "prediction: leave it out of the request")
        if not texts:
            return PredictResponse(predictions=[], model=name)
        probabilities = clf.predict_proba(texts)  # (n_texts, n_classes)
        predictions = [
            Prediction(label=label, probabilities={c: float(p) for c, p in zip(info.labels, row)})
            for label, row in zip(clf.decide(probabilities), probabilities)]
        return PredictResponse(predictions=predictions, model=name)

    @app.post("/v1/explain")
    def explain(request: ExplainRequest) -> JSONResponse:
        """Signed per-token scores for the predicted label.

        Answers the explanation as a JSON object: ``text``, ``tokens``, ``scores`` (one per
        token; positive pushed towards ``label``), ``label``, ``probabilities``, ``attention``
        (null unless the model pools with attention) and ``method``.
        """
        check_length(request.text, max_chars, "text")
        if not hasattr(clf, "explain"):
            raise HTTPException(501, f"the {backend} backend cannot explain predictions; "
                                     "start the server with --backend torch for /v1/explain")
        try:
            # One explanation at a time: each runs many forward/backward passes, and
            # serialising them keeps a burst of them from starving /v1/predict.
            with explain_lock:
                explanation = clf.explain(request.text)
        except ImportError as e:
            raise HTTPException(501, f"explanations are not available on this server ({e})"
                                ) from None
        return JSONResponse(_plain(explanation.to_dict()))

    return app


def app_from_env() -> FastAPI:
    """``create_app`` configured by SENTIRNN_* environment variables (uvicorn's factory).

    Used by ``sentirnn serve --workers N``: each uvicorn worker process imports this
    function and builds its own app. SENTIRNN_MODEL_DIR is required; SENTIRNN_BACKEND,
    SENTIRNN_MAX_TEXTS, SENTIRNN_MAX_CHARS, SENTIRNN_MAX_BODY_BYTES and SENTIRNN_NUM_THREADS
    are optional.

    Examples
    --------
    SENTIRNN_MODEL_DIR=models/waimai uvicorn sentirnn.serve.app:app_from_env --factory
    """
    model_dir = os.environ.get(ENV["model_dir"])
    if not model_dir:
        raise ConfigError(f"{ENV['model_dir']} is not set; set it to a model directory "
                          "(or run 'sentirnn serve MODEL')")
    options: dict[str, Any] = {}
    if os.environ.get(ENV["backend"]):
        options["backend"] = os.environ[ENV["backend"]]
    for key in ("max_texts", "max_chars", "max_body_bytes", "num_threads"):
        value = os.environ.get(ENV[key])
        if value:
            try:
                options[key] = int(value)
            except ValueError:
                raise ConfigError(f"{ENV[key]} must be an integer, not {value!r}") from None
    return create_app(model_dir, **options)


def serving_threads(workers: int, backend: str = "torch") -> int:
    """Model threads per worker: the cores shared out, at least one each, for every backend
    (each thread runs single-threaded calls; see ``sentirnn.inference.workers``)."""
    # torch used to get one core fewer, left to the event loop, because its intra-op OpenMP
    # threads spun after each call. Now that its calls are single-threaded as onnxruntime's
    # are, the full share pays: on 2 cores (default BiLSTM, SST-2 dev sentences,
    # bench_http.py, 4 clients, 2 runs each) 2 threads served batches of 32 at 4,225-4,450
    # texts/s (p99 42-47 ms) against 2,543-2,575 (p99 61 ms) with 1, and batches of 1 at
    # 399-503 requests/s (p99 15-20 ms) against 470-482 (p99 15 ms).
    return max(1, (os.cpu_count() or 1) // max(1, workers))


# ---- helpers -----------------------------------------------------------------------------------
def _plain(value):
    """numpy scalars and arrays → JSON-ready Python values (explanations may hold them)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy array or scalar, torch tensor
        return value.tolist()
    return value
