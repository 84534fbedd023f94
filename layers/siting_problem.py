"""The maximal covering location problem as validated arrays, and its objective.

:class:`MCLPProblem` is the instance every siting solver works on (:mod:`layers.siting`,
:mod:`layers.siting_heuristic`, :mod:`layers.siting_lagrange`, :mod:`layers.siting_exact`):
demand weights ``w`` (n,), a binary sparse coverage matrix ``C`` (n × m), a mask of demand
already covered by existing sites, a mask of allowed candidates, spacing conflicts between
candidates and ``k``. :func:`make_problem` validates arrays into one; :func:`coverage_value`
is the objective ``f(S) = Σ w_i`` over demand not covered by an existing site and reached by
``S``. The solvers import this module only, so none of them depends on another's module.

References
----------
Church, R. and ReVelle, C. (1974). The maximal covering location problem. *Papers of the
Regional Science Association* 32, 101–118.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["MCLPProblem", "make_problem", "coverage_value"]


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
