"""``sentirnn pretrain``, ``finetune`` and ``generate``: language models and transfer."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sentirnn.cli.common import (
    FORCE,
    LM_FORMATS,
    PRECISION,
    PSEUDO_RATIO,
    RESUME,
    SELF_TRAIN_ROUNDS,
    app,
    check_out,
    checked,
    epochs_kept,
    epochs_text,
    fit_model,
    is_rank_zero,
    params_for,
    read_labelled,
    remove_run_dir,
    run_dir_for,
    say,
)
from sentirnn.errors import ConfigError


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
    # start-up: pandas and torch load only when a command runs, not for --help
    from sentirnn.data.dataset import read_texts
    from sentirnn.estimators.language_model import LanguageModel

    # The flags that are LanguageModel parameters, by name; None means "not given".
    flags = dict(
        language=language, tokenizer=tokenizer, vocab_size=vocab_size, min_freq=min_freq,
        embedding_dim=embedding_dim, hidden_size=hidden_size, layers=layers,
        weight_dropout=weight_dropout, direction=direction,
        max_epochs=max_epochs, batch_size=batch_size, bptt=bptt, lr=lr,
        valid_fraction=valid_fraction, checkpoint_every=checkpoint_every,
        checkpoint_dir=checkpoint_dir, seed=seed, device=device, num_threads=num_threads,
        progress=progress, precision=precision,
    )
    params = params_for(LanguageModel, config, flags)
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
    if is_rank_zero():
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
    wide: bool | None = typer.Option(
        None, "--wide/--no-wide", help="(LM source) add a linear bag of tokens and token "
        "pairs to the classifier's logits (wide & deep)."),
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
    # start-up: the CLI loads none of the library (torch here) until a command runs
    from sentirnn import artifacts
    from sentirnn.config import ParamError, check_choice
    from sentirnn.estimators.classifier import SentimentClassifier, load

    kind = artifacts.read_config(source, LM_FORMATS)["format"]
    # The flags given that are classifier parameters (schedule goes to fine_tune instead).
    given = dict(
        max_epochs=max_epochs, batch_size=batch_size, lr=lr, min_steps=min_steps,
        pooling=pooling, dropout=dropout, bigrams=bigrams, wide=wide, max_len=max_len,
        seed=seed, device=device, num_threads=num_threads, precision=precision, progress=progress,
    )
    flags = {k: v for k, v in given.items() if v is not None}
    runs = out.resolve().parent / "runs" / out.resolve().name
    run_dir = run_dir_for(checkpoint_dir, runs / "classifier", self_train, resume)
    flags["checkpoint_dir"] = str(run_dir) if run_dir else None
    checked(SentimentClassifier, flags, flags, None)
    try:
        check_choice("fine_tune", "schedule", schedule, ("ulmfit", "standard"))
        check_choice("fine_tune", "freeze", freeze, (None, "embeddings", "encoder"))
    except ParamError as e:
        raise ConfigError(e.for_flag(f"--{e.param}")) from None
    if kind == "sentirnn.classifier" and (lm_epochs or extra_unlabelled or self_train or bigrams
                                          or backward_lm or wide is not None):
        raise ConfigError(f"{source} is a classifier: --lm-epochs, --extra-unlabelled, "
                          "--self-train, --bigrams, --wide and --backward-lm apply to a "
                          "language model only")
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
        clf = fit_model(lambda: SentimentClassifier.from_language_model(lm, backward=back,
                                                                   schedule=schedule, **flags),
                   dataset, pair, self_train, pseudo_ratio, self_train_rounds, text_col,
                   encoding, resume)
    if is_rank_zero():
        clf.save(out, data={"source": str(data), "train_report": dataset.report.to_dict()},
                 force=force)
        remove_run_dir(run_dir, out)
        s = clf.train_summary_
        say(f"fine-tuned {epochs_text(s['epochs_run'])} in {s['train_seconds']:.1f} s "
            f"({epochs_kept(s)})" + ("; validation:" if clf.report_ is not None else ""))
        if clf.report_ is not None:
            say(str(clf.report_))
        say(f"model written to {out}")


def _lm_for_finetune(source, texts, epochs, extra, lm_out, flags, resume=False):
    """Load the LM; with --lm-epochs fine-tune it on the texts (+ extra) and save it — or,
    with --resume, load the one the interrupted run saved (same source, texts, settings)."""
    # start-up: torch loads only when a command runs
    from sentirnn.estimators.language_model import LanguageModel
    from sentirnn.training.checkpoints import digest, settings

    lm = LanguageModel.load(source)
    lm.set_params(**{k: v for k, v in flags.items()
                     if k in ("num_threads", "device", "progress", "seed", "precision")})
    if epochs:
        if extra is not None:
            # start-up: pandas loads only when used
            from sentirnn.data.dataset import read_texts

            texts = [*texts, *read_texts(extra)[0]]
        fingerprint = digest(settings(lm.get_params()), lm.source_["sha256"], epochs, texts)
        if resume and _same_fine_tuned_lm(lm_out, fingerprint):
            say(f"reusing the fine-tuned language model in {lm_out} (--resume)")
            return LanguageModel.load(lm_out)
        say(f"fine-tuning the language model on {len(texts)} texts for {epochs} epoch(s)")
        lm.fine_tune(texts, epochs=epochs)
        if is_rank_zero():
            lm.save(lm_out, data={"fine_tuned_on": len(texts), "fingerprint": fingerprint})
            say(f"fine-tuned language model written to {lm_out}")
    return lm


def _same_fine_tuned_lm(lm_out: Path, fingerprint: str) -> bool:
    """Whether ``lm_out`` holds the LM this fine-tuning makes (False: none there yet);
    a ConfigError when it holds one made from other texts or settings."""
    from sentirnn import artifacts  # start-up: the CLI loads the library only when a command runs

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
    # start-up: torch loads only when a command runs
    from sentirnn.estimators.language_model import LanguageModel

    typer.echo(LanguageModel.load(lm).generate(prompt, tokens=tokens, temperature=temperature,
                                               seed=seed))
