"""Benchmark: Gi* (neighbours + z + BH q) at 10k and 100k H3 cells against esda, and
conditional-permutation inference against esda's, in the same run.

Run: ``.venv/bin/python bench/bench_gistar.py`` (``--quick`` skips esda's permutations at
10k cells).

For each size, a contiguous block of res-9 cells with Poisson counts and a planted cluster:

* ours end to end: :func:`clustering.neighbours.build_neighbourhood` (vectorised grid_disk) +
  :func:`clustering.gistar.gi_star_z` + BH q-values;
* esda ``G_Local(transform="B", star=True, permutations=0)`` with (a) a libpysal ``W`` built
  from the same pairs and (b) a libpysal ``Graph`` from the same sparse matrix (weights
  construction not timed for esda: only the statistic), max |Δz| reported;
* emerging hot spots on 10k cells × 52 weekly slices and 100k cells × 36 monthly slices
  (no reference implementation to compare with offline; figures only);
* permutations (999 draws, on continuous values so both define p_sim the same way): ours
  vectorised vs esda's ``crand`` (numba is not installed, so
  esda runs its pure-Python path — the same as a default install without numba), one process
  (``n_jobs=1``) like ours, so CPU seconds compare fairly.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clustering.fdr import bh_qvalues  # noqa: E402
from clustering.gistar import gi_star_permutation, gi_star_z  # noqa: E402
from clustering.neighbours import build_neighbourhood  # noqa: E402
from geo.cells import polygon_to_cells  # noqa: E402


def block(n: int) -> np.ndarray:
    """The ``n`` res-9 cells nearest a point: a contiguous, roughly round study area."""
    import shapely

    from geo.cells import cells_to_latlng

    half = 0.17 * np.sqrt(n / 10_000)  # res-9 cells are ~0.105 km²
    cells = polygon_to_cells(shapely.box(-79.8 - half * 1.25, 36.0 - half, -79.8 + half * 1.25,
                                         36.0 + half), 9)
    if cells.size < n:
        raise RuntimeError(f"box too small: {cells.size} < {n}")
    lat, lon = cells_to_latlng(cells)
    d = (lat - 36.0) ** 2 + ((lon + 79.8) * np.cos(np.radians(36.0))) ** 2
    return np.sort(cells[np.argsort(d)[:n]])


def best(fn, repeat: int = 3) -> float:
    """Smallest wall time of ``repeat`` runs; CPU seconds of that run in ``best.cpu``."""
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    best.cpu = min(cpus)
    return min(walls)


def ours_end_to_end(cells, y):
    from scipy.special import ndtr

    nb = build_neighbourhood(cells, 1)
    z = gi_star_z(y, nb)
    return bh_qvalues(2 * ndtr(-np.abs(z)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from esda.getisord import G_Local
    from libpysal.graph import Graph
    from libpysal.weights import WSP

    warnings.simplefilter("ignore")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for n in (10_000, 100_000):
        cells = block(n)
        rng = np.random.default_rng(0)
        y = rng.poisson(1.0, n).astype(float)
        y[n // 2 : n // 2 + 50] += 8
        nb = build_neighbourhood(cells, 1)
        t_nb = best(lambda cells=cells: build_neighbourhood(cells, 1), 7)
        c_nb = best.cpu
        t_z = best(lambda y=y, nb=nb: gi_star_z(y, nb), 5)
        t_all = best(lambda cells=cells, y=y: ours_end_to_end(cells, y), 7)
        c_all = best.cpu
        w0 = nb.W.copy().tolil()
        w0.setdiag(0)
        w0 = w0.tocsr()
        t = time.perf_counter()
        W = WSP(w0).to_W(silence_warnings=True)
        t_wbuild = time.perf_counter() - t
        g = Graph.from_sparse(w0)
        t_esda_w = best(lambda W=W, y=y: G_Local(y, W, transform="B", star=True,
                                                 permutations=0), 1)
        t_esda_g = best(lambda g=g, y=y: G_Local(y, g, transform="B", star=True,
                                                 permutations=0), 2)
        c_esda_g = best.cpu
        zd = np.abs(G_Local(y, g, transform="B", star=True, permutations=0).Zs
                    - gi_star_z(y, nb)).max()
        print(f"\n== Gi* analytic, {n:,} res-9 cells, k = 1 ==")
        print(f"ours: neighbours {t_nb * 1e3:.1f} ms wall ({c_nb * 1e3:.1f} ms CPU), "
              f"z {t_z * 1e3:.2f} ms, "
              f"end to end (neighbours + z + q) {t_all * 1e3:.1f} ms wall, "
              f"{c_all * 1e3:.1f} ms CPU")
        print(f"esda G_Local with libpysal W: {t_esda_w * 1e3:.0f} ms (+ {t_wbuild * 1e3:.0f} ms "
              f"to build W) -> {t_esda_w / t_all:.0f}x ours end to end")
        print(f"esda G_Local with libpysal Graph: {t_esda_g * 1e3:.0f} ms wall, "
              f"{c_esda_g * 1e3:.0f} ms CPU -> {t_esda_g / t_all:.0f}x ours end to end (wall), "
              f"{c_esda_g / c_all:.0f}x (CPU)")
        print(f"max |z_ours - z_esda| = {zd:.1e}")
        # Permutations on continuous values (no ties), where esda's p_sim and ours are the
        # same statistic, so their agreement is Monte Carlo error only.
        yc = rng.gamma(2.0, 1.0, n)
        yc[n // 2 : n // 2 + 50] += 3
        t_perm = best(lambda yc=yc, nb=nb: gi_star_permutation(yc, nb, 999, seed=1), 5)
        c_perm = best.cpu
        print(f"ours permutations (999, seeded): {t_perm * 1e3:.1f} ms wall, "
              f"{c_perm * 1e3:.1f} ms CPU")
        if n == 10_000 and not args.quick:
            t, c = time.perf_counter(), time.process_time()
            lg = G_Local(yc, g, transform="B", star=True, permutations=999, seed=1, n_jobs=1)
            t_ep, c_ep = time.perf_counter() - t, time.process_time() - c
            p = gi_star_permutation(yc, nb, 999, seed=1)
            print(f"esda permutations (999, pure-Python crand, n_jobs=1): {t_ep:.2f} s wall, "
                  f"{c_ep:.2f} s CPU -> {t_ep / t_perm:.0f}x ours (wall), {c_ep / c_perm:.0f}x "
                  f"(CPU); "
                  f" max |p_sim diff| {np.abs(lg.p_sim - p).max():.3f}"
                  f" (Monte Carlo), corr {np.corrcoef(lg.p_sim, p)[0, 1]:.3f}")

    # Emerging hot spots: space-time Gi* + per-cell Mann–Kendall + categories on a count cube.
    import pandas as pd

    from clustering.emerging import emerging_from_cube

    for n, T in ((10_000, 52), (100_000, 36)):
        cells = block(n)
        cube = pd.DataFrame(np.random.default_rng(0).poisson(0.5, (n, T)),
                            index=pd.Index(cells, name="h3"))
        nb = build_neighbourhood(cells, 1)
        t = best(lambda cube=cube, nb=nb: emerging_from_cube(cube, nb), 2)
        print(f"\n== emerging hot spots, {n:,} cells x {T} slices (Poisson 0.5) ==")
        print(f"ours: {t:.2f} s wall, {best.cpu:.2f} s CPU (space-time Gi*, BH over the cube, "
              "Mann-Kendall per cell, categories)")


if __name__ == "__main__":
    main()
