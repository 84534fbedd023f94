"""Incident ingest: an agency export in, canonical de-duplicated incidents out.

``read_incidents(path)`` reads CSV (any of the encodings and delimiters of
:mod:`geo.readers`), Excel ``.xlsx``, GeoJSON or Parquet; :func:`read_incidents_frame` does the
same for a DataFrame already in memory (the dashboard's upload page). The steps are:

1. **map** the export's columns onto the canonical ones (:mod:`geo.presets`: a preset, chosen or
   auto-detected, plus ``--map canonical=column`` overrides);
2. **validate** every row (:mod:`geo.validate`); rows that cannot be used go to ``rejects`` with
   their input line number (header = line 1) and the reasons — nothing is dropped silently;
   rows matching ``exclude`` rules are set aside; exact repeats of an earlier row *with an id*
   are rejected as ``duplicate of line N``, identical rows *without* an id are separate
   incidents (counted), and the optional same-source near-duplicate rule applies
   (:mod:`geo.rowrules`);
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

from geo.areas import shared_coordinate_warnings
from geo.boundary import boundary_geometry
from geo.cells import latlng_to_cells
from geo.dedup import dedup_incidents
from geo.fingerprint import row_fingerprints
from geo.presets import resolve_columns
from geo.readers import RawTable, _read_geojson, check_readable, read_table
from geo.rowrules import excluded_rows, near_duplicates, parse_exclusions, repeat_index
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
        ``line``, ``reason`` and the raw values of every row not used: rejected, excluded or
        dropped as a duplicate (sorted by line).
    summary : dict
        ``read``, ``accepted``, ``rejected``, ``excluded``, ``identical`` (rows identical to an
        earlier one without an id: kept unless ``drop_identical``), ``dropped_identical``,
        ``near_duplicates`` (same-source rule), ``merged``, ``events``, ``outside_area``,
        ``preset``, ``columns`` (canonical → input column), ``unrecognised``, ``reasons``,
        ``warnings`` (sentences, e.g. a coordinate shared by many records:
        :func:`geo.areas.shared_coordinate_warnings`).
        ``read = accepted + rejected + excluded + dropped_identical + near_duplicates``.
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
    (and ``location_precision = "centroid"`` unless the file says otherwise). Ragged CSV lines
    are left out here (:func:`read_incidents` reports them as rejects with their line).
    """
    table, _ = _read_any(path, progress)
    return table.frame, table.format


def _read_any(path, progress):
    """(:class:`geo.readers.RawTable`, is_geojson)."""
    p = Path(path)
    if p.suffix.lower() in (".geojson", ".json") and not p.is_dir():
        gdf = _read_geojson(check_readable(p, "incident file"))
        geom = gdf.geometry
        # centroids of areal records in lng/lat: fine for the small areas exports use
        pts = shapely.centroid(geom.values)
        raw = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        empty = (geom.isna() | geom.is_empty).to_numpy()
        raw[_GEOM_LAT] = np.where(empty, np.nan, shapely.get_y(pts))
        raw[_GEOM_LON] = np.where(empty, np.nan, shapely.get_x(pts))
        if "location_precision" not in raw.columns and len(raw):
            raw["location_precision"] = np.where(geom.geom_type == "Point", "", "centroid")
        if progress:
            progress("read", len(raw), len(raw))
        raw = raw.reset_index(drop=True)
        return RawTable(raw, np.arange(2, len(raw) + 2), format="geojson"), True
    return read_table(path, progress), False


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
    exclude=None,
    drop_identical: bool = False,
    same_source_window_min: float | None = None,
    same_source_radius_m: float | None = None,
) -> IngestResult:
    """Read an incident export into canonical, validated, indexed, de-duplicated incidents.

    Parameters
    ----------
    path : str or Path
        ``.csv`` / ``.tsv`` / ``.txt`` (encoding and delimiter detected), ``.xlsx``,
        ``.parquet`` or ``.geojson``.
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
    exclude : list of "COLUMN=VALUE" or dict, optional
        Rows to set aside (:func:`geo.rowrules.parse_exclusions`).
    drop_identical : bool
        Set aside rows identical to an earlier one that have no id (default: keep them; they
        are separate incidents).
    same_source_window_min, same_source_radius_m : float, optional
        The same-source near-duplicate rule (:mod:`geo.rowrules`); off unless both are given.

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
    table, _ = _read_any(path, progress)
    result = read_incidents_frame(
        table.frame, preset=preset, mapping=mapping, source=source, boundary=boundary,
        drop_outside=drop_outside, dedup=dedup, window_min=window_min, radius_m=radius_m,
        progress=progress, exclude=exclude, drop_identical=drop_identical,
        same_source_window_min=same_source_window_min,
        same_source_radius_m=same_source_radius_m, lines=table.lines, unreadable=table.bad,
    )
    extra = {"path": str(path), "format": table.format}
    if table.encoding:
        extra.update(encoding=table.encoding, delimiter=table.delimiter)
    result.summary = {**extra, **result.summary}
    return result


def _fingerprint(records: pd.DataFrame, coded: dict | None = None) -> np.ndarray:
    """Each record's key: ``pd.util.hash_pandas_object`` of its :data:`FINGERPRINT_COLUMNS`
    (``occurred_at`` as int64), re-hashed with its ``area`` name when it has one; computed by
    :func:`geo.fingerprint.row_fingerprints` (the same uint64s). ``coded``: column → (codes,
    labels) of columns whose values are ``labels[codes]`` (hashed once per label)."""
    return row_fingerprints(records, FINGERPRINT_COLUMNS, coded)


_REASON_KINDS = (
    "missing date", "unparsable date", "future date", "date before 1900", "missing latitude",
    "missing longitude", "latitude is not a number", "longitude is not a number",
    "location is (0, 0)", "latitude/longitude look swapped", "latitude out of range",
    "longitude out of range", "outside the study area", "duplicate of line", "ragged line",
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
    exclude=None,
    drop_identical: bool = False,
    same_source_window_min: float | None = None,
    same_source_radius_m: float | None = None,
    lines=None,
    unreadable: pd.DataFrame | None = None,
) -> IngestResult:
    """:func:`read_incidents` for a DataFrame in memory (e.g. an uploaded file).

    Row ``k`` (0-based position) is reported as line ``k + 2``, as if it came from a CSV file
    with a header, unless ``lines`` gives each row's line. ``unreadable`` holds lines the reader
    could not split (``line``, ``reason``, values), counted as read and rejected. ``now`` fixes
    "today" for the future-date check (tests). ``df`` is not mutated.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"read_incidents_frame expects a DataFrame, got {type(df).__name__}")
    raw = df.reset_index(drop=True)
    line_no = (np.arange(2, len(raw) + 2, dtype=np.int64) if lines is None
               else np.asarray(lines, dtype=np.int64))
    if line_no.size != len(raw):
        raise ValueError(f"lines has {line_no.size} entries for {len(raw)} rows")
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
    excluded, why = excluded_rows(raw, parse_exclusions(exclude))
    near_on = same_source_window_min is not None or same_source_radius_m is not None
    boundary = boundary_geometry(boundary)
    val = validate_rows(raw, colmap, source=source, default_source=default_source,
                        boundary=boundary, drop_outside=drop_outside, now=now)
    if progress:
        progress("validate", len(raw), len(raw))
    reasons = val.reasons.to_numpy(object).copy()
    reasons[excluded] = ""
    ok = (reasons == "") & ~excluded
    set_aside = np.full(len(raw), "", dtype=object)  # excluded / dropped duplicates
    set_aside[excluded] = ["excluded by " + w for w in why[excluded]]
    ok_pos = np.flatnonzero(ok)
    rec = val.records.loc[ok].copy()
    # fingerprints; identical rows: duplicates with an id, separate incidents without one
    fp = _fingerprint(rec)
    missing_id = rec["incident_id"].isna().to_numpy()
    k, first = repeat_index(fp)
    repeat = k > 0
    dup_id = repeat & ~missing_id
    identical = repeat & missing_id
    for j in np.flatnonzero(dup_id):
        reasons[ok_pos[j]] = f"duplicate of line {line_no[ok_pos[first[j]]]}"
    if drop_identical:
        for j in np.flatnonzero(identical):
            set_aside[ok_pos[j]] = (f"identical to line {line_no[ok_pos[first[j]]]} "
                                    "(dropped: --drop-identical)")
    if identical.any():  # the k-th repeat gets its own fingerprint (and id)
        fp = fp.copy()
        fp[identical] = pd.util.hash_pandas_object(
            pd.DataFrame({"fp": fp[identical], "k": k[identical]}), index=False
        ).to_numpy(np.uint64)
    keep = ~dup_id & ~(identical & drop_identical)
    rec, fp, ok_pos, missing_id = rec.loc[keep], fp[keep], ok_pos[keep], missing_id[keep]
    n_near = 0
    if near_on:
        near = near_duplicates(rec, line_no[ok_pos],
                               window_min=60 if same_source_window_min is None
                               else same_source_window_min,
                               radius_m=300 if same_source_radius_m is None
                               else same_source_radius_m)
        for j in np.flatnonzero(near):
            set_aside[ok_pos[j]] = (f"near-duplicate of line {near[j]} (same source and agency "
                                    "within the same-source window and radius)")
        far = near == 0
        n_near = int((~far).sum())
        rec, fp, ok_pos, missing_id = rec.loc[far], fp[far], ok_pos[far], missing_id[far]
    ok = finish_records(rec, fp, ok_pos, missing_id, len(raw))
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
    bad = (reasons != "") & ~ok
    aside = (set_aside != "") & ~bad & ~ok
    out = bad | aside
    why_out = np.where(bad, reasons, set_aside)[out]
    rejects = pd.concat(
        [pd.DataFrame({"line": line_no[out], "reason": why_out}),
         raw.loc[out, visible].reset_index(drop=True)], axis=1,
    )
    n_unreadable = 0 if unreadable is None else len(unreadable)
    if n_unreadable:
        rejects = pd.concat([rejects, unreadable], ignore_index=True).sort_values(
            "line", kind="stable").reset_index(drop=True)
    kinds = Counter(k for r in reasons[bad] for k in _reason_kind(r))
    if n_unreadable:
        kinds["ragged line"] += n_unreadable
    summary = {
        "preset": name,
        "columns": {k: v for k, v in colmap.items() if not v.startswith("__")},
        "read": int(len(raw) + n_unreadable),
        "accepted": int(ok.sum()),
        "rejected": int(bad.sum() + n_unreadable),
        "excluded": int(excluded.sum()),
        "identical": int(identical.sum()),
        "dropped_identical": int(identical.sum()) if drop_identical else 0,
        "near_duplicates": n_near,
        "merged": int(ok.sum() - len(incidents)),
        "events": int(len(incidents)),
        "outside_area": int((~records["in_study_area"].fillna(True)).sum())
        if boundary is not None else 0,
        "unrecognised": {k: v for k, v in val.unrecognised.items() if v},
        "reasons": dict(kinds.most_common()),
        "warnings": shared_coordinate_warnings(records),  # records: before merging
    }
    if drop_outside and boundary is not None:
        summary["outside_area"] = int(kinds.get("outside the study area", 0))
    return IngestResult(incidents, rejects, summary, records)


def finish_records(rec: pd.DataFrame, fp: np.ndarray, ok_pos: np.ndarray,
                   missing_id: np.ndarray, n_rows: int) -> np.ndarray:
    """The last steps of every read (whole file or chunk), in place on ``rec``: an id for each
    record without one (``<source>-<fingerprint hex>``) and its base-resolution H3 cell.
    Returns the mask of accepted rows among the ``n_rows`` read."""
    if missing_id.any():
        gen = [f"{s}-{h:016x}" for s, h in zip(rec["source"].to_numpy(object)[missing_id],
                                                fp[missing_id].tolist(), strict=True)]
        rec.loc[missing_id, "incident_id"] = gen
    ok = np.zeros(n_rows, dtype=bool)
    ok[ok_pos] = True
    rec["h3"] = latlng_to_cells(rec["lat"].to_numpy(float), rec["lon"].to_numpy(float), BASE_RES)
    return ok
