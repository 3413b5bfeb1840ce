"""The results JSON of the train / validation / test benchmarks: rows, the test-read log, tables.

protocol.py and few_labels.py keep their results the same way (issue 33): one file
``{"rows": [...], "test_reads": [...], "machine": "..."}``, updated in place. A row is one fit
— its task, model, run name, seed (few_labels.py: and ``n``) — with its ``valid`` scores and,
after ``--test``, its ``test`` scores. A test read is logged when it is made, and a second one
of the same (run name, task, model) is refused: a test figure cannot be re-chosen after it
was seen. Tables are means over seeds with their standard errors, printed after a run or
from the file alone (``--report``, no training).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

PARTS = ("valid", "test")


# ---- one fit: its scores --------------------------------------------------------------------
def scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro"))}


def fit_and_score(clf, train, parts: dict, detail: tuple[str, ...], started: float | None = None,
                  **fit_args) -> dict:
    """Fit ``clf`` on ``train`` (texts, labels), score each part → a row without its keys.

    ``detail``: the keys of the classifier's ``train_summary_`` kept under the row's
    ``detail`` (those it has). ``train_seconds`` counts from ``started`` (a
    ``time.perf_counter()`` reading taken before the model was prepared), else from the fit.
    """
    start = time.perf_counter() if started is None else started
    clf.fit(*train, **fit_args)
    row = {"train_seconds": time.perf_counter() - start}
    for part, (texts, labels) in parts.items():
        row[part] = scores(labels, clf.predict(texts))
    summary = getattr(clf, "train_summary_", {}) or {}
    row["detail"] = {k: summary.get(k) for k in detail if k in summary}
    return row


def score_line(row: dict, parts) -> str:
    return ", ".join(f"{p} acc {row[p]['accuracy']:.4f} F1 {row[p]['macro_f1']:.4f}"
                     for p in parts)


# ---- the file -------------------------------------------------------------------------------
class ResultsFile:
    """A results JSON: its rows, keyed by ``key``, and its log of test reads."""

    def __init__(self, path: Path, key: tuple[str, ...] = ("task", "model", "name", "seed")):
        self.path, self.key = Path(path), key
        self.data = (json.loads(self.path.read_text()) if self.path.exists()
                     else {"rows": [], "test_reads": []})

    @property
    def rows(self) -> list[dict]:
        return self.data["rows"]

    def refuse_second_read(self, reads) -> None:
        """Stop (before any training) if one of the (name, task, model) was read already."""
        done = {(r["name"], r["task"], r["model"]) for r in self.data["test_reads"]}
        again = [read for read in reads if tuple(read) in done]
        if again:
            raise SystemExit(f"the test part was already read for {again}: it is read once")

    def log_test_read(self, name: str, task: str, model: str, **extra) -> None:
        self.data["test_reads"].append({"name": name, "task": task, "model": model, **extra,
                                        "date": datetime.now(timezone.utc).isoformat()})

    def put(self, row: dict) -> None:
        """Add a row in place of the one with its key (a row with test scores is never
        replaced by one without), then write the file: a stopped run keeps its rows."""
        own = tuple(row[k] for k in self.key)
        self.data["rows"] = [r for r in self.rows if not (
            tuple(r[k] for k in self.key) == own and ("test" in r) <= ("test" in row))]
        self.rows.append(row)
        self.write()

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1, ensure_ascii=False) + "\n")


# ---- tables: means over seeds ---------------------------------------------------------------
def mean_se(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
    return mean, se


def summarise(rows: list[dict], part: str) -> list[dict]:
    """One entry per (task, model, name) with ``part`` scores: means ± SE over its seeds."""
    table = {}
    for row in rows:
        if part in row:
            table.setdefault((row["task"], row["model"], row["name"]), []).append(row)
    out = []
    for (task, model, name), group in table.items():
        acc = mean_se([r[part]["accuracy"] for r in group])
        f1 = mean_se([r[part]["macro_f1"] for r in group])
        out.append({"task": task, "model": model, "name": name, "part": part,
                    "seeds": [r["seed"] for r in group], "accuracy": acc[0],
                    "accuracy_se": acc[1], "macro_f1": f1[0], "macro_f1_se": f1[1],
                    "train_seconds": statistics.fmean(r["train_seconds"] for r in group)})
    return out


def markdown(summary: list[dict]) -> str:
    lines = ["| task | model | run | part | accuracy (mean ± SE) | macro-F1 | seeds | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(f"| {s['task']} | {s['model']} | {s['name']} | {s['part']} | "
                     f"{100 * s['accuracy']:.2f} ± {100 * s['accuracy_se']:.2f} | "
                     f"{100 * s['macro_f1']:.2f} ± {100 * s['macro_f1_se']:.2f} | "
                     f"{len(s['seeds'])} | {s['train_seconds']:.0f} |")
    return "\n".join(lines)


def pivot(summary: list[dict], tasks: list[str], runs: list[str], rows: str = "task",
          f1: bool = False, diff: tuple[str, ...] = ()) -> str:
    """Accuracy (%, mean ± SE) with a row per task and a column per run, or the other way.

    ``f1`` adds the macro-F1 in brackets; ``diff`` (rows by task only) adds a column: the
    first run's accuracy minus the best of the runs named in ``diff``.
    """
    cells = {(s["task"], s["name"]): s for s in summary}

    def cell(task: str, run: str) -> str:
        s = cells.get((task, run))
        if s is None:
            return "—"
        text = f"{100 * s['accuracy']:.2f}"
        if not math.isnan(s["accuracy_se"]):  # one seed: no SE
            text += f" ± {100 * s['accuracy_se']:.2f}"
        return text + (f" (F1 {100 * s['macro_f1']:.1f})" if f1 else "")

    if rows == "run":
        lines = ["| run | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
        lines += [f"| {run} | " + " | ".join(cell(t, run) for t in tasks) + " |" for run in runs]
        return "\n".join(lines)
    columns = runs + ([f"{runs[0]} − best of {', '.join(diff)}"] if diff else [])
    lines = ["| task | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for task in tasks:
        row = [cell(task, run) for run in runs]
        if diff:
            first, refs = cells.get((task, runs[0])), [cells.get((task, r)) for r in diff]
            gap = (f"{100 * (first['accuracy'] - max(r['accuracy'] for r in refs)):+.2f}"
                   if first and all(refs) else "—")
            row.append(gap)
        lines.append(f"| {task} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def add_report_arguments(ap: argparse.ArgumentParser) -> None:
    """The options that print tables from the results file instead of training."""
    group = ap.add_argument_group("report (no training: the tables from --out)")
    group.add_argument("--report", action="store_true",
                       help="print the tables of --out for --tasks and --runs; train nothing")
    group.add_argument("--runs", default="",
                       help="comma-separated run names to show (default: the runs --name and "
                            "--models would write)")
    group.add_argument("--part", choices=PARTS, help="only this part (default: both)")
    group.add_argument("--pivot", choices=("task", "run"),
                       help="one accuracy table with a row per task (or per run) instead of "
                            "the long table")
    group.add_argument("--f1", action="store_true", help="with --pivot: macro-F1 in brackets")
    group.add_argument("--diff", default="", metavar="RUN,RUN",
                       help="with --pivot task: a column, the first run minus the best of these")


def print_tables(rows: list[dict], tasks: list[str], runs: list[str], args=None) -> None:
    """Print each part's table for these tasks and runs (in that order), long or pivoted."""
    rows = [r for r in rows if r["task"] in tasks and r["name"] in runs]
    order = {(t, n): (tasks.index(t), runs.index(n)) for t in tasks for n in runs}
    parts = [args.part] if args is not None and args.part else PARTS
    for part in parts:
        summary = sorted(summarise(rows, part), key=lambda s: order[s["task"], s["name"]])
        if not summary:
            continue
        if args is not None and args.pivot:  # only the tasks and runs this part has
            shown = {(s["task"], s["name"]) for s in summary}
            table = pivot(summary, [t for t in tasks if any(t == k[0] for k in shown)],
                          [n for n in runs if any(n == k[1] for k in shown)], args.pivot,
                          args.f1, tuple(d for d in args.diff.split(",") if d))
        else:
            table = markdown(summary)
        print(f"\n{part}:\n{table}", flush=True)
