"""Benchmark: assigning incidents to named areas (point-in-polygon) and the area product.

Run: ``.venv/bin/python bench/bench_areas.py`` (``--n 200000`` for a quicker run).

Times, median of 3, in the same run, for N synthetic points spread over the sample county and
its 26 neighbourhoods:

* :func:`geo.areas.points_to_areas` — points sorted by longitude, each area tests only its
  bounding-box candidates against its prepared polygon;
* the naive path: ``shapely.contains_xy`` polygon by polygon over all points (what a loop over
  areas does), on the same points — the ratio is reported;
* :func:`products.areas.area_table` on N sample-like incidents, public tier (keyed counts,
  breakdowns, prior period, gate, Gi* on contiguity neighbours);
* :func:`geo.labels.cell_labels` for every res-8 cell of the points.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data import get_path  # noqa: E402
from geo.areas import load_areas, points_to_areas  # noqa: E402
from geo.grid import cells_at  # noqa: E402
from geo.labels import cell_labels, load_places  # noqa: E402
from products.areas import area_table  # noqa: E402
from products.query import Query  # noqa: E402


def _median(fn, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), out


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=1_000_000)
    args = p.parse_args(argv)
    n = args.n
    layer = load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood",
                       population_column="population")
    zips = load_areas(get_path("zips"), "name", kind="ZIP")
    places = load_places(get_path("places"))
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = shapely.total_bounds(layer.geometry)
    lat = rng.uniform(miny, maxy, n)
    lon = rng.uniform(minx, maxx, n)

    t_tree, got = _median(lambda: points_to_areas(lat, lon, layer))

    def naive():
        owner = np.full(n, -1)
        for i, poly in enumerate(layer.geometry):
            hit = (owner < 0) & shapely.intersects_xy(poly, lon, lat)
            owner[hit] = i
        return owner

    t_naive, ref = _median(naive)
    assert np.array_equal(got, ref), "points_to_areas and the per-polygon assignment differ"

    t0 = pd.Timestamp("2025-11-17")
    inc = pd.DataFrame({
        "incident_id": np.arange(n).astype(str), "lat": lat, "lon": lon,
        "occurred_at": t0 + pd.to_timedelta(rng.integers(0, 728 * 86400, n), unit="s"),
        "outcome": rng.choice(["fatal", "nonfatal"], n, p=[0.07, 0.93]),
        "naloxone": rng.choice(["yes", "no", "unknown"], n), "source": "ems"})
    inc = inc.loc[got >= 0].reset_index(drop=True)
    t_table, tab = _median(lambda: area_table(inc, layer, Query(), "public"))
    cells = np.unique(cells_at(inc, 8))
    t_lab, _ = _median(lambda: cell_labels(cells, [layer, zips], places))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    print(f"points: {n:,} ({int((got >= 0).sum()):,} inside the 26 neighbourhoods)")
    print(f"points_to_areas (sorted bbox + prepared):{t_tree * 1e3:8.0f} ms")
    print(f"naive per-polygon contains loop:       {t_naive * 1e3:8.0f} ms  "
          f"(x{t_naive / t_tree:.1f} points_to_areas)")
    print(f"area_table, public, {len(inc):,} incidents: {t_table * 1e3:8.0f} ms ({len(tab)} areas)")
    print(f"cell_labels, {cells.size:,} res-8 cells, 2 layers + places: {t_lab * 1e3:6.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
