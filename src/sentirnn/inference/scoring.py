"""labels for files: stream any input file through a classifier into CSV/JSONL/Parquet
(and, for ``sentirnn embed``, document vectors into Parquet/NumPy).

Memory stays bounded: the input is read in chunks, each chunk scored (in length
order inside the classifier, restored to input order) and written before the next
is read. Rows that cannot be scored (empty text) are written with an empty label
and a reason — never dropped. An input that already has a column of one of those names
(a labelled file: ``label``) keeps it; the predictions then go to ``pred_label``,
``pred_reason`` and ``pred_prob_<class>``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from sentirnn.data.dataset import iter_frames
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


def choose_prefix(clf, columns, names=None) -> str:
    """"" when the input's columns leave room for ours, else "pred_"; an input holding
    both spellings cannot keep all its columns, so it is refused. ``names(prefix)`` lists
    the columns to add (default: :func:`output_names`)."""
    names = names or (lambda prefix: output_names(clf, prefix))
    taken = set(map(str, columns))
    for prefix in ("", PREFIX):
        if not taken & set(names(prefix)):
            return prefix
    clash = sorted(taken & set(names(PREFIX)))
    raise DataError(f"the input already has columns {', '.join(clash)} and their unprefixed "
                    "names; rename or drop one set so the predictions do not overwrite them")


def frame_texts(frame: pd.DataFrame, text_col: str) -> tuple[list[str], list[bool]]:
    """A chunk's texts (missing values → "") and whether each has any text to score."""
    raw = frame[text_col]
    texts = ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in raw]
    return texts, [bool(t.strip()) for t in texts]


def score_frame(clf, frame: pd.DataFrame, text_col: str, prefix: str = "") -> pd.DataFrame:
    """Add ``label``, ``reason`` and one ``prob_<class>`` column per class to a frame,
    each name led by ``prefix`` (see :func:`choose_prefix`)."""
    texts, ok = frame_texts(frame, text_col)
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


def embed_frame(clf, frame: pd.DataFrame, text_col: str) -> tuple[np.ndarray, list[bool]]:
    """A chunk's document vectors (n, P) float32, and which rows had text: an empty text's
    row is NaN (files never get a vector made up for no text, as predict's get no label)."""
    texts, ok = frame_texts(frame, text_col)
    idx = [i for i, good in enumerate(ok) if good]
    vectors = np.full((len(texts), clf.net_.feature_size), np.nan, dtype=np.float32)
    if idx:
        vectors[idx] = clf.embed([texts[i] for i in idx])
    return vectors, ok


def embed_file(clf, source, write, *, text_col: str | None = None, chunksize: int = 10000,
               encoding: str | None = None) -> ScoringStats:
    """Embed every row of ``source`` chunk by chunk: ``write(frame, vectors (n, P), ok,
    column)`` gets each chunk in input order, and the column name for the vectors:
    ``embedding``, or ``pred_embedding`` when the input has its own (``stats.prefix``)."""
    column, frames = iter_frames(source, text_col=text_col, chunksize=chunksize,
                                 encoding=encoding)
    stats = ScoringStats()
    for number, frame in enumerate(frames):
        if number == 0:
            stats.prefix = choose_prefix(clf, frame.columns, lambda p: [p + "embedding"])
        vectors, ok = embed_frame(clf, frame, column)
        write(frame, vectors, ok, stats.prefix + "embedding")
        stats.rows += len(frame)
        stats.unscored += ok.count(False)
    stats.scored = stats.rows - stats.unscored
    return stats


def with_vectors(frame: pd.DataFrame, vectors: np.ndarray, ok: list[bool],
                 name: str) -> pd.DataFrame:
    """The chunk plus a column ``name`` of float32 vectors, None where a row had no text;
    write it with ``TableWriter(..., types=vector_type(name))`` so Parquet gets list<float32>."""
    out = frame.copy()
    out[name] = pd.Series([v if good else None for v, good in zip(vectors, ok)],
                          index=frame.index, dtype=object)
    return out


def vector_type(name: str) -> dict:
    """The Parquet type of the vector column: list<float32>, also for an all-null chunk."""
    return {name: pa.list_(pa.float32())}


def print_frame(frame: pd.DataFrame, fmt: str, header: bool = True) -> None:
    """Write a scored chunk to standard output as JSON lines or CSV."""
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False, header=header))
    else:
        text = frame.to_json(orient="records", lines=True, force_ascii=False)
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    sys.stdout.flush()
