"""labels → files: writing scored chunks to CSV/TSV/JSONL (optionally .gz) or Parquet,
and document vectors to .npy.

The write side of batch prediction: ``TableWriter`` appends chunks as they are scored,
so memory stays bounded however large the input, and renames a temporary file into
place only when everything was written.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sentirnn.data.readers import SEPARATORS, split_suffix
from sentirnn.errors import DataError


class TableWriter:
    """Write DataFrame chunks to .csv/.tsv/.jsonl (optionally .gz) or .parquet, incrementally.

    The file appears only when the writer closes without an error (it is written to a
    temporary sibling and renamed), so a crash never leaves half an output file.

    Parameters
    ----------
    path : str or Path
        Output file; its extension chooses the format.
    kind : {"csv", "tsv", "jsonl", "parquet"}, optional
        The format whatever the extension (``sentirnn embed --format parquet``).
    types : dict of column name → pyarrow type, optional
        Parquet column types to keep whatever the first chunk holds (a list column that is
        all null in the first chunk would otherwise be inferred as null, then string).

    Examples
    --------
    >>> with TableWriter("scored.jsonl") as out:  # doctest: +SKIP
    ...     for chunk in chunks:
    ...         out.write(chunk)
    """

    def __init__(self, path, kind: str | None = None, types: dict | None = None) -> None:
        self.types = dict(types or {})
        self.path = Path(path)
        suffix, self._gz = split_suffix(self.path)
        self.kind = kind or {".json": "jsonl", ".ndjson": "jsonl"}.get(suffix, suffix.lstrip("."))
        if self.kind not in ("csv", "tsv", "jsonl", "parquet") or (self._gz and
                                                                    self.kind == "parquet"):
            raise DataError(f"{path}: unknown output type; name the output file .csv, .tsv, "
                            ".jsonl (each optionally .gz) or .parquet")
        self.rows_written = 0
        self._columns: list | None = None
        self._handle = self._parquet = None
        self._tmp: str | None = None

    def _open(self, frame: pd.DataFrame) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = str(self.path.with_name(f".{self.path.name}.{os.getpid()}.part"))
        if self.kind == "parquet":
            schema = pa.Table.from_pandas(frame, preserve_index=False).schema
            # an all-missing first chunk has type null, which no later chunk could cast to
            schema = pa.schema([f.with_type(self.types[f.name]) if f.name in self.types else
                                f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                                for f in schema], metadata=schema.metadata)
            self._parquet = pq.ParquetWriter(self._tmp, schema)
        elif self._gz:
            self._handle = gzip.open(self._tmp, "wt", encoding="utf-8", newline="")
        else:
            self._handle = open(self._tmp, "w", encoding="utf-8", newline="")

    def write(self, frame: pd.DataFrame) -> None:
        """Append one chunk; every chunk must have the first chunk's columns."""
        first = self._columns is None
        if first:
            self._columns = list(frame.columns)
            self._open(frame)
        elif list(frame.columns) != self._columns:
            if set(frame.columns) != set(self._columns):
                raise DataError(f"{self.path}: chunk columns {list(frame.columns)} differ from "
                                f"the first chunk's {self._columns}; write the same columns")
            frame = frame[self._columns]
        if self.kind == "parquet":
            self._write_parquet(frame)
        elif self.kind == "jsonl":
            text = frame.to_json(orient="records", lines=True, force_ascii=False,
                                 date_format="iso")
            self._handle.write(text if text.endswith("\n") or not text else text + "\n")
        else:
            frame.to_csv(self._handle, sep=SEPARATORS[self.kind], index=False,
                         header=first, lineterminator="\n")
        self.rows_written += len(frame)

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        try:
            table = table.cast(self._parquet.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise DataError(f"{self.path}: a chunk's column types differ from the first "
                            f"chunk's ({err}); convert the columns before writing") from err
        self._parquet.write_table(table)

    def close(self, ok: bool = True) -> None:
        """Finish the file (or, with ``ok=False``, discard it)."""
        if self._columns is None and ok:  # nothing written: still leave a valid empty file
            self._open(pd.DataFrame())
            self._columns = []
        for h in (self._handle, self._parquet):
            if h is not None:
                h.close()
        self._handle = self._parquet = None
        if self._tmp is not None:
            if ok:
                os.replace(self._tmp, self.path)
            else:
                os.unlink(self._tmp)
            self._tmp = None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)


class NpyWriter:
    """Append (n, d) float32 row blocks to a ``.npy`` file whose row count is unknown upfront.

    The rows go to a temporary raw file; closing writes the ``.npy`` header for the final
    shape followed by those bytes and renames the result into place, so memory stays bounded
    and a crash leaves no half file (like :class:`TableWriter`).
    """

    def __init__(self, path) -> None:
        self.path = Path(path)
        self.rows_written = 0
        self.width: int | None = None
        self._raw = None
        self._tmp = str(self.path.with_name(f".{self.path.name}.{os.getpid()}.part"))

    def write(self, rows) -> None:
        rows = np.ascontiguousarray(rows, dtype="<f4")  # (n, d)
        if self._raw is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._raw = open(self._tmp + ".raw", "wb")
            self.width = rows.shape[1]
        elif rows.shape[1] != self.width:
            raise DataError(f"{self.path}: rows of width {rows.shape[1]} after {self.width}")
        self._raw.write(rows.tobytes())
        self.rows_written += len(rows)

    def close(self, ok: bool = True) -> None:
        """Finish the file (or, with ``ok=False``, discard it)."""
        if self._raw is not None:
            self._raw.close()
        try:
            if ok:
                header = {"descr": "<f4", "fortran_order": False,
                          "shape": (self.rows_written, self.width or 0)}
                with open(self._tmp, "wb") as out:
                    np.lib.format.write_array_header_1_0(out, header)
                    if self._raw is not None:
                        with open(self._tmp + ".raw", "rb") as raw:
                            shutil.copyfileobj(raw, out)
                os.replace(self._tmp, self.path)
        finally:
            if self._raw is not None:
                os.unlink(self._tmp + ".raw")
                self._raw = None

    def __enter__(self) -> NpyWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(ok=exc_type is None)
