"""Emerging hot spots: space-time Gi* per cell and slice, Mann–Kendall trend, categories.

1. **Cube.** Incidents are counted per cell and time slice (week or month) on a fixed grid;
   empty (cell, slice) bins are 0. At least 10 slices are required.
2. **Space-time Gi\\*.** The neighbours of bin ``(i, t)`` are the cells in the k-ring of ``i``
   (self included) in slices ``t − w … t`` (``w`` = ``window``, default 1); the Gi* formula of
   :mod:`clustering.gistar` is applied over all ``N·T`` bins (one global mean and standard
   deviation). A bin is hot (cold) when z > 0 (< 0) and its Benjamini–Hochberg q-value,
   computed over the whole cube (``fdr="cube"``, default) or within its slice, is ≤ ``alpha``
   (0.10: 90 % confidence, as in ArcGIS Pro). Bin p-values come from
   :mod:`clustering.emerging_inference`: on sparse count cubes (median occupied-bin count
   < 10, e.g. monthly slices at resolution 8) the exact tail of the count distribution with
   Gi*'s mean and variance (Poisson / negative binomial), since the normal approximation
   flags hundreds of bins on data without any signal; on dense cubes the analytic normal.
3. **Trend.** Mann–Kendall on each cell's z series (tie- and continuity-corrected); a trend is
   significant at ``trend_alpha`` (default 0.05, our choice).
4. **Categories** (ArcGIS Pro's definitions; cold mirrors hot, with "intensifying" meaning
   z falling): ``new`` hot only in the final slice; ``consecutive`` one uninterrupted run of
   ≥ 2 hot final slices, never hot before, < 90 % hot; ``intensifying`` hot ≥ 90 % of slices
   including the final one, significant upward trend; ``persistent`` hot ≥ 90 % including the
   final one, no significant trend; ``diminishing`` the same with a significant downward
   trend; ``sporadic`` on-and-off hot, < 90 % hot, never cold; ``oscillating`` hot in the
   final slice, cold in some earlier slice, < 90 % hot; ``historical`` not hot in the final
   slice but hot ≥ 90 % of slices; else ``no_pattern``. Labels are ``<category>_hot`` /
   ``<category>_cold``. Where two rules overlap we decide: a final run never hot before is
   ``new``/``consecutive`` even if the cell was cold earlier (not ``oscillating``), and the
   side (hot/cold) of the final slice wins.

References
----------
Getis and Ord (1992); Ord and Getis (1995); Mann (1945); Kendall (1975).
Esri, *How Emerging Hot Spot Analysis works*, ArcGIS Pro 3 documentation (category rules).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.emerging_inference import DEFAULT_PERMUTATIONS, space_time_gi_pvalues
from clustering.fdr import bh_qvalues
from clustering.neighbours import Neighbourhood, build_neighbourhood, ring_hull
from clustering.trend import mann_kendall_rows
from geo.grid import cells_at

__all__ = [
    "SLICES",
    "MIN_SLICES",
    "CATEGORIES",
    "incidents_to_cube",
    "emerging_cube_table",
    "space_time_gi_z",
    "classify_emerging",
    "emerging_from_cube",
    "emerging_hotspots",
]

#: Slice name → pandas period alias.
SLICES = {"week": "W-SUN", "month": "M"}  # W-SUN: weeks ending Sunday, i.e. starting Monday
MIN_SLICES = 10
_KINDS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
          "oscillating", "historical")
CATEGORIES = tuple(f"{k}_hot" for k in _KINDS) + tuple(f"{k}_cold" for k in _KINDS) + (
    "no_pattern",)


def incidents_to_cube(df: pd.DataFrame, cells, res: int, slice: str = "week", *, start=None,
                      end=None) -> pd.DataFrame:
    """Counts per cell (rows, the given ``cells``) and slice (columns, period start dates).

    Incidents in cells outside ``cells`` or outside ``[start, end)`` are not counted. Slices run
    from the slice holding ``start`` (default: the first incident) to the one holding the day
    before ``end`` (default: the last incident); the first and last slice may be partial.

    Raises
    ------
    ValueError
        For an unknown ``slice``, missing columns, or no incidents in the window.
    """
    if slice not in SLICES:
        raise ValueError(f"slice must be one of {sorted(SLICES)}, got {slice!r}")
    for c in ("h3", "occurred_at"):
        if c not in df.columns:
            raise ValueError(f"incident table has no {c!r} column; load it through geo.ingest")
    cells = np.asarray(cells, dtype=np.uint64)
    t = pd.to_datetime(df["occurred_at"])
    keep = t.notna().to_numpy().copy()
    if start is not None:
        keep &= (t >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (t < pd.Timestamp(end)).to_numpy()
    if not keep.any() and (start is None or end is None):
        raise ValueError("no incidents with a date in the chosen window")
    freq = SLICES[slice]
    per = t[keep].dt.to_period(freq)
    first = pd.Timestamp(start).to_period(freq) if start is not None else per.min()
    last = (pd.Timestamp(end) - pd.Timedelta(days=1)).to_period(freq) if end is not None \
        else per.max()
    periods = pd.period_range(first, last, freq=freq)
    col = pd.PeriodIndex(per).asi8 - first.ordinal  # slice number of each incident
    h = cells_at(df, res)[keep]  # point-in-hexagon, not the parent of h3
    order = np.argsort(cells)
    pos = np.minimum(np.searchsorted(cells[order], h), max(cells.size - 1, 0))
    inside = (cells.size > 0) & (cells[order][pos] == h) & (col >= 0) & (col < len(periods))
    row = order[pos[inside]]
    flat = np.bincount(row * len(periods) + col[inside], minlength=cells.size * len(periods))
    return pd.DataFrame(flat.reshape(cells.size, len(periods)),
                        index=pd.Index(cells, name="h3"), columns=periods.start_time)


def space_time_gi_z(cube, nbhd: Neighbourhood, window: int = 1) -> np.ndarray:
    """Space-time Gi* z-scores of an ``N × T`` cube (rows in ``nbhd.cells`` order).

    Bin ``(i, t)`` has neighbours ``{(j, s): w_ij = 1, t − window ≤ s ≤ t}``, so
    ``W_it = W_i · (min(t, window) + 1)`` and, with binary weights, ``S1_it = W_it``; the Gi*
    formula uses the mean and population standard deviation of all ``N·T`` bins. A constant
    cube gives z = 0 everywhere.

    References
    ----------
    Getis and Ord (1992); Esri, *Emerging Hot Spot Analysis* (space-time neighbourhoods).
    """
    x = np.asarray(cube, dtype=float)
    if x.ndim != 2 or x.shape[0] != nbhd.n:
        raise ValueError(f"cube must be (cells={nbhd.n}) × slices, got shape {x.shape}")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 0:
        raise ValueError(f"window must be a non-negative integer of slices, got {window!r}")
    if not np.all(np.isfinite(x)):
        raise ValueError("cube has missing/infinite values; zero-fill it")
    T = x.shape[1]
    z = np.zeros(x.shape)
    if x.size == 0 or np.ptp(x) == 0:
        return z
    n = x.size
    xbar = x.mean()
    s = np.sqrt(max(float(np.mean(x * x) - xbar * xbar), 0.0))
    wx = np.asarray(nbhd.W @ x)
    csum = np.cumsum(np.pad(wx, ((0, 0), (1, 0))), axis=1)
    t = np.arange(T)
    lo = np.maximum(t - window, 0)
    num_sum = csum[:, t + 1] - csum[:, lo]
    wit = nbhd.W_i[:, None] * (t - lo + 1)[None, :]
    num = num_sum - xbar * wit
    den = s * np.sqrt(np.maximum(n * wit - wit**2, 0.0) / (n - 1))
    ok = den > 0
    z[ok] = num[ok] / den[ok]
    return z


def _final_run(b: np.ndarray) -> np.ndarray:
    """Length of the run of True values ending at the last column, per row."""
    T = b.shape[1]
    false_pos = np.where(~b, np.arange(T)[None, :], -1)
    return T - 1 - false_pos.max(axis=1)


def _one_side(hot: np.ndarray, cold: np.ndarray, trend: np.ndarray) -> np.ndarray:
    """Hot-side kind per row (or '' for none), given a significant trend sign per row."""
    N, T = hot.shape
    frac = hot.sum(axis=1) / T
    final = hot[:, -1]
    run = _final_run(hot)
    before = hot.sum(axis=1) - run  # hot slices before the final run
    cold_before = cold[:, :-1].any(axis=1)
    most = frac >= 0.9
    out = np.full(N, "", dtype=object)
    # Final slice hot.
    out[final & most & (trend > 0)] = "intensifying"
    out[final & most & (trend < 0)] = "diminishing"
    out[final & most & (trend == 0)] = "persistent"
    rest = final & ~most
    out[rest & (before == 0) & (run == 1)] = "new"
    out[rest & (before == 0) & (run >= 2)] = "consecutive"
    out[rest & (before > 0) & cold_before] = "oscillating"
    out[rest & (before > 0) & ~cold_before] = "sporadic"
    # Final slice not hot.
    out[~final & most] = "historical"
    out[~final & ~most & hot.any(axis=1) & ~cold.any(axis=1)] = "sporadic"
    return out


def classify_emerging(hot, cold, trend_z, trend_p, trend_alpha: float = 0.05) -> np.ndarray:
    """Emerging hot/cold-spot category per cell (see the module notes for the rules).

    Parameters
    ----------
    hot, cold : bool arrays, shape (N, T)
        Significant hot / cold bins per cell and slice, in time order; ``T`` ≥ 10.
    trend_z, trend_p : arrays, shape (N,)
        Mann–Kendall z and two-sided p of each cell's z series.
    trend_alpha : float, default 0.05

    Returns
    -------
    numpy.ndarray of str
        One of :data:`CATEGORIES` per cell. A cell hot in the final slice gets a hot
        category, cold in the final slice a cold one; otherwise ``historical``/``sporadic``
        of whichever side applies, else ``no_pattern``.

    References
    ----------
    Esri, *How Emerging Hot Spot Analysis works* (ArcGIS Pro).
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    if hot.shape != cold.shape or hot.ndim != 2:
        raise ValueError(f"hot and cold must be equal (cells × slices) arrays, got {hot.shape} "
                         f"and {cold.shape}")
    if np.any(hot & cold):
        raise ValueError("a bin cannot be both hot and cold")
    if hot.shape[1] < MIN_SLICES:
        raise ValueError(f"emerging hot spots need at least {MIN_SLICES} time slices, got "
                         f"{hot.shape[1]}")
    if not 0 < trend_alpha < 1:
        raise ValueError(f"trend_alpha must be in (0, 1), got {trend_alpha!r}")
    tz = np.asarray(trend_z, dtype=float)
    sig = np.asarray(trend_p, dtype=float) <= trend_alpha
    trend = np.where(sig, np.sign(tz), 0).astype(int)
    h = _one_side(hot, cold, trend)
    c = _one_side(cold, hot, -trend)  # mirror: a cold spot intensifies as z falls
    out = np.full(hot.shape[0], "no_pattern", dtype=object)
    has_h, has_c = h != "", c != ""
    out[has_h] = h[has_h] + "_hot"
    only_c = has_c & ~has_h
    out[only_c] = c[only_c] + "_cold"
    final_cold = cold[:, -1] & has_c  # a final cold slice decides for the cold side
    out[final_cold] = c[final_cold] + "_cold"
    return out


def emerging_from_cube(cube: pd.DataFrame, nbhd: Neighbourhood | None = None, *, k: int = 1,
                       window: int = 1, alpha: float = 0.10, trend_alpha: float = 0.05,
                       fdr: str = "cube", inference: str = "auto",
                       permutations: int = DEFAULT_PERMUTATIONS,
                       seed: int | None = 0) -> pd.DataFrame:
    """Emerging hot-spot table of a (cells × slices) count cube.

    Parameters
    ----------
    cube : DataFrame
        Index: uint64 cells; columns: slices in time order (≥ 10); zero-filled counts.
    nbhd : Neighbourhood, optional
        Built on the cube's cells; built here with ``k`` if not given.
    k : int, default 1
    window : int, default 1
        Time window: slices ``t − window … t`` are neighbours of slice ``t``.
    alpha : float, default 0.10
        FDR level (per slice) at which a bin is hot or cold.
    trend_alpha : float, default 0.05
    fdr : {"cube", "slice"}, default "cube"
        Benjamini–Hochberg over all bins of the cube, or within each slice.
    inference : {"auto", "analytic", "count", "randomisation", "permutation"}
        Bin p-values (default ``"auto"``): analytic normal; exact count tail (Poisson /
        negative binomial with Gi*'s mean and variance); exact conditional randomisation;
        Monte Carlo conditional permutation. ``auto`` uses ``count`` on sparse integer cubes
        (median occupied-bin count < 10), analytic on dense ones; see
        :mod:`clustering.emerging_inference`.
    permutations : int, default 999
    seed : int or None, default 0
        Permutation inference only; fixed by default for reproducible runs.

    Returns
    -------
    DataFrame
        Indexed like ``cube``: ``category``, ``slices_hot``, ``slices_cold``, ``z_last``,
        ``trend_z``, ``trend_p``, ``count`` (total). ``attrs["inference"]`` names the
        p-value method used.

    References
    ----------
    Getis and Ord (1992); Anselin (1995); Esri, *How Emerging Hot Spot Analysis works*.
    """
    if not isinstance(cube, pd.DataFrame):
        raise TypeError("cube must be a DataFrame (cells × slices), see incidents_to_cube")
    if cube.shape[1] < MIN_SLICES:
        raise ValueError(
            f"emerging hot spots need at least {MIN_SLICES} time slices, the data span "
            f"{cube.shape[1]}; use a longer period or shorter slices (--slice week)"
        )
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if fdr not in ("cube", "slice"):
        raise ValueError(f"fdr must be 'cube' (one family of all bins) or 'slice', got {fdr!r}")
    cells = np.asarray(cube.index, dtype=np.uint64)
    if nbhd is None:
        nbhd = build_neighbourhood(cells, k)
    pos = nbhd.positions(cells)
    if cells.size != nbhd.n:
        raise ValueError("the cube's cells must be exactly the neighbourhood's cells")
    x = np.empty(cube.shape)
    x[pos] = cube.to_numpy(dtype=float)
    z = space_time_gi_z(x, nbhd, window)
    p, method = space_time_gi_pvalues(x, z, nbhd, window, inference=inference,
                                      permutations=permutations, seed=seed)
    if fdr == "slice":
        q = np.column_stack([bh_qvalues(p[:, t]) for t in range(z.shape[1])])
    else:
        q = bh_qvalues(p.ravel()).reshape(p.shape)
    hot, cold = (q <= alpha) & (z > 0), (q <= alpha) & (z < 0)
    mk = mann_kendall_rows(z)
    cat = classify_emerging(hot, cold, mk["z"].to_numpy(), mk["p"].to_numpy(), trend_alpha)
    out = pd.DataFrame({
        "category": cat[pos],
        "slices_hot": hot.sum(axis=1)[pos],
        "slices_cold": cold.sum(axis=1)[pos],
        "z_last": z[pos, -1],
        "trend_z": mk["z"].to_numpy()[pos],
        "trend_p": mk["p"].to_numpy()[pos],
        "count": x.sum(axis=1)[pos].astype(np.int64),
    }, index=cube.index)
    out.attrs["inference"] = method
    return out


def emerging_hotspots(df: pd.DataFrame, res: int, *, cells=None, k: int = 1,
                      slice: str = "week", window: int = 1, alpha: float = 0.10,
                      trend_alpha: float = 0.05, fdr: str = "cube", start=None,
                      end=None, inference: str = "auto",
                      permutations: int = DEFAULT_PERMUTATIONS,
                      seed: int | None = 0) -> pd.DataFrame:
    """Emerging hot spots of incidents on H3 cells (cube → space-time Gi* → trend → category).

    Parameters
    ----------
    df : DataFrame
        Canonical incidents (uint64 ``h3`` at a resolution ≥ ``res``, ``occurred_at``).
    res : int
        Analysis resolution.
    cells : array-like of uint64, optional
        The analysis grid (e.g. :func:`geo.grid.analysis_grid` of the study area); by default
        the occupied cells and their k-ring (:func:`clustering.neighbours.ring_hull`).
    k, slice, window, alpha, trend_alpha, fdr, start, end, inference, permutations, seed
        See :func:`emerging_from_cube` and :func:`incidents_to_cube`.

    Returns
    -------
    DataFrame
        One row per grid cell, columns ``h3`` then those of :func:`emerging_from_cube`.

    Raises
    ------
    ValueError
        Fewer than 10 slices, unknown ``slice``, or bad parameters.
    """
    if cells is None:
        if "h3" not in df.columns and not {"lat", "lon"} <= set(df.columns):
            raise ValueError("incident table has no location (lat/lon); load it through geo.ingest")
        occ = cells_at(df, res)
        cells = ring_hull(occ[occ != 0], k)
    cells = np.unique(np.asarray(cells, dtype=np.uint64))
    cube = incidents_to_cube(df, cells, res, slice, start=start, end=end)
    return emerging_cube_table(cube, slice=slice, k=k, window=window, alpha=alpha,
                               trend_alpha=trend_alpha, fdr=fdr, inference=inference,
                               permutations=permutations, seed=seed)


def emerging_cube_table(cube: pd.DataFrame, *, slice: str = "week", k: int = 1,
                        window: int = 1, alpha: float = 0.10, trend_alpha: float = 0.05,
                        fdr: str = "cube", inference: str = "auto",
                        permutations: int = DEFAULT_PERMUTATIONS,
                        seed: int | None = 0) -> pd.DataFrame:
    """:func:`emerging_hotspots` from its cube (:func:`incidents_to_cube`; cubes of parts of
    the incidents on one grid and slices add up, e.g. over Dask workers)."""
    if cube.shape[1] < MIN_SLICES:
        raise ValueError(
            f"emerging hot spots need at least {MIN_SLICES} time slices; the data span "
            f"{cube.shape[1]} {slice}(s). Use a longer period or --slice week."
        )
    res_tab = emerging_from_cube(cube, k=k, window=window, alpha=alpha, trend_alpha=trend_alpha,
                                 fdr=fdr, inference=inference, permutations=permutations,
                                 seed=seed)
    out = res_tab.reset_index()
    out.attrs["inference"] = res_tab.attrs["inference"]
    return out
