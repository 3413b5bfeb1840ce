"""raw rows → Examples: reading labelled and unlabelled data, with a report of what was dropped.

Every reader here turns a user's file (CSV/TSV/JSONL/Parquet, optionally gzipped, fastText
lines, plain text, or an IMDb-style folder) into plain lists of strings plus a ``DataReport``
that counts each skipped row by reason, so nothing is ever dropped silently. ``iter_frames``
streams large files in chunks for batch prediction (``tables.TableWriter`` writes them back;
``splits.stratified_split`` makes reproducible train/dev/test splits).
"""

from __future__ import annotations

import codecs
import difflib
import gzip
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sentirnn.errors import ConfigError, DataError

logger = logging.getLogger("sentirnn")

TEXT_COLUMNS = ("text", "review", "sentence", "content", "comment", "document", "body",
                "tweet", "review_text", "sentence1")
LABEL_COLUMNS = ("label", "labels", "sentiment", "polarity", "class", "target", "category",
                 "y", "rating", "stars")
MAX_EXAMPLES = 20
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
             ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
             ".ft": "txt", ".fasttext": "txt"}
SEPARATORS = {"csv": ",", "tsv": "\t"}
_ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 ⊃ GBK: Chinese Excel exports
_SNIFF = 8192
_FASTTEXT = r"^\s*__label__(\S*)((?:\s+__label__\S*)*)\s*(.*)$"
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


@dataclass
class _Raw:
    """A file read into a frame, before column choice and row filtering."""

    frame: pd.DataFrame
    encoding: str | None
    locate: Callable[[int], str]  # row position → "row 17" / "line 17" / "file pos/1.txt"
    tabular: bool  # real named columns (CSV/JSON/Parquet) rather than synthetic text/label
    notes: list[str] = field(default_factory=list)


# ---- sniffing: path, format, encoding ------------------------------------------------------

def _existing(path) -> Path:
    p = Path(path)
    if not p.exists():
        raise DataError(f"no such file or folder: {path}")
    return p


def split_suffix(p: Path) -> tuple[str, bool]:
    name = p.name.lower()
    gz = name.endswith(".gz")
    return Path(name[:-3] if gz else name).suffix, gz


def _open_binary(p: Path):
    return gzip.open(p, "rb") if split_suffix(p)[1] else open(p, "rb")


def _open_text(p: Path, enc: str):
    # newline=None (the default): \r\n and \r arrive as \n
    return gzip.open(p, "rt", encoding=enc) if split_suffix(p)[1] else open(p, encoding=enc)


@contextmanager
def _io_errors(source: str):
    """Turn gzip corruption and OS failures into one-sentence DataErrors."""
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise DataError(f"{source} is not a valid gzip file ({err}); re-download it or "
                        "decompress it and read the plain file") from err
    except OSError as err:
        raise DataError(f"{source} could not be read ({err.strerror or err})") from err


def _read_guarded(p: Path, source: str, size: int = -1) -> bytes:
    """Read (decompressed) bytes, at most ``size`` of them."""
    with _io_errors(source), _open_binary(p) as fh:
        return fh.read(size)


def detect_format(path) -> str:
    """Name the format of a data file or folder from its extension (and first line for .txt).

    Parameters
    ----------
    path : str or Path
        A file (optionally ``.gz``) or a folder.

    Returns
    -------
    str
        One of ``"csv"``, ``"tsv"``, ``"jsonl"``, ``"parquet"``, ``"fasttext"``, ``"txt"``,
        ``"folder"``. A ``.txt``/``.ft``/``.fasttext`` file whose first non-empty line starts
        with ``__label__`` is ``"fasttext"``.

    Examples
    --------
    >>> detect_format("reviews.csv.gz")  # doctest: +SKIP
    'csv'
    """
    p = _existing(path)
    if p.is_dir():
        return "folder"
    suffix, gz = split_suffix(p)
    fmt = _SUFFIXES.get(suffix)
    if fmt is None:
        raise DataError(f"{path}: unknown file type {suffix or p.name!r}; use .csv, .tsv, .jsonl, "
                        ".parquet or .txt (optionally .gz), or a folder of .txt files")
    if fmt == "parquet" and gz:
        raise DataError(f"{path}: Parquet is compressed internally; decompress the .gz first")
    if fmt == "txt":
        head = _read_guarded(p, str(path), 1 << 16).decode("latin-1")
        first = next((ln for ln in head.splitlines() if ln.strip()), "")
        fmt = "fasttext" if first.lstrip().startswith("__label__") else "txt"
    return fmt


def _not_text(source: str, head: bytes) -> DataError:
    hint = " (it looks like a zip/Excel file: save it as CSV)" if head[:2] == b"PK" else ""
    return DataError(f"{source} is not a text file (or not UTF-8/GB18030 text){hint}; "
                     "pass --encoding (encoding=...) if it uses another encoding")


_BINARY_BYTES = bytes([*range(0, 9), *range(14, 27), *range(28, 32)])


def _decodes_head(head: bytes, encoding: str) -> bool:
    try:  # final=False: the sniffed head may end inside a character
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeError:
        return False
    return True


def _refuse_binary(head: bytes, source: str) -> None:
    """Refuse binary and BOM-less UTF-16 files; a few stray NUL bytes in text are fine (the
    cleaner drops them) and must not make the whole file unreadable."""
    nul = head.count(b"\0")
    if not nul:
        return
    # UTF-16 puts a NUL beside every ASCII character (digits, commas, newlines: even a
    # Chinese file has them), always at the same parity, and many; binary scatters them
    odd, even = head[1::2].count(b"\0"), head[0::2].count(b"\0")
    order = "le" if odd >= even else "be"
    if (nul >= 4 and nul * 20 >= len(head) and max(odd, even) >= 0.95 * nul
            and _decodes_head(head, f"utf-16-{order}")):
        raise DataError(f"{source} looks like UTF-16 text without a byte-order mark; pass "
                        f"--encoding utf-16-{order} (encoding='utf-16-{order}')")
    # control bytes no text editor writes (tab, newlines, form feed and escape aside): a stray
    # one or two are an accident in a text, more of them (and 1% of the bytes) mean binary
    control = len(head) - len(head.translate(None, _BINARY_BYTES))
    if control > 2 and control * 100 > len(head):
        raise _not_text(source, head)


def _check_codec(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError as err:
        raise DataError(f"unknown encoding {encoding!r}; use a Python codec name such as "
                        "'utf-8', 'gb18030' or 'latin-1'") from err


def _decodes(p: Path, source: str, encoding: str) -> bool:
    """Whether the whole (decompressed) file decodes; streams 1 MiB at a time."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with _io_errors(source), _open_binary(p) as fh:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeError:  # UnicodeDecodeError, or e.g. UTF-16 without BOM
        return False
    return True


def _choose_encoding(decodes: Callable[[str], bool], head: bytes, source: str,
                     encoding: str | None) -> str:
    """The forced encoding if it decodes, else UTF-8 (BOM or not), else GB18030."""
    if encoding:
        _check_codec(encoding)
        if not decodes(encoding):
            raise DataError(f"{source} is not valid {encoding} text; pass the right --encoding "
                            "(encoding=...) or leave it out to detect UTF-8/GB18030")
        return encoding
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if decodes("utf-16"):  # Excel's "Unicode text"; the BOM makes it unambiguous
            return "utf-16"
        raise _not_text(source, head)
    _refuse_binary(head[:_SNIFF], source)
    for enc in _ENCODINGS:
        if decodes(enc):  # report "utf-8-sig" only when there really is a BOM
            return "utf-8" if enc == "utf-8-sig" and not head.startswith(codecs.BOM_UTF8) else enc
    raise _not_text(source, head)


def _resolve_encoding(p: Path, source: str, encoding: str | None) -> str:
    """Return the encoding a (possibly large, gzipped) text file really uses."""
    head = _read_guarded(p, source, _SNIFF)
    if not head:
        raise DataError(f"{source} has no usable rows (the file is empty)")
    return _choose_encoding(lambda enc: _decodes(p, source, enc), head, source, encoding)


def _decode_bytes(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    """Decode one small file held in memory; returns (text, encoding used)."""
    def decodes(enc: str) -> bool:
        try:
            data.decode(enc)
        except UnicodeError:
            return False
        return True

    enc = _choose_encoding(decodes, data, source, encoding)
    return data.decode(enc), enc


# ---- readers: file → frame -----------------------------------------------------------------

def _parser_error(source: str, err: Exception, sep: str) -> DataError:
    msg = str(err)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if m:
        return DataError(f"{source} line {m[2]}: expected {m[1]} fields but found {m[3]}; quote "
                         f"the text if it contains the separator {sep!r}, or fix that line")
    return DataError(f"{source} could not be parsed ({msg.replace('Error tokenizing data. ', '')}"
                     "); check the quoting near that row")


def _csv(p: Path, source: str, fmt: str, enc: str, **kw):
    sep = SEPARATORS[fmt]
    try:
        # dtype=str + keep_default_na=False: "NA"/"null" are texts, empty cells are ""
        return pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, index_col=False,
                           encoding=enc, compression="infer", **kw)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{source} has no usable rows (the file is empty)") from err
    except pd.errors.ParserError as err:
        raise _parser_error(source, err, sep) from err


def _json_error(p: Path, source: str, enc: str, err: Exception) -> DataError:
    """Find the first bad line so the message can point at it."""
    with _open_text(p, enc) as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                if isinstance(json.loads(line), dict):
                    continue
            except ValueError:
                pass
            return DataError(f"{source} line {number}: not a JSON object; write one JSON "
                             "object per line (JSON lines)")
    return DataError(f"{source} could not be read as JSON lines ({err})")


def _json_frames(p: Path, source: str, enc: str, chunksize: int | None) -> Iterator[pd.DataFrame]:
    """Yield JSON-lines chunks (one frame when chunksize is None); a .json array works too."""
    head = _read_guarded(p, source, _SNIFF).decode(enc, errors="ignore").lstrip()
    lines = not head.startswith("[")  # a .json file may also hold one JSON array of records
    try:
        # dtype=False: no type guessing, so ids stay ints and dates stay strings
        if not lines:
            frame = pd.read_json(p, orient="records", dtype=False, encoding=enc)
            step = chunksize or max(len(frame), 1)
            yield from (frame.iloc[i:i + step] for i in range(0, max(len(frame), 1), step))
        elif chunksize is None:
            yield pd.read_json(p, lines=True, dtype=False, encoding=enc)
        else:
            with pd.read_json(p, lines=True, dtype=False, encoding=enc,
                              chunksize=chunksize) as reader:
                yield from reader
    except DataError:
        raise
    except ValueError as err:
        raise (_json_error(p, source, enc, err) if lines else
               DataError(f"{source} is not a valid JSON array of records ({err})")) from err


def _parquet_file(p: Path, source: str):
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(p)
    except Exception as err:  # pyarrow raises ArrowInvalid/OSError variants
        raise DataError(f"{source} could not be read as Parquet ({err})") from err


def _lines(p: Path, enc: str) -> list[str]:
    with _open_text(p, enc) as fh:
        lines = fh.read().split("\n")  # not splitlines(): it also splits on \x1c, \u2028…
    return lines[:-1] if lines and lines[-1] == "" else lines


def _fasttext_frame(lines: list[str], notes: list[str]) -> pd.DataFrame:
    raw = pd.Series(lines, dtype=object)
    parts = raw.str.extract(_FASTTEXT)
    several = int((parts[1].fillna("") != "").sum())
    if several:
        notes.append(f"{several:,} lines had several __label__ prefixes; only the first was kept "
                     "(multi-label data is not supported)")
    text = parts[2].where(parts[0].notna(), raw)  # a line without a label keeps its text
    return pd.DataFrame({"label": parts[0], "text": text})


def _folder_files(p: Path, labelled: bool, notes: list[str]) -> list[tuple[Path, str | None]]:
    if not labelled:
        return [(f, None) for f in sorted(p.rglob("*.txt")) if f.is_file()]
    subdirs = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    if any(d.name == "unsup" for d in subdirs):
        notes.append("skipped sub-folder 'unsup' (unlabelled texts)")
    loose = sum(1 for f in p.iterdir() if f.is_file())
    if loose:
        notes.append(f"ignored {loose:,} files outside the label sub-folders")
    return [(f, d.name) for d in subdirs if d.name != "unsup"
            for f in sorted(d.rglob("*.txt")) if f.is_file()]


def _read_folder(p: Path, source: str, encoding: str | None, labelled: bool) -> _Raw:
    notes: list[str] = []
    files = _folder_files(p, labelled, notes)
    if not files:
        layout = "label sub-folders (e.g. pos/*.txt, neg/*.txt)" if labelled else "it"
        raise DataError(f"{source} has no usable rows (no .txt files in {layout})")
    texts, used = [], set()
    for f, _ in files:
        text, enc = _decode_bytes(_read_guarded(f, str(f)), str(f), encoding)
        texts.append(text)
        used.add(enc)
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object),
                          "label": pd.Series([lab for _, lab in files], dtype=object)})
    rel = [f.relative_to(p).as_posix() for f, _ in files]
    return _Raw(frame, ", ".join(sorted(used)), lambda i: f"file {rel[i]}", False, notes)


def _load(p: Path, source: str, fmt: str, encoding: str | None, labelled: bool) -> _Raw:
    """Read any supported input into a frame; see ``_Raw``."""
    if fmt == "folder":
        return _read_folder(p, source, encoding, labelled)
    if fmt == "parquet":
        pf = _parquet_file(p, source)
        try:
            frame = pf.read().to_pandas()
        except Exception as err:  # pyarrow raises ArrowInvalid/OSError variants
            raise DataError(f"{source} could not be read as Parquet ({err})") from err
        return _Raw(frame, None, lambda i: f"row {i + 1}", True)
    enc = _resolve_encoding(p, source, encoding)
    if fmt in SEPARATORS:
        return _Raw(_csv(p, source, fmt, enc), enc, lambda i: f"row {i + 1}", True)
    if fmt == "jsonl":
        return _Raw(next(_json_frames(p, source, enc, None)), enc, lambda i: f"row {i + 1}", True)
    lines, notes = _lines(p, enc), []
    frame = (_fasttext_frame(lines, notes) if fmt == "fasttext"
             else pd.DataFrame({"text": pd.Series(lines, dtype=object)}))
    return _Raw(frame, enc, lambda i: f"line {i + 1}", False, notes)


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
    source, p = str(path), _existing(path)
    fmt = detect_format(p)
    raw = _load(p, source, fmt, encoding, labelled=True)
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
    source, p = str(path), _existing(path)
    fmt = detect_format(p)
    raw = _load(p, source, fmt, encoding, labelled=False)
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
    with _open_text(p, enc) as fh:
        buffer: list[str] = []
        for line in fh:
            buffer.append(line.rstrip("\n"))
            if len(buffer) == chunksize:
                yield _fasttext_frame(buffer, []) if fasttext else pd.DataFrame({"text": buffer})
                buffer = []
        if buffer:
            yield _fasttext_frame(buffer, []) if fasttext else pd.DataFrame({"text": buffer})


def _folder_chunks(p: Path, encoding: str | None, chunksize: int) -> Iterator[pd.DataFrame]:
    files = _folder_files(p, False, [])
    for start in range(0, len(files), chunksize):
        part = files[start:start + chunksize]
        texts = [_decode_bytes(_read_guarded(f, str(f)), str(f), encoding)[0] for f, _ in part]
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
        raise _parser_error(source, err, sep) from err
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
    source, p = str(path), _existing(path)
    fmt = detect_format(p)
    if fmt == "folder":
        return "text", _guarded(_folder_chunks(p, encoding, chunksize), source, "", "text")
    if fmt == "parquet":
        pf = _parquet_file(p, source)
        col = _pick_column(pf.schema_arrow.names, text_col, TEXT_COLUMNS, "text", source)
        batches = (b.to_pandas() for b in pf.iter_batches(batch_size=chunksize))
        return col, _guarded(batches, source, "", col)
    enc = _resolve_encoding(p, source, encoding)
    if fmt in ("txt", "fasttext"):
        chunks = _line_chunks(p, enc, chunksize, fmt == "fasttext")
        return "text", _guarded(chunks, source, "", "text")
    if fmt == "jsonl":
        reader = _json_frames(p, source, enc, chunksize)
        first = next(reader, pd.DataFrame())  # peek: the columns come from the first chunk
        col = _pick_column(first.columns, text_col, TEXT_COLUMNS, "text", source)
        return col, _guarded(_chain(first, reader), source, "", col)
    header = _csv(p, source, fmt, enc, nrows=0)
    col = _pick_column(header.columns, text_col, TEXT_COLUMNS, "text", source)
    return col, _guarded(_csv(p, source, fmt, enc, chunksize=chunksize), source,
                         SEPARATORS[fmt], col)


def _chain(first: pd.DataFrame, rest) -> Iterator[pd.DataFrame]:
    yield first
    yield from rest


# ---- splits ---------------------------------------------------------------------------------
