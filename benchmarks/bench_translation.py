"""Translation: sentirnn's Translator beside Joey NMT — same data, budget, threads and scorer.

Usage:
    python benchmarks/bench_translation.py [--configs joey,same-size,no-attention,best]
        [--minutes 15] [--threads 2] [--set key=value ...] [--limit N]
        [--out benchmarks/results/translation.json] [--joey-python /tmp/joeyvenv/bin/python]
    python benchmarks/bench_translation.py --report    # the table of --out, no training

Data: cmn_eng/train.tsv.gz → cmn_eng/dev.tsv.gz (Tatoeba via manythings.org, CC-BY 2.0 FR).
Every system trains on the same pairs for the same wall-clock budget (``--minutes``) on the
same threads (``--threads``), chooses its kept weights on dev greedy BLEU, and is scored by the
same code: its dev translations of the 1,000 distinct English sources against all their
references (``sentirnn.inference.mt_metrics.corpus_scores``, BLEU with sacrebleu's "zh"
tokenizer and chrF, the references cleaned as ``Translator.score`` cleans them: simplified).

Systems (``--configs``):
  joey          Joey NMT 2.3 at the issue's size (``JOEY_MODEL``), run as a subprocess in its own
                virtualenv on exactly sentirnn's tokens: pre-tokenized, space-joined files (source:
                ``TextSide("en", lowercase=True)`` words; target: ``TextSide("zh", target=True)``
                characters, simplified), word level, vocabulary from training with the same
                min_freq. Joey has no time limit: it is interrupted (SIGINT) ``--minutes`` after
                its first epoch starts (data loading and model building not counted). It validates
                every ``validation_freq`` steps, set to about one epoch, and keeps best.ckpt by
                its dev greedy BLEU; the weights at the stop (latest.ckpt) are decoded too and the
                better of the two on greedy dev BLEU is kept — sentirnn's Lightning loop validates
                the partial epoch it stops in, so neither loses the work done after its last
                validation.
  same-size     Translator(embedding_dim=256, encoder_hidden=256, decoder_hidden=512,
                attention="bahdanau"), max_minutes=--minutes; otherwise its defaults.
  no-attention  the same with attention="none".
  best          ``CONFIGS["best"]`` (edit it; for now the same as same-size); ``--set
                key=value`` changes a Translator setting of this one only.

Measured per system: dev BLEU and chrF, greedy and beam 5; training target tokens/s (non-pad
target tokens incl. </s>, mean over epochs: sentirnn's ``history_[i]["train_target_tokens_per_s"]``,
Joey's per-epoch "num. of tokens / [sec]" log line, which counts the same tokens and leaves out
its validation time; sentirnn's epoch time includes its forward-only validation-loss pass);
epochs completed; decoding sentences/s greedy and beam 5 (the 1,000 distinct dev sources, wall
clock of one call: ``Translator.translate`` from raw text, Joey's ``predict`` on the
pre-tokenized lines, model loading not counted); the machine, date and command. ``--limit N``
trains on the first N pairs (smoke tests only). The results JSON (``results_json.ResultsFile``,
one row per system, updated in place) also holds the Joey config used. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from common import DATA, cpu_model, matmul_gflops, parse_value
from results_json import ResultsFile

HERE = Path(__file__).resolve().parent
TRAIN, DEV = DATA / "cmn_eng/train.tsv.gz", DATA / "cmn_eng/dev.tsv.gz"
BEAMS = (1, 5)
SAME_SIZE = {"embedding_dim": 256, "encoder_hidden": 256, "decoder_hidden": 512,
             "attention": "bahdanau"}
# same-size and no-attention train as Joey does (fp32, 64 sentences a batch); every run spends
# the whole budget (patience 0) and keeps its best validation epoch. "best" is the one candidate
# planned before the first real run (2026-12-06): the same network in bf16 autocast (this CPU
# multiplies bf16 natively) with batches of 128 — faster steps, not a different model.
FAIR = {"precision": "32", "batch_size": 64, "patience": 0}
CONFIGS = {"same-size": {**SAME_SIZE, **FAIR},
           "no-attention": {**SAME_SIZE, **FAIR, "attention": "none"},
           "best": {**SAME_SIZE, "precision": "auto", "batch_size": 128, "patience": 0}}
SYSTEMS = ("joey", *CONFIGS)
JOEY_PYTHON = os.environ.get("JOEY_PYTHON", "/tmp/joeyvenv/bin/python")
SPECIALS = {"<s>", "</s>", "<pad>"}  # dropped from Joey's output tokens; <unk> stays, as in ours


# ---- data: the split, and one scorer for every system ----------------------------------------
def load_split(limit: int | None):
    """→ train (sources, targets), dev (sources, references), distinct dev sources and the
    cleaned references of each."""
    from sentirnn.data.parallel import read_parallel
    from sentirnn.inference.mt_metrics import group_references
    from sentirnn.preprocess.parallel import TextSide

    train, dev = read_parallel(TRAIN), read_parallel(DEV)
    sources, targets = train.sources, train.targets
    if limit:
        sources, targets = sources[:limit], targets[:limit]
    distinct, refs = group_references(dev.sources, dev.targets)
    side = TextSide("zh", target=True)  # Translator.score's cleaning: NFC, simplified
    return (sources, targets), (dev.sources, dev.targets), distinct, [side.clean(r) for r in refs]


def decoded(hypotheses: list[str], seconds: float, refs) -> dict:
    from sentirnn.inference.mt_metrics import corpus_scores

    scores = corpus_scores(hypotheses, refs, "zh")
    return {"bleu": scores["bleu"], "chrf": scores["chrf"], "seconds": round(seconds, 2),
            "sentences_per_s": round(len(hypotheses) / seconds, 1),
            "signature": scores["signature"], "examples": hypotheses[:3]}


# ---- the machine ----------------------------------------------------------------------------
def cpu_flags() -> set[str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("Flags:"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        line = next((x for x in text.splitlines() if x.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def machine_info(threads: int, joey_python: str | None) -> dict:
    import torch

    torch.set_num_threads(threads)
    flags = cpu_flags()
    info = {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": threads,
            "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags,
            "torch": torch.__version__, "python": platform.python_version(),
            "matmul_gflops_fp32": round(matmul_gflops(), 1),
            "load_average": [round(v, 2) for v in os.getloadavg()],
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if joey_python:
        info["joeynmt"] = subprocess.run(
            [joey_python, "-c", "import joeynmt, torch; print(f'{joeynmt.__version__} "
             "(torch {torch.__version__})')"], capture_output=True, text=True).stdout.strip()
    return info


# ---- sentirnn -------------------------------------------------------------------------------
def run_sentirnn(name: str, settings: dict, train, dev, distinct, refs, minutes: float,
                 threads: int) -> dict:
    import torch

    from sentirnn.estimators.translator import Translator

    model = Translator(**settings, max_minutes=minutes, num_threads=threads, progress=False)
    start = time.perf_counter()
    model.fit(*train, valid=dev)
    fit_seconds = time.perf_counter() - start
    torch.set_num_threads(threads)
    history, summary = model.history_, model.train_summary_
    rates = [h["train_target_tokens_per_s"] for h in history if "train_target_tokens_per_s" in h]
    row = {"kind": "sentirnn", "settings": settings, "params": model.get_params(),
           "train_seconds": round(summary["train_seconds"], 1),
           "fit_seconds": round(fit_seconds, 1), "train_pairs": summary.get("train_pairs"),
           "epochs": summary["epochs_run"], "kept_epoch": summary["best_epoch"],
           "precision": str(summary.get("precision", "")),
           "train_target_tokens_per_s": round(sum(rates) / len(rates)) if rates else None,
           "history": history}
    for beam in BEAMS:
        start = time.perf_counter()
        hyps = model.translate(distinct, beam=beam)
        row[f"beam{beam}"] = decoded(hyps, time.perf_counter() - start, refs)
    return row


# ---- Joey NMT: config, files, training under the budget, decoding ----------------------------
JOEY_MODEL = {
    "initializer": "xavier_uniform", "embed_initializer": "xavier_uniform",
    "bias_initializer": "zeros",
    "encoder": {"type": "recurrent", "rnn_type": "gru", "hidden_size": 256,
                "bidirectional": True, "num_layers": 1, "dropout": 0.3,
                "embeddings": {"embedding_dim": 256, "dropout": 0.3}},
    "decoder": {"type": "recurrent", "rnn_type": "gru", "hidden_size": 512,
                "attention": "bahdanau", "input_feeding": True, "init_hidden": "bridge",
                "num_layers": 1, "dropout": 0.3, "hidden_dropout": 0.3,
                "embeddings": {"embedding_dim": 256, "dropout": 0.3}},
}


def joey_config(work: Path, n_pairs: int, max_output: int, min_freq: int, ref) -> dict:
    """Joey's YAML as a dict: sentirnn's training settings where Joey has them."""
    steps = -(-n_pairs // ref.batch_size)  # batches per epoch (Joey keeps the last, short one)
    log_every = 10 if steps >= 20 else steps
    side = {"level": "word", "lowercase": False, "normalize": False, "max_length": -1,
            "voc_min_freq": min_freq}
    return {
        "name": "bench-translation", "model_dir": str(work / "model"), "use_cuda": False,
        "random_seed": ref.seed,
        "data": {"train": str(work / "train"), "dev": str(work / "dev"),
                 "dataset_type": "plain", "src": {"lang": "en", **side},
                 "trg": {"lang": "zh", **side}},
        "testing": {"batch_size": 64, "batch_type": "sentence", "beam_size": 1,
                    "beam_alpha": ref.alpha, "max_output_length": max_output,
                    "eval_metrics": ["bleu"], "sacrebleu_cfg": {"tokenize": "zh"}},
        "training": {
            "optimizer": "adam", "adam_betas": [0.9, 0.999], "weight_decay": 0.0,
            # Joey steps an epoch scheduler before each epoch, epoch 1 included: lr / decay
            # makes epoch 1 run at sentirnn's lr, epoch k at lr * decay ** (k - 1), as ours
            "learning_rate": ref.lr / ref.lr_decay, "scheduling": "exponential",
            "decrease_factor": ref.lr_decay, "learning_rate_min": 1.0e-8,
            "loss": "crossentropy", "label_smoothing": ref.label_smoothing,
            "normalization": "tokens", "clip_grad_norm": 1.0,
            "batch_size": ref.batch_size, "batch_type": "sentence", "shuffle": True,
            "epochs": 10_000,  # the budget stops it
            "validation_freq": max(log_every, round(steps / log_every) * log_every),
            "logging_freq": log_every, "early_stopping_metric": "bleu",
            "keep_best_ckpts": 1, "print_valid_sents": [], "overwrite": True},
        "model": JOEY_MODEL,
    }


def write_lines(path: Path, rows) -> None:
    path.write_text("".join(" ".join(r) + "\n" for r in rows), encoding="utf-8")


def write_joey_files(work: Path, train, dev, distinct) -> tuple[int, int, list[bool]]:
    """Pre-tokenized files → (training pairs kept, longest dev source, which distinct dev
    sources have tokens)."""
    from sentirnn.preprocess.parallel import TextSide

    src, tgt = TextSide("en", lowercase=True), TextSide("zh", target=True)
    pairs = [(s, t) for s, t in zip(src.tokenize(train[0]), tgt.tokenize(train[1])) if s and t]
    write_lines(work / "train.en", [s for s, _ in pairs])
    write_lines(work / "train.zh", [t for _, t in pairs])
    dev_pairs = [(s, t) for s, t in zip(src.tokenize(dev[0]), tgt.tokenize(dev[1])) if s and t]
    write_lines(work / "dev.en", [s for s, _ in dev_pairs])
    write_lines(work / "dev.zh", [t for _, t in dev_pairs])
    sources = src.tokenize(distinct)
    write_lines(work / "sources.en", [s for s in sources if s])
    return len(pairs), max(len(s) for s in sources), [bool(s) for s in sources]


def train_joey(joey_python: str, work: Path, minutes: float, env: dict) -> dict:
    """Run Joey's training; interrupt it ``minutes`` after its first epoch began."""
    log_path = work / "model" / "train.log"
    with open(work / "joey-stdout.log", "w") as out:
        proc = subprocess.Popen([joey_python, "-m", "joeynmt", "train", str(work / "joey.yaml"),
                                 "--skip-test"], stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        launched, started = time.perf_counter(), None
        try:
            while proc.poll() is None:
                now = time.perf_counter()
                if started is None and log_path.exists() and "EPOCH 1" in log_path.read_text(
                        encoding="utf-8", errors="replace"):
                    started = now
                    print(f"  joey: training started after {now - launched:.0f} s of set-up",
                          flush=True)
                if started is None and now - launched > 600:
                    raise SystemExit("joey: no epoch began within 10 minutes; see "
                                     f"{work / 'joey-stdout.log'}")
                if started is not None and now - started >= minutes * 60:
                    break
                time.sleep(0.5)
            stopped = time.perf_counter()
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # Joey saves latest.ckpt and closes its files
                try:
                    proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            elif proc.returncode != 0:
                tail = (work / "joey-stdout.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"joey training failed (exit {proc.returncode}):\n{tail}")
        finally:
            if proc.poll() is None:
                proc.kill()
    return {"train_seconds": round(stopped - (started or launched), 1),
            "setup_seconds": round((started or stopped) - launched, 1)}


EPOCH_LINE = re.compile(r"Epoch\s+(\d+), total training loss: ([\d.]+), num\. of seqs: (\d+), "
                        r"num\. of tokens: (\d+), ([\d.]+)\[sec\]")
STEP_LINE = re.compile(r"Epoch\s+(\d+), Step:\s+(\d+), .*Tokens per Sec:\s+([\d.]+)")
VALID_LINE = re.compile(r"Steps: (\d+)\t.*?bleu: ([\d.]+).*?LR: ([\d.e-]+)")


def parse_joey_logs(model_dir: Path) -> dict:
    """Epochs, training tokens/s (per epoch, validation time excluded) and the validations."""
    log = (model_dir / "train.log").read_text(encoding="utf-8", errors="replace")
    epochs = [{"epoch": int(e), "loss": float(loss), "sequences": int(n), "tokens": int(t),
               "seconds": float(s), "target_tokens_per_s": int(t) / max(float(s), 1e-9)}
              for e, loss, n, t, s in EPOCH_LINE.findall(log)]
    steps = [float(r) for _, _, r in STEP_LINE.findall(log)]
    valid_file = model_dir / "validations.txt"
    valid = [{"step": int(s), "bleu": float(b), "lr": float(lr)} for s, b, lr in
             VALID_LINE.findall(valid_file.read_text() if valid_file.exists() else "")]
    rates = [e["target_tokens_per_s"] for e in epochs] or steps  # no whole epoch: the step logs
    return {"epochs": len(epochs), "epoch_log": epochs, "validations": valid,
            "train_target_tokens_per_s": round(sum(rates) / len(rates)) if rates else None,
            "tokens_per_s_from": "epoch lines" if epochs else "step lines"}


JOEY_DECODE = r"""
import json, sys, time
import torch
from joeynmt.config import load_config, parse_global_args
from joeynmt.prediction import predict, prepare

job = json.loads(sys.argv[1])
torch.set_num_threads(job["threads"])
lines = open(job["sources"], encoding="utf-8").read().splitlines()
out = {}
for ckpt in job["checkpoints"]:
    cfg = load_config(job["config"])
    cfg["testing"]["load_model"] = ckpt
    args = parse_global_args(cfg, rank=0, mode="translate")
    model, _, _, data = prepare(args, rank=0, mode="translate")
    for line in lines:
        data.set_item(line)
    for beam in job["beams"]:
        test = args.test._replace(beam_size=beam)
        start = time.perf_counter()
        result = predict(model=model, data=data, compute_loss=False, device=args.device,
                         rank=0, n_gpu=0, normalization="none", num_workers=0, args=test,
                         autocast=args.autocast)
        out[f"{ckpt}|{beam}"] = {"seconds": time.perf_counter() - start,
                                 "tokens": [list(t) for t in result[3]]}
json.dump(out, open(job["out"], "w", encoding="utf-8"), ensure_ascii=False)
"""


def decode_joey(joey_python: str, work: Path, checkpoints: list[str], threads: int,
                env: dict) -> dict:
    """→ {(checkpoint, beam): (output tokens per source line, seconds)} from Joey's predict."""
    job = {"config": str(work / "joey.yaml"), "checkpoints": checkpoints, "beams": list(BEAMS),
           "sources": str(work / "sources.en"), "out": str(work / "decoded.json"),
           "threads": threads}
    done = subprocess.run([joey_python, "-c", JOEY_DECODE, json.dumps(job)], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"joey decoding failed:\n{done.stderr[-3000:]}")
    raw = json.loads((work / "decoded.json").read_text(encoding="utf-8"))
    return {tuple(k.rsplit("|", 1)): ([[t for t in toks if t not in SPECIALS]
                                       for toks in v["tokens"]], v["seconds"])
            for k, v in raw.items()}


def run_joey(joey_python: str, train, dev, distinct, refs, minutes: float, threads: int,
             workdir: Path | None) -> tuple[dict, dict]:
    """→ (row, the Joey config used)."""
    import yaml

    from sentirnn.estimators.translator import Translator
    from sentirnn.preprocess.parallel import detokenize

    ref = Translator(**CONFIGS["same-size"])  # the training settings Joey copies
    work = Path(tempfile.mkdtemp(prefix="bench-joey-", dir=workdir))
    try:
        n_pairs, longest, has_tokens = write_joey_files(work, train, dev, distinct)
        max_output = int(ref.max_ratio * longest + 10)  # ours is per sentence; Joey's is fixed
        config = joey_config(work, n_pairs, max_output, ref.min_freq, ref)
        (work / "joey.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        timing = train_joey(joey_python, work, minutes, env)
        model_dir = work / "model"
        logs = parse_joey_logs(model_dir)
        ckpts = [c for c in ("best.ckpt", "latest.ckpt") if (model_dir / c).exists()]
        if not ckpts:
            raise SystemExit(f"joey saved no checkpoint in {minutes} min; see its train.log")
        real = {c: os.path.realpath(model_dir / c) for c in ckpts}
        ckpts = [c for c in ckpts if c == ckpts[0] or real[c] != real[ckpts[0]]]
        outputs = decode_joey(joey_python, work, [real[c] for c in ckpts], threads, env)

        def hypotheses(tokens: list[list[str]]) -> list[str]:
            it = iter(tokens)  # sources without tokens were not sent: their output is ""
            return [detokenize(next(it), "char") if ok else "" for ok in has_tokens]

        row = {"kind": "joey", "train_pairs": n_pairs, "precision": "32-true",
               "steps_per_epoch": -(-n_pairs // ref.batch_size), **timing, **logs,
               "checkpoints": {}}
        for c in ckpts:
            tokens, seconds = outputs[(real[c], "1")]
            row["checkpoints"][c] = {"step": int(Path(real[c]).stem),
                                     "dev_bleu_greedy": decoded(hypotheses(tokens), seconds,
                                                                refs)["bleu"]}
        kept = max(ckpts, key=lambda c: row["checkpoints"][c]["dev_bleu_greedy"])
        row["kept_checkpoint"] = kept
        row["kept_step"] = row["checkpoints"][kept]["step"]
        for beam in BEAMS:
            tokens, seconds = outputs[(real[kept], str(beam))]
            row[f"beam{beam}"] = decoded(hypotheses(tokens), seconds, refs)
        # the config as used, its temporary paths replaced by a placeholder
        return row, json.loads(json.dumps(config).replace(str(work), "<workdir>"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---- the table ------------------------------------------------------------------------------
def table(rows: list[dict]) -> str:
    lines = ["| system | BLEU greedy | BLEU beam 5 | chrF greedy | chrF beam 5 | train target "
             "tokens/s | epochs | kept | decode sent/s greedy | beam 5 | train min | precision |",
             "|---" * 12 + "|"]
    for r in rows:
        kept = r.get("kept_epoch")
        if kept is None:  # Joey: a step, and the epoch it falls in
            kept = f"step {r['kept_step']}"
            if r.get("steps_per_epoch"):
                kept += f" (epoch {r['kept_step'] / r['steps_per_epoch']:.1f})"
        rate = r.get("train_target_tokens_per_s")
        lines.append(
            f"| {r['system']} | {r['beam1']['bleu']:.2f} | {r['beam5']['bleu']:.2f} | "
            f"{r['beam1']['chrf']:.2f} | {r['beam5']['chrf']:.2f} | "
            f"{'—' if rate is None else f'{rate:,}'} | {r['epochs']} | {kept} | "
            f"{r['beam1']['sentences_per_s']:.1f} | {r['beam5']['sentences_per_s']:.1f} | "
            f"{r['train_seconds'] / 60:.1f} | {r.get('precision', '')} |")
    return "\n".join(lines)


def report(results: ResultsFile) -> None:
    rows = results.rows
    if not rows:
        print(f"{results.path}: no runs yet")
        return
    for m in {json.dumps(r["machine"], sort_keys=True) for r in rows}:
        m = json.loads(m)
        print(f"machine: {m['cpu']}, {m['cores']} cores, {m['threads']} threads, AVX512-BF16 "
              f"{'yes' if m['avx512_bf16'] else 'no'}, {m['matmul_gflops_fp32']} GFLOP/s fp32 "
              f"matmul, torch {m['torch']}, joeynmt {m.get('joeynmt', '—')}; {m['date']}")
    print(f"budget: {', '.join(sorted({str(r['minutes']) for r in rows}))} min; "
          f"training pairs: {', '.join(sorted({str(r['train_pairs']) for r in rows}))}")
    print(table(rows))


# ---- the command line ------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(SYSTEMS),
                    help=f"comma-separated systems, from {', '.join(SYSTEMS)}")
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget per system")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads of every system")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a Translator setting of the 'best' configuration")
    ap.add_argument("--limit", type=int, default=None,
                    help="train on the first N pairs only (smoke tests)")
    ap.add_argument("--joey-python", default=JOEY_PYTHON, help="Joey NMT's virtualenv python")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="where Joey's files go while it runs (default: the system's temp)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "translation.json")
    ap.add_argument("--report", action="store_true",
                    help="print the table of --out; train nothing")
    args = ap.parse_args()
    results = ResultsFile(args.out, key=("system",))
    if args.report:
        report(results)
        return
    systems = [s for s in args.configs.split(",") if s]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown system(s) {unknown}; choose from {', '.join(SYSTEMS)}")
    overrides = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    if overrides and "best" not in systems:
        raise SystemExit("--set changes the 'best' configuration: add best to --configs")
    if "joey" in systems and not Path(args.joey_python).exists():
        raise SystemExit(f"no Joey NMT python at {args.joey_python}; give --joey-python")
    import logging

    logging.basicConfig(level=logging.INFO, format="  %(message)s")
    machine = machine_info(args.threads, args.joey_python if "joey" in systems else None)
    print(f"machine: {machine}", flush=True)
    train, dev, distinct, refs = load_split(args.limit)
    print(f"train {len(train[0])} pairs, dev {len(dev[0])} rows ({len(distinct)} sources)",
          flush=True)
    command = shlex.join([sys.executable, *sys.argv])
    results.data["machine"] = machine
    for system in systems:
        print(f"{system}: training for {args.minutes} min on {args.threads} threads", flush=True)
        if system == "joey":
            row, config = run_joey(args.joey_python, train, dev, distinct, refs, args.minutes,
                                   args.threads, args.workdir)
            results.data["joey_config"] = config
        else:
            settings = {**CONFIGS[system], **(overrides if system == "best" else {})}
            row = run_sentirnn(system, settings, train, dev, distinct, refs, args.minutes,
                               args.threads)
        row.update(system=system, minutes=args.minutes, threads=args.threads, limit=args.limit,
                   machine=machine, command=command,
                   date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        results.put(row)
        print(table([row]).splitlines()[-1], flush=True)
    print(table([r for r in results.rows if r["system"] in systems]))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
