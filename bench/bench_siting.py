"""Benchmark: maximal covering siting on 5,000 demand cells × 1,000 candidates, k = 20.

Times, in one run on one instance: the coverage matrix (KD-tree), greedy, greedy + 1-swap,
the default heuristic (greedy + swap + Lagrangian-guided swap restarts), the LP-relaxation
bound, the exact HiGHS MIP (warm-started), and spopt's MCLP with CBC via
PuLP (the reference; skipped with ``--no-spopt``). Prints each objective as a share of the
proven optimum, wall and CPU times, and the CPU-time ratio to spopt.

Instance (realistic and contested): demand = the 5,000 H3 res-9 cells nearest a city centre
(a contiguous grid), weights = Poisson counts whose mean is a mixture of a dozen Gaussian
hotspots on a low background (most cells 0–2, hotspots tens); 1,000 candidate sites, a third
near the hotspots, the rest uniform; a radius of 1,000 m, so each site covers ~27 cells and the
hotspots are reachable from many overlapping candidates.

Run: ``.venv/bin/python -m bench.bench_siting [--no-spopt] [--seed S] [--sweep N]``
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from functools import partial

import numpy as np
import shapely

from geo.cells import cells_to_latlng, haversine_m, polygon_to_cells
from layers.coverage import coverage_matrix
from layers.siting import make_problem, solve_mclp
from layers.siting_exact import solve_lp_bound, solve_mip

N_DEMAND, N_CAND, K, RADIUS_M = 5000, 1000, 20, 1000.0


def build_instance(seed: int = 0):
    """Demand cells (lat, lon, weight) and candidate (lat, lon) of the benchmark instance."""
    rng = np.random.default_rng(seed)
    lat0, lon0 = 36.07, -79.79  # a mid-sized US city
    # The N_DEMAND res-9 cells (~175 m apart) nearest the centre: a contiguous city grid.
    glat, glon = cells_to_latlng(polygon_to_cells(shapely.Point(lon0, lat0).buffer(0.16), 9))
    lat, lon = (a[np.argsort(haversine_m(glat, glon, lat0, lon0))[:N_DEMAND]] for a in (glat, glon))
    hubs = rng.integers(0, N_DEMAND, 12)
    mu = np.full(N_DEMAND, 0.3)
    for h, amp in zip(hubs, rng.uniform(5, 30, hubs.size), strict=True):
        d = haversine_m(lat, lon, lat[h], lon[h])
        mu += amp * np.exp(-0.5 * (d / rng.uniform(300, 900)) ** 2)
    w = rng.poisson(mu).astype(float)
    near = rng.integers(0, hubs.size, N_CAND // 3)
    clat = np.r_[
        lat[hubs[near]] + rng.normal(0, 0.008, near.size),
        rng.uniform(lat.min(), lat.max(), N_CAND - near.size),
    ]
    clon = np.r_[
        lon[hubs[near]] + rng.normal(0, 0.01, near.size),
        rng.uniform(lon.min(), lon.max(), N_CAND - near.size),
    ]
    return lat, lon, w, clat, clon


def _cpu() -> float:
    """CPU seconds of this process and its finished children (CBC runs as a subprocess)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn, repeat: int = 1):
    """(result, best wall seconds, CPU seconds of that run) over ``repeat`` runs."""
    best, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        t, c = time.perf_counter(), _cpu()
        out = fn()
        wall, used = time.perf_counter() - t, _cpu() - c
        if wall < best:
            best, cpu = wall, used
    return out, (best, cpu)


def sweep(n_seeds: int) -> None:
    """Heuristic share of the optimum and exact solve time (CPU) over several instances."""
    print(f"machine: {platform.processor() or platform.machine()}, load {os.getloadavg()[0]:.1f}")
    shares = []
    for seed in range(n_seeds):
        lat, lon, w, clat, clon = build_instance(seed)
        cov = coverage_matrix(lat, lon, clat, clon, RADIUS_M)
        heur, (_, t_h) = _timed(partial(solve_mclp, w, cov, K, method="heuristic"), 3)
        exact, (_, t_e) = _timed(partial(solve_mclp, w, cov, K, method="exact", time_limit=120))
        shares.append(heur.objective / exact.objective)
        print(
            f"seed {seed:2d}: heuristic {100 * shares[-1]:6.2f}% of optimum in {t_h * 1e3:5.1f} ms "
            f"CPU (its gap bound {100 * heur.gap:.2f}%); exact {exact.status} in {t_e:.2f} s CPU"
        )
    print(
        f"heuristic share of optimum: min {100 * min(shares):.2f}%, "
        f"mean {100 * np.mean(shares):.2f}% over {n_seeds} instances"
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-spopt", action="store_true", help="skip the spopt/CBC reference")
    ap.add_argument(
        "--sweep",
        type=int,
        default=0,
        metavar="N",
        help="instead: heuristic vs exact on seeds 0..N-1, one line each",
    )
    args = ap.parse_args(argv)
    if args.sweep:
        return sweep(args.sweep)
    print(
        f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}"
    )
    lat, lon, w, clat, clon = build_instance(args.seed)
    cov, t_cov = _timed(lambda: coverage_matrix(lat, lon, clat, clon, RADIUS_M), 3)
    print(
        f"instance: {N_DEMAND} demand cells, {N_CAND} candidates, k={K}, radius {RADIUS_M:.0f} m; "
        f"total burden {w.sum():.0f}; {cov.nnz} covering pairs "
        f"({cov.nnz / N_CAND:.1f} cells per site); coverage matrix {t_cov[0] * 1e3:.1f} ms"
    )

    greedy, t_g = _timed(lambda: solve_mclp(w, cov, K, method="greedy"), 5)
    swap, t_s = _timed(lambda: solve_mclp(w, cov, K, method="swap"), 5)
    heur, t_h = _timed(lambda: solve_mclp(w, cov, K, method="heuristic"), 5)
    prob = make_problem(w, cov, K)
    lpb, t_lp = _timed(lambda: solve_lp_bound(prob))
    mip, t_mip = _timed(lambda: solve_mip(prob, warm_start=heur.chosen, time_limit=120))
    exact, t_ex = _timed(lambda: solve_mclp(w, cov, K, method="exact", time_limit=120))
    opt = exact.objective
    rows = [
        ("greedy", greedy.objective, t_g, f"bound {greedy.upper_bound:.0f}"),
        ("greedy + 1-swap", swap.objective, t_s, f"bound {swap.upper_bound:.0f}"),
        (
            "heuristic (+ Lagrangian restarts)",
            heur.objective,
            t_h,
            f"bound {heur.upper_bound:.0f}, gap {100 * heur.gap:.2f}%",
        ),
        ("LP relaxation bound", lpb, t_lp, "upper bound"),
        ("HiGHS MIP (warm start)", mip.value, t_mip, f"{mip.status}, bound {mip.bound:.1f}"),
        ("exact end to end", opt, t_ex, f"{exact.status}, gap {exact.gap:.2e}"),
    ]
    if not args.no_spopt:
        import pulp
        from spopt.locate import MCLP

        def run_spopt():
            dist = haversine_m(lat[:, None], lon[:, None], clat[None, :], clon[None, :])
            model = MCLP.from_cost_matrix(dist, w, RADIUS_M, p_facilities=K)
            model.solve(pulp.PULP_CBC_CMD(msg=False))
            return float(pulp.value(model.problem.objective))

        sp_val, t_sp = _timed(run_spopt)
        rows.append(("spopt MCLP + CBC (dense, PuLP)", sp_val, t_sp, "reference"))
    else:
        t_sp = None
    print(
        "times: best of 5 runs (heuristics), one run (LP, MIP, spopt); wall and CPU seconds "
        "(CPU counts this process and the CBC subprocess; the wall time suffers when the "
        f"machine is shared: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"{'method':34s} {'objective':>10s} {'% of opt':>9s} {'wall':>10s} {'CPU':>10s} "
        f"{'x faster (CPU)':>14s}  note"
    )
    for name, val, (wall, cpu), note in rows:
        ratio = f"{t_sp[1] / cpu:13.0f}x" if t_sp else "             -"
        print(
            f"{name:34s} {val:10.1f} {100 * val / opt:8.2f}% {wall * 1e3:8.1f}ms "
            f"{cpu * 1e3:8.1f}ms {ratio}  {note}"
        )


if __name__ == "__main__":
    main()
