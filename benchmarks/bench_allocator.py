"""Training speed with glibc's default malloc thresholds vs sentirnn's
(``sentirnn.training.allocator``).

Usage: python benchmarks/bench_allocator.py [--work scratch,lm,ulmfit,predict] [--n 4000]
       [--epochs 2] [--lm DIR] [--model DIR]

Each workload trains twice on the same IMDb texts, each time in a fresh process (the
thresholds are process-wide): once with ``SENTIRNN_MALLOC=system`` (glibc's defaults) and
once as sentirnn runs by default; the order alternates between workloads. Reports training
tokens/s, wall seconds and the ratio. scratch = the default BiLSTM on the first N training
reviews; lm = the default language model on the first N unsup reviews; ulmfit = a classifier
fine-tuned from the language model in --lm DIR on the first N training reviews; predict = the
saved classifier in --model DIR scoring the first N test reviews (``predict_proba``, best of
three calls; a PyTorch classifier sets the thresholds when it first predicts).
Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import DATA, load_task, machine


def child(work: str, n: int, epochs: int, lm_dir: str | None, model: str | None) -> dict:
    """Train (or score with) one workload here; its figures as a dict."""
    from sentirnn import SentimentClassifier
    from sentirnn.data.dataset import read_texts
    from sentirnn.estimators.language_model import LanguageModel

    start = time.perf_counter()
    if work == "predict":
        return predict_child(model, n)
    if work == "lm":
        texts = read_texts(DATA / "imdb/unsup.txt.gz")[0][:n]
        model = LanguageModel(progress=False, max_epochs=epochs).fit(texts)
        s = model.train_summary_
        return {"tokens_per_s": s["train_tokens_per_s"], "seconds": time.perf_counter() - start,
                "result": f"perplexity {s['val_perplexity']:.2f}"}
    x, y = load_task("imdb")[:2]
    if work == "ulmfit":
        clf = SentimentClassifier.from_language_model(LanguageModel.load(lm_dir),
                                                      progress=False, max_epochs=epochs)
    else:
        clf = SentimentClassifier(progress=False, max_epochs=epochs)
    clf.fit(x[:n], y[:n])
    rates = [h["train_tokens_per_s"] for h in clf.history_]
    return {"tokens_per_s": sum(rates) / len(rates), "seconds": time.perf_counter() - start,
            "result": f"validation loss {clf.history_[-1].get('val_loss', float('nan')):.4f}"}


def predict_child(model: str, n: int) -> dict:
    """Score the first n IMDb test reviews with a saved classifier; best of three calls."""
    from sentirnn.estimators.classifier import load

    clf = load(model)
    texts = load_task("imdb")[2][:n]
    tokens = sum(len(s) for s in clf._encode(texts))
    best, probs = float("inf"), None
    for _ in range(3):
        start = time.perf_counter()
        probs = clf.predict_proba(texts)
        best = min(best, time.perf_counter() - start)
    return {"tokens_per_s": tokens / best, "seconds": best,
            "docs_per_s": len(texts) / best, "result": f"probability sum {probs[:, 0].sum():.6f}"}


def run(work: str, malloc: str, args) -> dict:
    env = {**os.environ, "SENTIRNN_MALLOC": malloc}
    cmd = [sys.executable, __file__, "--child", work, "--n", str(args.n), "--epochs",
           str(args.epochs)] + (["--lm", args.lm] if args.lm else []) + (
           ["--model", args.model] if args.model else [])
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{work} ({malloc or 'sentirnn'}) failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="scratch,lm,ulmfit")
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lm", help="language model for the ulmfit workload")
    parser.add_argument("--model", help="saved classifier for the predict workload")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.n, args.epochs, args.lm, args.model)))
        return
    works = args.work.split(",")
    if "ulmfit" in works and not args.lm:
        raise SystemExit("the ulmfit workload fine-tunes a saved language model: give --lm DIR")
    if "predict" in works and not args.model:
        raise SystemExit("the predict workload scores with a saved classifier: give --model DIR")
    print(f"machine: {machine()}; {args.n} texts, {args.epochs} epochs")
    print("| workload | glibc defaults | sentirnn's thresholds | speed-up | results |\n"
          "|---|---|---|---|---|")
    for i, work in enumerate(works):
        order = ("system", "") if i % 2 == 0 else ("", "system")
        got = {m: run(work, m, args) for m in order}
        a, b = got["system"], got[""]
        same = "same" if a["result"] == b["result"] else f"{a['result']} / {b['result']}"
        cells = [f"{m['tokens_per_s']:,.0f} tokens/s, {m['seconds']:.1f} s"
                 + (f", {m['docs_per_s']:,.0f} docs/s" if "docs_per_s" in m else "")
                 for m in (a, b)]
        print(f"| {work} | {cells[0]} | {cells[1]} | "
              f"{b['tokens_per_s'] / a['tokens_per_s']:.2f}× | {same} ({b['result']}) |",
              flush=True)


if __name__ == "__main__":
    main()
