"""``sentirnn serve`` and ``export``: commands that ship a model."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from sentirnn.cli.common import (
    BACKEND_HELP,
    app,
    check_threads_flag,
    say,
)
from sentirnn.errors import ConfigError
from sentirnn.export.backends import resolve


@app.command(epilog="Example: sentirnn serve models/waimai --port 8000 --workers 2")
def serve(
    model: Path = typer.Argument(..., help="Model directory."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, help="Server processes, each with its own model copy."),
    backend: str = typer.Option("torch", help=BACKEND_HELP.rstrip(".") + "; a translator: "
                                "torch."),
    max_texts: int = typer.Option(256, help="Most texts in one /v1/predict or /v1/translate "
                                  "request."),
    max_chars: int = typer.Option(5000, help="Most characters in one text."),
    max_body_bytes: int = typer.Option(1_000_000, help="Largest request body, in bytes."),
    threads: int | None = typer.Option(None, "--threads", help="Cores per worker process "
                                       "(default: cores / workers)."),
    num_threads: int | None = typer.Option(None, "--num-threads", hidden=True,
                                           help="The old name of --threads."),
):
    """Serve a model over HTTP: /v1/predict, /v1/explain (a translator: /v1/translate), /v1/model,
    /docs and a web page."""
    if threads is not None and num_threads is not None:
        raise ConfigError("--num-threads is the old name of --threads; give only --threads")
    threads = check_threads_flag(threads if threads is not None else num_threads)
    try:
        # optional: uvicorn and FastAPI are the 'serve' extra
        import uvicorn

        from sentirnn.serve.app import ENV, create_app, serving_threads
    except ImportError as e:
        raise ConfigError(f"serving needs FastAPI and uvicorn ({e}); install them with "
                          "pip install 'sentirnn[serve]'") from None
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    # "auto" is resolved once here, so that every worker process serves the same backend.
    backend = resolve(model, backend)
    threads = threads or serving_threads(workers, backend)
    options = {"backend": backend, "max_texts": max_texts, "max_chars": max_chars,
               "max_body_bytes": max_body_bytes, "num_threads": threads}
    # Loaded here even when workers load their own copy: a bad model directory then fails
    # once, in one line, before any server process starts.
    server_app = create_app(model, **options)
    say(f"serving {model} on http://{host}:{port} ({backend} backend) with {workers} "
        f"worker(s) × {threads} thread(s); API docs at http://{host}:{port}/docs")
    if workers == 1:
        uvicorn.run(server_app, host=host, port=port)
        return
    del server_app
    os.environ[ENV["model_dir"]] = str(model)
    os.environ.update({ENV[key]: str(value) for key, value in options.items()})
    uvicorn.run("sentirnn.serve.app:app_from_env", factory=True, host=host, port=port,
                workers=workers)


@app.command(epilog="Example: sentirnn export models/r --int8")
def export(
    model: Path = typer.Argument(..., help="Model directory."),
    int8: bool = typer.Option(False, "--int8", help="Also write model.int8.onnx."),
    opset: int = typer.Option(17, help="ONNX opset version."),
):
    """Export the network to ONNX (and int8), checked against PyTorch on a padded batch.

    A translator directory gets encoder.onnx and decoder_step.onnx (fp32), served by
    'sentirnn mt translate --backend onnx'."""
    # start-up: torch and onnx load only when export runs
    from sentirnn import artifacts
    from sentirnn.export.onnx import export_onnx, read_export

    kind = artifacts.read_config(model, ("sentirnn.classifier", "sentirnn.translator"))["format"]
    if kind == "sentirnn.translator":
        from sentirnn.export.mt_onnx import export_translator  # start-up: as above

        if int8:
            raise ConfigError("--int8 is for classifiers; a translator exports in fp32 only "
                              f"(run 'sentirnn export {model}' without --int8)")
        written = export_translator(model, opset=opset)
    else:
        written = export_onnx(model, int8=int8, opset=opset)
    record = read_export(model)
    for path in written:
        size = path.stat().st_size
        typer.echo(f"wrote {path} ({size / 1e6:.2f} MB)" if size >= 100_000 else
                   f"wrote {path} ({size / 1e3:.1f} kB)")
    if kind == "sentirnn.translator":
        worst = max(entry["max_abs_diff"] for entry in record["files"].values())
        typer.echo(f"parity with PyTorch on a padded batch: max |Δ| {worst:.1e}, greedy "
                   f"translations agree {record['greedy_agreement']:.0%}")
        return
    parts = [f"{entry['precision']} max |Δp| {entry['max_abs_diff']:.1e}, labels agree "
             f"{entry['label_agreement']:.0%}" for entry in record["files"].values()]
    typer.echo("parity with PyTorch on a padded batch: " + "; ".join(parts))
