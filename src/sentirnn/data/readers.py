"""raw files → frames: format and encoding sniffing, and one reader per format.

CSV/TSV/JSONL/Parquet (optionally gzipped), fastText lines, plain text and IMDb-style folders
become a pandas frame (``RawTable``); choosing columns and dropping bad rows, with a report,
is ``sentirnn.data.dataset``'s job.
"""

from __future__ import annotations

import codecs
import gzip
import json
import logging
import re
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from sentirnn.errors import DataError

logger = logging.getLogger("sentirnn")



_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".json": "jsonl",
             ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "txt",
             ".ft": "txt", ".fasttext": "txt"}
SEPARATORS = {"csv": ",", "tsv": "\t"}
_ENCODINGS = ("utf-8-sig", "gb18030")  # GB18030 ⊃ GBK: Chinese Excel exports
_SNIFF = 8192
_FASTTEXT = r"^\s*__label__(\S*)((?:\s+__label__\S*)*)\s*(.*)$"


@dataclass
class RawTable:
    """A file read into a frame, before column choice and row filtering."""

    frame: pd.DataFrame
    encoding: str | None
    locate: Callable[[int], str]  # row position → "row 17" / "line 17" / "file pos/1.txt"
    tabular: bool  # real named columns (CSV/JSON/Parquet) rather than synthetic text/label
    notes: list[str] = field(default_factory=list)


# ---- sniffing: path, format, encoding ------------------------------------------------------

def existing_path(path) -> Path:
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


def open_text(p: Path, enc: str):
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


def read_guarded(p: Path, source: str, size: int = -1) -> bytes:
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
    p = existing_path(path)
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
        head = read_guarded(p, str(path), 1 << 16).decode("latin-1")
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


def resolve_encoding(p: Path, source: str, encoding: str | None) -> str:
    """Return the encoding a (possibly large, gzipped) text file really uses."""
    head = read_guarded(p, source, _SNIFF)
    if not head:
        raise DataError(f"{source} has no usable rows (the file is empty)")
    return _choose_encoding(lambda enc: _decodes(p, source, enc), head, source, encoding)


def decode_bytes(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
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

def parser_error(source: str, err: Exception, sep: str) -> DataError:
    msg = str(err)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    if m:
        return DataError(f"{source} line {m[2]}: expected {m[1]} fields but found {m[3]}; quote "
                         f"the text if it contains the separator {sep!r}, or fix that line")
    return DataError(f"{source} could not be parsed ({msg.replace('Error tokenizing data. ', '')}"
                     "); check the quoting near that row")


def read_delimited(p: Path, source: str, fmt: str, enc: str, **kw):
    sep = SEPARATORS[fmt]
    try:
        # dtype=str + keep_default_na=False: "NA"/"null" are texts, empty cells are ""
        return pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, index_col=False,
                           encoding=enc, compression="infer", **kw)
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{source} has no usable rows (the file is empty)") from err
    except pd.errors.ParserError as err:
        raise parser_error(source, err, sep) from err


def _json_error(p: Path, source: str, enc: str, err: Exception) -> DataError:
    """Find the first bad line so the message can point at it."""
    with open_text(p, enc) as fh:
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


def json_frames(p: Path, source: str, enc: str, chunksize: int | None) -> Iterator[pd.DataFrame]:
    """Yield JSON-lines chunks (one frame when chunksize is None); a .json array works too."""
    head = read_guarded(p, source, _SNIFF).decode(enc, errors="ignore").lstrip()
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


def parquet_file(p: Path, source: str):
    try:
        return pq.ParquetFile(p)
    except Exception as err:  # pyarrow raises ArrowInvalid/OSError variants
        raise DataError(f"{source} could not be read as Parquet ({err})") from err


def _lines(p: Path, enc: str) -> list[str]:
    with open_text(p, enc) as fh:
        lines = fh.read().split("\n")  # not splitlines(): it also splits on \x1c, \u2028…
    return lines[:-1] if lines and lines[-1] == "" else lines


def fasttext_frame(lines: list[str], notes: list[str]) -> pd.DataFrame:
    raw = pd.Series(lines, dtype=object)
    parts = raw.str.extract(_FASTTEXT)
    several = int((parts[1].fillna("") != "").sum())
    if several:
        notes.append(f"{several:,} lines had several __label__ prefixes; only the first was kept "
                     "(multi-label data is not supported)")
    text = parts[2].where(parts[0].notna(), raw)  # a line without a label keeps its text
    return pd.DataFrame({"label": parts[0], "text": text})


def folder_files(p: Path, labelled: bool, notes: list[str]) -> list[tuple[Path, str | None]]:
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


def _read_folder(p: Path, source: str, encoding: str | None, labelled: bool) -> RawTable:
    notes: list[str] = []
    files = folder_files(p, labelled, notes)
    if not files:
        layout = "label sub-folders (e.g. pos/*.txt, neg/*.txt)" if labelled else "it"
        raise DataError(f"{source} has no usable rows (no .txt files in {layout})")
    texts, used = [], set()
    for f, _ in files:
        text, enc = decode_bytes(read_guarded(f, str(f)), str(f), encoding)
        texts.append(text)
        used.add(enc)
    frame = pd.DataFrame({"text": pd.Series(texts, dtype=object),
                          "label": pd.Series([lab for _, lab in files], dtype=object)})
    rel = [f.relative_to(p).as_posix() for f, _ in files]
    return RawTable(frame, ", ".join(sorted(used)), lambda i: f"file {rel[i]}", False, notes)


def load_raw(p: Path, source: str, fmt: str, encoding: str | None, labelled: bool) -> RawTable:
    """Read any supported input into a frame; see ``RawTable``."""
    if fmt == "folder":
        return _read_folder(p, source, encoding, labelled)
    if fmt == "parquet":
        pf = parquet_file(p, source)
        try:
            frame = pf.read().to_pandas()
        except Exception as err:  # pyarrow raises ArrowInvalid/OSError variants
            raise DataError(f"{source} could not be read as Parquet ({err})") from err
        return RawTable(frame, None, lambda i: f"row {i + 1}", True)
    enc = resolve_encoding(p, source, encoding)
    if fmt in SEPARATORS:
        return RawTable(read_delimited(p, source, fmt, enc), enc, lambda i: f"row {i + 1}", True)
    if fmt == "jsonl":
        frame = next(json_frames(p, source, enc, None))
        return RawTable(frame, enc, lambda i: f"row {i + 1}", True)
    lines, notes = _lines(p, enc), []
    frame = (fasttext_frame(lines, notes) if fmt == "fasttext"
             else pd.DataFrame({"text": pd.Series(lines, dtype=object)}))
    return RawTable(frame, enc, lambda i: f"line {i + 1}", False, notes)
