"""Mann–Kendall trend test (tie-corrected, continuity-corrected), one series or many at once.

``S = Σ_{i<j} sign(x_j − x_i)``;
``Var(S) = [n(n−1)(2n+5) − Σ_g t_g(t_g−1)(2t_g+5)] / 18`` over groups ``g`` of ``t_g`` tied
values; ``z = (S − 1)/√Var`` if ``S > 0``, ``(S + 1)/√Var`` if ``S < 0``, else 0; two-sided
``p = 2·Φ(−|z|)``. A series whose values are all equal has ``Var(S) = 0``: z = 0, p = 1.

References
----------
Mann, H. B. (1945). Nonparametric tests against trend. *Econometrica* 13(3), 245–259.
Kendall, M. G. (1975). *Rank Correlation Methods*, 4th ed. Griffin, London.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import ndtr

__all__ = ["MannKendallResult", "mann_kendall", "mann_kendall_rows"]


class MannKendallResult(NamedTuple):
    """Result of :func:`mann_kendall` on one series."""

    s: int
    var_s: float
    z: float
    p: float
    trend: str  # "increasing", "decreasing" or "no trend" at the requested alpha


def _check_matrix(x: np.ndarray) -> np.ndarray:
    if x.ndim != 2:
        raise ValueError(f"series must be 1-D (one series) or 2-D (rows), got {x.ndim}-D")
    if x.shape[1] < 3:
        raise ValueError(f"Mann–Kendall needs at least 3 time points, got {x.shape[1]}")
    if not np.all(np.isfinite(x)):
        raise ValueError("series contain missing/infinite values; drop or fill them first")
    return x


def _mk_arrays(x: np.ndarray, chunk_elems: int = 4_000_000):
    rows, n = x.shape
    s = np.zeros(rows, dtype=np.int64)
    ties = np.zeros(rows)
    iu, ju = np.triu_indices(n, k=1)
    step = max(1, chunk_elems // (n * n))
    for a in range(0, rows, step):
        xc = x[a : a + step]
        s[a : a + step] = np.sign(xc[:, ju] - xc[:, iu]).sum(axis=1).astype(np.int64)
        # Σ_g t_g(t_g-1)(2t_g+5) == Σ over elements of (t-1)(2t+5), t = the element's group size
        t = (xc[:, :, None] == xc[:, None, :]).sum(axis=2).astype(float)
        ties[a : a + step] = ((t - 1.0) * (2.0 * t + 5.0)).sum(axis=1)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    z = np.zeros(rows)
    sd = np.sqrt(np.maximum(var, 0.0))
    pos, neg = (s > 0) & (sd > 0), (s < 0) & (sd > 0)
    z[pos] = (s[pos] - 1) / sd[pos]
    z[neg] = (s[neg] + 1) / sd[neg]
    p = 2.0 * ndtr(-np.abs(z))
    return s, var, z, p


def mann_kendall(x, alpha: float = 0.05) -> MannKendallResult:
    """Mann–Kendall test of one series for a monotonic trend.

    Parameters
    ----------
    x : array-like of float, shape (n,), n ≥ 3
        Values in time order.
    alpha : float, default 0.05
        Two-sided level at which ``trend`` is called increasing/decreasing.

    Returns
    -------
    MannKendallResult
        ``s``, ``var_s`` (tie-corrected), ``z`` (continuity-corrected), two-sided ``p`` and
        ``trend``.

    Raises
    ------
    ValueError
        If ``x`` is not 1-D, has fewer than 3 points or missing values, or ``alpha`` is not
        in (0, 1).

    References
    ----------
    Mann (1945); Kendall (1975).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"mann_kendall takes one 1-D series, got shape {arr.shape}; "
                         "use mann_kendall_rows for many")
    s, var, z, p = _mk_arrays(_check_matrix(arr[None, :]))
    trend = "no trend"
    if p[0] <= alpha:
        trend = "increasing" if z[0] > 0 else "decreasing"
    return MannKendallResult(int(s[0]), float(var[0]), float(z[0]), float(p[0]), trend)


def mann_kendall_rows(x) -> pd.DataFrame:
    """Mann–Kendall test of every row of a matrix (rows = series, columns = time order).

    Parameters
    ----------
    x : 2-D array-like or DataFrame, shape (rows, n), n ≥ 3
        A DataFrame keeps its index in the result.

    Returns
    -------
    DataFrame
        Indexed like the rows of ``x``: ``s``, ``var_s``, ``z``, ``p`` (two-sided).

    References
    ----------
    Mann (1945); Kendall (1975).
    """
    index = x.index if isinstance(x, pd.DataFrame) else None
    arr = _check_matrix(np.asarray(x, dtype=float))
    s, var, z, p = _mk_arrays(arr)
    return pd.DataFrame({"s": s, "var_s": var, "z": z, "p": p}, index=index)
