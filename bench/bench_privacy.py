"""Benchmark: the cost of the public tier's disclosure control at 1M incidents.

Run: ``.venv/bin/python bench/bench_privacy.py`` (``--n 200000`` for a quicker run).

Times, median of 3, in the same run:

* record keys (salted hash of each record) for N synthetic incidents — done once per load;
* keyed cell counts (count + cell key per res-8 cell, point-in-hexagon) against plain counts
  (``np.unique`` + ``bincount`` on the same cells: the naive path without keys);
* the gate on the res-8 cell table: perturbation + suppression (public) against the restricted
  pass-through.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.grid import cells_at  # noqa: E402
from geo.privacy import publish, record_keys  # noqa: E402
from products.counting import keyed_cell_counts  # noqa: E402


def _median(fn, reps=3):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    n = ap.parse_args().n
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "occurred_at": pd.Timestamp("2025-01-01") + pd.to_timedelta(
            rng.integers(0, 365 * 86400, n), unit="s"),
        "lat": np.round(rng.normal(36.07, 0.08, n), 5),
        "lon": np.round(rng.normal(-79.8, 0.1, n), 5),
        "outcome": rng.choice(["fatal", "nonfatal", "unknown"], n, p=[0.1, 0.85, 0.05]),
        "source": rng.choice(["ems", "police", "hospital"], n),
    })
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"N = {n:,} incidents")
    t_keys = _median(lambda: record_keys(df))
    df["rkey"] = record_keys(df)
    cells_at(df, 8)  # warm the cell cache: both paths below count the same cells
    t_plain = _median(lambda: np.unique(cells_at(df, 8), return_counts=True))
    t_keyed = _median(lambda: keyed_cell_counts(df, 8, breakdown=()))
    table = keyed_cell_counts(df, 8, breakdown=())
    t_gate = _median(lambda: publish(table, "public", count_columns=["count"]))
    t_pass = _median(lambda: publish(table, "restricted", count_columns=["count"]))
    print(f"record keys:            {t_keys * 1e3:8.1f} ms ({n / t_keys / 1e6:.1f} M rows/s)")
    print(f"plain cell counts:      {t_plain * 1e3:8.1f} ms")
    print(f"keyed cell counts:      {t_keyed * 1e3:8.1f} ms  (x{t_keyed / t_plain:.2f} plain)")
    print(f"gate, public ({len(table):,} cells): {t_gate * 1e3:8.1f} ms  "
          f"(restricted pass-through {t_pass * 1e3:.1f} ms)")


if __name__ == "__main__":
    main()
