"""``sentirnn mt train``, ``evaluate``, ``translate`` and ``demo``: translation commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from sentirnn.cli.common import FORCE, app, check_out, say
from sentirnn.errors import ConfigError

mt_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                     help="Translate sentences with a recurrent encoder–decoder "
                          "(English → Chinese by default).")
app.add_typer(mt_app, name="mt")

# --arch: the attention of the decoder; "plain" is the encoder–decoder without attention
ARCHS = {"bahdanau": "bahdanau", "luong": "general", "luong-dot": "dot", "plain": "none"}
SOURCE_COL = typer.Option("en", help="Column of the source sentences.")
TARGET_COL = typer.Option("zh", help="Column of the target sentences.")
CHUNK = 1000  # sentences per written chunk of translate --input
BEAM = typer.Option(None, help="Beam width (1 = greedy; default: the model's, 5).")
BACKEND = typer.Option("torch", help="torch|onnx (onnx: run 'sentirnn export MODEL' first; "
                       "needs no torch).")


def _load(model: Path, backend: str):
    """The translator of a model directory on the chosen backend."""
    if backend == "onnx":
        # optional: onnxruntime is the 'export' extra
        from sentirnn.export.onnx_translator import OnnxTranslator

        return OnnxTranslator.load(model)
    if backend != "torch":
        raise ConfigError(f"--backend must be torch or onnx, not {backend!r}")
    # start-up: torch loads only when a command runs
    from sentirnn.estimators.translator import Translator

    return Translator.load(model)


def _attention(arch: str) -> str:
    if arch not in ARCHS:
        raise ConfigError(f"--arch must be one of {', '.join(ARCHS)}, not {arch!r}")
    return ARCHS[arch]


@mt_app.command("train", epilog="Example: sentirnn mt train train.tsv.gz --valid dev.tsv.gz "
                "--out models/en-zh --max-minutes 15")
def train(
    data: Path = typer.Argument(..., help="Sentence pairs: CSV/TSV/JSONL/Parquet with a column "
                                "per language."),
    out: Path = typer.Option(Path("models/mt"), "--out", "-o", help="Model directory."),
    valid: Path | None = typer.Option(None, help="Validation pairs (default: 5% of the "
                                      "training sources held out)."),
    source_col: str = SOURCE_COL, target_col: str = TARGET_COL,
    source_language: str | None = typer.Option(None, help="en|zh (default: the source "
                                               "column's name when it is en or zh)."),
    target_language: str | None = typer.Option(None, help="en|zh (default: from the column)."),
    arch: str = typer.Option("bahdanau", help="bahdanau|luong|luong-dot|plain (no attention)."),
    cell: str = typer.Option("gru", help="gru|lstm"),
    source_tokenizer: str | None = typer.Option(None, help="char|en-word|jieba-word|subword"),
    target_tokenizer: str | None = typer.Option(None, help="char|en-word|jieba-word|subword"),
    embedding_dim: int = typer.Option(256), encoder_hidden: int = typer.Option(256),
    decoder_hidden: int = typer.Option(512), layers: int = typer.Option(1),
    dropout: float = typer.Option(0.3), label_smoothing: float = typer.Option(0.1),
    tie_embeddings: bool = typer.Option(False, help="Target embedding = output weights."),
    epochs: int = typer.Option(30, "--epochs", "--max-epochs"),
    max_minutes: float | None = typer.Option(None, help="Training time budget."),
    batch_size: int = typer.Option(64), lr: float = typer.Option(2e-3),
    patience: int = typer.Option(3), monitor: str = typer.Option("bleu", help="bleu|loss"),
    beam: int = typer.Option(5, help="Beam width of the final scores and of translate."),
    seed: int = typer.Option(0), threads: int | None = typer.Option(None, "--threads"),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    encoding: str | None = typer.Option(None),
    force: bool = FORCE,
):
    """Train a translator, choose its epoch on validation BLEU, print the validation scores."""
    check_out(out, force)
    # start-up: pandas and torch load only when a command runs, not for --help
    from sentirnn.data.parallel import read_parallel
    from sentirnn.estimators.translator import Translator

    pairs = read_parallel(data, source_col, target_col, encoding)
    say(str(pairs.report))
    held = None
    if valid is not None:
        v = read_parallel(valid, source_col, target_col, encoding)
        held = (v.sources, v.targets)
    model = Translator(
        source_language=source_language or _language(source_col, "--source-language"),
        target_language=target_language or _language(target_col, "--target-language"),
        source_tokenizer=source_tokenizer, target_tokenizer=target_tokenizer,
        attention=_attention(arch), cell=cell, embedding_dim=embedding_dim,
        encoder_hidden=encoder_hidden, decoder_hidden=decoder_hidden, encoder_layers=layers,
        decoder_layers=layers, dropout=dropout, label_smoothing=label_smoothing,
        tie_embeddings=tie_embeddings, max_epochs=epochs, max_minutes=max_minutes,
        batch_size=batch_size, lr=lr, patience=patience, monitor=monitor, beam=beam,
        seed=seed, num_threads=threads, progress=progress)
    model.fit(pairs.sources, pairs.targets, valid=held)
    s = model.train_summary_
    say(f"trained {s['epochs_run']} epoch(s) in {s['train_seconds']:.0f} s; kept epoch "
        f"{s['best_epoch']}")
    sources, refs = model.valid_
    scores = model.score([x for x, r in zip(sources, refs) for _ in r],
                         [y for r in refs for y in r])
    say(f"validation (beam {model.beam}): BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f} "
        f"on {scores['sources']} sentences")
    model.save(out, metrics={"validation": scores, "data": pairs.report.to_dict()}, force=force)
    say(f"model, metrics.json, curves.png and attention.png written to {out}")


def _language(column: str, flag: str) -> str:
    if column.lower() in ("en", "zh"):
        return column.lower()
    raise ConfigError(f"cannot tell the language of column {column!r}: give {flag} en|zh")


@mt_app.command("evaluate", epilog="Example: sentirnn mt evaluate models/en-zh dev.tsv.gz --json")
def evaluate(
    model: Path = typer.Argument(..., help="Translation model directory."),
    data: Path = typer.Argument(..., help="Test pairs; rows sharing a source are its "
                                "alternative references."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    source_col: str | None = typer.Option(None, help="Default: the model's source language."),
    target_col: str | None = typer.Option(None, help="Default: the model's target language."),
    beam: int | None = BEAM, encoding: str | None = typer.Option(None),
    backend: str = BACKEND,
):
    """BLEU and chrF of a translator on test pairs (multi-reference)."""
    # start-up: pandas loads only when a command runs
    from sentirnn.data.parallel import read_parallel

    translator = _load(model, backend)
    pairs = read_parallel(data, source_col or translator.source_language,
                          target_col or translator.target_language, encoding)
    start = time.perf_counter()
    scores = translator.score(pairs.sources, pairs.targets, beam=beam)
    seconds = time.perf_counter() - start
    if as_json:
        typer.echo(json.dumps({k: scores[k] for k in ("bleu", "chrf", "sources", "references")}
                              | {"signature": scores["signature"], "seconds": round(seconds, 2)},
                              ensure_ascii=False))
        return
    say(str(pairs.report))
    typer.echo(f"BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  ({scores['sources']} "
               f"sources, {scores['references']} references, {seconds:.1f} s)")
    typer.echo(f"signature: {scores['signature']}")


@mt_app.command("translate", epilog="Example: sentirnn mt translate models/en-zh "
                "\"I love you.\" --beam 5")
def translate(
    model: Path = typer.Argument(..., help="Translation model directory."),
    sentences: list[str] = typer.Argument(None, help="Sentences to translate."),
    beam: int | None = BEAM,
    input: Path | None = typer.Option(None, "--input", help="A file of sentences: .txt one a "
                                      "line, or a table with --source-col."),
    output: Path | None = typer.Option(None, "--output", help="With --input: write "
                                       ".csv/.tsv/.jsonl/.parquet with a translation column "
                                       "(default: print)."),
    source_col: str | None = typer.Option(None, help="With --input: the sentence column."),
    attention: Path | None = typer.Option(None, "--attention", help="Draw the attention of the "
                                          "given sentences into this PNG."),
    encoding: str | None = typer.Option(None),
    backend: str = BACKEND,
):
    """Translate sentences given on the command line or in a file."""
    if not sentences and input is None:
        raise ConfigError("give sentences to translate, or --input FILE")
    if sentences and input is not None:
        raise ConfigError("give sentences or --input FILE, not both")
    translator = _load(model, backend)
    if input is None:
        for translation in translator.translate(sentences, beam=beam):
            typer.echo(translation)
        if attention is not None:
            translator.plot_attention(sentences, attention, beam=beam)
            say(f"attention written to {attention}")
        return
    # start-up: pandas loads only when a command runs
    import pandas as pd

    from sentirnn.data.dataset import read_texts
    from sentirnn.data.tables import TableWriter

    texts, report = read_texts(input, text_col=source_col or translator.source_language,
                               encoding=encoding)
    say(str(report))
    if output is None:
        for translation in translator.translate(texts, beam=beam):
            typer.echo(translation)
        return
    with TableWriter(output) as writer:  # chunks: a long file shows progress and stays small
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start:start + CHUNK]
            writer.write(pd.DataFrame({"source": chunk,
                                       "translation": translator.translate(chunk, beam=beam)}))
            say(f"{min(start + CHUNK, len(texts))}/{len(texts)} translated")
    say(f"{len(texts)} translations written to {output}")


@mt_app.command("demo", epilog="Example: sentirnn mt demo --out models/mt-demo")
def demo(
    out: Path = typer.Option(Path("models/mt-demo"), "--out", "-o", help="Model directory."),
    data: Path | None = typer.Option(None, help="The Tatoeba English–Chinese pairs (default: "
                                     "found in $SENTIRNN_DATA or ../shared/data, else "
                                     "downloaded from manythings.org)."),
    max_minutes: float = typer.Option(4.0, help="Training budget in minutes (the whole demo "
                                      "stays under 5)."),
    force: bool = FORCE,
):
    """Train an English → Chinese translator on the Tatoeba pairs, score it, translate a few."""
    check_out(out, force)
    # start-up: pandas and torch load only when a command runs, not for --help
    from sentirnn.data.parallel_demo import DEMO_SENTENCES, demo_corpus, demo_split
    from sentirnn.estimators.translator import Translator

    pairs = demo_corpus(data)
    say(str(pairs.report))
    train, valid, test = demo_split(pairs)
    model = Translator(max_minutes=max_minutes, embedding_dim=256, encoder_hidden=256,
                       decoder_hidden=512)
    model.fit(*train, valid=valid)
    scores = model.score(*test)
    say(f"held-out slice ({scores['sources']} English sentences never trained on): "
        f"BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f} (beam {model.beam})")
    for sentence, translation in zip(DEMO_SENTENCES, model.translate(DEMO_SENTENCES)):
        typer.echo(f"{sentence}  →  {translation}")
    model.save(out, metrics={"held_out": scores, "data": pairs.report.to_dict()}, force=force)
    say(f"model written to {out}; try: sentirnn mt translate {out} \"How are you?\"")
