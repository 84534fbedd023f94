"""Reading an export in chunks for the streaming ingest (:mod:`geo.ingest_stream`).

* **UTF-8 / Latin-1 text**: the bytes are scanned once for record boundaries
  (:func:`geo.textfiles._scan_records`), then each run of ``chunk_rows`` records is parsed from
  its byte range under the file's header — by polars when the chunk is plain UTF-8 with one
  field per header column, else by pandas' C reader. Line numbers are the file's (header = 1);
  ragged lines are rejects with their line.
* **Parquet**: record batches of ``chunk_rows`` rows; row ``k`` is line ``k + 2``.

Files that need the whole-file reader raise :class:`NotStreamable`.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.readers import TEXT_SUFFIXES
from geo.textfiles import (
    RawTable,
    _first_line,
    _no_bad,
    _scan_records,
    detect_encoding,
    sniff_delimiter,
    split_ragged,
)

__all__ = ["NotStreamable", "iter_chunks", "DEFAULT_CHUNK_ROWS"]

#: Rows per chunk: ~0.3 GB of working memory per 250k rows of a typical export.
DEFAULT_CHUNK_ROWS = int(os.environ.get("GAPMAP_CHUNK_ROWS", 250_000))


class NotStreamable(Exception):
    """This file needs the whole-file reader (the caller falls back to it)."""


# ------------------------------------------------------------------------------ reading
def iter_chunks(path: str | Path, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[RawTable]:
    """The rows of a UTF-8/Latin-1 text or Parquet export, ``chunk_rows`` at a time.

    Raises :class:`NotStreamable` (before yielding anything) for files that need the
    whole-file reader, and possibly later when pandas splits a chunk differently from the scan.
    """
    path = Path(path)
    if chunk_rows < 1:
        raise ValueError(f"the chunk size (chunk_rows, --chunk-rows) must be at least 1 row, "
                         f"got {chunk_rows}")
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return _text_chunks(path, chunk_rows)
    if suffix in (".parquet", ".pq") and path.is_file():
        return _parquet_chunks(path, chunk_rows)
    raise NotStreamable(path.name)


def _text_chunks(path: Path, chunk_rows: int) -> Iterator[RawTable]:
    encoding = detect_encoding(path)
    if encoding.startswith("utf-16"):
        raise NotStreamable("UTF-16")
    header, _ = _first_line(path, encoding)
    if not header:
        raise NotStreamable("empty")
    sep = "\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(header)
    rec = _scan_records(path, sep)
    if rec is None or rec.line.size < 2:
        raise NotStreamable("unbalanced quotes or no data")
    return _text_gen(path, encoding, sep, rec, chunk_rows)


def _polars_chunk(data: bytes, sep: str, names: list[str], rows: int) -> pd.DataFrame | None:
    """A chunk of well-formed UTF-8 records (no header line) parsed by polars
    (multi-threaded), as pandas would (every value text, blanks ``""``; the columns keep
    polars' Arrow pieces); ``None`` when polars refuses it or counts other rows (it keeps
    blank lines, which pandas skips): then pandas parses the chunk."""
    import polars as pl

    try:
        table = pl.read_csv(io.BytesIO(data), separator=sep, quote_char='"', has_header=False,
                            new_columns=names, infer_schema=False,
                            empty_string_is_null=False).to_arrow()
    except Exception:  # noqa: BLE001 - malformed for polars: pandas decides
        return None
    if table.num_rows != rows or table.num_columns != len(names):
        return None
    cols = {}
    for name, col in zip(names, table.columns, strict=True):
        if col.type != pa.large_string():
            col = col.cast(pa.large_string())
        cols[name] = pd.arrays.ArrowStringArray(col, dtype=_STR)
    return pd.DataFrame(cols)


#: pandas' text dtype for what it reads (Arrow storage, missing as NaN)
_STR = pd.StringDtype("pyarrow", na_value=np.nan)


def _text_gen(path, encoding, sep, rec, chunk_rows) -> Iterator[RawTable]:
    import csv

    n = int(rec.fields[0])
    with open(path, "rb") as f:
        f.seek(int(rec.start[0]))
        head = f.read(int(rec.end[0] - rec.start[0])) + b"\n"
        header = head.decode(encoding, errors="replace").rstrip("\r\n")
        names = [h.strip() for h in next(csv.reader([header], delimiter=sep), [])]
        # polars for plain UTF-8 with distinct, non-empty column names (pandas renames others)
        fast = (encoding == "utf-8" and len(names) == n and all(names)
                and len(set(names)) == n and not any(c.startswith("Unnamed") for c in names))
        for a in range(1, rec.line.size, chunk_rows):
            b = min(rec.line.size, a + chunk_rows)
            f.seek(int(rec.start[a]))
            body = f.read(int(rec.end[b - 1] - rec.start[a]))
            line, fields = rec.line[a:b], rec.fields[a:b]
            if fast and bool(np.all(fields == n)):
                frame = _polars_chunk(body, sep, names, b - a)
                if frame is not None:
                    yield RawTable(frame, line.astype(np.int64), _no_bad(), "csv", encoding, sep)
                    continue
            width = max(n, int(fields[0]))  # pandas: the wider of header and first data line
            in_frame = fields <= width
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                frame = pd.read_csv(io.BytesIO(head + body), dtype=str, keep_default_na=False,
                                    na_filter=False, sep=sep, encoding=encoding,
                                    index_col=False, on_bad_lines="skip")
            if len(frame.columns) != n or len(frame) != int(in_frame.sum()):
                raise NotStreamable("pandas and the scan disagree")
            frame, lines, bad = split_ragged(frame, line, fields, in_frame, n, path, encoding,
                                             sep, rec, first=a)
            yield RawTable(frame, lines.astype(np.int64), bad, "csv", encoding, sep)


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[RawTable]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception:  # noqa: BLE001 - the whole-file reader words the error
        raise NotStreamable("unreadable Parquet") from None
    if pf.metadata.num_rows == 0:
        raise NotStreamable("no rows")
    return _parquet_gen(pf, chunk_rows)


def _parquet_gen(pf, chunk_rows) -> Iterator[RawTable]:
    meta = pf.schema_arrow.metadata
    k = 2
    for batch in pf.iter_batches(batch_size=chunk_rows):
        frame = pa.Table.from_batches([batch]).replace_schema_metadata(meta).to_pandas()
        frame = frame.reset_index(drop=True)
        yield RawTable(frame, np.arange(k, k + len(frame), dtype=np.int64), _no_bad(), "parquet")
        k += len(frame)
