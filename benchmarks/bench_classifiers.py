"""Accuracy and speed of the default RNN classifier vs TF-IDF + logistic regression.

Usage: python benchmarks/bench_classifiers.py [TASK ...] [--set key=value ...] [--out F.json]
TASK ∈ waimai_10k, sst2, sst5, sst5-3, imdb (default: all). Splits: waimai_10k stratified
80/20 (seed 0); SST-2 and SST-5 train → dev (SST-5 also folded to 3 classes); IMDb 90/10 of
the movies of train (seed 0; movie-disjoint, ``common.imdb_movie_split``). The TF-IDF reference
runs in the same process on the same split, so the comparison holds on any machine. Prints a
Markdown table; writes JSON rows with --out.
"""

from __future__ import annotations

import argparse
import json

from common import Timer, load_task, machine, parse_value
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from sentirnn import SentimentClassifier
from sentirnn.preprocess.text import clean_many
from sentirnn.preprocess.tokenize import Tokenizer, detect_language

TASKS = ["waimai_10k", "sst2", "sst5", "sst5-3", "imdb"]


def tfidf_reference(train_x, train_y, test_x, test_y) -> dict:
    """Word 1–2-gram TF-IDF + LR on the same tokens (jieba words for Chinese)."""
    language = detect_language(train_x)
    tokenizer = Tokenizer("jieba-word" if language == "zh" else "en-word", language)
    with Timer() as prep:
        train_tok = [" ".join(t) for t in tokenizer.tokenize_many(clean_many(train_x))]
    with Timer() as fit:
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                              token_pattern=r"\S+", lowercase=False)
        model = LogisticRegression(C=4.0, max_iter=2000).fit(vec.fit_transform(train_tok),
                                                              train_y)
    with Timer() as pred:
        test_tok = [" ".join(t) for t in tokenizer.tokenize_many(clean_many(test_x))]
        predicted = model.predict(vec.transform(test_tok))
    return {"model": "TF-IDF 1-2gram + LR", "accuracy": accuracy_score(test_y, predicted),
            "macro_f1": f1_score(test_y, predicted, average="macro"),
            "train_seconds": prep.seconds + fit.seconds, "docs_per_s": len(test_x) / pred.seconds}


def rnn(train_x, train_y, test_x, test_y, params: dict) -> dict:
    clf = SentimentClassifier(progress=False, **params)
    with Timer() as fit:
        clf.fit(train_x, train_y)
    with Timer() as pred:
        predicted = clf.predict(test_x)
    s = clf.train_summary_
    rates = [h["train_tokens_per_s"] for h in clf.history_]
    return {"model": f"sentirnn {clf.arch} ({clf.tokenizer_.kind})",
            "accuracy": accuracy_score(test_y, predicted),
            "macro_f1": f1_score(test_y, predicted, average="macro"),
            "train_seconds": fit.seconds, "docs_per_s": len(test_x) / pred.seconds,
            "train_tokens_per_s": max(rates) if rates else None, "epochs": s["epochs_run"],
            "best_epoch": s["best_epoch"], "params": params}


def parse_sets(items) -> dict:
    params = {}
    for item in items or []:
        key, value = item.split("=", 1)
        params[key] = parse_value(value)
    return params


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=TASKS)
    parser.add_argument("--set", action="append", help="SentimentClassifier param key=value")
    parser.add_argument("--out", help="append JSON rows to this file")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()
    params = parse_sets(args.set)
    print(f"machine: {machine()}")
    print("| task | model | accuracy | macro-F1 | train s | predict docs/s | train tokens/s |")
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks:
        data = load_task(task)
        runs = [] if args.skip_reference else [tfidf_reference(*data)]
        runs.append(rnn(*data, params))
        for row in runs:
            row["task"] = task
            tps = row.get("train_tokens_per_s")
            print(f"| {task} | {row['model']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | "
                  f"{row['train_seconds']:.0f} | {row['docs_per_s']:.0f} | "
                  f"{f'{tps:.0f}' if tps else '—'} |", flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
