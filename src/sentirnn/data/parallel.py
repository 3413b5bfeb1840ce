"""Parallel corpora: a file of sentence pairs → sources, targets and the data report.

Any format the classifier reads (CSV/TSV/JSONL/Parquet, gzipped or not) with one column per
language, named by ``source_col`` and ``target_col`` (``en`` and ``zh`` by default, as in the
Tatoeba files of manythings.org). Rows with an empty side are skipped and counted, like the
classifier's unusable rows; a file without the two columns is an error naming the columns it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentirnn.data.dataset import DataReport
from sentirnn.data.readers import detect_format, existing_path, load_raw
from sentirnn.errors import DataError

EXAMPLES = 3  # skipped rows quoted in the report


@dataclass
class ParallelData:
    sources: list[str]
    targets: list[str]
    report: DataReport

    def __len__(self) -> int:
        return len(self.sources)


def _column(columns: list[str], wanted: str, source: str) -> str:
    if wanted in columns:
        return wanted
    folded = {c.strip().lower(): c for c in columns}
    if wanted.strip().lower() in folded:
        return folded[wanted.strip().lower()]
    raise DataError(f"{source}: no column {wanted!r}; the file has columns {columns} (name the "
                    "two sides with --source-col and --target-col)")


def _text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def read_parallel(path, source_col: str = "en", target_col: str = "zh",
                  encoding: str | None = None) -> ParallelData:
    """Read sentence pairs; rows with an empty side are skipped and counted in the report."""
    p = existing_path(path)
    fmt = detect_format(p)
    if fmt in ("folder", "txt", "fasttext"):
        raise DataError(f"{path}: a parallel corpus needs named columns (CSV, TSV, JSONL or "
                        f"Parquet with a header such as 'en<TAB>zh'), not {fmt}")
    raw = load_raw(p, str(path), fmt, encoding, labelled=False)
    columns = [str(c) for c in raw.frame.columns]
    src_name = _column(columns, source_col, str(path))
    tgt_name = _column(columns, target_col, str(path))
    if src_name == tgt_name:
        raise DataError(f"{path}: the source and target columns are both {src_name!r}")
    sources, targets, skipped = [], [], []
    for i, (s, t) in enumerate(zip(raw.frame[src_name].tolist(), raw.frame[tgt_name].tolist())):
        s, t = _text(s), _text(t)
        if s and t:
            sources.append(s)
            targets.append(t)
        else:
            skipped.append(f"{raw.locate(i)}: empty {src_name if not s else tgt_name}")
    if not sources:
        raise DataError(f"{path}: none of its {len(raw.frame):,} rows has text in both "
                        f"{src_name!r} and {tgt_name!r}")
    report = DataReport(source=str(Path(path)), rows_read=len(raw.frame), rows_kept=len(sources),
                        dropped={"empty side": len(skipped)} if skipped else {},
                        examples=skipped[:EXAMPLES], text_col=f"{src_name} → {tgt_name}",
                        encoding=raw.encoding, format=fmt, notes=list(raw.notes))
    return ParallelData(sources, targets, report)
