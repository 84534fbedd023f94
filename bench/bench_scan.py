"""Benchmark: the space-time scan, vectorised vs naive loops, and 999 replicates at 10k cells.

Run: ``.venv/bin/python bench/bench_scan.py`` (add ``--quick`` for a smaller big case).

1. Small instance (a few hundred cells × 30 days): the naive approach loops over every zone and
   window in Python for the observed data and each replicate; the vectorised scan
   (:func:`clustering.scan.space_time_scan`) does the same work. Both score the *same* day
   shuffles, their replicate maxima are checked equal, and the time per replicate is compared
   as a ratio in the same run.
2. Big instance: 10,000 occupied H3 res-9 cells × 30 days, 999 replicates, radius 1207 m
   (k = 3 rings), clusters up to 7 days — the Baltimore set-up at city scale.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clustering.scan import radius_to_k, scan_counts, space_time_scan  # noqa: E402
from geo.cells import cells_to_latlng, disk_pairs, haversine_m, polygon_to_cells  # noqa: E402

END = pd.Timestamp("2024-06-30")


def make_incidents(n_cells: int, n_cases: int, seed: int, days: int = 30) -> pd.DataFrame:
    """``n_cases`` cases over the ``n_cells`` res-9 cells nearest a city centre, ``days`` days
    (every cell has at least one case, so exactly ``n_cells`` locations)."""
    import shapely

    box = shapely.box(-80.05, 35.85, -79.55, 36.30)
    cells = polygon_to_cells(box, 9)
    lat, lon = cells_to_latlng(cells)
    near = np.argsort(haversine_m(lat, lon, 36.07, -79.80), kind="stable")
    if cells.size < n_cells:
        raise SystemExit(f"box holds only {cells.size} res-9 cells")
    rng = np.random.default_rng(seed)
    cells = np.sort(cells[near[:n_cells]])
    who = np.r_[np.arange(n_cells), rng.integers(0, n_cells, n_cases - n_cells)]
    t = END - pd.to_timedelta(rng.integers(0, days, n_cases), unit="D")
    return pd.DataFrame({"occurred_at": t, "h3": cells[who]})


def naive_max_llr(cells, ci, di, days, W, k_max, min_cases) -> float:
    """Every zone, every window, one Python loop: the textbook approach."""
    C = ci.size
    best = 0.0
    zones = []
    for k in range(k_max + 1):
        i, j = disk_pairs(cells, k)
        order = np.argsort(i, kind="stable")
        i, j = i[order], j[order]
        bounds = np.searchsorted(i, np.arange(cells.size + 1))
        for c in range(cells.size):
            zones.append(j[bounds[c]:bounds[c + 1]])
    cell_day = np.zeros((cells.size, days))
    np.add.at(cell_day, (ci, di), 1)
    day_tot = cell_day.sum(axis=0)
    for members in zones:
        rows = cell_day[members]
        cz = rows.sum()
        for w in range(1, W + 1):
            c = rows[:, days - w:].sum()
            mu = cz * day_tot[days - w:].sum() / C
            if c > mu and c >= min_cases:
                llr = c * math.log(c / mu) + ((C - c) * math.log((C - c) / (C - mu)) if C > c
                                              else 0.0)
                best = max(best, llr)
    return best


def small_case(n_cells=400, n_cases=1200, reps=19, seed=1, fast_reps=199):
    df = make_incidents(n_cells, n_cases, seed)
    kw = dict(res=9, end=END, days=30, max_days=7, max_radius_m=1207.0, min_cases=3)
    k = radius_to_k(9, 1207.0)
    cells, ci, di, lo, hi = scan_counts(df, 9, END, 30)
    fast = space_time_scan(df, replicates=reps, seed=seed, **kw)
    rng = np.random.default_rng(seed)
    off = 29 - di
    perms = rng.permuted(np.broadcast_to(off, (reps, off.size)), axis=1)
    c0 = time.process_time()
    obs = naive_max_llr(cells, ci, di, 30, 7, k, 3)
    naive = [naive_max_llr(cells, ci, 29 - p, 30, 7, k, 3) for p in perms]
    t_naive = time.process_time() - c0
    assert math.isclose(obs, float(fast.clusters.iloc[0]["llr"]), rel_tol=1e-9)
    np.testing.assert_allclose(fast.null_llr, naive, rtol=1e-9)
    c0 = time.process_time()
    space_time_scan(df, replicates=fast_reps, seed=seed, **kw)  # timing run, set-up included
    t_fast = time.process_time() - c0
    per_fast, per_naive = t_fast / (fast_reps + 1), t_naive / (reps + 1)
    print(f"small: {cells.size} cells, {ci.size} cases, 30 days, k={k}; naive and vectorised "
          f"maxima identical on the observed data and {reps} replicates (CPU seconds)")
    print(f"  naive loops : {t_naive:8.3f} s for {reps + 1} data sets "
          f"({per_naive * 1e3:8.2f} ms each)")
    print(f"  vectorised  : {t_fast:8.3f} s for {fast_reps + 1} data sets "
          f"({per_fast * 1e3:8.2f} ms each, set-up included)")
    print(f"  speed-up    : {per_naive / per_fast:8.0f} x")
    return per_naive / per_fast


def big_case(n_cells=10_000, n_cases=25_000, reps=999, seed=7):
    df = make_incidents(n_cells, n_cases, seed)
    t0, c0 = time.perf_counter(), time.process_time()
    res = space_time_scan(df, res=9, end=END, days=30, max_days=7, max_radius_m=1207.0,
                          replicates=reps, seed=seed)
    t, cpu = time.perf_counter() - t0, time.process_time() - c0
    p = res.params
    print(f"big: {n_cells} cells, {p['cases']} cases, 30 days, k={p['k_max']}, "
          f"{p['zones']} zones (deduplicated, ≥3 cases), {reps} replicates")
    print(f"  total       : {t:8.2f} s wall, {cpu:.2f} s CPU "
          f"({t / (reps + 1) * 1e3:.2f} ms wall per data set; CPU < wall means a busy machine)")
    print(f"  primary p   : {res.clusters.iloc[0]['p']:.3f} (null data: should be large)")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="99 replicates on the big case")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, Python "
          f"{platform.python_version()}, numpy {np.__version__}")
    small_case()
    big_case(reps=99 if args.quick else 999)


if __name__ == "__main__":
    main()
