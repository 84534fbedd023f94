"""Reading the files agencies send as raw tables, with the true line number of every row.

:func:`read_table` reads CSV-like text (``.csv``, ``.txt``, ``.tsv``), Excel workbooks
(``.xlsx``, ``.xlsm``, ``.xls``: first sheet), Parquet and GeoJSON. For text files it

* **detects the encoding**: a byte-order mark says UTF-8, UTF-16 LE or UTF-16 BE; UTF-16 without
  a mark is recognised by its zero bytes; otherwise UTF-8 if the whole file decodes as UTF-8,
  else Latin-1 (every byte is a character, so nothing is refused);
* **sniffs the delimiter** from the header line: the most frequent of ``,`` ``;`` tab and ``|``
  outside quotes (``,`` when none appears; tab for ``.tsv``);
* keeps the **line number** of every row as a text editor shows it (header = line 1), also after
  quoted fields that span several lines and after blank lines (which are skipped);
* turns a **ragged line** (more or fewer fields than the header) into a reject with its line
  number instead of refusing the file.

Text files are scanned once on the bytes (vectorised, :mod:`geo.textfiles`) and parsed by
pandas' C reader, quoted and ragged ones included (about 1.35× plain ``pandas.read_csv`` at 1M
rows, ``bench/bench_readers.py``); UTF-16 files and files whose quotes do not balance go to the
standard-library :mod:`csv` reader, which tracks lines exactly (about 5×). Excel workbooks are
read with python-calamine: the header is the first non-empty row, empty rows are skipped, and
the line of a row is its sheet row number.

Every failure to read is a :class:`ValueError` (or :class:`FileNotFoundError`) with one
sentence naming the file and what to do: a directory, an unreadable or empty file, invalid
GeoJSON, an unsupported extension.
"""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import numpy as np
import pandas as pd

from geo.textfiles import (
    RawTable,
    _first_line,
    _no_bad,
    detect_encoding,
    read_text,
    sniff_delimiter,
    unique_names,
)

__all__ = ["RawTable", "read_table", "read_columns", "check_readable", "detect_encoding",
           "sniff_delimiter", "TEXT_SUFFIXES", "EXCEL_SUFFIXES"]

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")


def _integral_floats_to_int(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel stores every number as a float: whole-number columns (ids, codes) become Int64."""
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            v = out[c].to_numpy(float)
            fin = np.isfinite(v)
            if fin.any() and np.all(v[fin] == np.floor(v[fin])) and np.all(np.abs(v[fin]) < 2**53):
                out[c] = out[c].astype("Int64")
    return out


def _read_excel(path: Path) -> RawTable:
    """First sheet of a workbook (python-calamine): typed cells, sheet row numbers as lines.

    The header is the first non-empty row; empty rows are skipped like blank CSV lines.
    """
    try:
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python()
        first_row = int(sheet.start[0]) if rows else 0  # 0-based sheet row of rows[0]
    except Exception as exc:  # calamine's own error types; one sentence for the user
        raise ValueError(f"cannot read {path.name} as an Excel workbook ({exc}); "
                         "save it again as .xlsx or export it as CSV") from None

    def empty(row) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)

    filled = [i for i, r in enumerate(rows) if not empty(r)]
    if not filled:
        raise ValueError(f"{path.name} is empty; the first row must name the columns")
    h = filled[0]
    names = unique_names([str(v).strip() if v not in (None, "") else f"Unnamed: {k}"
                           for k, v in enumerate(rows[h])])
    data = filled[1:]
    def cell(v):
        # calamine gives a date for a date-time cell at 00:00: make every date a timestamp
        if isinstance(v, datetime.date):
            return pd.Timestamp(v)
        return None if isinstance(v, str) and v == "" else v

    def column(k):
        vals = [rows[i][k] if k < len(rows[i]) else None for i in data]
        dates = [v for v in vals if isinstance(v, datetime.date)]
        if len(dates) >= 2 and not any(isinstance(v, datetime.datetime) for v in dates):
            # dates only (no cell with a time of day): a date-only column, read as date text
            # (typed timestamps are never made date-only by validation)
            return pd.Series([v.isoformat() if isinstance(v, datetime.date) else cell(v)
                              for v in vals], dtype=object)
        return pd.Series([cell(v) for v in vals], dtype=object)

    cols = {name: column(k) for k, name in enumerate(names)}
    frame = _integral_floats_to_int(pd.DataFrame(cols, columns=names).infer_objects())
    lines = np.asarray(data, dtype=np.int64) + first_row + 1
    return RawTable(frame.reset_index(drop=True), lines, _no_bad(), "excel")


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:
        raise ValueError(f"cannot read {path.name} as Parquet ({type(exc).__name__}); "
                         "check that the file is complete or export it again") from None
    return RawTable(frame.reset_index(drop=True), np.arange(2, len(frame) + 2), _no_bad(),
                    "parquet")


def _read_geojson(path: Path) -> pd.DataFrame:
    """A GeoJSON file as a GeoDataFrame in WGS84, or one-sentence ``ValueError``."""
    import geopandas as gpd

    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path.name} is not valid JSON ({exc.__class__.__name__} near "
                         f"position {getattr(exc, 'pos', getattr(exc, 'start', '?'))}); "
                         "export it again as GeoJSON or as CSV") from None
    if not isinstance(doc, dict) or doc.get("type") not in (
            "FeatureCollection", "Feature", "Point", "MultiPoint", "Polygon", "MultiPolygon",
            "LineString", "MultiLineString", "GeometryCollection"):
        raise ValueError(f"{path.name} is JSON but not GeoJSON (no \"type\": "
                         "\"FeatureCollection\"); export it as GeoJSON or as CSV")
    legacy_crs = str(((doc.get("crs") or {}).get("properties") or {}).get("name", ""))
    if doc.get("type") == "FeatureCollection" and (not legacy_crs or legacy_crs.endswith(
            ("CRS84", "4326"))):
        # properties as written (a date stays text: "2024-01-03" is date-only, not 00:00)
        try:
            feats = doc.get("features") or []
            gdf = gpd.GeoDataFrame.from_features(feats, crs=4326)
            if "geometry" not in gdf.columns:
                gdf = gpd.GeoDataFrame(gdf, geometry=gpd.GeoSeries([None] * len(gdf)), crs=4326)
            return gdf
        except Exception as exc:
            raise ValueError(f"cannot read {path.name} as GeoJSON ({type(exc).__name__}: a "
                             "feature or geometry is malformed); fix it or export it as CSV"
                             ) from None
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise ValueError(f"cannot read {path.name} as GeoJSON ({type(exc).__name__}); "
                         "check its features and geometries or export it as CSV") from None
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    return gdf


def check_readable(path: str | Path, what: str = "file") -> Path:
    """The path if it is a readable file; otherwise one-sentence errors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a file; give the export file inside it")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror or exc}); "
                         "check its permissions") from None
    return path


def read_table(path: str | Path, progress=None, *, delimiter: str | None = None,
               what: str = "incident file") -> RawTable:
    """Read an export's rows (GeoJSON: see :func:`geo.ingest.read_raw`, which adds geometry).

    Parameters
    ----------
    path : str or Path
    progress : callable, optional
        ``progress("read", rows_done, total)``.
    delimiter : str, optional
        Force a delimiter instead of sniffing it.
    what : str
        How the file is named in error messages.

    Raises
    ------
    FileNotFoundError, ValueError
        One sentence: missing file, folder, unreadable, empty, bad format.
    """
    path = check_readable(path, what)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return read_text(path, progress, delimiter)
    if suffix in EXCEL_SUFFIXES:
        table = _read_excel(path)
    elif suffix in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        raise ValueError(f"cannot read {path.name}: use a .csv, .tsv, .txt, .xlsx, .parquet "
                         "or .geojson file")
    if progress:
        progress("read", len(table.frame), len(table.frame))
    return table


def read_columns(path: str | Path) -> list[str]:
    """The column names of an export as :func:`read_table` will see them (header only for
    text files: encoding and delimiter detected; the first sheet's header for Excel)."""
    path = check_readable(path)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        encoding = detect_encoding(path)
        header, _ = _first_line(path, encoding)
        sep = "\t" if suffix == ".tsv" else sniff_delimiter(header)
        return unique_names([h.strip() for h in next(csv.reader([header], delimiter=sep), [])])
    if suffix in EXCEL_SUFFIXES:
        return list(_read_excel(path).frame.columns)
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return [c for c in _read_geojson(path).columns if c != "geometry"]
