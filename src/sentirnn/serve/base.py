"""What every served model shares: request limits, error answers, the page and /healthz.

``sentirnn.serve.app`` builds a classifier's routes and ``sentirnn.serve.translate`` a
translator's on top of :func:`base_app`, so both answer too-large requests, refused input and
server faults with the same status codes and the same ``{"detail": ...}`` shape.
"""

from __future__ import annotations

import json
import logging
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from sentirnn import __version__
from sentirnn.errors import ConfigError, DataError, SentirnnError

log = logging.getLogger("sentirnn")


def base_app(description: str, max_body_bytes: int, page: str) -> FastAPI:
    """The app with the body limit, the error handler, ``/static``, ``/`` (``page``, a file
    of ``static/``) and ``GET /healthz``; the caller adds the model's routes."""
    # FastAPIOffline serves Swagger UI's and ReDoc's scripts itself: FastAPI's /docs loads
    # them from a CDN, which leaves the page blank on a machine without internet access.
    app = FastAPIOffline(title="sentirnn", version=__version__, description=description)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_exception_handler(SentirnnError, _sentirnn_error)
    static = files("sentirnn.serve") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((static / page).read_text("utf-8"))

    @app.get("/healthz")
    def healthz() -> dict:
        """Liveness: answers as long as the server runs."""
        return {"status": "ok"}

    return app


def refuse_paths(app: FastAPI, paths: tuple[str, ...], message: str) -> None:
    """Answer POST on ``paths`` with 404 and ``message`` (left out of the OpenAPI schema):
    the endpoints of the other model kind, so that a client sent to the wrong server is told
    why instead of getting a bare "Not Found"."""
    def refused() -> None:
        raise HTTPException(404, message)

    for path in paths:
        app.add_api_route(path, refused, methods=["POST"], include_in_schema=False)


def check_texts(texts: list[str], max_texts: int, max_chars: int) -> None:
    """413 when a request holds more than ``max_texts`` texts or a text is too long."""
    if len(texts) > max_texts:
        raise HTTPException(413, f"the request holds {len(texts)} texts; the limit is "
                                 f"{max_texts} per request (max_texts): send smaller batches")
    for i, text in enumerate(texts):
        check_length(text, max_chars, f"texts[{i}]")


def check_length(text: str, max_chars: int, where: str) -> None:
    if len(text) > max_chars:
        raise HTTPException(413, f"{where} has {len(text)} characters; the limit is "
                                 f"{max_chars} per text (max_chars): shorten or split it")


def read_metrics(model_dir: Path) -> dict | None:
    path = model_dir / "metrics.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        # Metrics are informative only: a damaged file must not keep the model from serving.
        log.warning("%s cannot be read (%s); /v1/model will show no metrics", path, e)
        return None


async def _sentirnn_error(request: Request, exc: Exception) -> JSONResponse:
    # Bad input the model refuses (DataError, ConfigError) is the client's to fix: 422;
    # anything else sentirnn raises on purpose is the server's problem: 500, still one line.
    status = 422 if isinstance(exc, (DataError, ConfigError)) else 500
    return JSONResponse({"detail": str(exc)}, status_code=status)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413.

    Checks the declared Content-Length first (cheap: nothing is read), then counts the
    bytes actually received, since a chunked body declares no length and a client may
    send more than it declared. The body is buffered (at most ``max_bytes``) and replayed
    to the app.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        try:
            declared = int(declared) if declared is not None else None
        except ValueError:
            declared = None
        if declared is not None and declared > self.max_bytes:
            await self._refuse(declared, scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(None, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect as usual
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, size: int | None, scope, receive, send) -> None:
        what = f"{size} bytes" if size is not None else f"more than {self.max_bytes} bytes"
        response = JSONResponse(
            {"detail": f"the request body is {what}; the limit is {self.max_bytes} bytes "
                       "(max_body_bytes): send fewer or shorter texts per request"},
            status_code=413)
        await response(scope, receive, send)
