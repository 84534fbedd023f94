"""Benchmark: nearest site for 100,000 cells x 5,000 sites, KD-tree vs BallTree(haversine).

Run:  .venv/bin/python bench/bench_access.py [--cells 100000] [--sites 5000] [--repeat 3]

Prints the best-of-N wall time of each method (tree build + query), their ratio, and the largest
disagreement in metres (both are exact great-circle nearest neighbours, so it should be ~1e-6 m).
Also times sites-within-reach, the long distance table and enhanced 2SFCA on the same inputs.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from sklearn.neighbors import BallTree

from geo.cells import EARTH_RADIUS_M, cells_to_latlng, latlng_to_cells, latlon_to_radians
from layers.access import distance_table, nearest_sites, sites_within, two_step_fca


def best(fn, repeat):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def make_cells(n, rng):
    """n distinct res-9 cells over a state-sized box (~3.5 x 4 degrees)."""
    cells = np.empty(0, np.uint64)
    while cells.size < n:
        lat = 34.0 + rng.random(2 * n) * 3.5
        lon = -84.0 + rng.random(2 * n) * 4.0
        cells = np.unique(np.r_[cells, latlng_to_cells(lat, lon, 9)])
    return rng.permutation(cells)[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--sites", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cells = make_cells(a.cells, rng)
    lat, lon = cells_to_latlng(cells)
    slat = 34.0 + rng.random(a.sites) * 3.5
    slon = -84.0 + rng.random(a.sites) * 4.0

    t_kd, (d_kd, i_kd) = best(lambda: nearest_sites(lat, lon, slat, slon), a.repeat)

    def balltree():
        tree = BallTree(latlon_to_radians(slat, slon), metric="haversine")
        d, i = tree.query(latlon_to_radians(lat, lon), k=1)
        return d[:, 0] * EARTH_RADIUS_M, i[:, 0]

    t_bt, (d_bt, i_bt) = best(balltree, a.repeat)
    t_in, cnt = best(lambda: sites_within(lat, lon, slat, slon, 5_000.0), a.repeat)
    t_tab, tab = best(lambda: distance_table(lat, lon, slat, slon, 24_000.0), a.repeat)
    demand = rng.integers(0, 50, cells.size).astype(float)
    t_fca, _ = best(lambda: two_step_fca(demand, np.ones(a.sites), tab, 24_000.0), a.repeat)

    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()}, best of {a.repeat}")
    print(f"nearest, {a.cells:,} cells x {a.sites:,} sites")
    print(f"  KD-tree on unit-sphere xyz (layers.access): {1000 * t_kd:8.1f} ms")
    print(f"  sklearn BallTree(haversine):                {1000 * t_bt:8.1f} ms")
    print(f"  ratio BallTree / KD-tree:                   {t_bt / t_kd:8.1f} x")
    print(f"  max |distance difference|: {np.abs(d_kd - d_bt).max():.2e} m; "
          f"same nearest site for {np.mean(i_kd == i_bt):.4%} of cells")
    print(f"sites within 5 km (KD-tree ball count):       {1000 * t_in:8.1f} ms "
          f"(mean {cnt.mean():.1f} sites)")
    print(f"distance table within 24 km:                  {1000 * t_tab:8.1f} ms "
          f"({len(tab):,} pairs)")
    print(f"enhanced 2SFCA on that table:                 {1000 * t_fca:8.1f} ms")


if __name__ == "__main__":
    main()
