"""What the commands share: the Typer app, error printing, common options and helpers.

Commands import the API inside themselves so that ``sentirnn --help`` starts without
loading torch.
"""

from __future__ import annotations

import difflib
import json
import logging
import sys
from pathlib import Path

import typer

from sentirnn import __version__
from sentirnn.config import ParamError
from sentirnn.errors import ConfigError
from sentirnn.estimators.presets import preset_params
from sentirnn.export.backends import load_classifier
from sentirnn.training.runtime import world

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
# the labelled-data options that train and tune share
TEXT_COL = typer.Option(None, help="Text column (default: detected).")
LABEL_COL = typer.Option(None, help="Label column (default: detected).")
LABEL_MAP = typer.Option(None, help="'from=to,...' or a JSON file.")
LABELS = typer.Option(None, help="Comma-separated labels to keep.")
STRICT = typer.Option(False, help="Stop at the first bad row instead of skipping.")
ENCODING = typer.Option(None, help="Force the file encoding.")
FORCE = typer.Option(False, "--force", help="Write into --out even when it is a non-empty "
                     "folder that is not a model directory (its other files are kept).")


def check_out(out: Path, force: bool, resumable: bool = False) -> None:
    """Refuse an output folder before any work is done (write_dir checks again at the end)."""
    # start-up: artifacts reads safetensors only when a command runs
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
    # start-up: pandas/pyarrow load only when a command reads or writes a table
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


def fit_model(make, dataset, valid, self_train: Path | None, ratio: float, rounds: int, text_col,
         encoding, resume: bool = False):
    """``make().fit(...)``, or with --self-train a teacher, pseudo labels and a student."""
    if self_train is None:
        return make().fit(dataset.texts, dataset.labels, valid=valid, resume=resume)
    # start-up: torch loads only when a command runs
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


def epochs_text(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def run_dir_for(given, default: Path, self_train: Path | None, resume: bool) -> Path | None:
    """The checkpoint folder of train/finetune: --checkpoint-dir, else ``default`` beside
    --out; None with --self-train, whose teacher and students are several runs."""
    # start-up: torch loads only when a command runs
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


def remove_run_dir(run_dir: Path | None, out: Path) -> None:
    """Once the model directory is written: the checkpoint goes, and the default runs/<name>
    and runs/ folders with it when nothing else is left in them."""
    # start-up: torch loads only when a command runs
    from sentirnn.training.checkpoints import remove_run

    if run_dir is None:
        return
    remove_run(run_dir)
    out = out.resolve()  # `--out .` has no name of its own
    runs = out.parent / "runs"
    for folder in (runs / out.name, runs):
        if folder in run_dir.parents and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def check_threads_flag(threads: int | None) -> int | None:
    """--threads, checked before anything is loaded."""
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads must be at least 1, not {threads}; leave it out to use "
                          "every core")
    return threads


def load_backend(model: Path, backend: str, threads: int | None = None):
    """A classifier for --backend (see ``sentirnn.export.backends``), scoring with
    ``threads`` single-threaded calls side by side (None: one per core)."""
    return load_classifier(model, backend, threads)


# shared by predict, evaluate and serve
BACKEND_HELP = ("torch|onnx|onnx-int8|openvino|openvino-bf16|auto (all but torch: after "
                "'sentirnn export'; auto: the fastest this model and machine allow).")


# ---- language models: pretrain, finetune, generate -------------------------------------------
LM_FORMATS = ("sentirnn.language_model", "sentirnn.classifier")


def checked(make, params: dict, flags: dict, config: Path | None):
    """``make(**params)`` with every setting checked now, before any data is read; a bad one
    is named as the user gave it: ``--max-epochs``, or ``max_epochs in CONFIG``."""
    model = make(**params)
    try:
        model._check_params()
    except ParamError as e:
        if e.param == "arch":  # the CLI's --arch also takes the scikit-learn baselines
            # start-up: scikit-learn loads only when a baseline is named
            from sentirnn.classic.baselines import ARCHS

            e.allowed = (*e.allowed, *ARCHS)
        given = flags.get(e.param) is not None or config is None
        where = f"--{e.param.replace('_', '-')}" if given else f"{e.param} in {config}"
        raise ConfigError(e.for_flag(where)) from None
    return model


def params_for(cls, config: Path | None, flags: dict, preset: str | None = None) -> dict:
    """Resolved hyper-parameters of an estimator class: defaults ← --preset ← --config file
    ← flags, with unknown config keys refused by name (and the nearest valid one suggested)."""
    params = cls().get_params()
    if preset is not None:
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


def is_rank_zero() -> bool:
    return world()[0] == 0


def epochs_kept(summary: dict) -> str:
    """"best epoch B", plus the epoch the model holds when it is not the best (restore_best);
    without validation data there is no best epoch: "no validation, last epoch kept"."""
    best, kept = summary["best_epoch"], summary["kept_epoch"]
    if not best:
        return "no validation data: the last epoch's weights are kept"
    return f"best epoch {best}" + (f", kept epoch {kept}" if kept != best else "")
