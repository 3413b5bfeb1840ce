"""Long documents on IMDb: head, tail and head+tail truncation vs sentence splitting.

Usage: python benchmarks/bench_long_documents.py [--limit-train N] [--limit-test N]
       [--max-epochs N] [--max-len N] [--pooling mean max ...] [--modes head sentences ...]
       [--num-threads N] [--set key=value ...] [--out F.json] [--skip-reference]
Split: IMDb's seeded 90/10 split of train by movie (``common.imdb_movie_split``: no movie on
both sides); --limit-* keep a seeded
random subset of each side. Every mode trains the default classifier with the same params
but ``truncation``; "sentences" trains once and is scored with each --pooling (pooling is a
prediction-time choice). The TF-IDF + LR reference of bench_classifiers runs on the same
split. Prints a Markdown table; appends JSON rows with --out.
"""

from __future__ import annotations

import argparse
import json
import random

from bench_classifiers import parse_sets, tfidf_reference
from common import Timer, load_task, machine
from sklearn.metrics import accuracy_score, f1_score

from sentirnn import SentimentClassifier

MODES = ["head", "tail", "head+tail", "sentences"]


def limit(texts: list[str], labels: list[str], n: int | None, seed: int = 0):
    """A seeded random subset of n rows (all rows when n is None or larger)."""
    if n is None or n >= len(texts):
        return texts, labels
    keep = sorted(random.Random(seed).sample(range(len(texts)), n))
    return [texts[i] for i in keep], [labels[i] for i in keep]


def run_mode(mode: str, data, params: dict, poolings: list[str]) -> list[dict]:
    """Train with one truncation; → one row per pooling ("sentences") or one row."""
    train_x, train_y, test_x, test_y = data
    clf = SentimentClassifier(**{**params, "truncation": mode})
    with Timer() as fit:
        clf.fit(train_x, train_y)
    s = clf.train_summary_
    rows = []
    for pooling in poolings if mode == "sentences" else [None]:
        if pooling:
            clf.set_params(sentence_pooling=pooling)
        with Timer() as pred:
            predicted = clf.predict(test_x)
        rows.append({"model": f"{mode} ({pooling})" if pooling else mode, "truncation": mode,
                     "sentence_pooling": pooling,
                     "accuracy": accuracy_score(test_y, predicted),
                     "macro_f1": f1_score(test_y, predicted, average="macro"),
                     "train_seconds": fit.seconds, "docs_per_s": len(test_x) / pred.seconds,
                     "train_rows": s["train_texts"], "epochs": s["epochs_run"],
                     "best_epoch": s["best_epoch"], "params": {**params, "truncation": mode}})
    return rows


def runs(data, params: dict, args):
    """Rows of each run as it finishes: the reference first, then every mode."""
    if not args.skip_reference:
        yield [tfidf_reference(*data)]
    for mode in args.modes:
        yield run_mode(mode, data, params, args.pooling)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit-train", type=int, help="training documents (default: all)")
    parser.add_argument("--limit-test", type=int, help="test documents (default: all)")
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--max-len", type=int, default=400, help="tokens kept per text "
                        "(per sentence with 'sentences')")
    parser.add_argument("--modes", nargs="+", default=MODES, choices=MODES)
    parser.add_argument("--pooling", nargs="+", default=["mean"],
                        choices=["mean", "logit-mean", "max", "length-weighted"])
    parser.add_argument("--num-threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--set", action="append", help="SentimentClassifier param key=value")
    parser.add_argument("--out", help="append JSON rows to this file")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    params = {"progress": False, "max_epochs": args.max_epochs, "max_len": args.max_len,
              "num_threads": args.num_threads, **parse_sets(args.set)}
    train_x, train_y, test_x, test_y = load_task("imdb")
    data = (*limit(train_x, train_y, args.limit_train), *limit(test_x, test_y, args.limit_test))
    print(f"machine: {machine()}; imdb: {len(data[0])} train / {len(data[2])} test documents")
    print("| model | accuracy | macro-F1 | train s | predict docs/s | train rows | epochs |")
    print("|---|---|---|---|---|---|---|")
    for rows in runs(data, params, args):
        for row in rows:
            row["task"] = "imdb"
            print(f"| {row['model']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | "
                  f"{row['train_seconds']:.0f} | {row['docs_per_s']:.0f} | "
                  f"{row.get('train_rows', '—')} | {row.get('epochs', '—')} |", flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
