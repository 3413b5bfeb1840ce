"""One table across the toolbox: every architecture, the baselines and an ensemble, per data set.

Usage:
    python benchmarks/bench_toolbox.py [TASK ...] [--models KEY,KEY,...] [--set key=value ...]
        [--limit-train N] [--limit-test N] [--num-threads N] [--w2v-extra]
        [--lm LM_DIR ...] [--lm-epochs N] [--out rows.jsonl] [--markdown table.md]

TASK ∈ waimai_10k, sst2, sst5, sst5-3, imdb (default: all), split exactly as in
bench_classifiers.py (``common.load_task``): waimai_10k stratified 80/20 (seed 0); SST-2 and
SST-5 train → dev (SST-5 also folded to 3 classes); IMDb 90/10 of the movies of train (seed 0;
movie-disjoint, ``common.imdb_movie_split``).

Models (``--models``, default: all of them):
    rnn, lstm, gru, bilstm, bigru-attention, textcnn
        ``SentimentClassifier`` with the library defaults except ``arch`` (and
        ``pooling="attention"`` for bigru-attention); ``--set`` and TASK_DEFAULTS apply to them.
    ensemble
        BiLSTM + TextCNN as ``EnsembleClassifier`` rows: "mean" (average of probabilities) and
        "stack" (logistic regression on the members' validation probabilities). It reuses the
        bilstm and textcnn models of the same run (training them if they were not requested).
        Train s = both members' fits + the combiner's.
    tfidf-lr, tfidf-nb, tfidf-svm (also bow-lr, bow-nb)
        ``BaselineClassifier`` with its defaults (word 1–2-grams + char 1–3-grams), trained on
        the whole training part.
    tfidf-ref
        bench_classifiers.py's TF-IDF + LR reference (word 1–2-grams only, C=4), the row the
        README's results table quotes.
    w2v, augment, w2v-augment
        The default BiLSTM with Word2Vec initialisation (``train_word2vec`` on the task's
        training texts, skip-gram, ``embedding_dim`` dimensions so only the initialisation
        changes; ``--w2v-extra`` adds imdb/unsup.txt.gz for the English tasks), with EDA
        augmentation (``augment=0.1, augment_copies=1``; without vectors synonym replacement is
        skipped), and with both (the vectors also give EDA its synonyms). Train s of the w2v
        rows includes training the vectors (once per task; also in the JSON as w2v_seconds).
        Without ``--models`` they run on the small sets only (waimai_10k, sst5, sst5-3); named
        in ``--models`` they run on every task given.
    ulmfit
        ``SentimentClassifier.from_language_model`` (ULMFiT defaults: concat pooling, gradual
        unfreezing, discriminative and slanted triangular learning rates) from a language
        model saved by ``sentirnn pretrain`` / ``bench_pretrain.py --save-lm``, given with
        ``--lm`` (repeatable: each task uses the LM of its language, English or Chinese).
        The LM is first fine-tuned ``--lm-epochs`` epochs (default 1) on the task's
        training texts, ULMFiT's second step. Train s = that LM fine-tuning + the classifier's
        fit; the LM's pretraining is not in it (its perplexity and the seconds of its last
        training run are in the row's JSON). Only ``num_threads`` and ``max_minutes`` of ``--set`` /
        TASK_DEFAULTS apply: the rest are the LM's sizes and the ulmfit schedule's own.
        Runs only when named in ``--models`` and given an LM of the task's language.

Validation: the neural models get an explicit seeded stratified held-out split of the
training part — ``stratified_split(train_labels, (1 - valid_fraction, valid_fraction), seed)``
with the classifier's own ``valid_fraction`` (0.1) and ``seed`` (0), i.e. the very split
``SentimentClassifier.fit`` would hold out by itself — passed as ``valid=`` for early
stopping. The stack combiner is fitted on that same validation split, which the members did
not train on (they did use it to pick their best epoch, so it is not perfectly fresh).

Metrics on the test part: accuracy, macro-F1, training seconds (wall clock of ``fit``) and
docs/s (test texts / wall clock of an end-to-end ``predict_proba`` on them, cleaning and
tokenizing included). Rows are printed as a Markdown table as they finish, with a verdict per
task at the end (does the best recurrent model beat TF-IDF + LR? is the ensemble at least as
good as its best member?). ``--out`` appends JSON lines, ``--markdown`` writes the table too.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import traceback
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from bench_classifiers import TASKS, parse_sets, tfidf_reference
from bench_pretrain import reuse
from common import DATA, Timer, load_task, machine
from sklearn.metrics import accuracy_score, f1_score
from threadpoolctl import threadpool_limits

from sentirnn import SentimentClassifier
from sentirnn.classic.baselines import BaselineClassifier
from sentirnn.config import TextConfig
from sentirnn.data.splits import stratified_split
from sentirnn.estimators.ensemble import EnsembleClassifier
from sentirnn.preprocess.embeddings import save_vectors, train_word2vec

# Per-task SentimentClassifier overrides (``--set`` wins over them), so that one neural fit
# stays within ~10 minutes on the 2-core machine: IMDb's BiLSTM takes ~140 s an epoch and
# SST-2's (67k phrases) ~550 s for its early-stopped run. ``max_minutes`` stops mid-epoch and
# keeps the best validated weights.
TASK_DEFAULTS = {
    "sst2": {"max_minutes": 9.0},
    "imdb": {"max_epochs": 3, "max_minutes": 9.0},
}
SMALL_TASKS = ("waimai_10k", "sst5", "sst5-3")  # where the w2v / augment rows run by default

# key → (table name, SentimentClassifier params beyond the defaults)
NEURAL = {
    "rnn": ("SimpleRNN", {"arch": "rnn"}),
    "lstm": ("LSTM", {"arch": "lstm"}),
    "gru": ("GRU", {"arch": "gru"}),
    "bilstm": ("BiLSTM", {"arch": "bilstm"}),
    "bigru-attention": ("BiGRU + attention", {"arch": "bigru", "pooling": "attention"}),
    "textcnn": ("TextCNN", {"arch": "textcnn"}),
}
RECURRENT = ("rnn", "lstm", "gru", "bilstm", "bigru-attention", "w2v", "augment", "w2v-augment",
             "ulmfit")
ULMFIT_SETS = ("num_threads", "max_minutes")  # the --set / TASK_DEFAULTS keys ulmfit rows take
# key → (table name, Word2Vec initialisation, EDA rate); all of them are the default BiLSTM
VARIANTS = {
    "w2v": ("BiLSTM + w2v init", True, 0.0),
    "augment": ("BiLSTM + EDA 0.1", False, 0.1),
    "w2v-augment": ("BiLSTM + w2v init + EDA 0.1", True, 0.1),
}
BASELINES = {"tfidf-lr": "TF-IDF + LR", "tfidf-nb": "TF-IDF + NB", "tfidf-svm": "TF-IDF + SVM",
             "bow-lr": "BoW + LR", "bow-nb": "BoW + NB"}
ENSEMBLE_MEMBERS = ("bilstm", "textcnn")
DEFAULT_MODELS = ["tfidf-ref", "tfidf-lr", "tfidf-nb", "tfidf-svm", *NEURAL, "ensemble",
                  *VARIANTS]
KNOWN = set(DEFAULT_MODELS) | set(BASELINES) | {"ulmfit"}
ENGLISH = ("sst2", "sst5", "sst5-3", "imdb")
HEADER = ("| data | model | accuracy | macro-F1 | train s | docs/s |\n"
          "|---|---|---|---|---|---|")


# ---- helpers ---------------------------------------------------------------------------------
def subsample(x: list, y: list, limit: int | None, seed: int = 0) -> tuple[list, list]:
    """A seeded random subset of at most ``limit`` rows (all of them when limit is None)."""
    if limit is None or limit >= len(x):
        return x, y
    idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:limit])
    return [x[i] for i in idx], [y[i] for i in idx]


def score(model, test_x, test_y) -> dict:
    """Accuracy, macro-F1 and end-to-end prediction speed of any fitted classifier."""
    with Timer() as t:
        proba = np.asarray(model.predict_proba(test_x))
    predicted = [model.classes_[i] for i in proba.argmax(axis=1)]
    return {"accuracy": accuracy_score(test_y, predicted),
            "macro_f1": f1_score(test_y, predicted, average="macro"),
            "docs_per_s": len(test_x) / t.seconds, "predict_seconds": t.seconds}


def fmt_row(row: dict) -> str:
    if "error" in row:
        return f"| {row['task']} | {row['name']} | error: {row['error']} | | | |"
    seconds = row["train_seconds"]
    train_s = f"{seconds:.1f}" if seconds < 10 else f"{seconds:,.0f}"
    return (f"| {row['task']} | {row['name']} | {row['accuracy']:.4f} | {row['macro_f1']:.4f} | "
            f"{train_s} | {row['docs_per_s']:,.0f} |")


class Report:
    """Prints rows as they finish (flushed) and mirrors them to --markdown / --out."""

    def __init__(self, markdown: str | None, out: str | None, context: dict):
        self.markdown, self.out, self.context = markdown, out, context
        self.emit(f"machine: {context['machine']}; "
                  f"threads {context['num_threads'] or 'all'}; {context['started']}")
        self.emit("")
        self.emit(HEADER)

    def emit(self, line: str) -> None:
        print(line, flush=True)
        if self.markdown:
            with open(self.markdown, "a", encoding="utf-8") as f:
                f.write(line + "\n")

    def row(self, row: dict) -> dict:
        self.emit(fmt_row(row))
        if self.out:
            with open(self.out, "a", encoding="utf-8") as f:
                f.write(json.dumps({**row, **self.context}, ensure_ascii=False,
                                   default=str) + "\n")
        return row


# ---- one task ----------------------------------------------------------------------------------
class TaskRun:
    """Every requested model on one task's split; fitted members are kept for the ensemble."""

    def __init__(self, task: str, data: tuple, params: dict, args, report: Report):
        self.task, self.params, self.args, self.report = task, params, args, report
        self.train_x, self.train_y, self.test_x, self.test_y = data
        defaults = SentimentClassifier(**params)  # also checks the --set names early
        self.seed, self.valid_fraction = defaults.seed, defaults.valid_fraction
        self.embedding_dim = defaults.embedding_dim
        self.text_config = TextConfig(lowercase=defaults.lowercase,
                                      strip_html=defaults.strip_html,
                                      traditional_to_simplified=defaults.traditional_to_simplified,
                                      remove_stopwords=defaults.remove_stopwords)
        if self.valid_fraction > 0:  # the split SentimentClassifier.fit would hold out itself
            keep, held = stratified_split(self.train_y,
                                          (1 - self.valid_fraction, self.valid_fraction),
                                          self.seed)
            self.fit_x = [self.train_x[i] for i in keep]
            self.fit_y = [self.train_y[i] for i in keep]
            self.valid = ([self.train_x[i] for i in held], [self.train_y[i] for i in held])
        else:
            self.fit_x, self.fit_y, self.valid = self.train_x, self.train_y, None
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench_toolbox_{task}_"))
        self.fitted: dict[str, tuple[Path, dict]] = {}  # key → (saved model dir, its row)
        self.w2v: tuple[Path, float] | None = None
        self.rows: list[dict] = []
        self.attempted: set[str] = set()

    def base_row(self, key: str, name: str) -> dict:
        return {"task": self.task, "model": key, "name": name, "n_train": len(self.train_x),
                "n_fit": len(self.fit_x), "n_valid": len(self.valid[0]) if self.valid else 0,
                "n_test": len(self.test_x)}

    def guarded(self, key: str, name: str, work) -> dict | None:
        """Run one row; a failure becomes an error row and the benchmark goes on."""
        try:
            row = work()
        except Exception as e:  # noqa: BLE001 — one broken row must not end a long run
            traceback.print_exc(file=sys.stderr)
            row = {**self.base_row(key, name), "error": f"{type(e).__name__}: {e}"[:200]}
        self.attempted.add(key)
        self.rows.append(self.report.row(row))
        return row

    # ---- the kinds of rows ---------------------------------------------------------------------
    def reference(self) -> dict:
        row = tfidf_reference(self.train_x, self.train_y, self.test_x, self.test_y)
        return {**self.base_row("tfidf-ref", "TF-IDF 1–2-gram + LR (bench_classifiers)"),
                "n_fit": len(self.train_x), "n_valid": 0,
                **{k: v for k, v in row.items() if k != "model"}}

    def baseline(self, key: str) -> dict:
        clf = BaselineClassifier(arch=key, seed=self.seed)
        with Timer() as fit:
            clf.fit(self.train_x, self.train_y)
        return {**self.base_row(key, BASELINES[key]), "n_fit": len(self.train_x), "n_valid": 0,
                **score(clf, self.test_x, self.test_y), "train_seconds": fit.seconds,
                "features": clf.train_summary_.get("features"), "params": clf.get_params()}

    def neural(self, key: str, name: str, extra: dict, keep: bool = False,
               w2v_seconds: float = 0.0) -> dict:
        params = {**self.params, **extra}
        clf = SentimentClassifier(progress=False, **params)
        with Timer() as fit:
            clf.fit(self.fit_x, self.fit_y, valid=self.valid)
        s = clf.train_summary_
        row = {**self.base_row(key, name), **score(clf, self.test_x, self.test_y),
               "train_seconds": fit.seconds + w2v_seconds, "fit_seconds": fit.seconds,
               "tokenizer": clf.tokenizer_.kind, "epochs": s.get("epochs_run"),
               "best_epoch": s.get("best_epoch"), "best_val_macro_f1": s.get("best_val_macro_f1"),
               "params": {k: str(v) if isinstance(v, Path) else v
                          for k, v in clf.get_params().items()}}
        if w2v_seconds:
            row["w2v_seconds"] = w2v_seconds
        if "embeddings" in s:
            row["embeddings_coverage"] = {k: s["embeddings"][k]
                                          for k in ("type_share", "token_share")}
        if keep:
            self.fitted[key] = (clf.save(self.tmp / key), row)
        return row

    def vectors(self) -> tuple[Path, float]:
        """Word2Vec on the task's training texts (+ unlabelled IMDb with --w2v-extra), once."""
        if self.w2v is None:
            texts = list(self.train_x)
            if self.args.w2v_extra and self.task in ENGLISH:
                with gzip.open(DATA / "imdb/unsup.txt.gz", "rt", encoding="utf-8") as f:
                    texts += [line.strip() for line in f if line.strip()]
            elif self.args.w2v_extra:
                print(f"note: no unlabelled text for {self.task}; Word2Vec sees its training "
                      "texts only", file=sys.stderr, flush=True)
            with Timer() as t:
                kv = train_word2vec(texts, language=self.params.get("language", "auto"),
                                    tokenizer=self.params.get("tokenizer", "auto"),
                                    text_config=self.text_config, dim=self.embedding_dim,
                                    seed=self.seed)
                path = save_vectors(kv, self.tmp / "w2v.bin", binary=True)
            self.w2v = (path, t.seconds)
        return self.w2v

    def variant(self, key: str) -> dict:
        name, use_vectors, rate = VARIANTS[key]
        extra = {"arch": "bilstm"}
        if rate:
            extra.update(augment=rate, augment_copies=1)
        w2v_seconds = 0.0
        if use_vectors:
            path, w2v_seconds = self.vectors()
            extra["embeddings"] = str(path)
            if self.args.w2v_extra and self.task in ENGLISH:
                name += " (+ IMDb unsup)"
        return self.neural(key, name, extra, w2v_seconds=w2v_seconds)

    def ulmfit(self) -> dict:
        language = "en" if self.task in ENGLISH else "zh"
        path = self.args.lms.get(language)
        lm, loaded = reuse(path)  # loaded fresh per task: fine_tune changes it in place
        # an LM that was itself fine-tuned records only its last training run's seconds
        pretrain = {"lm": str(path), "lm_val_perplexity": loaded["val_perplexity"],
                    "lm_last_run_seconds": loaded["seconds"]}
        lm.progress = False
        with Timer() as lm_fit:
            if self.args.lm_epochs:
                lm.fine_tune(self.train_x, epochs=self.args.lm_epochs)
        params = {k: v for k, v in self.params.items() if k in ULMFIT_SETS}
        clf = SentimentClassifier.from_language_model(lm, progress=False, **params)
        with Timer() as fit:
            clf.fit(self.fit_x, self.fit_y, valid=self.valid)
        s = clf.train_summary_
        name = f"ULMFiT (LM {Path(path).name}, + {self.args.lm_epochs} epoch(s) on the task)"
        return {**self.base_row("ulmfit", name), **score(clf, self.test_x, self.test_y),
                "train_seconds": lm_fit.seconds + fit.seconds, "fit_seconds": fit.seconds,
                "lm_finetune_seconds": lm_fit.seconds, "lm_epochs": self.args.lm_epochs,
                "lm_finetuned_perplexity": (lm.train_summary_.get("val_perplexity")
                                            if self.args.lm_epochs else None),
                **pretrain, "epochs": s.get("epochs_run"), "best_epoch": s.get("best_epoch"),
                "batch_size": s.get("batch_size")}

    def ensembles(self) -> None:
        for key in ENSEMBLE_MEMBERS:
            if key not in self.attempted:  # not requested on its own: train it here
                self.guarded(key, NEURAL[key][0],
                             lambda k=key: self.neural(k, *NEURAL[k], keep=True))
        if not all(key in self.fitted for key in ENSEMBLE_MEMBERS):
            return
        paths = [self.fitted[k][0] for k in ENSEMBLE_MEMBERS]
        members_s = sum(self.fitted[k][1]["train_seconds"] for k in ENSEMBLE_MEMBERS)
        label = " + ".join(NEURAL[k][0] for k in ENSEMBLE_MEMBERS)

        def run(combiner: str) -> dict:
            with Timer() as fit:
                ens = EnsembleClassifier(paths, combiner=combiner)
                if combiner == "stack":
                    ens.fit(*self.valid)
                else:
                    ens.fit()
            return {**self.base_row(f"ensemble-{combiner}", f"Ensemble {label} ({combiner})"),
                    **score(ens, self.test_x, self.test_y),
                    "train_seconds": members_s + fit.seconds, "combiner_seconds": fit.seconds}

        self.guarded("ensemble-mean", f"Ensemble {label} (mean)", lambda: run("mean"))
        if self.valid is not None:
            self.guarded("ensemble-stack", f"Ensemble {label} (stack)", lambda: run("stack"))

    def run(self, models: list[str]) -> None:
        if "tfidf-ref" in models:
            self.guarded("tfidf-ref", "TF-IDF + LR (reference)", self.reference)
        for key in (m for m in models if m in BASELINES):
            self.guarded(key, BASELINES[key], lambda k=key: self.baseline(k))
        for key in (m for m in models if m in NEURAL):
            self.guarded(key, NEURAL[key][0], lambda k=key: self.neural(
                k, *NEURAL[k], keep=k in ENSEMBLE_MEMBERS and "ensemble" in models))
        if "ensemble" in models:
            self.ensembles()
        for key in (m for m in models if m in VARIANTS):
            self.guarded(key, VARIANTS[key][0], lambda k=key: self.variant(k))
        if "ulmfit" in models:
            if self.args.lms.get("en" if self.task in ENGLISH else "zh"):
                self.guarded("ulmfit", "ULMFiT", self.ulmfit)
            else:
                print(f"note: no --lm of {self.task}'s language; its ulmfit row is skipped",
                      file=sys.stderr, flush=True)

    # ---- verdicts ------------------------------------------------------------------------------
    def verdicts(self) -> list[str]:
        ok = {r["model"]: r for r in self.rows if "error" not in r}
        lines = []
        rnns = [ok[k] for k in RECURRENT if k in ok]
        references = [ok[k] for k in ("tfidf-lr", "tfidf-ref") if k in ok]
        if rnns and references:
            best = max(rnns, key=lambda r: (r["accuracy"], r["macro_f1"]))
            for ref in references:
                lines.append(
                    f"{self.task}: best recurrent model {best['name']} "
                    f"{best['accuracy']:.4f} acc / {best['macro_f1']:.4f} F1 vs {ref['name']} "
                    f"{ref['accuracy']:.4f} / {ref['macro_f1']:.4f}: "
                    f"{verdict(best, ref, 'beats')}")
        members = [ok[k] for k in ENSEMBLE_MEMBERS if k in ok]
        if len(members) == len(ENSEMBLE_MEMBERS):
            best = max(members, key=lambda r: (r["accuracy"], r["macro_f1"]))
            for key in ("ensemble-mean", "ensemble-stack"):
                if key in ok:
                    lines.append(f"{self.task}: {ok[key]['name']} {ok[key]['accuracy']:.4f} acc / "
                                 f"{ok[key]['macro_f1']:.4f} F1 vs best member {best['name']} "
                                 f"{best['accuracy']:.4f} / {best['macro_f1']:.4f}: "
                                 f"{verdict(ok[key], best, '≥', strict=False)}")
        return lines


def verdict(a: dict, b: dict, word: str, strict: bool = True) -> str:
    """'yes'/'no' on accuracy and on macro-F1 of row a against row b."""
    parts = []
    for metric, label in (("accuracy", "accuracy"), ("macro_f1", "macro-F1")):
        diff = a[metric] - b[metric]
        good = diff > 0 if strict else diff >= 0
        parts.append(f"{'yes' if good else 'no'} on {label} ({diff:+.4f})")
    return f"{word}? " + ", ".join(parts)


def warm_up(num_threads: int | None) -> None:
    """One tiny fit and predict, so the first timed neural row does not pay for importing
    Lightning and initialising torch (~6 s here). (jieba cannot be warmed up this way: every
    Tokenizer loads its own copy of the dictionary, ~1 s, which the Chinese baselines' train s
    include.)"""
    clf = SentimentClassifier(max_epochs=1, progress=False, num_threads=num_threads,
                              embedding_dim=8, hidden_size=8)
    clf.fit(["good film", "bad film"] * 10, ["pos", "neg"] * 10).predict_proba(["good"])
    if num_threads:
        torch.set_num_threads(num_threads)


# ---- command line ------------------------------------------------------------------------------
def parse_models(value: str | None) -> list[str] | None:
    if value is None:
        return None
    models = [m.strip() for m in value.split(",") if m.strip()]
    unknown = sorted(set(models) - KNOWN)
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {sorted(KNOWN)}")
    return models


def language_models(paths: list[str]) -> dict[str, str]:
    """--lm directories by language ("en"/"zh"), read from their config.json."""
    from sentirnn import artifacts
    from sentirnn.errors import SentirnnError

    found = {}
    for path in paths:
        try:
            language = artifacts.read_config(path, "sentirnn.language_model")["language"]
        except SentirnnError as e:
            raise SystemExit(f"--lm: {e}") from None
        if language in found:
            raise SystemExit(f"--lm {path} and {found[language]} are both {language} models; "
                             "give one per language")
        found[language] = path
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("tasks", nargs="*", default=TASKS, metavar="TASK")
    parser.add_argument("--models", help="comma-separated keys (default: all; see above)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="SentimentClassifier param for every neural row (repeatable)")
    parser.add_argument("--limit-train", type=int, help="seeded random subset of the training "
                        "part (smoke tests)")
    parser.add_argument("--limit-test", type=int, help="seeded random subset of the test part")
    parser.add_argument("--num-threads", type=int, help="torch and BLAS threads (default: all)")
    parser.add_argument("--w2v-extra", action="store_true",
                        help="Word2Vec also reads imdb/unsup.txt.gz for the English tasks")
    parser.add_argument("--lm", action="append", default=[], metavar="LM_DIR",
                        help="language model for the ulmfit rows (repeatable: one English, "
                        "one Chinese)")
    parser.add_argument("--lm-epochs", type=int, default=1,
                        help="LM fine-tuning epochs on each task's training texts (0 = none)")
    parser.add_argument("--out", help="append JSON lines (one per row) to this file")
    parser.add_argument("--markdown", help="write the table to this file too")
    args = parser.parse_args()
    unknown = sorted(set(args.tasks) - set(TASKS))
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; choose from {', '.join(TASKS)}")
    models = parse_models(args.models)
    args.lms = language_models(args.lm)
    sets = parse_sets(args.set)
    try:
        SentimentClassifier(**sets)
    except TypeError as e:
        raise SystemExit(f"--set: {e}") from None
    if args.num_threads:
        sets.setdefault("num_threads", args.num_threads)
        torch.set_num_threads(args.num_threads)  # prediction; training sets it per fit
    if args.markdown:
        Path(args.markdown).write_text("", encoding="utf-8")
    context = {"machine": machine(), "num_threads": args.num_threads,
               "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "limit_train": args.limit_train, "limit_test": args.limit_test}
    report = Report(args.markdown, args.out, context)
    if models is None or set(models) & (set(NEURAL) | set(VARIANTS) | {"ensemble", "ulmfit"}):
        warm_up(args.num_threads)
    verdicts = []
    with threadpool_limits(args.num_threads):  # None leaves the BLAS pools as they are
        for task in args.tasks:
            train_x, train_y, test_x, test_y = load_task(task)
            data = (*subsample(train_x, train_y, args.limit_train),
                    *subsample(test_x, test_y, args.limit_test))
            params = {**TASK_DEFAULTS.get(task, {}), **sets}
            chosen = models or [m for m in DEFAULT_MODELS
                                if m not in VARIANTS or task in SMALL_TASKS]
            run = TaskRun(task, data, params, args, report)
            try:
                run.run(chosen)
            finally:
                shutil.rmtree(run.tmp, ignore_errors=True)
            verdicts += run.verdicts()
    report.emit("")
    for line in verdicts:
        report.emit(f"- {line}")


if __name__ == "__main__":
    main()
