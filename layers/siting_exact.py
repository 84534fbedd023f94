"""Exact maximal covering location on HiGHS, built directly from sparse arrays.

The model (Church & ReVelle 1974), over the reduced instance:

    maximise   Σ_i w_i y_i
    subject to y_i − Σ_{j ∈ N_i} x_j ≤ 0      for every demand row i
               Σ_j x_j ≤ k
               x_a + x_b ≤ 1                  for candidate pairs closer than the spacing
               x_j ∈ {0, 1},  0 ≤ y_i ≤ 1

``Σ x ≤ k`` has the same optimum as ``= k`` (weights are non-negative, adding a site never
loses coverage) and stays feasible when spacing admits fewer than ``k`` sites; the caller pads.

Reduction before the solve (exact, objective-preserving): demand already covered by an
existing site, of zero weight, or out of reach of every allowed candidate is dropped; demand
rows reached by the *same* set of candidates are merged (weights summed), since their ``y`` are
interchangeable; a candidate whose rows are a subset of another conflict-free candidate's is
dropped (the other is never worse). The constraint matrix is assembled with ``scipy.sparse``
and handed to
``Highs.passModel`` in column-wise (CSC) form in one call — no per-row Python modelling.

References
----------
Church, R. and ReVelle, C. (1974). The maximal covering location problem. *Papers of the
Regional Science Association* 32, 101–118.
Huangfu, Q. and Hall, J. A. J. (2018). Parallelizing the dual revised simplex method.
*Mathematical Programming Computation* 10, 119–142 (HiGHS).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

import highspy
import numpy as np
import scipy.sparse as sp

from layers.siting_problem import MCLPProblem

__all__ = ["MIPResult", "reduce_problem", "solve_mip", "solve_lp_bound"]


@dataclass(frozen=True)
class MIPResult:
    """Best solution of a MIP solve: chosen candidates, value, proven upper bound, status."""

    chosen: np.ndarray
    value: float
    bound: float
    status: str  # "optimal" | "time_limit" | other HiGHS model status text
    time_s: float


def reduce_problem(problem: MCLPProblem):
    """Reduced ``(weights, coverage, columns)`` of the MIP: see the module notes.

    Returns
    -------
    w : numpy.ndarray (n',)
    cov : scipy.sparse.csr_matrix (n', m')
        Binary; columns are the allowed candidates listed in ``cols``.
    cols : numpy.ndarray of int64 (m',)
        Original candidate index of each column.
    """
    cols = np.flatnonzero(problem.allowed)
    sub = problem.cover[:, cols]
    reach = np.diff(sub.indptr) > 0
    rows = np.flatnonzero(~problem.existing & (problem.weights > 0) & reach)
    sub = sub[rows]
    w = problem.weights[rows]
    if rows.size:
        # Two independent 64-bit hashes of each row's column set (wrap-around sums are exact
        # and order-free); a collision of both has probability ~ n² / 2¹²⁸.
        rng = np.random.default_rng(20240517)
        keys = []
        for _ in range(2):
            h = rng.integers(0, np.iinfo(np.uint64).max, size=cols.size, dtype=np.uint64)
            vals = h[sub.indices]
            starts = sub.indptr[:-1]
            keys.append(
                np.add.reduceat(vals, starts) if vals.size else np.zeros(rows.size, np.uint64)
            )
        key = np.stack(keys + [np.diff(sub.indptr).astype(np.uint64)], axis=1)
        _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
        w = np.bincount(inv.ravel(), weights=w, minlength=first.size)
        sub = sub[first]
    keep = np.diff(sub.tocsc().indptr) > 0
    keep &= ~_dominated(sub, problem.conflicts[cols])
    return w, sp.csr_matrix(sub[:, keep]), cols[keep]


def _dominated(sub: sp.csr_matrix, conflicts: sp.csr_matrix) -> np.ndarray:
    """Columns whose rows are a subset of another column's that has no spacing conflicts.

    Swapping such a column for its dominator never loses coverage and never breaks spacing, so
    some optimal solution avoids it (``Σ x ≤ k``). Of identical columns the first is kept.
    """
    csc = sp.csc_matrix(sub, dtype=np.int32)
    size = np.diff(csc.indptr)
    ov = (csc.T @ csc).tocoo()
    a, b = ov.row, ov.col  # |N_a ∩ N_b| = ov.data
    free = np.diff(conflicts.indptr) == 0
    hit = (a != b) & (ov.data == size[a]) & free[b] & ((size[a] < size[b]) | (a > b))
    out = np.zeros(sub.shape[1], bool)
    out[a[hit]] = True
    return out


def _build(problem: MCLPProblem, integral: bool):
    w, cov, cols = reduce_problem(problem)
    n, m = cov.shape
    pos = np.full(problem.m, -1, np.int64)
    pos[cols] = np.arange(m)
    conf = sp.triu(problem.conflicts, k=1).tocoo()
    a, b = pos[conf.row], pos[conf.col]
    keep = (a >= 0) & (b >= 0)
    a, b = a[keep], b[keep]
    p = a.size
    pairs = sp.csr_matrix(
        (np.ones(2 * p), (np.r_[np.arange(p), np.arange(p)], np.r_[a, b])), shape=(p, m)
    )
    card = sp.csr_matrix(np.ones((1, m)))
    A = sp.bmat(
        [
            [-cov.astype(float), sp.identity(n, format="csr")],
            [card, None],
            [pairs, None],
        ],
        format="csc",
    )
    A = sp.csc_matrix(A, shape=(n + 1 + p, m + n))
    A.sort_indices()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m + n, n + 1 + p
    lp.col_cost_ = np.r_[np.zeros(m), w]
    lp.col_lower_ = np.zeros(m + n)
    lp.col_upper_ = np.ones(m + n)
    lp.row_lower_ = np.full(n + 1 + p, -inf)
    lp.row_upper_ = np.r_[np.zeros(n), float(problem.k), np.ones(p)]
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = m + n, n + 1 + p
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    if integral:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * m + [
            highspy.HighsVarType.kContinuous
        ] * n
    return lp, cov, cols


def _quiet_highs() -> highspy.Highs:
    """A ``Highs`` object, without the banner its constructor prints on standard output."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # stdout replaced (e.g. captured): no fd
        return highspy.Highs()
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            return highspy.Highs()
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _highs(options: dict) -> highspy.Highs:
    h = _quiet_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    for key, val in options.items():
        h.setOptionValue(key, val)
    return h


def solve_lp_bound(problem: MCLPProblem) -> float:
    """Upper bound on the MCLP objective from the LP relaxation (x in [0, 1]).

    References
    ----------
    Church, R. and ReVelle, C. (1974). The maximal covering location problem.
    """
    lp, cov, _ = _build(problem, integral=False)
    if lp.num_col_ == 0:
        return 0.0
    h = _highs({})
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"LP relaxation not solved: {h.modelStatusToString(h.getModelStatus())}")
    return float(h.getInfo().objective_function_value)


def solve_mip(
    problem: MCLPProblem,
    *,
    warm_start=None,
    time_limit: float = 60.0,
    mip_rel_gap: float = 1e-6,
    progress: Callable[[dict], None] | None = None,
) -> MIPResult:
    """Solve the MCLP integer program with HiGHS.

    Parameters
    ----------
    problem : MCLPProblem
    warm_start : array-like of int, optional
        Candidate indices of a feasible solution (e.g. the heuristic's), passed to
        ``Highs.setSolution`` as the first incumbent.
    time_limit : float
        Seconds; on reaching it the best solution found and the dual bound are returned
        with status ``"time_limit"``.
    mip_rel_gap : float
        Relative gap at which HiGHS declares optimality.
    progress : callable, optional
        Receives ``{"time", "objective", "bound", "gap"}`` at each improving solution and
        about once a second while the search runs.

    References
    ----------
    Church, R. and ReVelle, C. (1974). The maximal covering location problem.
    """
    if not (np.isfinite(time_limit) and time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    t0 = time.perf_counter()
    lp, cov, cols = _build(problem, integral=True)
    n, m = cov.shape
    if m == 0:
        return MIPResult(np.empty(0, np.int64), 0.0, 0.0, "optimal", time.perf_counter() - t0)
    h = _highs({"time_limit": float(time_limit), "mip_rel_gap": float(mip_rel_gap)})
    h.passModel(lp)
    if warm_start is not None:
        pos = np.full(problem.m, -1, np.int64)
        pos[cols] = np.arange(m)
        ws = pos[np.asarray(warm_start, dtype=np.int64)]
        x = np.zeros(m)
        x[ws[ws >= 0]] = 1.0
        y = np.minimum(1.0, cov @ x) if n else np.zeros(0)
        sol = highspy.HighsSolution()
        sol.col_value = list(np.r_[x, y])
        sol.value_valid = True
        h.setSolution(sol)
    if progress is not None:
        last = [-np.inf]

        def report(e):
            d = e.data_out
            t = float(d.running_time)
            if e.callback_type == highspy.cb.HighsCallbackType.kCallbackMipInterrupt:
                if t - last[0] < 1.0:  # the interrupt check fires often: report once a second
                    return
            last[0] = t
            progress(
                {
                    "time": t,
                    "objective": float(d.mip_primal_bound),
                    "bound": float(d.mip_dual_bound),
                    "gap": float(d.mip_gap),
                }
            )

        h.cbMipImprovingSolution.subscribe(report)
        h.cbMipInterrupt.subscribe(report)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    text = {
        highspy.HighsModelStatus.kOptimal: "optimal",
        highspy.HighsModelStatus.kTimeLimit: "time_limit",
    }.get(status, h.modelStatusToString(status))
    if info.primal_solution_status == 0:  # no feasible solution at all
        raise RuntimeError(f"HiGHS found no feasible siting solution ({text})")
    xval = np.asarray(h.getSolution().col_value[:m])
    chosen = cols[xval > 0.5]
    value = float(info.objective_function_value)
    bound = float(info.mip_dual_bound) if status != highspy.HighsModelStatus.kOptimal else value
    if status == highspy.HighsModelStatus.kOptimal:
        bound = max(value, float(info.mip_dual_bound))
    return MIPResult(chosen, value, bound, text, time.perf_counter() - t0)
