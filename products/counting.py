"""Keyed counts: every count a product makes comes with its cell key (for the gate).

One place turns incidents into counts for the products, so every count can be perturbed
consistently (:mod:`geo.privacy.cellkey`): per H3 cell, per period, or per any group code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.grid import cells_at, unique_cells
from geo.privacy import KEY_SUFFIX, keyed_counts, with_record_keys
from geo.schema import NALOXONE_VALUES, OUTCOMES, SOURCES

__all__ = ["keyed_cell_counts", "keyed_group_counts", "keyed_total", "BREAKDOWNS"]

#: family → (incident column, levels, output name pattern)
BREAKDOWNS = {
    "outcome": ("outcome", OUTCOMES, "n_{}"),
    "naloxone": ("naloxone", NALOXONE_VALUES, "n_naloxone_{}"),
    "source": ("source", SOURCES, "n_{}"),
}


def _codes(series: pd.Series | None, levels, n: int) -> np.ndarray:
    if series is None:
        return np.full(n, len(levels) - 1, dtype=np.int64)
    cat = pd.Categorical(series.astype("string").str.strip().str.lower().fillna(levels[-1]),
                         categories=list(levels))
    codes = np.asarray(cat.codes, dtype=np.int64)
    codes[codes < 0] = len(levels) - 1
    return codes


def keyed_group_counts(codes: np.ndarray, rkey: np.ndarray, size: int, name: str = "count"
                       ) -> pd.DataFrame:
    """``name`` and ``name__ckey`` for group codes ``0..size-1``."""
    n, k = keyed_counts(codes, rkey, size)
    return pd.DataFrame({name: n, f"{name}{KEY_SUFFIX}": k})


def keyed_total(incidents: pd.DataFrame, name: str = "count") -> pd.DataFrame:
    """One-row table: the number of incidents and its cell key."""
    inc = with_record_keys(incidents)
    return keyed_group_counts(np.zeros(len(inc), dtype=np.int64), inc["rkey"].to_numpy(), 1, name)


def keyed_cell_counts(incidents: pd.DataFrame, res: int, *, breakdown=("outcome",),
                      cells: np.ndarray | None = None) -> pd.DataFrame:
    """Incidents per H3 cell at ``res`` (point-in-hexagon) with cell keys.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents (``lat``/``lon`` or per-resolution cells); ``rkey`` is added when
        missing.
    res : int
    breakdown : iterable of {"outcome", "naloxone", "source"}
        Breakdown families to add (``n_fatal`` …), each with keys.
    cells : array of uint64, optional
        Cells to list (zero rows included, ``in_grid`` marks them); occupied cells outside are
        kept too so the total is conserved.

    Returns
    -------
    DataFrame
        ``h3`` (uint64, sorted), ``count``, breakdowns, their ``__ckey`` columns and, with
        ``cells``, ``in_grid``.
    """
    inc = with_record_keys(incidents)
    at = cells_at(inc, res)
    ok = at != 0
    occupied, idx = unique_cells(at[ok])  # idx: each incident's position in ``occupied``
    if cells is not None:
        grid = np.union1d(np.asarray(cells, dtype=np.uint64), occupied)
        idx = np.searchsorted(grid, occupied)[idx]
    else:
        grid = occupied
    rk = inc["rkey"].to_numpy()[ok]
    out = pd.DataFrame({"h3": grid})
    tot = keyed_group_counts(idx, rk, grid.size)
    out = pd.concat([out, tot], axis=1)
    for fam in breakdown or ():
        col, levels, fmt = BREAKDOWNS[fam]
        codes = _codes(inc[col] if col in inc.columns else None, levels, len(inc))[ok]
        L = len(levels)
        n, k = keyed_counts(idx * L + codes, rk, grid.size * L)
        n, k = n.reshape(-1, L), k.reshape(-1, L)
        for j, lev in enumerate(levels):
            name = fmt.format(lev)
            out[name] = n[:, j]
            out[f"{name}{KEY_SUFFIX}"] = k[:, j]
    if cells is not None:
        out["in_grid"] = np.isin(grid, np.asarray(cells, dtype=np.uint64))
    return out
