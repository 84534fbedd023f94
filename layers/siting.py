"""Maximal covering location (MCLP): choose k new sites to cover the most burden.

Array core in the style of spopt's ``MCLP.from_cost_matrix``: demand weights ``w`` (n,), a
binary sparse coverage matrix ``C`` (n × m; :func:`layers.coverage.coverage_matrix`), a mask of
demand already covered by existing sites, ``k``, and constraints — a mask of allowed candidates
(type filters, 24/7 only) and spacing conflicts (pairs of candidates that may not both be
chosen). The objective is the burden *newly* covered: ``f(S) = Σ w_i`` over demand points not
covered by an existing site and within reach of at least one site of ``S``.

The instance type and objective live in :mod:`layers.siting_problem` (re-exported here);
this module only dispatches between the solvers:

* ``"greedy"`` — repeatedly add the site of largest marginal gain; gains live in one vector
  ``Cᵀ r`` and are updated only on the rows a pick newly covers (``O(nnz)`` in all)
  (:mod:`layers.siting_heuristic`).
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

from layers.siting_exact import solve_lp_bound, solve_mip
from layers.siting_heuristic import greedy, order_greedily, pad_greedily, swap_search
from layers.siting_lagrange import lagrangian_search
from layers.siting_problem import MCLPProblem, coverage_value, make_problem

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
        chosen, value, lag_ub = lagrangian_search(prob, chosen)
        ub = min(ub, lag_ub)
    if method == "exact" or lp_bound:
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
    chosen = pad_greedily(prob, chosen)
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
