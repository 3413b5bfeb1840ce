"""labels for files: stream any input file through a classifier into CSV/JSONL/Parquet.

Memory stays bounded: the input is read in chunks, each chunk scored (in length
order inside the classifier, restored to input order) and written before the next
is read. Rows that cannot be scored (empty text) are written with an empty label
and a reason — never dropped. An input that already has a column of one of those names
(a labelled file: ``label``) keeps it; the predictions then go to ``pred_label``,
``pred_reason`` and ``pred_prob_<class>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentirnn.data import iter_frames
from sentirnn.errors import DataError

PREFIX = "pred_"


@dataclass
class ScoringStats:
    rows: int = 0
    scored: int = 0
    unscored: int = 0
    prefix: str = ""  # "pred_" when the input had columns of the plain names


def output_names(clf, prefix: str = "") -> list[str]:
    """The columns :func:`score_frame` adds, in order."""
    return [prefix + n for n in ("label", "reason", *(f"prob_{c}" for c in clf.classes_))]


def choose_prefix(clf, columns) -> str:
    """"" when the input's columns leave room for ours, else "pred_"; an input holding
    both spellings cannot keep all its columns, so it is refused."""
    taken = set(map(str, columns))
    for prefix in ("", PREFIX):
        if not taken & set(output_names(clf, prefix)):
            return prefix
    clash = sorted(taken & set(output_names(clf, PREFIX)))
    raise DataError(f"the input already has columns {', '.join(clash)} and their unprefixed "
                    "names; rename or drop one set so the predictions do not overwrite them")


def score_frame(clf, frame: pd.DataFrame, text_col: str, prefix: str = "") -> pd.DataFrame:
    """Add ``label``, ``reason`` and one ``prob_<class>`` column per class to a frame,
    each name led by ``prefix`` (see :func:`choose_prefix`)."""
    raw = frame[text_col]
    texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in raw]
    ok = [bool(t.strip()) for t in texts]
    idx = [i for i, good in enumerate(ok) if good]
    probs = np.full((len(texts), len(clf.classes_)), np.nan)
    if idx:
        probs[idx] = clf.predict_proba([texts[i] for i in idx])
    out = frame.copy()
    labels = clf.decide(np.nan_to_num(probs))
    out[prefix + "label"] = [label if good else "" for label, good in zip(labels, ok)]
    out[prefix + "reason"] = ["" if good else "empty text" for good in ok]
    for j, name in enumerate(clf.classes_):
        out[f"{prefix}prob_{name}"] = probs[:, j]
    return out


def score_file(clf, source, write, *, text_col: str | None = None, chunksize: int = 10000,
               encoding: str | None = None, progress=None) -> ScoringStats:
    """Score every row of ``source``, passing each scored chunk to ``write`` in input order."""
    column, frames = iter_frames(source, text_col=text_col, chunksize=chunksize,
                                 encoding=encoding)
    stats = ScoringStats()
    for number, frame in enumerate(frames):
        if number == 0:  # every chunk has the header's columns
            stats.prefix = choose_prefix(clf, frame.columns)
        scored = score_frame(clf, frame, column, stats.prefix)
        write(scored)
        stats.rows += len(scored)
        stats.unscored += int((scored[stats.prefix + "reason"] != "").sum())
        if progress is not None:
            progress(stats.rows)
    stats.scored = stats.rows - stats.unscored
    return stats


def print_frame(frame: pd.DataFrame, fmt: str, header: bool = True) -> None:
    """Write a scored chunk to standard output as JSON lines or CSV."""
    import sys

    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False, header=header))
    else:
        text = frame.to_json(orient="records", lines=True, force_ascii=False)
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()
