"""Bin p-values of space-time Gi*: analytic normal, exact count tail, exact randomisation or
Monte Carlo permutation, and the rule that picks one.

**Why not the normal approximation.** Gi* compares the neighbourhood sum ``S_it`` of bin
``(i, t)`` (``W_it`` bins) with ``W_it·x̄``, scaled by the mean ``x̄`` and variance ``s²`` of
all ``n = N·T`` bins; the analytic p-value treats ``z`` as standard normal. On a sparse count
cube — monthly slices at resolution 8, most bins 0, a few 1–2 — ``S_it`` is a sum of a dozen
nearly-all-zero counts, a lumpy right-skewed lattice whose upper tail is far heavier than the
normal one: 5 events where 0.65 are expected give ``z ≈ 5`` (``p ≈ 10⁻⁶``) although their
probability is ``6·10⁻⁴``. Benjamini–Hochberg then turns such bins into "significant" hot
bins: on a cube with *no* signal at all (events uniform in space and time, the sample's size
and grid) the analytic path flags about 430 bins and gives 330 of 2,644 cells a category
(``tests/test_emerging_null.py``).

Methods (``inference=``):

* ``"count"`` — the exact tail of ``S_it`` under Gi*'s null of one constant rate: the
  ``W_it`` bins are independent Poisson counts of mean ``x̄``, so ``S ~ Poisson(W_it·x̄)``.
  On the no-signal cube above it flags 0 bins (analytic: ~430); on the sample it recovers
  every planted hotspot. Like Gi* itself it calls *any* rate above the county mean hot, so a
  busy town centre is hot too (usually ``sporadic_hot``: elevated, not every slice).
  Deterministic, ``O(n)``; needs non-negative integer counts. (A negative binomial with
  Gi*'s variance ``s²`` was tried and rejected: the planted hotspots themselves inflate
  ``s²`` so much that a 19-events-a-week hotspot was hot in only 10 of 52 weeks.)
* ``"randomisation"`` — conditional randomisation (Anselin 1995), computed exactly: the bin's
  value stays in place and its ``m = W_it − 1`` neighbours are draws *with replacement* from
  the other ``n − 1`` bins, so the null of the neighbour sum is the ``m``-fold convolution of
  their value distribution (the ``R → ∞`` limit of Monte Carlo randomisation up to the
  without-replacement factor ``(n − m)/(n − 1)`` on the variance). Distribution-free but
  conservative when the cube holds strong hotspots: their own large bins make the null's
  upper tail heavy, and the sample's planted persistent hotspots are lost (measured).
* ``"permutation"`` — Monte Carlo conditional permutation (without replacement, seeded)
  through :func:`clustering.gistar.gi_star_permutation` on the space-time graph. Its p-values
  cannot go below ``2/(R + 1)``, and BH over all ``N·T`` bins at level ``alpha`` can reject
  at that floor only when at least ``2·N·T / (alpha·(R + 1))`` bins reach it (1,900 of the
  sample's 95,000 at R = 999): on large sparse cubes it has almost no power.
* ``"analytic"`` — the normal approximation (the previous behaviour).

For ``count``, ``randomisation`` and ``permutation`` the folded one-sided p-value is
``min(P(S ≥ s), P(S ≤ s))`` (ties count on both sides, as in
:func:`clustering.gistar.gi_star_permutation`); the two-sided p-value used for the FDR is
twice that, capped at 1.

**Rule of** ``inference="auto"``: ``analytic`` when the cube is dense — the median count of
the occupied (non-zero) bins is at least :data:`DENSE_MEDIAN` (10), where a sum over ≥ 7
bins is close to normal; otherwise ``count`` for non-negative integer cubes, else
``permutation``.

References
----------
Getis, A. and Ord, J. K. (1992). The analysis of spatial association by use of distance
statistics. *Geographical Analysis* 24(3), 189–206.
Anselin, L. (1995). Local indicators of spatial association—LISA. *Geographical Analysis*
27(2), 93–115 (conditional randomisation).
Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. *JRSS B* 57(1),
289–300.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr, pdtr, pdtrc  # Poisson tails: scipy.stats costs ~1 s to import

from clustering.gistar import gi_star_permutation
from clustering.neighbours import Neighbourhood

__all__ = [
    "INFERENCES",
    "DENSE_MEDIAN",
    "RANDOMISATION_MAX_SUPPORT",
    "RANDOMISATION_MAX_VALUES",
    "DEFAULT_PERMUTATIONS",
    "choose_inference",
    "space_time_neighbourhood",
    "count_tail_pvalues",
    "exact_randomisation_pvalues",
    "space_time_gi_pvalues",
]

INFERENCES = ("auto", "analytic", "count", "randomisation", "permutation")
#: Median occupied-bin count at and above which ``auto`` uses the analytic p-values.
DENSE_MEDIAN = 10.0
#: Largest neighbourhood-sum support ``max(m)·max(x)`` that ``randomisation`` accepts.
RANDOMISATION_MAX_SUPPORT = 20_000
#: Most distinct bin values ``randomisation`` accepts (its cost grows with their square).
RANDOMISATION_MAX_VALUES = 100
DEFAULT_PERMUTATIONS = 999


def _is_integer(a: np.ndarray) -> bool:
    return bool(a.size) and bool(np.all(a >= 0)) and bool(np.all(a == np.rint(a)))


def choose_inference(x, inference: str = "auto") -> str:
    """Resolve ``inference`` for a cube to ``"analytic"``, ``"count"``, ``"randomisation"`` or
    ``"permutation"``.

    Parameters
    ----------
    x : array-like, shape (N, T)
        The cube.
    inference : {"auto", "analytic", "count", "randomisation", "permutation"}
        ``auto``: analytic when the median of the non-zero bins is at least
        :data:`DENSE_MEDIAN`, else ``count`` for non-negative integer cubes, else
        ``permutation`` (see the module notes).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        Unknown ``inference``, or ``count``/``randomisation`` on a cube that is not
        non-negative integers.

    References
    ----------
    Getis and Ord (1992); Anselin (1995).
    """
    if inference not in INFERENCES:
        raise ValueError(f"inference must be one of {list(INFERENCES)}, got {inference!r}")
    a = np.asarray(x, dtype=float)
    if inference in ("count", "randomisation") and not _is_integer(a):
        raise ValueError(f"inference={inference!r} needs a cube of non-negative integer counts;"
                         " use 'permutation' or 'analytic'")
    if inference != "auto":
        return inference
    occ = a[a > 0]
    if occ.size and float(np.median(occ)) >= DENSE_MEDIAN:
        return "analytic"
    return "count" if _is_integer(a) else "permutation"


def space_time_neighbourhood(nbhd: Neighbourhood, T: int, window: int = 1) -> Neighbourhood:
    """The space-time weights as a :class:`Neighbourhood` over the ``N·T`` bins.

    Bin ``(i, t)`` is node ``i·T + t`` (row-major ravel of the cube); its neighbours are
    ``(j, s)`` with ``w_ij = 1`` and ``t − window ≤ s ≤ t`` — the definition of
    :func:`clustering.emerging.space_time_gi_z` (tested equal). The graph is directed in time;
    only rows are used. ``cells`` holds the node numbers ``0 … N·T − 1``.

    References
    ----------
    Esri, *How Emerging Hot Spot Analysis works* (space-time neighbourhoods).
    """
    t = np.arange(int(T))
    d = t[:, None] - t[None, :]
    lag = sp.csr_matrix(((d >= 0) & (d <= window)).astype(float))
    W = sp.kron(nbhd.W, lag, format="csr")
    W.sort_indices()
    wi = np.asarray(W.sum(axis=1), dtype=float).ravel()
    for a in (W.data, W.indices, W.indptr, wi):
        a.setflags(write=False)
    return Neighbourhood(cells=np.arange(W.shape[0], dtype=np.uint64), k=nbhd.k, W=W,
                         W_i=wi, S1_i=wi)


def count_tail_pvalues(s, w, mean: float) -> np.ndarray:
    """Folded one-sided Poisson p-values ``min(P(S ≥ s), P(S ≤ s))``, ``S ~ Poisson(w·mean)``.

    Parameters
    ----------
    s : array-like of int
        Observed neighbourhood sums.
    w : array-like of int
        Number of bins in each sum (broadcast with ``s``).
    mean : float
        Per-bin mean under the null (> 0).

    Returns
    -------
    numpy.ndarray of float

    References
    ----------
    Getis and Ord (1992) (the constant-mean null); a sum of independent Poisson counts is
    Poisson with the summed mean.
    """
    s = np.asarray(s, dtype=float)
    lam = np.asarray(w, dtype=float) * float(mean)
    if not mean > 0:
        raise ValueError(f"mean must be positive, got {mean!r}")
    ge, le = _poisson_tail(s - 1, lam, upper=True), _poisson_tail(s, lam, upper=False)
    return np.minimum(np.minimum(ge, le), 1.0)


def _poisson_tail(k, mu, *, upper: bool) -> np.ndarray:
    """``scipy.stats.poisson.sf(k, mu)`` (``upper``) or ``.cdf(k, mu)``, the same floats, by its
    own rules (NaN for a NaN ``k`` or a ``mu`` < 0; 1 / 0 outside the support; else
    ``pdtrc`` / ``pdtr`` of ``floor(k)`` clipped to [0, 1]) without importing scipy.stats."""
    k, mu = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(mu, dtype=float))
    ok = mu >= 0
    good = ok & (k >= 0) & np.isfinite(k)
    out = np.zeros(k.shape)
    if upper:
        out[~ok | np.isnan(k)] = np.nan
        out[(k < 0) & ok] = 1.0  # below the support (incl. -inf)
        f = pdtrc
    else:
        out[k == np.inf] = 1.0
        out[~ok | np.isnan(k)] = np.nan
        f = pdtr
    out[good] = np.clip(f(np.floor(k[good]), mu[good]), 0, 1)
    return out[()] if out.ndim == 0 else out


def exact_randomisation_pvalues(values, rest_sum, m) -> np.ndarray:
    """Exact folded one-sided randomisation p-values of neighbourhood sums.

    For each unit ``u`` with value ``values[u]``, ``m[u]`` neighbours and observed sum
    ``rest_sum[u]`` over those neighbours (self excluded), returns
    ``min(P(S ≥ rest_sum), P(S ≤ rest_sum))`` where ``S`` is the sum of ``m[u]`` draws with
    replacement from the values of all *other* units. ``m = 0`` gives 1.

    Parameters
    ----------
    values : array-like of non-negative int, shape (n,)
    rest_sum : array-like of int, shape (n,)
    m : array-like of int, shape (n,)

    Returns
    -------
    numpy.ndarray of float, shape (n,)

    Raises
    ------
    ValueError
        Values that are not non-negative integers, or mismatched shapes.

    References
    ----------
    Anselin (1995) (conditional randomisation); the distribution of a sum of i.i.d. draws is
    the convolution power of the draw distribution.
    """
    vf = np.asarray(values, dtype=float)
    if vf.ndim != 1 or not (vf.size == 0 or _is_integer(vf)):
        raise ValueError("values must be a 1-D array of non-negative integer counts")
    if np.shape(rest_sum) != vf.shape or np.shape(m) != vf.shape:
        raise ValueError(f"rest_sum and m must have the shape of values {vf.shape}, got "
                         f"{np.shape(rest_sum)} and {np.shape(m)}")
    v = np.rint(vf).astype(np.int64)
    s = np.rint(np.asarray(rest_sum, dtype=float)).astype(np.int64)
    m = np.asarray(m, dtype=np.int64)
    n = v.size
    p = np.ones(n)
    test = m > 0
    if n < 2 or not test.any():
        return p
    vmax = int(v.max())
    cnt = np.bincount(v, minlength=vmax + 1).astype(float)
    for val in np.unique(v[test]):
        rows = np.flatnonzero(test & (v == val))
        base = cnt.copy()
        base[val] -= 1.0
        base /= n - 1.0
        support = np.flatnonzero(base > 0)
        need_m = np.unique(m[rows])
        pmf = np.ones(1)
        for k in range(1, int(need_m.max()) + 1):
            nxt = np.zeros(pmf.size + vmax)
            for j in support:  # sparse kernel: one shifted add per distinct value
                nxt[j:j + pmf.size] += base[j] * pmf
            pmf = nxt
            sel = rows[m[rows] == k]
            if sel.size:
                cdf = np.cumsum(pmf)
                sf = np.cumsum(pmf[::-1])[::-1]
                obs = s[sel]
                inside = (obs >= 0) & (obs < pmf.size)
                idx = np.clip(obs, 0, pmf.size - 1)
                ge = np.where(inside, sf[idx], np.where(obs < 0, 1.0, 0.0))
                le = np.where(inside, cdf[idx], np.where(obs < 0, 0.0, 1.0))
                p[sel] = np.minimum(np.minimum(ge, le), 1.0)
    return p


def space_time_gi_pvalues(x, z, nbhd: Neighbourhood, window: int = 1, *,
                          inference: str = "auto", permutations: int = DEFAULT_PERMUTATIONS,
                          seed: int | None = 0) -> tuple[np.ndarray, str]:
    """Two-sided p-value of every bin's space-time Gi*, and the method used.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, T)
        Cube in ``nbhd.cells`` order (validated by the caller).
    z : numpy.ndarray, shape (N, T)
        Its space-time Gi* z-scores (:func:`clustering.emerging.space_time_gi_z`).
    nbhd : Neighbourhood
    window : int, default 1
    inference : {"auto", "analytic", "count", "randomisation", "permutation"}
        See :func:`choose_inference` and the module notes; default ``"auto"``.
    permutations : int, default 999
        Monte Carlo permutations (``"permutation"`` only).
    seed : int or None, default 0
        Seed of :func:`numpy.random.default_rng` (``"permutation"`` only); fixed by default
        so that a run is reproducible.

    Returns
    -------
    p : numpy.ndarray, shape (N, T)
        ``2·Φ(−|z|)`` (analytic) or ``min(1, 2·p_fold)``.
    method : str
        The method used (never ``"auto"``).

    Raises
    ------
    ValueError
        Bad ``inference`` / ``permutations``, or a randomisation support too large.

    References
    ----------
    Getis and Ord (1992); Anselin (1995).
    """
    if isinstance(permutations, bool) or not isinstance(permutations, int | np.integer) or (
        permutations < 1
    ):
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}")
    method = choose_inference(x, inference)
    if method == "analytic":
        return 2.0 * ndtr(-np.abs(z)), method
    N, T = x.shape
    if x.size < 3 or np.ptp(x) == 0:
        return np.ones((N, T)), method  # constant cube: nothing to detect
    t = np.arange(T)
    lo = np.maximum(t - window, 0)
    w = np.rint(nbhd.W_i).astype(np.int64)[:, None] * (t - lo + 1)[None, :]  # bins, self incl.
    if method == "permutation":
        st = space_time_neighbourhood(nbhd, T, window)
        p_fold = gi_star_permutation(x.ravel(), st, int(permutations), seed=seed)
        return np.minimum(1.0, 2.0 * p_fold).reshape(N, T), method
    csum = np.cumsum(np.pad(np.asarray(nbhd.W @ x), ((0, 0), (1, 0))), axis=1)
    total = csum[:, t + 1] - csum[:, lo]  # neighbourhood sums, self included
    if method == "count":
        p_fold = count_tail_pvalues(total, w, float(x.mean()))
    else:
        support = (int(w.max()) - 1) * float(x.max())
        n_values = np.unique(x).size
        if support > RANDOMISATION_MAX_SUPPORT or n_values > RANDOMISATION_MAX_VALUES:
            raise ValueError(
                f"inference='randomisation' would convolve sums up to {support:.0f} over "
                f"{n_values} distinct counts (limits {RANDOMISATION_MAX_SUPPORT} and "
                f"{RANDOMISATION_MAX_VALUES}); use 'count' or 'permutation'")
        p_fold = exact_randomisation_pvalues(x.ravel(), (total - x).ravel(),
                                             (w - 1).ravel()).reshape(N, T)
    return np.minimum(1.0, 2.0 * p_fold), method
