"""Prospective space-time permutation scan (Kulldorff et al. 2005) on H3 cells.

Cases are counted by H3 cell (parent of the stored base cell at ``res``) and day over a study
window ending on the analysis day. The locations — and the zone centres — are the cells with
at least one case in the study window (the permutation scan needs cases only, no
population). A *cylinder* is a zone (a centre cell plus its H3 rings
``0 … k``, ``k`` up to the largest ring whose centres lie within ``max_radius_m``) times a
window of the last ``1 … max_days`` days (prospective: every window ends on the end date).

With ``C`` cases in all, ``C_z`` in zone ``z`` over the whole study window and ``C_d`` on day
``d``, the expected count is ``μ_zd = C_z·C_d / C``; for a cylinder ``A``,
``μ_A = C_z·S_w / C`` where ``S_w`` is the number of cases on the last ``w`` days. When
``c_A > μ_A`` (and ``c_A ≥ min_cases``) its log-likelihood ratio is

``LLR = c_A ln(c_A/μ_A) + (C − c_A) ln((C − c_A)/(C − μ_A))``, else 0.

Monte Carlo inference shuffles the days among the cases (locations kept), which keeps every
``C_z`` and ``C_d`` — so ``μ`` is fixed and only ``c_A`` changes between replicates. Each
replicate's maximum LLR forms the null distribution; ``p = rank/(R + 1)`` with ``rank = 1 +
#{replicate maxima ≥ observed}``. For a daily analysis the recurrence interval is ``1/p`` days.
Secondary clusters are the next-highest cylinders sharing no cell with any cluster already
reported, each tested against the same maxima (conservative, as SaTScan does).

Speed: the zone × cell membership is one sparse CSR matrix (duplicated zones removed, zones
with fewer than ``min_cases`` cases in total dropped — no replicate can reach them); per batch
of replicates the case counts by cell × trailing window come from one ``bincount`` and a
cumulative sum, and the zone counts from one sparse × dense product. Because ``μ`` depends on
a zone only through ``C_z``, a replicate's maximum LLR is reached at the largest count among
zones of equal ``C_z`` (LLR rises with ``c`` for fixed ``μ``): one ``maximum.reduceat`` over
zones sorted by ``C_z`` leaves a few dozen LLRs to evaluate per window and replicate.

References
----------
Kulldorff M, Heffernan R, Hartman J, Assunção R, Mostashari F. A space–time permutation scan
statistic for disease outbreak detection. PLoS Med 2005;2(3):e59.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h3
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import xlogy

from geo.cells import disk_pairs
from geo.grid import cells_at

__all__ = [
    "ScanResult",
    "radius_to_k",
    "scan_zones",
    "scan_llr",
    "space_time_scan",
    "scan_counts",
]


@dataclass(frozen=True)
class ScanResult:
    """Clusters (primary first, then non-overlapping secondaries) and the Monte Carlo maxima.

    Attributes
    ----------
    clusters : DataFrame
        ``rank, centre, cells, radius_k, n_cells, start, end, days, observed, expected, llr,
        p, recurrence_days, zone_cases`` (``centre`` uint64, ``cells`` a uint64 array per row,
        ``zone_cases`` the zone's cases over the whole study window, ``C_z``).
    null_llr : ndarray
        Maximum LLR of each replicate (length ``replicates``).
    params : dict
        The parameters used (end date, window, k, number of zones …).
    """

    clusters: pd.DataFrame
    null_llr: np.ndarray
    params: dict = field(default_factory=dict)


def radius_to_k(res: int, max_radius_m: float) -> int:
    """Largest ring ``k`` whose cell centres lie within ``max_radius_m`` of the centre.

    Neighbouring H3 centres are ``√3 × edge`` apart; the edge is H3's average hexagon edge
    length at ``res`` (a constant table). ``k = floor(max_radius_m / (√3·edge))``.
    """
    if isinstance(res, bool) or not isinstance(res, int | np.integer) or not 0 <= res <= 15:
        raise ValueError(f"res must be an integer 0–15, got {res!r}")
    if not np.isfinite(max_radius_m) or max_radius_m < 0:
        raise ValueError(f"max_radius_m must be ≥ 0 metres, got {max_radius_m!r}")
    spacing = np.sqrt(3.0) * h3.average_hexagon_edge_length(int(res), unit="m")
    return int(np.floor(max_radius_m / spacing + 1e-9))


def scan_zones(cells: np.ndarray, k_max: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Zones = each cell plus its rings 0…k (k ≤ ``k_max``), among ``cells``; duplicates removed.

    Parameters
    ----------
    cells : array of uint64
        Unique cells (the locations with cases).
    k_max : int
        Largest ring.

    Returns
    -------
    members : csr_matrix (zones × cells), binary
    centre : ndarray of int (position in ``cells`` of each zone's centre)
    k : ndarray of int (ring radius of each zone)
    """
    cells = np.asarray(cells, dtype=np.uint64)
    n = cells.size
    blocks, centres, ks = [], [], []
    prev_sizes = None
    for k in range(int(k_max) + 1):
        i, j = disk_pairs(cells, k)
        m = sp.csr_matrix((np.ones(i.size), (i, j)), shape=(n, n))
        m.sum_duplicates()
        sizes = np.diff(m.indptr)
        # zones are nested in k: the same size as at k - 1 means the same set
        keep = np.ones(n, bool) if prev_sizes is None else sizes > prev_sizes
        prev_sizes = sizes
        blocks.append(m[keep])
        centres.append(np.flatnonzero(keep))
        ks.append(np.full(int(keep.sum()), k))
    members = sp.vstack(blocks, format="csr")
    members.sort_indices()
    members = members.astype(np.float32)
    members.data[:] = 1.0
    centre = np.concatenate(centres)
    kk = np.concatenate(ks)
    # identical sets from different centres: hash each row by two random uint64 sums
    rng = np.random.default_rng(12345)  # fixed: hashing only, never affects results
    w1 = rng.integers(0, 2**63, n, dtype=np.uint64)
    w2 = rng.integers(0, 2**63, n, dtype=np.uint64)
    rows = np.repeat(np.arange(members.shape[0]), np.diff(members.indptr))
    h1 = np.zeros(members.shape[0], np.uint64)
    h2 = np.zeros(members.shape[0], np.uint64)
    with np.errstate(over="ignore"):
        np.add.at(h1, rows, w1[members.indices])
        np.add.at(h2, rows, w2[members.indices])
    key = pd.DataFrame({"a": h1, "b": h2, "s": np.diff(members.indptr)})
    first = ~key.duplicated().to_numpy()
    return members[first], centre[first], kk[first]


def scan_llr(c, mu, total) -> np.ndarray:
    """Space-time permutation LLR of cylinders with ``c`` observed and ``mu`` expected of ``total``.

    ``c ln(c/μ) + (C − c) ln((C − c)/(C − μ))`` where ``c > μ``, else 0 (Kulldorff 2005, eq. 1).
    """
    c = np.asarray(c, float)
    mu = np.asarray(mu, float)
    C = float(total)
    if np.any(mu < 0) or np.any(c < 0) or np.any(c > C) or np.any(mu > C):
        raise ValueError("need 0 ≤ c ≤ total and 0 ≤ mu ≤ total")
    out = np.zeros(np.broadcast(c, mu).shape)
    cc, mm = np.broadcast_arrays(c, mu)
    ok = cc > mm
    a, m = cc[ok], mm[ok]
    out[ok] = xlogy(a, a / m) + xlogy(C - a, (C - a) / np.maximum(C - m, 1e-300))
    return out


def _check(incidents, res, days, max_days, replicates, min_cases, max_radius_m, max_clusters):
    for c in ("occurred_at", "h3"):
        if c not in incidents.columns:
            raise ValueError(
                f"the scan needs incident column {c!r}; found {list(incidents.columns)}")
    ints = {"res": res, "days": days, "max_days": max_days, "replicates": replicates,
            "min_cases": min_cases, "max_clusters": max_clusters}
    for name, v in ints.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer):
            raise ValueError(f"{name} must be an integer, got {v!r}")
    if not 0 <= res <= 15:
        raise ValueError(f"res must be 0–15, got {res}")
    if days < 2:
        raise ValueError(f"days (study window) must be ≥ 2, got {days}")
    if not 1 <= max_days < days:
        raise ValueError(f"max_days must be between 1 and days − 1 = {days - 1}, got {max_days}")
    if replicates < 1:
        raise ValueError(f"replicates must be ≥ 1 (999 is usual), got {replicates}")
    if min_cases < 1 or max_clusters < 1:
        raise ValueError("min_cases and max_clusters must be ≥ 1")
    if not isinstance(max_radius_m, int | float | np.integer | np.floating) or max_radius_m < 0:
        raise ValueError(f"max_radius_m must be ≥ 0 metres, got {max_radius_m!r}")


def scan_counts(incidents: pd.DataFrame, res: int, end=None, days: int = 30):
    """Cases of the study window: cell per case, day index per case (0 = first day), cells.

    Returns ``(cells, cell_index, day_index, start, end)``; cases outside the window dropped.
    """
    t = pd.to_datetime(incidents["occurred_at"]).dt.floor("D")
    hi = pd.Timestamp(end).floor("D") if end is not None else t.max()
    if pd.isna(hi):
        raise ValueError("no incident has a date; give end=")
    lo = hi - pd.Timedelta(days=days - 1)
    d = ((t - lo) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
    cell = cells_at(incidents, res)  # point-in-hexagon, not the parent of h3
    ok = np.isfinite(d) & (d >= 0) & (d < days) & (cell != 0)
    cells, ci = np.unique(cell[ok], return_inverse=True)
    return cells, ci.astype(np.int64), d[ok].astype(np.int64), lo, hi


def _window_counts(ci, off, n, W, B):
    """Dense (n × B·W) cumulative counts for B replicates; ``off`` is (B, N) day offsets."""
    b = np.broadcast_to(np.arange(B)[:, None], off.shape)
    keep = off < W
    key = (np.broadcast_to(ci, off.shape)[keep] * B + b[keep]) * W + off[keep]
    x = np.bincount(key, minlength=n * B * W).reshape(n, B, W).cumsum(axis=2)
    return x.reshape(n, B * W).astype(np.float32)


def _max_llr(c, mu, C, min_cases):
    """Column-wise max LLR of a (zones × windows) count block against ``mu`` (same shape)."""
    c, mu = np.broadcast_arrays(c, mu)
    ok = (c > mu) & (c >= min_cases)
    out = np.zeros(c.shape)
    a, m = c[ok], mu[ok]
    out[ok] = xlogy(a, a / m) + xlogy(C - a, (C - a) / (C - m))
    return out


def space_time_scan(
    incidents: pd.DataFrame,
    *,
    res: int = 9,
    end=None,
    days: int = 30,
    max_radius_m: float = 1207.0,
    max_days: int = 7,
    replicates: int = 999,
    min_cases: int = 3,
    max_clusters: int = 10,
    seed: int | None = 0,
    batch: int = 32,
) -> ScanResult:
    """Prospective space-time permutation scan on H3 cells.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents with ``occurred_at`` and uint64 ``h3`` (base resolution). Not mutated.
    res : int
        Resolution of the scan's locations (parent roll-up).
    end : date-like, optional
        Analysis day (last day of every window); default the last incident day.
    days : int
        Study window length (30).
    max_radius_m : float
        Largest zone radius in metres (1207 m = 0.75 mi), turned into rings by
        :func:`radius_to_k`.
    max_days : int
        Longest cluster duration (7).
    replicates : int
        Monte Carlo replicates (999).
    min_cases : int
        Fewest cases a cluster may have (3).
    max_clusters : int
        Most clusters reported (primary + secondaries).
    seed : int or None
        Seed of ``np.random.default_rng`` (same seed, same p-values).
    batch : int
        Replicates per sparse product (memory/speed trade-off only; lowered automatically so
        one batch's cell × window counts stay under about 64 MB).

    Returns
    -------
    ScanResult

    References
    ----------
    Kulldorff et al., PLoS Med 2005;2(3):e59.
    """
    _check(incidents, res, days, max_days, replicates, min_cases, max_radius_m, max_clusters)
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    cells, ci, di, lo, hi = scan_counts(incidents, int(res), end, days)
    k_max = radius_to_k(int(res), float(max_radius_m))
    params = {"start": lo, "end": hi, "days": days, "max_days": max_days, "res": int(res),
              "k_max": k_max, "replicates": replicates, "seed": seed, "min_cases": min_cases}
    empty = pd.DataFrame(columns=["rank", "centre", "cells", "radius_k", "n_cells", "start",
                                  "end", "days", "observed", "expected", "llr", "p",
                                  "recurrence_days", "zone_cases"])
    C = ci.size
    params["cases"] = C
    if C == 0:
        return ScanResult(empty, np.zeros(replicates), params)
    n, W = cells.size, int(max_days)
    members, centre, kk = scan_zones(cells, k_max)
    cz = members @ np.bincount(ci, minlength=n).astype(float)
    keep = cz >= min_cases
    members, centre, kk, cz = members[keep], centre[keep], kk[keep], cz[keep]
    params["zones"] = int(members.shape[0])
    if members.shape[0] == 0:
        return ScanResult(empty, np.zeros(replicates), params)
    off = (days - 1) - di
    sw = np.cumsum(np.bincount(off[off < W], minlength=W)).astype(float)
    mu = np.outer(cz, sw) / C  # zones × windows, fixed under permutation
    obs = (members @ _window_counts(ci, off[None, :], n, W, 1)).astype(float)
    llr = _max_llr(obs, mu, C, min_cases)
    # μ depends on the zone only through C_z: per replicate, the largest count among zones
    # of equal C_z (a contiguous block once sorted) is the only one that can hold the maximum.
    order = np.argsort(cz, kind="stable")
    m_sorted = members[order]
    cz_s = cz[order]
    starts = np.flatnonzero(np.r_[True, cz_s[1:] != cz_s[:-1]])
    mu_g = np.outer(cz_s[starts], sw) / C  # groups × windows
    rng = np.random.default_rng(seed)
    batch = max(1, min(int(batch), 8_000_000 // (n * W)))  # keep a batch's counts ≤ ~64 MB
    null = np.empty(replicates)
    done = 0
    while done < replicates:
        B = min(batch, replicates - done)
        perm = rng.permuted(np.broadcast_to(off, (B, C)), axis=1)
        cnt = m_sorted @ _window_counts(ci, perm, n, W, B)  # zones × (B·W)
        gmax = np.maximum.reduceat(cnt, starts, axis=0).reshape(-1, B, W).astype(float)
        vals = _max_llr(gmax, mu_g[:, None, :], C, min_cases)
        null[done: done + B] = vals.max(axis=(0, 2))
        done += B
    clusters = _clusters(llr, obs, mu, members, centre, kk, cells, null, max_clusters, hi, cz)
    return ScanResult(clusters if len(clusters) else empty, null, params)


def _clusters(llr, obs, mu, members, centre, kk, cells, null, max_clusters, hi, cz) -> pd.DataFrame:
    flat = llr.ravel()
    cand = np.flatnonzero(flat > 0)
    cand = cand[np.argsort(-flat[cand], kind="stable")]
    W = llr.shape[1]
    used = np.zeros(cells.size, bool)
    rows = []
    R = null.size
    for f in cand:
        z, w = divmod(int(f), W)
        mem = members.indices[members.indptr[z]: members.indptr[z + 1]]
        if used[mem].any():
            continue
        used[mem] = True
        p = (1 + int(np.sum(null >= flat[f] - 1e-9))) / (R + 1)
        rows.append({
            "rank": len(rows) + 1,
            "centre": cells[centre[z]],
            "cells": np.sort(cells[mem]),
            "radius_k": int(kk[z]),
            "n_cells": int(mem.size),
            "start": (hi - pd.Timedelta(days=w)).date(),
            "end": hi.date(),
            "days": w + 1,
            "observed": int(round(obs[z, w])),
            "expected": float(mu[z, w]),
            "llr": float(flat[f]),
            "p": p,
            "recurrence_days": 1.0 / p,
            "zone_cases": int(round(cz[z])),
        })
        if len(rows) >= max_clusters:
            break
    return pd.DataFrame(rows)
