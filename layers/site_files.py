"""Reading site files (resources, candidate host sites) and checking where sites are.

:func:`read_site_table` reads CSV/TSV/TXT (encoding and delimiter detected), ``.xlsx`` and
GeoJSON Point files into raw rows with their line number (``_line``; a ragged CSV line carries
``_row_error`` and becomes a reject). :func:`swapped_locations` gives the reason for sites whose
latitude and longitude look swapped. :func:`load_candidates` reads candidate host sites with the
same column names as resource files (``lat``/``latitude``/``Latitude``, ``lon``/``lng``/
``longitude``/``Longitude``, ``id``) and the same coordinate checks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from geo.readers import check_readable, read_table
from geo.validate import parse_bool

__all__ = ["check_readable", "public_columns", "swapped_locations", "read_site_table",
           "load_candidates", "COLUMN_ALIASES"]

#: Alternative column names (lower case) shared by resource and candidate files.
COLUMN_ALIASES = {"latitude": "lat", "longitude": "lon", "lng": "lon", "long": "lon",
                  "id": "site_id"}


def public_columns(columns) -> list[str]:
    """Column names as a user wrote them (internal ``_line``-style helpers left out)."""
    return [str(c) for c in columns if not str(c).startswith("_")]


def swapped_locations(lat, lon, boundary=None) -> np.ndarray:
    """Reason text (``""`` when plausible) for sites whose latitude and longitude look swapped.

    Parameters
    ----------
    lat, lon : array-like of float
        Degrees as read (finite values are checked; others are left to the caller).
    boundary : shapely (Multi)Polygon, optional
        Study area (lng, lat): a site outside it whose (lon, lat) swapped lies inside is
        swapped.
    """
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    out = np.full(lat.size, "", dtype=object)
    fin = np.isfinite(lat) & np.isfinite(lon)
    with np.errstate(invalid="ignore"):
        wide = fin & (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
        south = fin & ~wide & (lat < -60) & (np.abs(lat) <= 90)
    swap = wide.copy()
    if boundary is not None:
        import shapely

        shapely.prepare(boundary)
        ok = fin & (np.abs(lat) <= 180) & (np.abs(lon) <= 180)
        inside = np.zeros(lat.size, bool)
        back = np.zeros(lat.size, bool)
        inside[ok] = shapely.contains_xy(boundary, lon[ok], lat[ok])
        back[ok] = shapely.contains_xy(boundary, lat[ok], lon[ok])
        swap |= ok & ~inside & back
    for i in np.flatnonzero(swap):
        out[i] = (f"latitude/longitude look swapped (lat={lat[i]:g}, lon={lon[i]:g}); "
                  "fix the file's Latitude/Longitude columns")
    for i in np.flatnonzero(south & ~swap):
        out[i] = (f"implausible location lat={lat[i]:g}, lon={lon[i]:g} (south of 60°S, "
                  "Antarctica): latitude/longitude look swapped; fix the file's columns")
    return out


def _read_geojson(path: Path) -> pd.DataFrame:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid GeoJSON ({type(exc).__name__}); export it "
                         "again as GeoJSON or CSV") from None
    feats = doc.get("features") if isinstance(doc, dict) else None
    if feats is None:
        raise ValueError(f"{path} is not a GeoJSON FeatureCollection (no 'features' list)")
    rows = []
    for f in feats:
        props = dict(f.get("properties") or {})
        geom = f.get("geometry") or {}
        if geom.get("type") == "Point" and len(geom.get("coordinates") or []) >= 2:
            lon, lat = geom["coordinates"][:2]  # GeoJSON axis order is (lng, lat)
            props["lat"], props["lon"] = lat, lon
        else:
            props["lat"], props["lon"] = None, None
            props["_geometry_error"] = (
                f"geometry must be a Point, got {geom.get('type') or 'none'}"
            )
        rows.append(props)
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["lat", "lon"])
    df["_line"] = np.arange(1, len(df) + 1)  # feature number, 1-based
    return df


def read_site_table(path: Path, what: str = "resource file") -> pd.DataFrame:
    """Rows of a site file with ``_line``; ragged lines carry ``_row_error`` (rejected)."""
    path = check_readable(path, what)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        return _read_geojson(path)
    if suffix not in (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls"):
        raise ValueError(f"{what} {path} must be .csv, .xlsx or .geojson, got {suffix!r}")
    table = read_table(path, what=what)
    df = table.frame.copy()
    df = df.replace("", pd.NA) if len(df) else df
    df["_line"] = table.lines
    if len(table.bad):
        bad = table.bad.drop(columns=["line", "reason"]).replace("", pd.NA)
        bad["_line"] = table.bad["line"].to_numpy()
        bad["_row_error"] = table.bad["reason"].to_numpy()
        df = pd.concat([df, bad], ignore_index=True).sort_values("_line", kind="stable")
    return df.reset_index(drop=True)




def load_candidates(path, *, boundary=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidate host sites from a file, with the resource files' column names and checks.

    Parameters
    ----------
    path : str or Path
        ``.csv`` / ``.xlsx`` / ``.geojson`` with ``lat``/``lon`` (or ``Latitude``/``Longitude``,
        ``lng``, ``long``) and optional ``site_id`` (or ``id``), ``name``, ``subtype``,
        ``open_24_7`` (yes/no words, :func:`geo.validate.parse_bool`).
    boundary : shapely geometry, optional
        Study area, for the swapped-coordinates check.

    Returns
    -------
    candidates : DataFrame
        Usable rows: ``site_id`` (string; ``candidate_<line>`` when blank), ``lat``, ``lon``
        and the optional columns given (``open_24_7`` as nullable boolean).
    rejects : DataFrame
        ``line``, ``site_id``, ``reason`` of the rows that cannot be used.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing or unreadable file, or no latitude/longitude columns (lists those found).
    """
    p = Path(path)
    raw = read_site_table(p, what="candidates file")
    ren = {}
    for c in raw.columns:
        key = str(c).strip().lower()
        ren[c] = c if str(c).startswith("_") else COLUMN_ALIASES.get(key, key)
    raw = raw.rename(columns=ren)
    raw = raw.loc[:, ~raw.columns.duplicated()].reset_index(drop=True)
    missing = [c for c in ("lat", "lon") if c not in raw.columns]
    if missing:
        raise ValueError(f"candidates file {p.name} is missing column(s) {missing}; found "
                         f"{public_columns(raw.columns)}. Name them lat/lon or "
                         "Latitude/Longitude.")
    line = raw["_line"].to_numpy(np.int64)
    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(float)
    reason = np.full(len(raw), "", dtype=object)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 180) | (
            np.abs(lon) > 180) | ((np.abs(lat) > 90) & (np.abs(lon) > 90)) | (
            (lat == 0) & (lon == 0))
    for i in np.flatnonzero(bad):
        reason[i] = (f"bad coordinates lat={raw['lat'].iloc[i]!r}, lon={raw['lon'].iloc[i]!r} "
                     "(need WGS84 degrees, not 0,0)")
    swapped = swapped_locations(lat, lon, boundary)
    reason = np.where((reason == "") & (swapped != ""), swapped, reason)
    if "_row_error" in raw.columns:
        err = raw["_row_error"].to_numpy(object)
        has = pd.notna(err)
        reason[has] = err[has]
    sid = (raw["site_id"].astype("string").str.strip() if "site_id" in raw.columns
           else pd.Series(pd.NA, index=raw.index, dtype="string"))
    auto = pd.Series([f"candidate_{n}" for n in line], index=raw.index, dtype="string")
    sid = sid.mask(sid.isna() | (sid == ""), auto)
    out = pd.DataFrame({"site_id": sid, "lat": lat, "lon": lon})
    for c in ("name", "subtype"):
        if c in raw.columns:
            out[c] = raw[c].astype("string").str.strip()
    if "open_24_7" in raw.columns:
        labels, unknown = parse_bool(raw["open_24_7"])
        out["open_24_7"] = pd.array(np.where(labels == "unknown", None, labels == "yes"),
                                    dtype="boolean")
    ok = reason == ""
    rejects = pd.DataFrame({"line": line[~ok], "site_id": sid[~ok].to_numpy(),
                            "reason": reason[~ok]})
    return out.loc[ok].reset_index(drop=True), rejects
