"""H3 grid: counts per cell at any resolution by parent roll-up of the stored base cells.

Incidents carry their cell at :data:`geo.schema.BASE_RES` (indexed once, at ingest). Any coarser
view is a bit-arithmetic parent roll-up and a ``bincount`` — no lat/lng pass, no per-row Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.cells import cells_to_parent, latlng_to_cells, polygon_to_cells
from geo.schema import BASE_RES, NALOXONE_VALUES, OUTCOMES, SOURCES

__all__ = [
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
    """Rows in ``[start, end)`` with the given outcomes / sources (None means all)."""
    return df.loc[
        incident_mask(df, start=start, end=end, outcomes=outcomes, sources=sources)
    ]


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


def _cells_at(df: pd.DataFrame, res: int) -> np.ndarray:
    if "h3" not in df.columns:
        raise ValueError(
            "incidents have no 'h3' column: index them first (geo.grid.index_incidents)"
        )
    return cells_to_parent(df["h3"].to_numpy(np.uint64), res)


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
        Canonical incidents with uint64 ``h3`` at a resolution ≥ ``res``.
    res : int
        Target resolution (roll-up by parent).
    breakdown : bool
        Add counts by outcome (``n_fatal`` …), naloxone (``n_naloxone_yes`` …) and source
        (``n_ems`` …).

    Returns
    -------
    DataFrame
        One row per occupied cell, sorted by ``h3`` (uint64), with ``count`` and breakdowns.
        ``count.sum() == len(df)`` (rows without a cell are not counted).
    """
    cells = _cells_at(df, res)
    ok = cells != 0
    uniq, inv = np.unique(cells[ok], return_inverse=True)
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
    cells = _cells_at(df, res)
    per = pd.to_datetime(df["occurred_at"]).dt.to_period(freq).dt.start_time.to_numpy()
    frame = pd.DataFrame({"h3": cells, "period": per})
    frame = frame[frame["h3"] != 0]
    out = frame.groupby(["h3", "period"], sort=True).size().rename("count").reset_index()
    out["h3"] = out["h3"].astype(np.uint64)
    return out


def analysis_grid(boundary, res: int) -> np.ndarray:
    """Every cell overlapping the study-area boundary (sorted uint64): the zero-filled grid.

    ``boundary`` is a shapely (Multi)Polygon, or a GeoDataFrame/GeoSeries (unioned, in WGS84).
    """
    geom = boundary
    if hasattr(boundary, "to_crs"):
        if boundary.crs is None:
            raise ValueError("study-area boundary has no CRS; set it (EPSG:4326) before gridding")
        geom = boundary.to_crs(4326).union_all()
    return polygon_to_cells(geom, res)


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
