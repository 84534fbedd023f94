"""Incident ingest: an agency export in, canonical de-duplicated incidents out.

``read_incidents(path)`` reads CSV, GeoJSON or Parquet; :func:`read_incidents_frame` does the
same for a DataFrame already in memory (the dashboard's upload page). The steps are:

1. **map** the export's columns onto the canonical ones (:mod:`geo.presets`: a preset, chosen or
   auto-detected, plus ``--map canonical=column`` overrides);
2. **validate** every row (:mod:`geo.validate`); rows that cannot be used go to ``rejects`` with
   their input line number (header = line 1) and the reasons — nothing is dropped silently;
   exact repeats of an earlier row are rejected as ``duplicate of line N``;
3. give rows without an id a stable one (``<source>-<hash of the row>``), and **index** every
   accepted row once at :data:`geo.schema.BASE_RES` with :func:`geo.cells.latlng_to_cells`;
4. **de-duplicate** across sources (:mod:`geo.dedup`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.boundary import boundary_geometry
from geo.cells import latlng_to_cells
from geo.dedup import dedup_incidents
from geo.presets import resolve_columns
from geo.schema import BASE_RES, INCIDENT_COLUMNS
from geo.validate import validate_rows

__all__ = [
    "IngestResult",
    "read_incidents",
    "read_incidents_frame",
    "read_raw",
    "load_boundary",
    "to_canonical",
    "FINGERPRINT_COLUMNS",
]

Progress = Callable[[str, int, int | None], None]

#: Columns whose values identify a record (its fingerprint, and its id when none is given).
FINGERPRINT_COLUMNS = (
    "incident_id", "occurred_at", "time_precision", "lat", "lon", "outcome", "naloxone",
    "naloxone_doses", "source", "agency", "suspected_drug", "age_band", "sex",
    "location_precision",
)
_CHUNK = 1_000_000
_GEOM_LAT, _GEOM_LON = "__geometry_lat", "__geometry_lon"


@dataclass
class IngestResult:
    """What one ingest produced.

    Attributes
    ----------
    incidents : DataFrame
        Canonical events (columns of :data:`geo.schema.INCIDENT_COLUMNS`, uint64 ``h3``).
    rejects : DataFrame
        ``line``, ``reason`` and the raw values of every unusable row.
    summary : dict
        ``read``, ``accepted``, ``rejected``, ``merged``, ``events``, ``outside_area``,
        ``preset``, ``columns`` (canonical → input column), ``unrecognised``, ``reasons``.
    records : DataFrame
        Accepted records before de-duplication, with ``fingerprint`` (uint64) and ``h3``;
        what :class:`geo.store.IncidentStore` keeps.
    """

    incidents: pd.DataFrame
    rejects: pd.DataFrame
    summary: dict
    records: pd.DataFrame = field(repr=False, default=None)


def to_canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Columns of :data:`INCIDENT_COLUMNS` in order with their dtypes (missing → null)."""
    out = pd.DataFrame(index=df.index)
    for col, dtype in INCIDENT_COLUMNS.items():
        if col in df.columns:
            out[col] = df[col].astype(dtype)
        else:
            out[col] = pd.Series(pd.NA if dtype != "uint64" else 0, index=df.index).astype(dtype)
    return out


#: Alias of :func:`geo.boundary.boundary_geometry` (the CLI commands and tests call it by this
#: name).
load_boundary = boundary_geometry


def read_raw(path: str | Path, progress: Progress | None = None) -> tuple[pd.DataFrame, str]:
    """Read an export as raw values (CSV: all text, blanks as ``""``); returns (frame, format).

    GeoJSON point geometries become two extra columns; other geometries give their centroid
    (and ``location_precision = "centroid"`` unless the file says otherwise).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"incident file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        chunks, done = [], 0
        for enc in ("utf-8-sig", "latin-1"):
            try:
                reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False,
                                     sep=sep, chunksize=_CHUNK, encoding=enc)
                for chunk in reader:
                    chunks.append(chunk)
                    done += len(chunk)
                    if progress:
                        progress("read", done, None)
                break
            except UnicodeDecodeError:
                chunks, done = [], 0
        if not chunks:
            raise ValueError(f"{path} has no header row; the first line must name the columns")
        raw = pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]
        return raw.reset_index(drop=True), "csv"
    if suffix in (".parquet", ".pq"):
        raw = pd.read_parquet(path)
        if progress:
            progress("read", len(raw), len(raw))
        return raw.reset_index(drop=True), "parquet"
    if suffix in (".geojson", ".json"):
        import geopandas as gpd

        gdf = gpd.read_file(path)
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            gdf = gdf.to_crs(4326)
        geom = gdf.geometry
        # centroids of areal records in lng/lat: fine for the small areas exports use
        pts = gpd.GeoSeries(shapely.centroid(geom.values), index=geom.index)
        raw = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        empty = geom.isna() | geom.is_empty
        raw[_GEOM_LAT] = np.where(empty, np.nan, pts.y)
        raw[_GEOM_LON] = np.where(empty, np.nan, pts.x)
        if "location_precision" not in raw.columns and len(raw):
            raw["location_precision"] = np.where(geom.geom_type == "Point", "", "centroid")
        if progress:
            progress("read", len(raw), len(raw))
        return raw.reset_index(drop=True), "geojson"
    raise ValueError(f"cannot read {path.name}: use a .csv, .parquet or .geojson file")


def read_incidents(
    path: str | Path,
    *,
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    boundary=None,
    drop_outside: bool = False,
    dedup: bool = True,
    window_min: float = 60,
    radius_m: float = 300,
    progress: Progress | None = None,
) -> IngestResult:
    """Read an incident export into canonical, validated, indexed, de-duplicated incidents.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.parquet`` or ``.geojson``.
    preset : str, optional
        ``canonical``, ``odmap``, ``nemsis`` or ``open_data``; auto-detected when omitted.
    mapping : dict, optional
        ``canonical → input column`` overrides (``--map``).
    source : str, optional
        Source of rows with no source value (``ems``, ``police``, ``hospital``, ...).
    boundary : path, GeoDataFrame or shapely geometry, optional
        Study area: rows outside are flagged ``in_study_area = False`` (or rejected with
        ``drop_outside``); used to detect swapped coordinates.
    drop_outside : bool
    dedup : bool
        Merge cross-source reports into events (see :mod:`geo.dedup`).
    window_min, radius_m : float
        De-duplication window (minutes) and radius (metres).
    progress : callable, optional
        ``progress(stage, rows_done, total)``; called per million rows read and per stage.

    Returns
    -------
    IngestResult

    Raises
    ------
    FileNotFoundError
        The file (or boundary file) does not exist.
    ValueError
        Unsupported format, unknown preset, bad ``--map``, or the date/location columns
        cannot be found (the message lists the columns found and the ``--map`` to use).
    """
    raw, fmt = read_raw(path, progress)
    result = read_incidents_frame(
        raw, preset=preset, mapping=mapping, source=source, boundary=boundary,
        drop_outside=drop_outside, dedup=dedup, window_min=window_min, radius_m=radius_m,
        progress=progress,
    )
    result.summary = {"path": str(path), "format": fmt, **result.summary}
    return result


def _fingerprint(records: pd.DataFrame) -> np.ndarray:
    cols = records[list(FINGERPRINT_COLUMNS)].copy()
    cols["occurred_at"] = cols["occurred_at"].astype("int64")
    return pd.util.hash_pandas_object(cols, index=False).to_numpy(np.uint64)


_REASON_KINDS = (
    "missing date", "unparsable date", "future date", "date before 1900", "missing latitude",
    "missing longitude", "latitude is not a number", "longitude is not a number",
    "location is (0, 0)", "latitude/longitude look swapped", "latitude out of range",
    "longitude out of range", "outside the study area", "duplicate of line",
)


def _reason_kind(reason: str) -> list[str]:
    """The kinds of reason in a joined reason string (for the summary's counts)."""
    return [next((k for k in _REASON_KINDS if part.startswith(k)), part)
            for part in reason.split("; ")]


def read_incidents_frame(
    df: pd.DataFrame,
    *,
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
    source: str | None = None,
    boundary=None,
    drop_outside: bool = False,
    dedup: bool = True,
    window_min: float = 60,
    radius_m: float = 300,
    progress: Progress | None = None,
    now=None,
) -> IngestResult:
    """:func:`read_incidents` for a DataFrame in memory (e.g. an uploaded file).

    Row ``k`` (0-based position) is reported as line ``k + 2``, as if it came from a CSV file
    with a header. ``now`` fixes "today" for the future-date check (tests). ``df`` is not
    mutated.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"read_incidents_frame expects a DataFrame, got {type(df).__name__}")
    raw = df.reset_index(drop=True)
    mapping = dict(mapping or {})
    geo_cols = _GEOM_LAT in raw.columns
    visible = [c for c in raw.columns if c not in (_GEOM_LAT, _GEOM_LON)]
    name, colmap, default_source = resolve_columns(
        [str(c) for c in visible], preset, mapping, location_given=geo_cols
    )
    if geo_cols and not (("lat" in colmap and "lon" in colmap) or "latlon" in colmap):
        colmap["lat"], colmap["lon"] = _GEOM_LAT, _GEOM_LON
    if geo_cols and "location_precision" not in colmap and "location_precision" in raw.columns:
        colmap["location_precision"] = "location_precision"
    boundary = boundary_geometry(boundary)
    val = validate_rows(raw, colmap, source=source, default_source=default_source,
                        boundary=boundary, drop_outside=drop_outside, now=now)
    if progress:
        progress("validate", len(raw), len(raw))
    reasons = val.reasons.to_numpy(object).copy()
    ok = reasons == ""
    rec = val.records.loc[ok].copy()
    # stable ids and fingerprints, then exact repeats of an earlier row
    fp = _fingerprint(rec)
    missing_id = rec["incident_id"].isna().to_numpy()
    if missing_id.any():
        gen = [f"{s}-{h:016x}" for s, h in zip(rec["source"].to_numpy(object)[missing_id],
                                                fp[missing_id].tolist(), strict=True)]
        rec.loc[missing_id, "incident_id"] = gen
    dup = pd.Series(fp).duplicated(keep="first").to_numpy()
    if dup.any():
        first_pos = pd.Series(np.arange(fp.size)).groupby(fp).transform("min").to_numpy()
        ok_pos = np.flatnonzero(ok)
        for k in np.flatnonzero(dup):
            reasons[ok_pos[k]] = f"duplicate of line {ok_pos[first_pos[k]] + 2}"
        rec = rec.loc[~dup]
        fp = fp[~dup]
        ok = reasons == ""
    rec["h3"] = latlng_to_cells(rec["lat"].to_numpy(float), rec["lon"].to_numpy(float), BASE_RES)
    if progress:
        progress("index", len(rec), len(rec))
    if dedup:
        events, _ = dedup_incidents(rec, window_min=window_min, radius_m=radius_m)
    else:
        events = rec.assign(
            n_sources=1, sources=rec["source"],
            event_id=rec["source"].astype("string") + ":" + rec["incident_id"].astype("string"),
        )
    if progress:
        progress("dedup", len(events), len(rec))
    incidents = to_canonical(events)
    records = to_canonical(rec.assign(n_sources=1, sources=rec["source"]))
    records["fingerprint"] = fp
    bad = ~ok
    rejects = pd.concat(
        [pd.DataFrame({"line": np.flatnonzero(bad) + 2, "reason": reasons[bad]}),
         raw.loc[bad, visible].reset_index(drop=True)], axis=1,
    )
    kinds = Counter(k for r in reasons[bad] for k in _reason_kind(r))
    summary = {
        "preset": name,
        "columns": {k: v for k, v in colmap.items() if not v.startswith("__")},
        "read": int(len(raw)),
        "accepted": int(ok.sum()),
        "rejected": int(bad.sum()),
        "merged": int(ok.sum() - len(incidents)),
        "events": int(len(incidents)),
        "outside_area": int((~records["in_study_area"].fillna(True)).sum())
        if boundary is not None else 0,
        "unrecognised": {k: v for k, v in val.unrecognised.items() if v},
        "reasons": dict(kinds.most_common()),
    }
    if drop_outside and boundary is not None:
        summary["outside_area"] = int(kinds.get("outside the study area", 0))
    return IngestResult(incidents, rejects, summary, records)
