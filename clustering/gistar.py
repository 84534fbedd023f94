"""Getis–Ord Gi* hot and cold spots on H3 cells, with Benjamini–Hochberg FDR control.

The statistic, with binary weights ``w_ij`` (self included) over the ``n`` analysis cells::

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (S √((n S1_i − W_i²) / (n − 1)))

where ``W_i = Σ_j w_ij``, ``S1_i = Σ_j w_ij²``, and ``x̄``, ``S`` are the mean and population
standard deviation of all ``n`` values. It is one sparse matrix–vector product given the
neighbourhood (:class:`clustering.neighbours.Neighbourhood`, built once). The two-sided p-value
is ``2·Φ(−|z|)``; q-values are Benjamini–Hochberg; the class of a cell is decided on q:
``hot_99`` (q ≤ 0.01, z > 0), ``hot_95`` (q ≤ 0.05), ``hot_90`` (q ≤ 0.10), the ``cold_*``
mirrors for z < 0, else ``not_significant``.

Degenerate cases, handled without warnings: when every value is equal (S = 0) nothing differs
from the mean and every z is 0 (p = 1); likewise a cell whose neighbourhood is the whole grid
(``n S1_i = W_i²``) has a numerator of exactly 0 and gets z = 0.

References
----------
Getis, A. and Ord, J. K. (1992). The analysis of spatial association by use of distance
statistics. *Geographical Analysis* 24(3), 189–206.
Ord, J. K. and Getis, A. (1995). Local spatial autocorrelation statistics: distributional
issues and an application. *Geographical Analysis* 27(4), 286–306.
Benjamini, Y. and Hochberg, Y. (1995). *JRSS B* 57(1), 289–300.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from clustering.fdr import bh_qvalues
from clustering.neighbours import Neighbourhood

__all__ = [
    "HOT_COLD_CLASSES",
    "gi_star_z",
    "gi_star_permutation",
    "classify_hotspots",
    "gi_star",
]

#: Classes from hottest to coldest.
HOT_COLD_CLASSES = (
    "hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99",
)
_LEVELS = ((0.01, "99"), (0.05, "95"), (0.10, "90"))


def _check_values(y, nbhd: Neighbourhood, name: str = "y") -> np.ndarray:
    if not isinstance(nbhd, Neighbourhood):
        raise TypeError("nbhd must be a Neighbourhood (clustering.neighbours.build_neighbourhood)")
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1 or arr.size != nbhd.n:
        raise ValueError(
            f"{name} must be 1-D with one value per neighbourhood cell ({nbhd.n}), got shape "
            f"{arr.shape}"
        )
    if nbhd.n < 3:
        raise ValueError(f"Gi* needs at least 3 cells, got {nbhd.n}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} has {int((~np.isfinite(arr)).sum())} missing/infinite value(s); zero-fill "
            "counts or drop cells without a rate (and build the neighbourhood without them)"
        )
    return arr


def gi_star_z(y, nbhd: Neighbourhood) -> np.ndarray:
    """Analytic Gi* z-scores, aligned with ``nbhd.cells``.

    Parameters
    ----------
    y : array-like of float, shape (n,)
        One value per cell of ``nbhd``, in ``nbhd.cells`` order (zero-filled counts or rates).
    nbhd : Neighbourhood
        Binary k-ring weights with self included, built once.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        z-scores; 0 where the statistic is undefined (constant ``y``, or a neighbourhood that
        spans the whole grid), see the module notes.

    References
    ----------
    Getis and Ord (1992), eq. for G*_i; Ord and Getis (1995), standardised form.
    """
    x = _check_values(y, nbhd)
    n = x.size
    z = np.zeros(n)
    if np.ptp(x) == 0:  # constant values: S = 0, nothing differs from the mean
        return z
    xbar = x.mean()
    s = np.sqrt(max(float(np.mean(x * x) - xbar * xbar), 0.0))
    num = nbhd.W @ x - xbar * nbhd.W_i
    den = s * np.sqrt(np.maximum(n * nbhd.S1_i - nbhd.W_i**2, 0.0) / (n - 1))
    ok = den > 0
    z[ok] = num[ok] / den[ok]
    return z


def _draws(rng: np.random.Generator, pop: int, size: int, reps: int) -> np.ndarray:
    """``reps`` uniform ordered samples without replacement of ``size`` from ``range(pop)``."""
    if size == 0:
        return np.zeros((reps, 0), dtype=np.int64)
    if size * size > pop:  # small populations: exact shuffles (rejection would stall)
        return np.argsort(rng.random((reps, pop)), axis=1)[:, :size].astype(np.int64)
    out = rng.integers(0, pop, size=(reps, size))
    while True:  # redraw the (rare) rows with a repeated index
        srt = np.sort(out, axis=1)
        bad = np.any(srt[:, 1:] == srt[:, :-1], axis=1)
        if not bad.any():
            return out
        out[bad] = rng.integers(0, pop, size=(int(bad.sum()), size))


def gi_star_permutation(
    y,
    nbhd: Neighbourhood,
    permutations: int = 999,
    seed: int | None = None,
) -> np.ndarray:
    """Conditional-permutation pseudo p-values of Gi* (exact, vectorised, seeded).

    For cell ``i`` the value ``y_i`` stays in place and its ``m_i = W_i − 1`` neighbours are
    replaced by a uniform random draw without replacement from the other ``n − 1`` values;
    the numerator ``Σ_j w_ij y_j`` is recomputed for each of ``permutations`` draws. As in
    esda, one set of draws is shared by all cells, and the pseudo p-value is folded one-sided:
    ``(min(L≥, L≤) + 1) / (R + 1)`` with ``L≥`` (``L≤``) the number of draws at least (at
    most) as large as observed. Without ties ``L≤ = R − L≥`` and this is esda's ``p_sim``.
    With ties — counts, many zeros — esda counts ties on one side only, so a cell whose every
    draw equals the observed value (all-zero neighbourhoods) gets esda ``p_sim = 1/(R+1)``,
    "significant"; here it gets 1. A cell without neighbours (``m_i = 0``) cannot be tested:
    its ``p_sim`` is 1.

    Each replicate draws ``max(m) + 1`` distinct indices from all ``n`` cells; cell ``i`` uses
    the first ``m_i`` of them that are not ``i`` itself, which is a uniform ``m_i``-subset of
    the other cells. So the replicate sum is a prefix sum shared by every cell with the same
    ``m_i`` — except for the at most ``m_i`` cells drawn in that replicate, which are corrected
    one by one. Counting exceedances is then a sort and a binary search per group of equal
    ``m_i``: the cost is ``O(R·max(m) + n·log R)`` instead of esda's ``O(n·R·max(m))``.
    The result is exact for this scheme: tests compare it with full enumeration.

    Parameters
    ----------
    y : array-like of float, in ``nbhd.cells`` order
    nbhd : Neighbourhood
        Binary, self included.
    permutations : int, default 999
    seed : int or None
        Seed of :func:`numpy.random.default_rng`; pass one for reproducible results.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Folded one-sided pseudo p-values (esda's ``p_sim``, ties counted on both sides);
        double them for a two-sided test.

    References
    ----------
    Anselin, L. (1995). Local indicators of spatial association—LISA. *Geographical Analysis*
    27(2), 93–115 (conditional randomisation). esda ``crand``.
    """
    x = _check_values(y, nbhd)
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer) or (
        permutations < 1
    ):
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}")
    if np.any(nbhd.W.diagonal() != 1) or np.any(nbhd.W.data != 1):
        raise ValueError("permutation inference needs a binary neighbourhood with self included")
    rng = np.random.default_rng(seed)
    n, reps = x.size, int(permutations)
    m = np.rint(nbhd.W_i).astype(np.int64) - 1  # neighbours other than self
    mmax = int(m.max())
    draws = _draws(rng, n, min(mmax + 1, n), reps)  # (reps, mmax + 1) distinct cells
    prefix = np.zeros((reps, draws.shape[1] + 1))
    np.cumsum(x[draws], axis=1, out=prefix[:, 1:])
    obs = nbhd.W @ x
    # permuted numerator ≥ observed (− tol)  ⟺  sum of the drawn neighbours ≥ lo_need;
    # permuted numerator ≤ observed (+ tol)  ⟺  sum of the drawn neighbours ≤ hi_need
    tol = 1e-10 * np.maximum(1.0, np.abs(obs))
    lo_need, hi_need = obs - x - tol, obs - x + tol
    ge = np.zeros(n, dtype=np.int64)
    le = np.zeros(n, dtype=np.int64)
    for mv in np.unique(m[m > 0]):
        group = np.flatnonzero(m == mv)
        base = prefix[:, mv]  # the first mv draws, for cells not among them
        sb = np.sort(base)
        ge[group] = reps - np.searchsorted(sb, lo_need[group], side="left")
        le[group] = np.searchsorted(sb, hi_need[group], side="right")
        # Cells of this group drawn among the first mv in replicate r use draws 0..mv
        # without themselves instead.
        rr, cc = np.nonzero(m[draws[:, :mv]] == mv)
        i = draws[rr, cc]
        alt, old = prefix[rr, mv + 1] - x[i], base[rr]
        np.add.at(ge, i, (alt >= lo_need[i]).astype(np.int64)
                  - (old >= lo_need[i]).astype(np.int64))
        np.add.at(le, i, (alt <= hi_need[i]).astype(np.int64)
                  - (old <= hi_need[i]).astype(np.int64))
    p = (np.minimum(ge, le) + 1.0) / (reps + 1.0)
    p[m == 0] = 1.0
    return p


def classify_hotspots(z, q) -> np.ndarray:
    """Class per cell from z and q: ``hot_99/95/90``, ``cold_99/95/90``, ``not_significant``.

    The finest level the q-value reaches decides (q ≤ 0.01 → 99, ≤ 0.05 → 95, ≤ 0.10 → 90);
    the sign of z decides hot or cold; NaN q is ``not_significant``.
    """
    z = np.asarray(z, dtype=float)
    q = np.asarray(q, dtype=float)
    out = np.full(z.shape, "not_significant", dtype=object)
    for alpha, lab in _LEVELS[::-1]:  # coarsest first, finer levels overwrite
        sig = np.nan_to_num(q, nan=np.inf) <= alpha
        out[sig & (z > 0)] = f"hot_{lab}"
        out[sig & (z < 0)] = f"cold_{lab}"
    return out


def gi_star(
    table: pd.DataFrame | pd.Series,
    nbhd: Neighbourhood,
    *,
    column: str = "count",
    cell_column: str = "h3",
    permutations: int = 0,
    seed: int | None = None,
) -> pd.DataFrame:
    """Gi* hot/cold spots of a cell table: z, p, q and class per cell.

    Parameters
    ----------
    table : DataFrame with ``cell_column`` and ``column``, or Series indexed by cell
        One row per analysis cell (uint64 cells, zero-filled). Its cells must be exactly the
        cells of ``nbhd``, in any order. Never mutated.
    nbhd : Neighbourhood
        From :func:`clustering.neighbours.build_neighbourhood` on the same cells.
    column : str, default "count"
        Value column (counts, rates, smoothed rates).
    cell_column : str, default "h3"
    permutations : int, default 0
        If positive, also run seeded conditional-permutation inference: ``p_sim`` (folded
        one-sided pseudo p, see :func:`gi_star_permutation`) is added and ``p``, ``q`` and
        ``class`` use the two-sided permutation p ``min(1, 2·p_sim)`` instead of the normal
        approximation.
    seed : int or None
        Seed of the permutation draws.

    Returns
    -------
    DataFrame
        Indexed like ``table``: ``z``, ``p`` (two-sided), ``q`` (BH), ``class``,
        ``neighbours`` (``W_i``, self included) and optionally ``p_sim``.

    Raises
    ------
    ValueError
        If a column is missing, cells repeat or differ from the neighbourhood's, or values
        are missing.

    References
    ----------
    Getis and Ord (1992); Ord and Getis (1995); Benjamini and Hochberg (1995).
    """
    if isinstance(table, pd.Series):
        cells = np.asarray(table.index, dtype=np.uint64)
        values = table.to_numpy(dtype=float)
    else:
        for c in (cell_column, column):
            if c not in table.columns:
                raise ValueError(
                    f"column {c!r} missing from the cell table; found {list(table.columns)}"
                )
        cells = table[cell_column].to_numpy(np.uint64)
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    if cells.size != nbhd.n or np.unique(cells).size != cells.size:
        raise ValueError(
            f"the table has {cells.size} rows ({np.unique(cells).size} unique cells) but the "
            f"neighbourhood has {nbhd.n} cells: give one row per neighbourhood cell"
        )
    pos = nbhd.positions(cells)
    y = np.empty(nbhd.n)
    y[pos] = values
    z = gi_star_z(y, nbhd)
    p = 2.0 * ndtr(-np.abs(z))
    out = {"z": z[pos]}
    if permutations:
        p_sim = gi_star_permutation(y, nbhd, permutations, seed)
        p = np.minimum(1.0, 2.0 * p_sim)
        out["p_sim"] = p_sim[pos]
    q = bh_qvalues(p)
    out.update(p=p[pos], q=q[pos], neighbours=nbhd.W_i[pos].astype(np.int64))
    res = pd.DataFrame(out, index=table.index)
    res["class"] = classify_hotspots(res["z"].to_numpy(), res["q"].to_numpy())
    cols = ["z", "p", "q", "class", "neighbours"] + (["p_sim"] if permutations else [])
    return res[cols]
