"""``sentirnn evaluate``, ``predict``, ``embed`` and ``explain``: commands that use a model."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer

from sentirnn.cli.common import (
    BACKEND_HELP,
    THREADS,
    app,
    check_threads_flag,
    load_backend,
    read_labelled,
    say,
)
from sentirnn.errors import ConfigError, DataError


@app.command(epilog="Example: sentirnn evaluate models/r test.csv.gz --json")
def evaluate(
    model: Path = typer.Argument(..., help="Model directory."),
    data: Path = typer.Argument(..., help="Labelled test data."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    report: Path | None = typer.Option(None, help="Also write the report JSON here."),
    plots: Path | None = typer.Option(None, help="Write confusion.png into this folder."),
    text_col: str | None = typer.Option(None), label_col: str | None = typer.Option(None),
    label_map: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    backend: str = typer.Option("torch", help=BACKEND_HELP),
    threads: int | None = THREADS,
):
    """Measure a model on labelled data: accuracy, P/R/F1 per class and macro, confusion."""
    clf = load_backend(model, backend, check_threads_flag(threads))
    dataset = read_labelled(data, text_col, label_col, label_map, None, False, encoding)
    result = clf.evaluate(dataset.texts, dataset.labels)
    if report:
        report.write_text(result.to_json(), encoding="utf-8")
    if plots:
        plots.mkdir(parents=True, exist_ok=True)
        result.plot_confusion(plots / "confusion.png")
    typer.echo(result.to_json(indent=None) if as_json else str(result))


@app.command(epilog="Examples: sentirnn predict models/r '送餐太慢了' | "
             "sentirnn predict models/r --input in.csv --output out.jsonl")
def predict(
    model: Path = typer.Argument(..., help="Model directory."),
    texts: list[str] | None = typer.Argument(None, help="Texts (else --input, else stdin)."),
    input: Path | None = typer.Option(None, "--input", "-i", help="File of texts."),
    output: Path | None = typer.Option(None, "--output", "-o", help=".csv/.jsonl/.parquet"),
    text_col: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    output_format: str = typer.Option("jsonl", "--format", help="stdout format: jsonl|csv"),
    chunksize: int = typer.Option(10000, help="Rows read and scored at a time."),
    backend: str = typer.Option("torch", help=BACKEND_HELP),
    threads: int | None = THREADS,
):
    """Label texts with probabilities; files keep their other columns, in order."""
    if output_format not in ("jsonl", "csv"):
        raise ConfigError(f"--format must be jsonl or csv, not {output_format!r}")
    clf = load_backend(model, backend, check_threads_flag(threads))
    if input is not None:
        start = time.perf_counter()
        stats = _score_input(clf, input, output, output_format, text_col, chunksize, encoding)
        seconds = time.perf_counter() - start
        if stats.prefix:
            say(f"{input} already has a label, reason or prob_ column, kept as it was; the "
                f"predictions are in {stats.prefix}label, {stats.prefix}reason and "
                f"{stats.prefix}prob_<class>")
        say(f"scored {stats.scored} of {stats.rows} rows ({stats.unscored} without text) in "
            f"{seconds:.1f} s" + (f" → {output}" if output else ""))
        return
    if texts == ["-"]:  # the usual spelling of "read standard input"
        texts = None
    if not texts:
        if sys.stdin.isatty():
            raise DataError("no texts given: pass them as arguments, with --input FILE, "
                            "or on standard input")
        # blank lines stay (unlabelled, with a reason): output line i answers input line i
        texts = [line.rstrip("\r\n") for line in sys.stdin]
    _print_predictions(clf, texts, output_format, output)


def _score_input(clf, source, output, fmt, text_col, chunksize, encoding):
    # start-up: pandas/pyarrow load only when a command reads or writes a table
    from sentirnn.data.tables import TableWriter
    from sentirnn.inference.scoring import print_frame, score_file

    if output is not None:
        with TableWriter(output) as writer:
            return score_file(clf, source, writer.write, text_col=text_col,
                              chunksize=chunksize, encoding=encoding)
    first = [True]

    def write(frame):
        print_frame(frame, fmt, header=first[0])
        first[0] = False

    return score_file(clf, source, write, text_col=text_col, chunksize=chunksize,
                      encoding=encoding)


def _print_predictions(clf, texts, fmt, output):
    # start-up: pandas/pyarrow load only when a command reads or writes a table
    import pandas as pd

    from sentirnn.inference.scoring import score_frame

    frame = score_frame(clf, pd.DataFrame({"text": texts}), "text")
    if output is not None:
        # start-up: pandas/pyarrow load only when a command reads or writes a table
        from sentirnn.data.tables import TableWriter

        with TableWriter(output) as writer:
            writer.write(frame)
        return
    # start-up: pandas/pyarrow load only when a command reads or writes a table
    from sentirnn.inference.scoring import print_frame

    # the reason column only says something when a text was empty
    print_frame(frame if (frame["reason"] != "").any() else frame.drop(columns="reason"), fmt)


EMBED_FORMATS = ("parquet", "npy")


@app.command(epilog="Example: sentirnn embed models/r --input reviews.csv --output vectors.parquet")
def embed(
    model: Path = typer.Argument(..., help="Model directory (sentirnn train: RNN or TextCNN)."),
    input: Path = typer.Option(..., "--input", "-i", help="File of texts (any format "
                               "predict reads)."),
    output: Path = typer.Option(..., "--output", "-o", help=".parquet (the input's columns "
                                "plus 'embedding') or .npy (the vectors only)."),
    output_format: str | None = typer.Option(None, "--format", help="parquet|npy (default: "
                                             "from the output's suffix)."),
    text_col: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    batch_size: int = typer.Option(64, "--batch-size", help="Texts per network call."),
    chunksize: int = typer.Option(10000, help="Rows read and embedded at a time."),
    threads: int | None = THREADS,
):
    """Document vectors: one pooled encoder state per row (what the classifier's last layer
    reads), streamed; an empty text's vector is null (NaN in .npy)."""
    # start-up: pandas/pyarrow load only when a command reads or writes a table
    from sentirnn.data.tables import NpyWriter, TableWriter
    from sentirnn.inference.scoring import embed_file, vector_type, with_vectors

    fmt = _embed_format(output, output_format)
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, not {batch_size}")
    clf = load_backend(model, "torch", check_threads_flag(threads))
    if not hasattr(clf, "embed"):
        raise ConfigError(f"{model} is a {type(clf).__name__}, which has no document vectors; "
                          "embed needs a model from 'sentirnn train' with a neural --arch")
    clf.inference_batch_size = batch_size
    start = time.perf_counter()
    if fmt == "npy":
        say(f"{output}: .npy holds the vectors only, one row per input row in order; the "
            "input's other columns are not kept (use .parquet to keep them)")
        with NpyWriter(output) as writer:
            stats = embed_file(clf, input, lambda frame, vectors, ok, column:
                               writer.write(vectors), text_col=text_col,
                               chunksize=chunksize, encoding=encoding)
    else:
        with TableWriter(output, kind="parquet") as writer:
            def write(frame, vectors, ok, column):
                writer.types.update(vector_type(column))  # list<float32> from the first chunk
                writer.write(with_vectors(frame, vectors, ok, column))

            stats = embed_file(clf, input, write, text_col=text_col, chunksize=chunksize,
                               encoding=encoding)
        if stats.prefix:
            say(f"{input} already has an 'embedding' column, kept as it was; the vectors "
                f"are in {stats.prefix}embedding")
    say(f"embedded {stats.scored} of {stats.rows} rows ({stats.unscored} without text, "
        f"{'NaN' if fmt == 'npy' else 'null'}) as {clf.net_.feature_size}-dim float32 in "
        f"{time.perf_counter() - start:.1f} s → {output}")


def _embed_format(output: Path, given: str | None) -> str:
    """parquet or npy, from --format or else the output's suffix; a clash is an error."""
    suffix = output.suffix.lower().lstrip(".")
    if given is None:
        if suffix not in EMBED_FORMATS:
            raise ConfigError(f"{output}: cannot tell the format from its name; name it "
                              ".parquet or .npy, or pass --format parquet|npy")
        return suffix
    if given not in EMBED_FORMATS:
        raise ConfigError(f"--format must be parquet or npy, not {given!r}")
    if suffix in EMBED_FORMATS and suffix != given:
        raise ConfigError(f"--format {given} but {output} ends in .{suffix}; drop --format "
                          "or rename the output")
    return given


@app.command(epilog="Example: sentirnn explain models/r 'the food was cold' --steps 64")
def explain(
    model: Path = typer.Argument(..., help="Model directory."),
    text: str = typer.Argument(..., help="One text to explain."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    steps: int = typer.Option(32, help="Integrated Gradients steps (more: slower, exacter)."),
):
    """Show which words pushed the prediction (Integrated Gradients on the embeddings)."""
    # start-up: torch loads only when a command runs
    from sentirnn.estimators.classifier import load

    result = load(model).explain(text, steps=steps)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        typer.echo(result.render(color=sys.stdout.isatty()))
