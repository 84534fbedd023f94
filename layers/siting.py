"""Maximal covering location (MCLP): choose k new sites to cover the most burden.

Array core in the style of spopt's ``MCLP.from_cost_matrix``: demand weights ``w`` (n,), a
binary sparse coverage matrix ``C`` (n × m; :func:`layers.coverage.coverage_matrix`), a mask of
demand already covered by existing sites, ``k``, and constraints — a mask of allowed candidates
(type filters, 24/7 only) and spacing conflicts (pairs of candidates that may not both be
chosen). The objective is the burden *newly* covered: ``f(S) = Σ w_i`` over demand points not
covered by an existing site and within reach of at least one site of ``S``.

Solvers:

* ``"greedy"`` — repeatedly add the site of largest marginal gain; gains live in one vector
  ``Cᵀ r`` and are updated only on the rows a pick newly covers (``O(nnz)`` in all).
* ``"swap"`` — greedy, then 1-swap local search (best improving swap of a chosen site for
  an unchosen one, respecting spacing) until no swap gains.
* ``"heuristic"`` (default) — ``swap``, then restarts of the swap search from the solutions of
  a Lagrangian relaxation (:mod:`layers.siting_lagrange`), which also gives an upper bound.
* ``"exact"`` — the integer program on HiGHS (:mod:`layers.siting_exact`), warm-started from
  the heuristic, with its proven upper (dual) bound and gap.

Every result carries an upper bound. For the heuristics it is the submodular bound
``f(S) + Σ top-k marginal gains at S`` (valid because ``f`` is monotone submodular; spacing only
shrinks the feasible set), tightened by the Lagrangian bound (``heuristic``) and by the LP
relaxation when ``lp_bound=True``.

References
----------
Church, R. and ReVelle, C. (1974). The maximal covering location problem. *Papers of the
Regional Science Association* 32, 101–118.
Nemhauser, G., Wolsey, L. and Fisher, M. (1978). An analysis of approximations for maximizing
submodular set functions. *Mathematical Programming* 14, 265–294.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp

__all__ = [
    "MCLPProblem",
    "SitingResult",
    "METHODS",
    "make_problem",
    "solve_mclp",
    "greedy",
    "swap_search",
    "order_greedily",
    "coverage_value",
]

METHODS = ("greedy", "swap", "heuristic", "exact")


@dataclass(frozen=True)
class MCLPProblem:
    """A validated MCLP instance (arrays are private copies; build with :func:`make_problem`)."""

    weights: np.ndarray  # (n,) float, ≥ 0
    cover: sp.csr_matrix  # (n, m) binary, demand × candidate
    cover_csc: sp.csc_matrix
    existing: np.ndarray  # (n,) bool: already covered by an existing site
    allowed: np.ndarray  # (m,) bool
    conflicts: sp.csr_matrix  # (m, m) symmetric binary: may not both be chosen
    k: int

    @property
    def n(self) -> int:
        return self.cover.shape[0]

    @property
    def m(self) -> int:
        return self.cover.shape[1]

    @property
    def residual(self) -> np.ndarray:
        """Weight of demand not covered by existing sites."""
        return np.where(self.existing, 0.0, self.weights)


@dataclass(frozen=True)
class SitingResult:
    """Outcome of a siting run (all burden figures in the units of the weights).

    ``chosen`` holds candidate column indices in presentation order (greedy order) and
    ``marginal`` the burden each one newly covers given the ones before it. ``objective`` is
    the burden newly covered (``covered_after - covered_before``); ``upper_bound`` bounds the
    best possible objective and ``gap = (upper_bound - objective) / upper_bound``.
    """

    chosen: np.ndarray
    marginal: np.ndarray
    total_burden: float
    covered_before: float
    covered_after: float
    objective: float
    upper_bound: float
    gap: float
    method: str
    status: str
    time_s: float

    @property
    def coverage_pct_before(self) -> float:
        return 100.0 * self.covered_before / self.total_burden if self.total_burden else 0.0

    @property
    def coverage_pct_after(self) -> float:
        return 100.0 * self.covered_after / self.total_burden if self.total_burden else 0.0


def _gather(
    indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated index slices of ``rows`` and, for each entry, the position in ``rows``."""
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    owner = np.repeat(np.arange(rows.size), lens)
    offs = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    return indices[starts[owner] + offs], owner


def make_problem(
    weights,
    coverage,
    k: int,
    *,
    existing=None,
    allowed=None,
    conflicts: tuple[np.ndarray, np.ndarray] | None = None,
) -> MCLPProblem:
    """Validate arrays into an :class:`MCLPProblem` (inputs are never modified).

    Parameters
    ----------
    weights : array-like (n,)
        Demand (burden) per point, finite and ≥ 0.
    coverage : scipy sparse matrix or array (n, m)
        Non-zero where candidate ``j`` covers demand point ``i``.
    k : int
        Number of new sites, 1 ≤ k ≤ number of allowed candidates.
    existing : array-like of bool (n,), optional
        Demand already covered by existing sites.
    allowed : array-like of bool (m,), optional
        Candidates that may be chosen (type / 24/7 filters).
    conflicts : (a, b) index arrays, optional
        Candidate pairs that may not both be chosen (closer than the minimum spacing).
    """
    cov = sp.csr_matrix(coverage, copy=True)
    n, m = cov.shape
    w = np.asarray(weights, dtype=float).ravel().copy()
    if w.size != n:
        raise ValueError(f"weights has {w.size} entries but coverage has {n} rows (demand points)")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and non-negative (burden per demand point)")
    if m == 0:
        raise ValueError("no candidate sites: coverage has 0 columns; give at least k candidates")
    cov.data = (cov.data != 0).astype(np.int8)
    cov.eliminate_zeros()
    cov.sum_duplicates()
    cov.sort_indices()
    ex = np.zeros(n, bool) if existing is None else np.asarray(existing, dtype=bool).ravel().copy()
    if ex.size != n:
        raise ValueError(
            f"existing mask has {ex.size} entries, expected {n} (one per demand point)"
        )
    al = np.ones(m, bool) if allowed is None else np.asarray(allowed, dtype=bool).ravel().copy()
    if al.size != m:
        raise ValueError(f"allowed mask has {al.size} entries, expected {m} (one per candidate)")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k (number of new sites) must be a positive integer, got {k!r}")
    if int(k) > int(al.sum()):
        raise ValueError(
            f"k = {k} exceeds the {int(al.sum())} allowed candidate sites; lower k or relax the "
            "type / 24/7 filters"
        )
    if conflicts is None:
        a = b = np.empty(0, np.int64)
    else:
        a, b = (np.asarray(x, dtype=np.int64).ravel() for x in conflicts)
        if a.size != b.size or (
            a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= m)
        ):
            raise ValueError(
                "conflicts must be two equal-length arrays of candidate indices 0..m-1"
            )
    keep = a != b
    a, b = a[keep], b[keep]
    conf = sp.csr_matrix((np.ones(2 * a.size, np.int8), (np.r_[a, b], np.r_[b, a])), shape=(m, m))
    conf.sum_duplicates()
    conf.data[:] = 1
    return MCLPProblem(w, cov, cov.tocsc(), ex, al, conf, int(k))


def coverage_value(problem: MCLPProblem, chosen) -> float:
    """Burden newly covered by a set of candidates (the MCLP objective), computed exactly."""
    idx = np.asarray(chosen, dtype=np.int64)
    rows = problem.cover_csc[:, idx].indices if idx.size else np.empty(0, np.int64)
    hit = np.zeros(problem.n, bool)
    hit[rows] = True
    return float(problem.residual[hit & ~problem.existing].sum())


def _greedy_core(
    problem: MCLPProblem,
    pool: np.ndarray,
    k: int,
    use_conflicts: bool,
    start: np.ndarray | None = None,
):
    """Greedy picks among ``pool`` (bool mask) added to ``start``; (order, marginal, covered)."""
    C, Cc, conf = problem.cover, problem.cover_csc, problem.conflicts
    w = problem.weights
    covered = problem.existing.copy()
    blocked = ~pool
    if start is not None and start.size:
        covered[Cc[:, start].indices] = True
        blocked[start] = True
        if use_conflicts:
            blocked[conf[start].indices] = True
        k -= start.size
    gains = np.asarray(Cc.T @ np.where(covered, 0.0, w), dtype=float).ravel()
    order, marg = [], []
    for _ in range(k):
        g = np.where(blocked, -np.inf, gains)
        j = int(np.argmax(g))
        if g[j] == -np.inf:
            break
        rows = Cc.indices[Cc.indptr[j] : Cc.indptr[j + 1]]
        new = rows[~covered[rows]]
        order.append(j)
        marg.append(float(w[new].sum()))
        covered[new] = True
        if new.size:
            cols, owner = _gather(C.indptr, C.indices, new)
            gains -= np.bincount(cols, weights=w[new][owner], minlength=problem.m)
        blocked[j] = True
        if use_conflicts:
            blocked[conf.indices[conf.indptr[j] : conf.indptr[j + 1]]] = True
    return np.array(order, np.int64), np.array(marg, float), covered


def greedy(problem: MCLPProblem) -> tuple[np.ndarray, np.ndarray]:
    """Greedy MCLP: ``(chosen in pick order, marginal burden of each)``.

    Reaches at least ``1 - 1/e`` of the optimum without spacing conflicts (Nemhauser et al.
    1978). Stops early only if spacing leaves fewer than ``k`` compatible candidates.

    References
    ----------
    Church, R. and ReVelle, C. (1974). The maximal covering location problem.
    """
    order, marg, _ = _greedy_core(problem, problem.allowed, problem.k, True)
    return order, marg


def order_greedily(problem: MCLPProblem, chosen) -> tuple[np.ndarray, np.ndarray]:
    """Order a given set of sites greedily (largest marginal first), for presentation."""
    pool = np.zeros(problem.m, bool)
    pool[np.asarray(chosen, dtype=np.int64)] = True
    order, marg, _ = _greedy_core(problem, pool, int(pool.sum()), False)
    return order, marg


def swap_search(problem: MCLPProblem, chosen, max_iter: int = 1000) -> np.ndarray:
    """1-swap local search: apply the best improving (chosen → unchosen) swap until none gains.

    Swaps respect the allowed mask and spacing conflicts. Each round evaluates every
    (chosen ``s``, candidate ``j``) pair at once: the gain of ``j`` after dropping ``s`` is its
    current gain plus the weight of rows that only ``s`` covers and ``j`` also reaches — a
    ``k × m`` matrix from one sparse product.

    References
    ----------
    Teitz, M. and Bart, P. (1968). Heuristic methods for estimating the generalized vertex
    median of a weighted graph. *Operations Research* 16, 955–961.
    """
    C, Cc, conf = problem.cover, problem.cover_csc, problem.conflicts
    w, ex, n, m = problem.weights, problem.existing, problem.n, problem.m
    S = np.array(chosen, dtype=np.int64)
    if S.size == 0:
        return S
    in_s = np.zeros(m, bool)
    in_s[S] = True
    tol = 1e-9 * max(1.0, float(w.sum()))
    for _ in range(max_iter):
        rows, owner = _gather(Cc.indptr, Cc.indices, S)
        cnt = np.bincount(rows, minlength=n)
        gains = np.asarray(Cc.T @ np.where(~ex & (cnt == 0), w, 0.0)).ravel()
        only = ~ex[rows] & (cnt[rows] == 1)
        r, o = rows[only], owner[only]
        loss = np.bincount(o, weights=w[r], minlength=S.size)
        owned = sp.csr_matrix((w[r], (o, r)), shape=(S.size, n))
        cand = (owned @ C).toarray() + gains[None, :] - loss[:, None]
        blocked = np.broadcast_to((~problem.allowed | in_s)[None, :], cand.shape)
        if conf.nnz:
            near = conf[S].toarray()  # dropping s lifts s's own conflicts
            blocked = blocked | ((near.sum(axis=0)[None, :] - near) > 0)
        cand[blocked] = -np.inf
        flat = int(np.argmax(cand))
        i, j = divmod(flat, m)
        if not cand[i, j] > tol:
            break
        in_s[S[i]], in_s[j] = False, True
        S[i] = j
    return np.array(S, np.int64)


def _submodular_bound(problem: MCLPProblem, chosen: np.ndarray, value: float) -> float:
    """``f(S) + Σ`` of the k largest marginal gains at ``S`` over allowed candidates."""
    hit = np.zeros(problem.n, bool)
    if chosen.size:
        hit[problem.cover_csc[:, chosen].indices] = True
    gains = np.asarray(problem.cover_csc.T @ np.where(hit, 0.0, problem.residual)).ravel()
    gains = np.sort(gains[problem.allowed])[::-1][: problem.k]
    return value + float(np.clip(gains, 0, None).sum())


def solve_mclp(
    weights,
    coverage,
    k: int,
    *,
    existing=None,
    allowed=None,
    conflicts: tuple[np.ndarray, np.ndarray] | None = None,
    method: str = "heuristic",
    lp_bound: bool = False,
    time_limit: float = 60.0,
    mip_rel_gap: float = 1e-6,
    progress: Callable[[dict], None] | None = None,
) -> SitingResult:
    """Solve a maximal covering location problem from arrays.

    Parameters
    ----------
    weights, coverage, k, existing, allowed, conflicts
        See :func:`make_problem`.
    method : {"greedy", "swap", "heuristic", "exact"}
        ``swap`` = greedy + 1-swap local search; ``heuristic`` = ``swap`` + Lagrangian-guided
        swap restarts; ``exact`` = HiGHS MIP (warm-started from the heuristic; stops at
        ``time_limit`` seconds with its best solution and bound).
    lp_bound : bool
        Also solve the LP relaxation to tighten a heuristic's upper bound.
    time_limit, mip_rel_gap : float
        HiGHS limits for ``exact``.
    progress : callable, optional
        Called with ``{"time", "objective", "bound", "gap"}`` dicts during an exact solve.

    Returns
    -------
    SitingResult

    References
    ----------
    Church, R. and ReVelle, C. (1974). The maximal covering location problem. *Papers of the
    Regional Science Association* 32, 101–118.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    t0 = time.perf_counter()
    prob = make_problem(
        weights, coverage, k, existing=existing, allowed=allowed, conflicts=conflicts
    )
    chosen, _ = greedy(prob)
    status = "heuristic"
    if method != "greedy":
        chosen = swap_search(prob, chosen)
    value = coverage_value(prob, chosen)
    ub = _submodular_bound(prob, chosen, value)
    if method in ("heuristic", "exact"):
        from layers.siting_lagrange import lagrangian_search

        chosen, value, lag_ub = lagrangian_search(prob, chosen)
        ub = min(ub, lag_ub)
    if method == "exact" or lp_bound:
        from layers.siting_exact import solve_lp_bound, solve_mip

        if method == "exact":
            mip = solve_mip(
                prob,
                warm_start=chosen,
                time_limit=time_limit,
                mip_rel_gap=mip_rel_gap,
                progress=progress,
            )
            mip_value = coverage_value(prob, mip.chosen)
            if mip_value >= value:  # keep the heuristic's set if the MIP stopped on a worse one
                chosen, value = mip.chosen, mip_value
            status = mip.status
            ub = min(ub, mip.bound)
        else:
            ub = min(ub, solve_lp_bound(prob))
    chosen = _pad(prob, chosen)
    value = coverage_value(prob, chosen)
    order, marg = order_greedily(prob, chosen)
    before = float(prob.weights[prob.existing].sum())
    ub = max(ub, value)
    gap = max(0.0, (ub - value) / ub) if ub > 0 else 0.0
    gap = 0.0 if gap < 1e-12 else gap
    return SitingResult(
        chosen=order,
        marginal=marg,
        total_burden=float(prob.weights.sum()),
        covered_before=before,
        covered_after=before + value,
        objective=value,
        upper_bound=float(ub),
        gap=float(gap),
        method=method,
        status=status,
        time_s=time.perf_counter() - t0,
    )


def _pad(problem: MCLPProblem, chosen: np.ndarray) -> np.ndarray:
    """Complete a set of fewer than k sites greedily (spacing-compatible, allowed candidates)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    if chosen.size >= problem.k:
        return chosen
    extra, _, _ = _greedy_core(problem, problem.allowed, problem.k, True, start=chosen)
    return np.r_[chosen, extra]
