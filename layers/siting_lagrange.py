"""Lagrangian relaxation for maximal covering: an upper bound and restarts for the swap search.

Relaxing the coverage constraints ``y_i ≤ Σ_{j ∈ N_i} x_j`` with multipliers
``0 ≤ λ_i ≤ w_i`` splits the problem:

    L(λ) = Σ_i max(0, w_i − λ_i) + (sum of the k largest c_j),   c_j = Σ_{i ∈ N_j} λ_i

over the allowed candidates. ``L(λ)`` bounds the optimum from above for every ``λ`` (spacing
conflicts are relaxed too, which only loosens it); subgradient steps on ``λ`` lower it toward the
LP bound. Each step's top-k set is also a candidate solution: every few rounds the best one seen
(repaired to respect spacing) is improved by the 1-swap local search, which lets the search
leave the greedy solution's basin. Each round costs two sparse products (``O(nnz)``).

References
----------
Galvão, R. D. and ReVelle, C. (1996). A Lagrangean heuristic for the maximal covering location
problem. *European Journal of Operational Research* 88, 114–123.
Held, M., Wolfe, P. and Crowder, H. (1974). Validation of subgradient optimization.
*Mathematical Programming* 6, 62–88.
"""

from __future__ import annotations

import numpy as np

from layers.siting_heuristic import swap_search
from layers.siting_problem import MCLPProblem, _gather, coverage_value

__all__ = ["lagrangian_search"]


def _repair(problem: MCLPProblem, scores: np.ndarray) -> np.ndarray:
    """Top-k allowed candidates by ``scores`` that respect spacing (taken in score order)."""
    conf = problem.conflicts
    blocked = ~problem.allowed.copy()
    out = []
    for j in np.argsort(-scores, kind="stable"):
        if blocked[j]:
            continue
        out.append(j)
        if len(out) == problem.k:
            break
        blocked[conf.indices[conf.indptr[j] : conf.indptr[j + 1]]] = True
    return np.array(out, np.int64)


def lagrangian_search(
    problem: MCLPProblem,
    start: np.ndarray,
    *,
    rounds: int = 150,
    swap_every: int = 50,
    step: float = 2.0,
) -> tuple[np.ndarray, float, float]:
    """Improve ``start`` with Lagrangian-guided swap restarts; return (best, value, bound).

    Parameters
    ----------
    problem : MCLPProblem
    start : numpy.ndarray
        A feasible solution (e.g. greedy + swap); never returned worse.
    rounds : int
        Subgradient iterations.
    swap_every : int
        Every this many rounds the best Lagrangian solution since the last restart goes
        through :func:`layers.siting_heuristic.swap_search`.
    step : float
        Initial Polyak step factor, halved when the bound stalls for 5 rounds.

    Returns
    -------
    best : numpy.ndarray of int64
    value : float
        Objective of ``best`` (burden newly covered).
    bound : float
        The lowest ``L(λ)`` found: an upper bound on the optimum.

    References
    ----------
    Galvão, R. D. and ReVelle, C. (1996). A Lagrangean heuristic for the maximal covering
    location problem.
    """
    Cc = problem.cover_csc
    ct = Cc.T.tocsr()
    w, k, n = problem.residual, problem.k, problem.n
    has_conf = problem.conflicts.nnz > 0
    best = np.asarray(start, dtype=np.int64)
    best_v = coverage_value(problem, best)
    lam = 0.5 * w
    bound, stall = np.inf, 0
    seen = {tuple(sorted(best.tolist()))}
    pending, pending_v = None, -1.0
    for it in range(rounds):
        c = ct @ lam
        c[~problem.allowed] = -np.inf
        x = np.argpartition(-c, k - 1)[:k]
        value_l = float(np.clip(w - lam, 0, None).sum() + c[x].sum())
        if value_l < bound - 1e-9:
            bound, stall = value_l, 0
        else:
            stall += 1
            if stall >= 5:
                step, stall = step * 0.5, 0
        rows, _ = _gather(Cc.indptr, Cc.indices, x)
        cnt = np.bincount(rows, minlength=n)
        v = float(w[cnt > 0].sum())
        if v > pending_v:
            pending, pending_v = (c if has_conf else x), v
        if not has_conf and v > best_v:
            best, best_v = x.astype(np.int64), v
        sub = (w > lam).astype(float) - cnt
        norm = float(sub @ sub)
        if norm == 0 or bound - best_v <= 1e-9 * max(1.0, bound):
            break
        lam = np.clip(lam + step * (bound - best_v) / norm * sub, 0.0, w)
        if it % swap_every == swap_every - 1 and pending is not None:
            cand = _repair(problem, pending.copy()) if has_conf else pending
            key = tuple(sorted(cand.tolist()))
            if key not in seen and cand.size == k:
                seen.add(key)
                s = swap_search(problem, cand)
                sv = coverage_value(problem, s)
                if sv > best_v:
                    best, best_v = s, sv
            pending, pending_v = None, -1.0
    return best, best_v, bound
