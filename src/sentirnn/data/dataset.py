"""raw rows → Examples: reading labelled and unlabelled data, with a report of what was dropped.

A user's file (CSV/TSV/JSONL/Parquet, optionally gzipped, fastText lines, plain text, or an
IMDb-style folder, read into a frame by ``readers``) becomes plain lists of strings plus a
``DataReport`` that counts each skipped row by reason, so nothing is ever dropped silently.
``iter_frames`` streams large files in chunks for batch prediction (``tables.TableWriter``
writes them back; ``splits.stratified_split`` makes reproducible train/dev/test splits).
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sentirnn.data.readers import (
    SEPARATORS,
    decode_bytes,
    detect_format,
    existing_path,
    fasttext_frame,
    folder_files,
    json_frames,
    load_raw,
    open_text,
    parquet_file,
    parser_error,
    read_delimited,
    read_guarded,
    resolve_encoding,
)
from sentirnn.errors import ConfigError, DataError

logger = logging.getLogger("sentirnn")

TEXT_COLUMNS = ("text", "review", "sentence", "content", "comment", "document", "body",
                "tweet", "review_text", "sentence1")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity", "class", "target", "category",
                 "y", "rating", "stars")
MAX_EXAMPLES = 20
_WHOLE_FLOAT = r"^([+-]?\d+)\.0*$"  # "1.0" → "1", so CSV "1" and JSON 1.0 agree
_NO_STRICT = "drop --strict, or pass strict=False, to skip and count such rows"


@dataclass
class DataReport:
    """What a reader kept and dropped, and why; ``str(report)`` is a readable summary."""

    source: str
    rows_read: int
    rows_kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    label_counts: dict[str, int] = field(default_factory=dict)
    text_col: str | None = None
    label_col: str | None = None
    encoding: str | None = None
    format: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the report as a JSON-serialisable dict."""
        return asdict(self)

    def __str__(self) -> str:
        n_dropped = sum(self.dropped.values())
        reasons = ", ".join(f"{k}: {v:,}" for k, v in self.dropped.items())
        lines = [f"{self.rows_kept:,} rows kept; "
                 + (f"{n_dropped:,} dropped ({reasons})" if n_dropped else "none dropped")]
        where = ", ".join(x for x in (self.format, self.encoding) if x)
        cols = f"text column {self.text_col!r}" if self.text_col else ""
        if self.label_col:
            cols += f", label column {self.label_col!r}"
        lines.append(f"source: {self.source} ({where})" + (f"; {cols}" if cols else ""))
        if self.label_counts:
            lines.append("labels: " + ", ".join(f"{k} {v:,}" for k, v in self.label_counts.items()))
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"  {e}" for e in self.examples]
        if n_dropped > len(self.examples):
            lines.append(f"  … and {n_dropped - len(self.examples):,} more")
        return "\n".join(lines)


@dataclass
class Dataset:
    """Texts, their labels (None when unlabelled) and the report of how they were read."""

    texts: list[str]
    labels: list[str] | None
    report: DataReport

    def __len__(self) -> int:
        return len(self.texts)


# ---- columns, labels and row filtering ------------------------------------------------------

def _pick_column(columns, wanted: str | None, candidates: tuple[str, ...], kind: str,
                 source: str, required: bool = True, exclude: str | None = None) -> str | None:
    """Return the column named by the user (exact, then case-insensitive) or detected."""
    names = [str(c) for c in columns]
    folded: dict[str, str] = {}
    for name in names:
        folded.setdefault(name.strip().lower(), name)
    if wanted is not None:
        found = wanted if wanted in names else folded.get(str(wanted).strip().lower())
        if found is None:
            near = difflib.get_close_matches(str(wanted), names, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise DataError(f"{source}: no column {wanted!r}; available columns are "
                            f"{names}{hint}")
        return found
    for candidate in candidates:
        if folded.get(candidate) not in (None, exclude):
            return folded[candidate]
    if required:
        raise DataError(f"{source}: no {kind} column found among {names}; name it with "
                        f"--{kind}-col ({kind}_col=... in Python)")
    return None


def _to_text(col: pd.Series) -> pd.Series:
    """Any column → object Series of str, with missing values (None/NaN/null) as None."""
    missing = col.isna().to_numpy()
    values = np.empty(len(col), dtype=object)
    values[~missing] = col[~missing].astype(str).to_numpy(dtype=object)
    return pd.Series(values, dtype=object)


def _normalise_labels(col: pd.Series) -> pd.Series:
    """Labels → stripped strings, whole floats written as ints; empty → None."""
    labels = _to_text(col).str.strip().str.replace(_WHOLE_FLOAT, r"\1", regex=True)
    return labels.where(labels.notna() & labels.ne(""), None).astype(object)


def _prepare_labels(col: pd.Series, label_map: dict | None, labels: Iterable[str] | None):
    """Return (normalised raw labels, labels after label_map, allowed set or None)."""
    raw = mapped = _normalise_labels(col)
    if label_map:
        keys = _normalise_labels(pd.Series(list(label_map), dtype=object)).tolist()
        lookup = {k: str(v) for k, v in zip(keys, label_map.values(), strict=True)}
        mapped = raw.where(~raw.isin(list(lookup)), raw.map(lookup))
    allowed = None
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        allowed = set(_normalise_labels(pd.Series(labels, dtype=object)).dropna())
    return raw, mapped, allowed


def _filter_rows(texts: pd.Series, raw: pd.Series | None, mapped: pd.Series | None,
                 allowed: set[str] | None, names: tuple[str, str], locate, source: str,
                 strict: bool) -> tuple[np.ndarray, dict[str, int], list[str]]:
    """Mask of rows to keep, counts by reason, and up to MAX_EXAMPLES "row N: …" lines."""
    empty = texts.fillna("").str.strip().eq("").to_numpy()
    missing = np.zeros(len(texts), bool) if raw is None else (raw.isna().to_numpy() & ~empty)
    banned = np.zeros(len(texts), bool)
    if mapped is not None and allowed is not None:
        banned = ~mapped.isin(allowed).to_numpy() & ~empty & ~missing
    shown = sorted(allowed or ())

    def why(i: int) -> str:
        if empty[i]:
            return f"empty text{names[0]}"
        if missing[i]:
            return f"empty value{names[1]}" if names[1] else "missing label"
        extra = f" (mapped to {mapped[i]!r})" if mapped[i] != raw[i] else ""
        return f"label {raw[i]!r}{extra}{names[1]} is not one of {shown}"

    bad = np.flatnonzero(empty | missing | banned)
    if strict and len(bad):
        raise DataError(f"{source} {locate(bad[0])}: {why(bad[0])} ({_NO_STRICT})")
    counts = {"empty text": int(empty.sum()), "missing label": int(missing.sum()),
              "label not in allowed set": int(banned.sum())}
    examples = [f"{locate(i)}: {why(i)}" for i in bad[:MAX_EXAMPLES]]
    return ~(empty | missing | banned), {k: v for k, v in counts.items() if v}, examples


def _no_rows(source: str, dropped: dict[str, int], rows_read: int) -> DataError:
    if not rows_read:
        return DataError(f"{source} has no usable rows (only a header, no data rows)")
    reasons = ", ".join(f"{k}: {v:,}" for k, v in dropped.items())
    return DataError(f"{source} has no usable rows (all {rows_read:,} dropped: {reasons}); "
                     "check the column names and the labels filter")


def read_dataset(path, *, text_col: str | None = None, label_col: str | None = None,
                 label_map: dict[str, str] | None = None, labels: Iterable[str] | None = None,
                 strict: bool = False, encoding: str | None = None,
                 require_labels: bool = True) -> Dataset:
    """Read labelled texts from a file or folder, reporting every row that was skipped.

    Parameters
    ----------
    path : str or Path
        CSV, TSV, JSONL (or JSON array), Parquet (``.gz`` allowed except Parquet), a fastText
        file (``__label__pos text`` lines), or a folder with one sub-folder of ``.txt`` files
        per label (``unsup`` is skipped).
    text_col, label_col : str, optional
        Column names; detected from common names (``text``, ``review``…; ``label``,
        ``sentiment``…) case-insensitively when omitted.
    label_map : dict, optional
        Raw label → final label, applied before ``labels``; unmapped labels pass unchanged.
    labels : iterable of str, optional
        Allowed final labels; rows with other labels are dropped (and counted).
    strict : bool, default False
        Raise ``DataError`` at the first row that would be skipped, naming row and column.
    encoding : str, optional
        Force a text encoding; by default UTF-8 (with or without BOM), then GB18030.
    require_labels : bool, default True
        When False, a missing label column gives ``labels=None`` instead of an error.

    Returns
    -------
    Dataset
        ``texts`` and ``labels`` (lists of str of equal length) and a ``DataReport``.

    Examples
    --------
    >>> ds = read_dataset("reviews.csv", labels=["negative", "positive"])  # doctest: +SKIP
    >>> print(ds.report)  # doctest: +SKIP
    11,987 rows kept; 13 dropped (empty text: 10, missing label: 3)
    """
    source, p = str(path), existing_path(path)
    fmt = detect_format(p)
    raw = load_raw(p, source, fmt, encoding, labelled=True)
    frame = raw.frame
    if raw.tabular:
        tcol = _pick_column(frame.columns, text_col, TEXT_COLUMNS, "text", source)
        lcol = _pick_column(frame.columns, label_col, LABEL_COLUMNS, "label", source,
                            required=require_labels, exclude=tcol)
    else:
        tcol, lcol = "text", ("label" if "label" in frame.columns else None)
        if lcol is None and require_labels:
            raise DataError(f"{source} has no labels (plain text, one document per line); start "
                            "each line with __label__NAME or use a CSV with a label column")
    texts = _to_text(frame[tcol])
    raw_labels = mapped = allowed = None
    if lcol is not None:
        raw_labels, mapped, allowed = _prepare_labels(frame[lcol], label_map, labels)
    names = ((f" in column {tcol!r}", f" in column {lcol!r}") if raw.tabular else ("", ""))
    keep, dropped, examples = _filter_rows(texts, raw_labels, mapped, allowed, names,
                                           raw.locate, source, strict)
    kept_labels = mapped[keep].tolist() if mapped is not None else None
    report = DataReport(source, len(frame), int(keep.sum()), dropped, examples,
                        text_col=tcol if raw.tabular else None,
                        label_col=lcol if raw.tabular else None,
                        encoding=raw.encoding, format=fmt, notes=raw.notes)
    if kept_labels is not None:
        report.label_counts = dict(sorted(pd.Series(kept_labels).value_counts().items()))
    if not report.rows_kept:
        raise _no_rows(source, dropped, len(frame))
    logger.debug("read %s: %s", source, str(report).splitlines()[0])
    return Dataset(texts[keep].tolist(), kept_labels, report)


def read_texts(path, *, text_col: str | None = None,
               encoding: str | None = None) -> tuple[list[str], DataReport]:
    """Read unlabelled texts (for language-model pretraining), skipping and counting empty ones.

    Parameters
    ----------
    path : str or Path
        A ``.txt`` file (one document a line, ``.gz`` allowed; fastText labels are stripped),
        the text column of any file ``read_dataset`` reads, or a folder (every ``.txt`` file
        below it, recursively, is one document).
    text_col : str, optional
        Text column of a tabular file; detected when omitted.
    encoding : str, optional
        Force a text encoding; by default UTF-8 (with or without BOM), then GB18030.

    Returns
    -------
    tuple of (list of str, DataReport)

    Examples
    --------
    >>> texts, report = read_texts("unsup.txt.gz")  # doctest: +SKIP
    """
    source, p = str(path), existing_path(path)
    fmt = detect_format(p)
    raw = load_raw(p, source, fmt, encoding, labelled=False)
    tcol = (_pick_column(raw.frame.columns, text_col, TEXT_COLUMNS, "text", source)
            if raw.tabular else "text")
    texts = _to_text(raw.frame[tcol])
    names = (f" in column {tcol!r}", "") if raw.tabular else ("", "")
    keep, dropped, examples = _filter_rows(texts, None, None, None, names, raw.locate, source,
                                           strict=False)
    report = DataReport(source, len(texts), int(keep.sum()), dropped, examples,
                        text_col=tcol if raw.tabular else None, encoding=raw.encoding,
                        format=fmt, notes=raw.notes)
    if not report.rows_kept:
        raise _no_rows(source, dropped, len(texts))
    return texts[keep].tolist(), report


# ---- streaming: chunks in, chunks out -------------------------------------------------------

def _line_chunks(p: Path, enc: str, chunksize: int, fasttext: bool) -> Iterator[pd.DataFrame]:
    with open_text(p, enc) as fh:
        buffer: list[str] = []
        for line in fh:
            buffer.append(line.rstrip("\n"))
            if len(buffer) == chunksize:
                yield fasttext_frame(buffer, []) if fasttext else pd.DataFrame({"text": buffer})
                buffer = []
        if buffer:
            yield fasttext_frame(buffer, []) if fasttext else pd.DataFrame({"text": buffer})


def _folder_chunks(p: Path, encoding: str | None, chunksize: int) -> Iterator[pd.DataFrame]:
    files = folder_files(p, False, [])
    for start in range(0, len(files), chunksize):
        part = files[start:start + chunksize]
        texts = [decode_bytes(read_guarded(f, str(f)), str(f), encoding)[0] for f, _ in part]
        yield pd.DataFrame({"file": [f.relative_to(p).as_posix() for f, _ in part],
                            "text": texts})


def _guarded(chunks, source: str, sep: str, col: str) -> Iterator[pd.DataFrame]:
    """Yield chunks with the text column as str (missing → ""), parse errors as DataError."""
    try:
        for chunk in chunks:
            if col not in chunk.columns:  # JSON lines may omit a key
                chunk[col] = ""
            chunk[col] = _to_text(chunk[col]).fillna("").to_numpy()
            yield chunk
    except pd.errors.ParserError as err:
        raise parser_error(source, err, sep) from err
    except DataError:
        raise
    except ValueError as err:  # e.g. a broken Parquet page met mid-stream
        raise DataError(f"{source} could not be read ({err}); check the rows near there") from err
    finally:
        getattr(chunks, "close", lambda: None)()


def iter_frames(path, *, text_col: str | None = None, chunksize: int = 10000,
                encoding: str | None = None) -> tuple[str, Iterator[pd.DataFrame]]:
    """Stream a file in chunks for batch prediction, keeping every input column in order.

    Parameters
    ----------
    path : str or Path
        Any input ``read_dataset`` accepts; plain ``.txt`` gives one column ``"text"``, a folder
        gives ``"file"`` and ``"text"``.
    text_col : str, optional
        Text column; detected when omitted.
    chunksize : int, default 10000
        Rows per chunk; memory stays bounded by it.
    encoding : str, optional
        Force a text encoding.

    Returns
    -------
    tuple of (str, iterator of DataFrame)
        The text column name (its values are str, missing ones "") and the chunks.

    Examples
    --------
    >>> col, chunks = iter_frames("big.csv.gz", chunksize=5000)  # doctest: +SKIP
    """
    if chunksize < 1:
        raise ConfigError(f"The 'chunksize' parameter of iter_frames must be >= 1. "
                          f"Got {chunksize!r} instead.")
    source, p = str(path), existing_path(path)
    fmt = detect_format(p)
    if fmt == "folder":
        return "text", _guarded(_folder_chunks(p, encoding, chunksize), source, "", "text")
    if fmt == "parquet":
        pf = parquet_file(p, source)
        col = _pick_column(pf.schema_arrow.names, text_col, TEXT_COLUMNS, "text", source)
        batches = (b.to_pandas() for b in pf.iter_batches(batch_size=chunksize))
        return col, _guarded(batches, source, "", col)
    enc = resolve_encoding(p, source, encoding)
    if fmt in ("txt", "fasttext"):
        chunks = _line_chunks(p, enc, chunksize, fmt == "fasttext")
        return "text", _guarded(chunks, source, "", "text")
    if fmt == "jsonl":
        reader = json_frames(p, source, enc, chunksize)
        first = next(reader, pd.DataFrame())  # peek: the columns come from the first chunk
        col = _pick_column(first.columns, text_col, TEXT_COLUMNS, "text", source)
        return col, _guarded(_chain(first, reader), source, "", col)
    header = read_delimited(p, source, fmt, enc, nrows=0)
    col = _pick_column(header.columns, text_col, TEXT_COLUMNS, "text", source)
    return col, _guarded(read_delimited(p, source, fmt, enc, chunksize=chunksize), source,
                         SEPARATORS[fmt], col)


def _chain(first: pd.DataFrame, rest) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


# ---- splits ---------------------------------------------------------------------------------
