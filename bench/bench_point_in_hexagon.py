"""Benchmark: point-in-hexagon cells at res 6..10 against the parent roll-up of res-11 cells.

Prints, for ``--n`` random points over a county-sized box (fixed seed):

1. per resolution, the time to index the points directly (``geo.cells.latlng_to_cells``,
   polars-h3, what :func:`geo.grid.cells_at` does) against the roll-up from the stored res-11
   cells (``geo.cells.cells_to_parent``, bit arithmetic), wall and CPU seconds;
2. per resolution, the share of points the roll-up misplaces: its cell is not the hexagon that
   contains the point (checked against h3-py's own ``latlng_to_cell`` on a ``--check`` subset);
3. what the choices cost in use: ``add_cells`` (precompute res 6..10 once), ``cells_at`` on a
   filtered frame (a dashboard filter change) with and without the precomputed column, and a
   cache hit.

Usage::

    .venv/bin/python bench/bench_point_in_hexagon.py --n 1000000

Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo import grid  # noqa: E402
from geo.cells import cells_to_parent, latlng_to_cells  # noqa: E402
from geo.schema import BASE_RES  # noqa: E402

RES = (6, 7, 8, 9, 10)


def timed(fn, *args, repeat: int = 3):
    """Best of ``repeat`` runs: (result, wall s, CPU s)."""
    best = None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn(*args)
        w, c = time.perf_counter() - t0, time.process_time() - c0
        if best is None or w < best[1]:
            best = (out, w, c)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--check", type=int, default=200_000,
                    help="points checked against h3-py's per-point latlng_to_cell")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    lat, lon = rng.uniform(35.9, 36.3, args.n), rng.uniform(-80.0, -79.5, args.n)
    print(f"{args.n:,} points, uniform over [35.9, 36.3] x [-80.0, -79.5]; nproc={os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    latlng_to_cells(lat[:1000], lon[:1000], 8)  # warm-up
    base, w_base, c_base = timed(latlng_to_cells, lat, lon, BASE_RES)
    print(f"index at res {BASE_RES} (stored h3): {w_base:.3f} s wall, {c_base:.3f} s CPU")

    import h3.api.basic_int as h3int

    k = min(args.check, args.n)
    print(f"\n{'res':>3} | {'direct (wall / CPU)':>21} | {'roll-up (wall / CPU)':>21} | "
          f"{'misplaced by roll-up':>21} | h3-py check")
    for r in RES:
        own, w_d, c_d = timed(latlng_to_cells, lat, lon, r)
        rolled, w_r, c_r = timed(cells_to_parent, base, r)
        wrong = own != rolled
        ref = np.fromiter((h3int.latlng_to_cell(a, b, r)
                           for a, b in zip(lat[:k].tolist(), lon[:k].tolist(), strict=True)),
                          dtype=np.uint64, count=k)
        same = bool(np.array_equal(ref, own[:k]))
        print(f"{r:>3} | {w_d:8.3f} s / {c_d:6.3f} s | {w_r:8.3f} s / {c_r:6.3f} s | "
              f"{wrong.mean():7.2%} ({int(wrong.sum()):,}) | "
              f"{'identical' if same else 'DIFFERS'} on {k:,}")
        if not same:
            return 1

    df = pd.DataFrame({"lat": lat, "lon": lon, "h3": base,
                       "source": rng.choice(["ems", "police", "hospital"], args.n)})
    grid._clear_cache()
    pre, w_add, c_add = timed(grid.add_cells, df, RES, repeat=1)
    print(f"\nadd_cells(df, res 6..10), {args.n:,} rows, cold cache: {w_add:.3f} s wall, "
          f"{c_add:.3f} s CPU")
    sub_plain = df[df["source"] != "police"]
    sub_pre = pre[pre["source"] != "police"]
    grid._clear_cache()
    _, w_miss, _ = timed(grid.cells_at, sub_plain, 8, repeat=1)
    _, w_hit, _ = timed(grid.cells_at, sub_plain, 8)
    _, w_col, _ = timed(grid.cells_at, sub_pre, 8)
    print(f"cells_at(filtered frame, {len(sub_plain):,} rows, res 8): from lat/lon {w_miss:.3f} s; "
          f"cache hit {w_hit:.3f} s; precomputed column {w_col * 1e3:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
