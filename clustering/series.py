"""Daily incident series per area: the input of every spike detector.

An *area* is the whole jurisdiction, a coarser H3 cell (a parent roll-up of the stored base
cells) or a user polygon (point-in-polygon, vectorised with a shapely STRtree). The result is a
wide, zero-filled table: one row per calendar day, one column per area. Detectors in
:mod:`clustering.ears` take that table and never rebuild it.

Adjacency between areas (for neighbour early warning) is built here too, once, as a value:
H3 cells are adjacent when they share an edge (``geo.cells.disk_pairs`` with ``k = 1``),
polygons when they touch or overlap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.cells import cells_to_str, disk_pairs
from geo.grid import cells_at

__all__ = [
    "AREA_KINDS",
    "incidents_to_daily",
    "incidents_to_rolling_24h",
    "area_labels",
    "area_neighbours",
]

AREA_KINDS = ("jurisdiction", "h3", "polygon")


def _check(incidents: pd.DataFrame, area: str, res, polygons) -> None:
    if area not in AREA_KINDS:
        raise ValueError(f"area must be one of {AREA_KINDS}, got {area!r}")
    if "occurred_at" not in incidents.columns:
        raise ValueError(
            "incidents need an 'occurred_at' column to build daily series; found "
            f"{list(incidents.columns)}"
        )
    if area == "h3":
        if res is None or isinstance(res, bool) or not isinstance(res, int | np.integer):
            raise ValueError(f"area='h3' needs an integer res (e.g. res=8), got {res!r}")
        if "h3" not in incidents.columns:
            raise ValueError("area='h3' needs a uint64 'h3' column: index the incidents first")
    if area == "polygon":
        if polygons is None:
            raise ValueError("area='polygon' needs polygons= (a GeoDataFrame of areas)")
        for c in ("lat", "lon"):
            if c not in incidents.columns:
                raise ValueError(f"area='polygon' needs incident column {c!r} (point-in-polygon)")


def _day_index(incidents: pd.DataFrame, start, end) -> tuple[np.ndarray, pd.DatetimeIndex]:
    t = pd.to_datetime(incidents["occurred_at"]).dt.floor("D")
    if t.isna().all() and (start is None or end is None):
        raise ValueError("no incident has a date: give start= and end= to build an empty series")
    lo = pd.Timestamp(start).floor("D") if start is not None else t.min()
    hi = pd.Timestamp(end).floor("D") if end is not None else t.max()
    if hi < lo:
        raise ValueError(f"end ({hi.date()}) is before start ({lo.date()})")
    days = pd.date_range(lo, hi, freq="D")
    d = ((t - lo) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
    d = np.where(np.isfinite(d), d, -1).astype(np.int64)
    d[(d < 0) | (d >= len(days))] = -1
    return d, days


def _polygon_ids(polygons, id_column: str | None) -> np.ndarray:
    if id_column is not None:
        if id_column not in polygons.columns:
            raise ValueError(
                f"id_column {id_column!r} not in polygons; found {list(polygons.columns)}")
        return polygons[id_column].astype(str).to_numpy()
    return polygons.index.astype(str).to_numpy()


def _polygon_geoms(polygons) -> np.ndarray:
    if getattr(polygons, "crs", None) is None:
        raise ValueError("polygons have no CRS; set it (EPSG:4326) before building series")
    return np.asarray(polygons.to_crs(4326).geometry.values, dtype=object)


def incidents_to_daily(
    incidents: pd.DataFrame,
    *,
    area: str = "jurisdiction",
    res: int | None = None,
    polygons=None,
    id_column: str | None = None,
    cells: np.ndarray | None = None,
    start=None,
    end=None,
) -> pd.DataFrame:
    """Zero-filled daily counts per area.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents (``occurred_at``; ``h3`` uint64 for H3 areas; ``lat``/``lon`` for
        polygons). Never mutated.
    area : {"jurisdiction", "h3", "polygon"}
        One series for everything, one per H3 cell at ``res`` (parent roll-up), or one per
        polygon of ``polygons``.
    res : int, optional
        H3 resolution of the areas when ``area="h3"``.
    polygons : GeoDataFrame, optional
        User areas when ``area="polygon"``; an incident inside several counts in each.
    id_column : str, optional
        Column naming the polygons (default: the GeoDataFrame index).
    cells : array of uint64, optional
        Extra H3 cells (at ``res``) to carry as all-zero columns, e.g. the analysis grid, so
        that quiet cells can still receive neighbour warnings.
    start, end : date-like, optional
        First and last day (inclusive); default the first and last incident day. Incidents
        outside are ignored.

    Returns
    -------
    DataFrame
        Index: a daily ``DatetimeIndex`` named ``date``; columns: areas (``"jurisdiction"``;
        uint64 cells sorted ascending; or polygon ids in input order); values: int64 counts.
        ``values.sum()`` equals the number of incidents on those days that fall in an area.
    """
    _check(incidents, area, res, polygons)
    rows, d, j, labels, days = _assign(incidents, area, res, polygons, id_column, cells, start,
                                       end)
    T = len(days)
    counts = np.bincount(d * labels.size + j, minlength=T * labels.size).reshape(T, labels.size)
    return _frame(counts, days, labels)


def incidents_to_rolling_24h(
    incidents: pd.DataFrame,
    *,
    area: str = "jurisdiction",
    res: int | None = None,
    polygons=None,
    id_column: str | None = None,
    cells: np.ndarray | None = None,
    start=None,
    end=None,
) -> pd.DataFrame:
    """Largest number of incidents in any 24 hours ending on each day, per area (ODMAP's rule).

    A calendar day can miss a spike that straddles midnight; ODMAP counts the incidents of
    the *last 24 hours*. For an incident at time ``t`` the count is the number of incidents of
    its area in ``(t − 24 h, t]``; a day's value is the largest such count among its
    incidents (0 on a day without any). Parameters as :func:`incidents_to_daily`; incidents
    need ``occurred_at`` with times (day-only dates count as midnight).

    Returns
    -------
    DataFrame
        Days × areas, int64, shaped like :func:`incidents_to_daily` (plus zero columns for
        areas seen only on the evening before the window). Each value lies between the day's
        calendar count and that count plus the previous day's.
    """
    _check(incidents, area, res, polygons)
    # one extra day in front: the evening before the window counts in its first 24 hours
    _day_index(incidents, start, end)  # validates the window
    first = pd.Timestamp(start).floor("D") if start is not None else None
    if first is None:
        t_all = pd.to_datetime(incidents["occurred_at"]).dt.floor("D")
        first = t_all.min()
    rows, d, j, labels, days = _assign(incidents, area, res, polygons, id_column, cells,
                                       first - pd.Timedelta(days=1), end)
    T, A = len(days), labels.size
    secs = (pd.to_datetime(incidents["occurred_at"]).to_numpy("datetime64[s]")
            .astype(np.int64))[rows]
    secs = secs - (secs.min() if secs.size else 0)
    key = j * 10**10 + secs  # areas never overlap: 10^10 s is > 300 years
    order = np.argsort(key, kind="stable")
    k = key[order]
    lo = np.searchsorted(k, k - 86_400, side="right")  # first incident after t − 24 h
    within = np.arange(k.size) - lo + 1
    best = np.zeros(T * A, np.int64)
    np.maximum.at(best, d[order] * A + j[order], within)
    return _frame(best.reshape(T, A)[1:], days[1:], labels)


def _frame(counts, days, labels) -> pd.DataFrame:
    out = pd.DataFrame(counts.astype(np.int64), index=pd.DatetimeIndex(days, name="date"))
    out.columns = pd.Index(labels, name="area")
    return out


def _assign(incidents, area, res, polygons, id_column, cells, start, end):
    """(row, day, area) triples of incidents in the window, the area labels and the days."""
    d_all, days = _day_index(incidents, start, end)
    if area == "jurisdiction":
        rows = np.flatnonzero(d_all >= 0)
        return rows, d_all[rows], np.zeros(rows.size, np.int64), np.array(
            ["jurisdiction"], dtype=object), days
    if area == "h3":
        c = cells_at(incidents, int(res))  # point-in-hexagon, not the parent of h3
        rows = np.flatnonzero((d_all >= 0) & (c != 0))
        extra = np.empty(0, np.uint64) if cells is None else np.asarray(cells, np.uint64)
        if extra.size and np.any(extra == 0):
            raise ValueError("cells= holds 0 (no cell); pass valid H3 cells")
        labels = np.union1d(np.unique(c[rows]), extra) if extra.size else np.unique(c[rows])
        return rows, d_all[rows], np.searchsorted(labels, c[rows]).astype(np.int64), labels, days
    geoms = _polygon_geoms(polygons)
    labels = _polygon_ids(polygons, id_column)
    if len(set(labels.tolist())) != labels.size:
        raise ValueError("polygon ids must be unique (see id_column=)")
    keep = np.flatnonzero(d_all >= 0)
    pts = shapely.points(
        incidents["lon"].to_numpy(float)[keep], incidents["lat"].to_numpy(float)[keep]
    )
    pi, gi = shapely.STRtree(geoms).query(pts, predicate="intersects")  # boundary = inside
    rows = keep[pi]
    return rows, d_all[rows], gi.astype(np.int64), labels, days


def area_labels(columns) -> np.ndarray:
    """Printable area names: uint64 H3 columns become hex strings, others ``str``."""
    arr = np.asarray(columns)
    if arr.dtype == np.uint64:
        return cells_to_str(arr)
    return np.array([str(a) for a in arr.tolist()], dtype=object)


def area_neighbours(columns, polygons=None, id_column: str | None = None) -> pd.DataFrame:
    """Adjacent area pairs among the series columns (both directions, no self pairs).

    Parameters
    ----------
    columns : array-like
        Series columns: uint64 H3 cells (edge neighbours via ``disk_pairs(k=1)``), polygon ids
        (with ``polygons``: pairs that touch or overlap) or ``["jurisdiction"]`` (no pairs).
    polygons : GeoDataFrame, optional
        The polygons the ids refer to.
    id_column : str, optional

    Returns
    -------
    DataFrame
        Columns ``area`` and ``neighbour``, holding column labels of the series.
    """
    cols = np.asarray(columns)
    if cols.dtype == np.uint64:
        i, j = disk_pairs(cols, 1)
        keep = i != j
        return pd.DataFrame({"area": cols[i[keep]], "neighbour": cols[j[keep]]})
    if polygons is not None:
        ids = _polygon_ids(polygons, id_column)
        geoms = _polygon_geoms(polygons)
        pos = {k: n for n, k in enumerate(ids.tolist())}
        missing = [c for c in cols.tolist() if str(c) not in pos]
        if missing:
            raise ValueError(f"series areas {missing[:5]} are not among the polygon ids")
        sub = geoms[[pos[str(c)] for c in cols.tolist()]]
        a, b = shapely.STRtree(sub).query(sub, predicate="intersects")
        keep = a != b
        return pd.DataFrame({"area": cols[a[keep]], "neighbour": cols[b[keep]]})
    return pd.DataFrame({"area": cols[:0], "neighbour": cols[:0]})
