"""H3 grid: counts per cell at any resolution, point-in-hexagon.

Incidents carry their cell at :data:`geo.schema.BASE_RES` (``h3``, indexed once, at ingest).
A coarser cell is **not** the parent of that fine cell: H3 hexagons do not nest exactly, and the
res-``r`` parent of a point's res-11 cell is a neighbour of the hexagon that contains the point
for a few percent of points (about 6.5 % at res 6–10; see ``bench/bench_point_in_hexagon.py``).
So :func:`cells_at` indexes each incident's ``lat``/``lon`` directly at the asked resolution
(vectorised, ~0.3 s per million points, cached by content), or reads a precomputed
``h3_r<res>`` column (:func:`add_cells`) when the frame has one.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from geo.cells import cells_resolution, cells_to_parent, latlng_to_cells, polygon_to_cells
from geo.schema import BASE_RES, NALOXONE_VALUES, OUTCOMES, SOURCES

__all__ = [
    "ANALYSIS_RES",
    "cells_at",
    "unique_cells",
    "cell_column",
    "add_cells",
    "index_incidents",
    "filter_incidents",
    "incident_mask",
    "incidents_to_cells",
    "incidents_to_cell_periods",
    "analysis_grid",
    "zero_fill",
    "COUNT_COLUMNS",
]

#: Breakdown columns produced by :func:`incidents_to_cells`, besides ``count``.
COUNT_COLUMNS = (
    [f"n_{o}" for o in OUTCOMES]
    + [f"n_naloxone_{v}" for v in NALOXONE_VALUES]
    + [f"n_{s}" for s in SOURCES]
)


#: Resolutions the app and the CLI analyse at (public floor 8, partner 9, restricted finer).
ANALYSIS_RES = (6, 7, 8, 9, 10)


def cell_column(res: int) -> str:
    """Name of the precomputed cell column at ``res``: ``"h3_r8"`` … (``"h3"`` at BASE_RES)."""
    res = int(res)
    return "h3" if res == BASE_RES else f"h3_r{res}"


# --- on-demand indexing, cached by the content of lat/lon ---------------------------------
# Key: (res, n, sha1 of the lat bytes, sha1 of the lon bytes). Hashing costs ~12 ms per
# million points against ~300 ms to index them, and a content key can never hand back cells
# of other (filtered, jittered, edited) coordinates. Bounded by bytes held.
_CACHE_MAX_BYTES = 256 * 2**20
_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cache_bytes = 0
_cache_lock = threading.Lock()


def _digest(a: np.ndarray) -> bytes:
    return hashlib.sha1(memoryview(np.ascontiguousarray(a))).digest()


def _index_points(lat: np.ndarray, lon: np.ndarray, res: int) -> np.ndarray:
    """:func:`geo.cells.latlng_to_cells`, memoised on the coordinates' content (read-only)."""
    global _cache_bytes
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if lat.size < 1000:  # not worth a cache entry
        return latlng_to_cells(lat, lon, res)
    key = (int(res), lat.size, _digest(lat), _digest(lon))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    cells = latlng_to_cells(lat, lon, res)
    cells.flags.writeable = False  # shared between callers: nobody may edit it in place
    with _cache_lock:
        if key not in _cache and cells.nbytes <= _CACHE_MAX_BYTES:
            _cache[key] = cells
            _cache_bytes += cells.nbytes
            while _cache_bytes > _CACHE_MAX_BYTES:
                _, old = _cache.popitem(last=False)
                _cache_bytes -= old.nbytes
    return cells


def _clear_cache() -> None:
    global _cache_bytes
    with _cache_lock:
        _cache.clear()
        _cache_bytes = 0


def _column_res(cells: np.ndarray) -> int | None:
    """Resolution of a cell column (of its first non-zero cell); None when it has none."""
    nz = np.flatnonzero(cells)
    return None if nz.size == 0 else int(cells_resolution(cells[nz[:1]])[0])


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()  # never hand out a writable view of the frame's own column
    v.flags.writeable = False
    return v


def cells_at(df: pd.DataFrame, res: int) -> np.ndarray:
    """The H3 cell at ``res`` that contains each incident's location (point-in-hexagon).

    Parameters
    ----------
    df : DataFrame
        Incidents with ``lat``/``lon`` (WGS84 degrees). A precomputed ``h3_r<res>`` column
        (see :func:`add_cells`) is used when present, and ``h3`` when it is at ``res``.
    res : int
        H3 resolution, 0–15.

    Returns
    -------
    numpy.ndarray of uint64
        One cell per row in row order; 0 for rows without a location and for records located
        only to an area (``location_precision == "centroid"`` or an ``area`` name, see
        :func:`geo.areas.area_located`: they are counted by area, never in a cell). Treat as
        read-only (it may be shared through the cache).

    Notes
    -----
    Only a frame with no ``lat``/``lon`` at all (e.g. cells already stripped of coordinates)
    falls back to the parent roll-up of its finer ``h3`` column, which misplaces ~6.5 % of
    points across a hexagon edge.
    """
    if isinstance(res, bool) or not isinstance(res, int | np.integer):
        raise TypeError(f"H3 resolution must be an integer, got {res!r}")
    cells = _cells_at_located(df, int(res))
    if "location_precision" in df.columns or "area" in df.columns:
        from geo.areas import area_located  # records located only to an area get no cell

        off = area_located(df)
        if off.any():
            cells = np.where(off, np.uint64(0), cells)
            cells.setflags(write=False)
    return cells


def _cells_at_located(df: pd.DataFrame, res: int) -> np.ndarray:
    col = f"h3_r{res}"
    if col in df.columns:
        return _read_only(df[col].to_numpy(np.uint64))
    if "h3" in df.columns:
        h = df["h3"].to_numpy(np.uint64)
        if _column_res(h) == res:  # indexed at this very resolution from lat/lon
            return _read_only(h)
    if "lat" in df.columns and "lon" in df.columns:
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
        return _index_points(lat, lon, res)
    if "h3" in df.columns:  # no coordinates to index: the best available is the roll-up
        return cells_to_parent(df["h3"].to_numpy(np.uint64), res)
    raise ValueError(
        "incidents have neither 'lat'/'lon' nor an 'h3' column; load them through geo.ingest"
    )


def add_cells(df: pd.DataFrame, resolutions=ANALYSIS_RES) -> pd.DataFrame:
    """A copy with a ``h3_r<res>`` column (uint64, point-in-hexagon) per resolution.

    Optional: :func:`cells_at` indexes on demand (and caches) without it. Precompute when a
    frame will be filtered and counted many times (the dashboard: every filter change makes a
    new frame, which the content cache cannot recognise); the cost is ~0.6 µs of CPU per row
    per resolution, paid once. Columns are always recomputed from ``lat``/``lon`` (never a
    stale one reused); re-run it after editing coordinates. ``BASE_RES`` is ``h3`` and skipped.
    """
    res = sorted({int(r) for r in resolutions} - {BASE_RES})
    if not res:
        return df.copy()
    if "lat" not in df.columns or "lon" not in df.columns:
        raise ValueError(f"add_cells needs 'lat' and 'lon'; found {list(df.columns)}")
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(np.float64, na_value=np.nan)
    cols = {f"h3_r{r}": latlng_to_cells(lat, lon, r) for r in res}
    return df.drop(columns=list(cols), errors="ignore").assign(**cols)


def index_incidents(df: pd.DataFrame, res: int = BASE_RES) -> pd.DataFrame:
    """Return a copy with column ``h3`` (uint64 cell at ``res``) from ``lat``/``lon``."""
    for c in ("lat", "lon"):
        if c not in df.columns:
            raise ValueError(
                f"cannot index incidents: column {c!r} missing; found {list(df.columns)}"
            )
    out = df.copy()
    out["h3"] = latlng_to_cells(out["lat"].to_numpy(float), out["lon"].to_numpy(float), res)
    return out


def filter_incidents(
    df: pd.DataFrame,
    *,
    start=None,
    end=None,
    outcomes: tuple[str, ...] | list[str] | None = None,
    sources: tuple[str, ...] | list[str] | None = None,
) -> pd.DataFrame:
    """Rows in ``[start, end)`` with the given outcomes / sources (None means all).

    When ``occurred_at`` is sorted (the store loads events in time order) the window is one
    contiguous run of rows, found by binary search and taken as a slice (no copy of every
    column, ~0.15 s per call on a 1M-row frame); the same rows, order and labels as the mask.
    """
    bounds = _sorted_window(df, start, end)
    if bounds is None:
        return df.loc[
            incident_mask(df, start=start, end=end, outcomes=outcomes, sources=sources)
        ]
    out = df.iloc[bounds[0]:bounds[1]]
    if outcomes is None and sources is None:
        return out
    return out.loc[incident_mask(out, outcomes=outcomes, sources=sources)]


def _sorted_window(df: pd.DataFrame, start, end) -> tuple[int, int] | None:
    """Positions ``[a, b)`` of the rows with ``occurred_at`` in ``[start, end)`` when that
    column is naive ``datetime64``, free of NaT and sorted ascending; otherwise ``None``
    (:func:`incident_mask` decides, exactly as before)."""
    if "occurred_at" not in df.columns:
        return None
    col = df["occurred_at"]
    if not isinstance(col.dtype, np.dtype) or col.dtype.kind != "M" or len(col) == 0:
        return None
    values = col.to_numpy()
    ints = values.view(np.int64)
    if ints[0] == np.iinfo(np.int64).min or bool(np.any(ints[1:] < ints[:-1])):
        return None  # NaT (the smallest int64) or not in time order
    bounds = []
    for when, default in ((start, 0), (end, len(values))):
        if when is None:
            bounds.append(default)
            continue
        ts = pd.Timestamp(when)
        if ts is pd.NaT or ts.tz is not None:
            return None
        point = ts.to_datetime64().astype(values.dtype)
        if pd.Timestamp(point) != ts:  # not exact in the column's unit
            return None
        bounds.append(int(np.searchsorted(values, point, side="left")))
    return bounds[0], max(bounds[0], bounds[1])


def incident_mask(
    df: pd.DataFrame,
    *,
    start=None,
    end=None,
    outcomes: tuple[str, ...] | list[str] | None = None,
    sources: tuple[str, ...] | list[str] | None = None,
) -> np.ndarray:
    """Boolean mask of :func:`filter_incidents`.

    A de-duplicated event (with ``sources``) matches a source filter when any of its
    contributing sources is chosen, so the mask for several sources is the OR of the
    single-source masks.
    """
    mask = np.ones(len(df), dtype=bool)
    if start is not None or end is not None:
        t = pd.to_datetime(df["occurred_at"])
        if start is not None:
            mask &= (t >= pd.Timestamp(start)).to_numpy()
        if end is not None:
            mask &= (t < pd.Timestamp(end)).to_numpy()
    if outcomes is not None:
        mask &= df["outcome"].isin(list(outcomes)).to_numpy()
    if sources is not None:
        if "sources" in df.columns:  # de-duplicated events: match any contributing source
            pat = "|".join(sorted(set(sources))) or "^$"
            # match on the few distinct source combinations, not on every row (~5x faster at 1M)
            codes, combos = pd.factorize(df["sources"].fillna(df["source"]))
            hit = pd.Series(combos, dtype="string").str.contains(pat, regex=True)
            hit = hit.fillna(False).to_numpy(dtype=bool)
            mask &= (codes >= 0) & hit[np.maximum(codes, 0)] if hit.size else np.zeros_like(mask)
        else:
            mask &= df["source"].isin(list(sources)).to_numpy()
    return mask


def unique_cells(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(cells, return_inverse=True)`` (sorted distinct cells, each row's position
    among them), by hashing then sorting the few distinct cells: ~4x less CPU than the full
    sort on a million rows (same arrays, same dtypes)."""
    cells = np.asarray(cells)
    codes, uniq = pd.factorize(cells)
    order = np.argsort(uniq, kind="stable")
    rank = np.empty(order.size, dtype=np.intp)
    rank[order] = np.arange(order.size, dtype=np.intp)
    return np.asarray(uniq, dtype=cells.dtype)[order], rank[codes]


def _cells_at(df: pd.DataFrame, res: int) -> np.ndarray:  # kept for old importers
    return cells_at(df, res)


def _category_codes(series: pd.Series, levels) -> np.ndarray:
    """Codes 0..len(levels)-1 for known levels; anything else → the 'unknown'/'other' slot."""
    cat = pd.Categorical(series.astype("string").fillna(levels[-1]), categories=list(levels))
    codes = np.asarray(cat.codes, dtype=np.int64)
    codes[codes < 0] = len(levels) - 1
    return codes


def incidents_to_cells(df: pd.DataFrame, res: int, *, breakdown: bool = True) -> pd.DataFrame:
    """Count incidents per H3 cell at ``res``.

    Parameters
    ----------
    df : DataFrame
        Canonical incidents with ``lat``/``lon`` (or a precomputed cell column, see
        :func:`cells_at`).
    res : int
        Target resolution; each incident is counted in the hexagon containing its location.
    breakdown : bool
        Add counts by outcome (``n_fatal`` …), naloxone (``n_naloxone_yes`` …) and source
        (``n_ems`` …).

    Returns
    -------
    DataFrame
        One row per occupied cell, sorted by ``h3`` (uint64), with ``count`` and breakdowns.
        ``count.sum() == len(df)`` (rows without a cell are not counted).
    """
    cells = cells_at(df, res)
    ok = cells != 0
    uniq, inv = unique_cells(cells[ok])
    out = pd.DataFrame({"h3": uniq, "count": np.bincount(inv, minlength=uniq.size)})
    if not breakdown:
        return out
    specs = [("outcome", OUTCOMES, "n_{}"), ("naloxone", NALOXONE_VALUES, "n_naloxone_{}"),
             ("source", SOURCES, "n_{}")]
    for col, levels, fmt in specs:
        if col in df.columns:
            codes = _category_codes(df[col], levels)[ok]
        else:
            codes = np.full(inv.size, len(levels) - 1)
        flat = np.bincount(inv * len(levels) + codes, minlength=uniq.size * len(levels))
        mat = flat.reshape(uniq.size, len(levels))
        for j, lev in enumerate(levels):
            out[fmt.format(lev)] = mat[:, j]
    return out


def incidents_to_cell_periods(df: pd.DataFrame, res: int, freq: str = "W-SUN") -> pd.DataFrame:
    """Long table of counts per (cell, period): columns ``h3``, ``period`` (start), ``count``.

    ``freq`` is a pandas period alias: ``"D"``, ``"W-SUN"`` (weeks Monday–Sunday, labelled by
    their Monday start), ``"M"``.
    Only occupied (cell, period) pairs are listed.
    """
    cells = cells_at(df, res)
    per = pd.to_datetime(df["occurred_at"]).dt.to_period(freq).dt.start_time.to_numpy()
    frame = pd.DataFrame({"h3": cells, "period": per})
    frame = frame[frame["h3"] != 0]
    out = frame.groupby(["h3", "period"], sort=True).size().rename("count").reset_index()
    out["h3"] = out["h3"].astype(np.uint64)
    return out


def analysis_grid(boundary, res: int) -> np.ndarray:
    """Every cell overlapping the study-area boundary (sorted uint64): the zero-filled grid.

    ``boundary`` is anything :func:`geo.boundary.boundary_geometry` takes (a shapely
    (Multi)Polygon in WGS84, a GeoDataFrame/GeoSeries with a CRS, a vector file path).
    """
    from geo.boundary import boundary_geometry

    return polygon_to_cells(boundary_geometry(boundary), res)


def zero_fill(counts: pd.DataFrame, grid: np.ndarray) -> pd.DataFrame:
    """Counts on every grid cell (zeros where no incident); cells outside the grid are kept too.

    Keeping outside cells conserves the total count; callers that want the grid only can
    filter with ``np.isin``.
    """
    grid = np.asarray(grid, dtype=np.uint64)
    allc = np.union1d(grid, counts["h3"].to_numpy(np.uint64))
    out = pd.DataFrame({"h3": allc})
    out = out.merge(counts, on="h3", how="left")
    num = [c for c in out.columns if c != "h3"]
    out[num] = out[num].fillna(0).astype(np.int64)
    out["in_grid"] = np.isin(out["h3"].to_numpy(np.uint64), grid)
    return out
