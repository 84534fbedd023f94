"""Benchmark: H3 indexing and end-to-end incident ingest.

Prints, in one run on the same machine:

1. indexing alone — ``geo.cells.latlng_to_cells`` (polars-h3, vectorised) against a plain
   h3-py per-row loop (``h3.api.basic_int.latlng_to_cell``) at ``--n`` points (ratio), and the
   vectorised path alone at ``--big`` points; with CPU seconds per thread so the use of both
   cores is visible even when the machine is shared;
2. end-to-end ingest of a synthetic ``--n``-row export (three sources, ~30% of events reported
   twice) from CSV and from Parquet: read → validate → index → de-duplicate, per stage.

3. the incident store (``--store``; each case in a child process, so peak memory is its own
   ``ru_maxrss``): ``IncidentStore.ingest`` of CSV at every ``--sizes`` (CPU per row, peak RSS),
   beside a polars-only and a DuckDB-only pipeline (read + parse + validate + H3 + store, no
   de-duplication) on the same file; de-duplication's greedy rebuild with the masks built once
   against the old loop that rebuilt them on every pass; appending 10k rows to the largest
   store against ingesting them into an empty one; ``load()`` against the old rebuild-on-load;
   and ``gapmap hotspots`` / ``gapmap gaps`` on that store, from process start.

Usage::

    .venv/bin/python bench/bench_ingest.py --n 1000000 --big 10000000
    .venv/bin/python bench/bench_ingest.py --store --sizes 1000000 2000000 5000000 \
        --parquet-sizes 1000000 2000000

Nothing is downloaded; the data are generated with a fixed seed in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.cells import latlng_to_cells  # noqa: E402
from geo.ingest import read_incidents  # noqa: E402
from geo.schema import BASE_RES  # noqa: E402


def thread_cpu() -> dict[str, float]:
    """CPU seconds used so far by each thread of this process (Linux /proc)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for t in os.listdir("/proc/self/task"):
        try:
            f = open(f"/proc/self/task/{t}/stat").read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        out[t] = (int(f[11]) + int(f[12])) / tick
    return out


def timed(fn, *args):
    before, c0, t0 = thread_cpu(), time.process_time(), time.perf_counter()
    res = fn(*args)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    after = thread_cpu()
    busy = sorted((after[k] - before.get(k, 0.0) for k in after), reverse=True)
    return res, wall, cpu, [round(b, 2) for b in busy if b >= 0.05]


def points(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.uniform(35.9, 36.3, n), rng.uniform(-80.0, -79.5, n)


def h3_loop(lat, lon, res):
    import h3

    f = h3.api.basic_int.latlng_to_cell
    return np.fromiter((f(a, b, res) for a, b in zip(lat.tolist(), lon.tolist(), strict=True)),
                       dtype=np.uint64, count=lat.size)


def bench_index(n: int, big: int) -> None:
    lat, lon = points(n)
    latlng_to_cells(lat[:1000], lon[:1000], BASE_RES)  # warm-up
    fast, w_fast, c_fast, thr = timed(latlng_to_cells, lat, lon, BASE_RES)
    ref, w_loop, c_loop, _ = timed(h3_loop, lat, lon, BASE_RES)
    assert np.array_equal(fast, ref), "vectorised cells differ from h3-py"
    print(f"indexing {n:,} points at res {BASE_RES} (results identical to h3-py)")
    print(f"  geo.cells.latlng_to_cells : {w_fast:6.3f} s wall  {n / w_fast / 1e6:5.2f} M/s   "
          f"cpu {c_fast:.2f} s ({n / c_fast / 1e6:.2f} M/s per cpu-second); per-thread cpu {thr}")
    print(f"  h3-py per-row loop        : {w_loop:6.3f} s wall  {n / w_loop / 1e6:5.2f} M/s   "
          f"cpu {c_loop:.2f} s")
    print(f"  ratio (loop / vectorised) : {w_loop / w_fast:5.2f}x wall, {c_loop / c_fast:.2f}x cpu")
    if big:
        lat, lon = points(big, 1)
        _, w_big, c_big, thr = timed(latlng_to_cells, lat, lon, BASE_RES)
        print(f"  {big:,} points vectorised  : {w_big:6.3f} s wall  {big / w_big / 1e6:5.2f} M/s   "
              f"cpu {c_big:.2f} s; per-thread cpu {thr}")


def synthetic_export(n: int, seed: int = 2, years: float = 3) -> pd.DataFrame:
    """n records: events in a county over ``years`` years ending with 2024 (3 years: from
    2022-01-01), 30% also reported by a second source."""
    rng = np.random.default_rng(seed)
    n_ev = int(n / 1.3)
    lat, lon = points(n_ev, seed)
    start = np.datetime64("2022-01-01T00:00") - int((years - 3) * 365 * 1440)
    t = start + rng.integers(0, int(years * 365 * 1440), n_ev).astype("timedelta64[m]")
    dup = np.sort(rng.choice(n_ev, n - n_ev, replace=False))  # exactly n records
    k = dup.size
    idx = np.r_[np.arange(n_ev), dup]
    src = np.r_[np.full(n_ev, "ems"), rng.choice(["police", "hospital"], k)][:n]
    off_t = np.r_[np.zeros(n_ev), rng.integers(-5, 45, k)][:n].astype("timedelta64[m]")
    off_m = np.r_[np.zeros(n_ev), rng.uniform(50, 250, k)][:n] / 111_195.0
    return pd.DataFrame({
        "incident_id": [f"R{i}" for i in range(idx.size)],
        "occurred_at": (t[idx] + off_t).astype("datetime64[s]").astype(str),
        "lat": np.round(lat[idx] + off_m, 6), "lon": np.round(lon[idx], 6),
        "outcome": rng.choice(["nonfatal", "fatal", ""], idx.size, p=[0.85, 0.08, 0.07]),
        "naloxone": rng.choice(["yes", "no", "NA"], idx.size, p=[0.7, 0.2, 0.1]),
        "source": src,
    })


def bench_ingest(n: int) -> None:
    df = synthetic_export(n)
    with tempfile.TemporaryDirectory() as tmp:
        csv, pq = Path(tmp) / "x.csv", Path(tmp) / "x.parquet"
        df.to_csv(csv, index=False)
        df.to_parquet(pq, index=False)
        for path in (csv, pq):
            marks = [("start", time.perf_counter())]

            def mark(stage, done, total, marks=marks):
                marks.append((stage, time.perf_counter()))

            cpu0 = time.process_time()
            res = read_incidents(path, progress=mark)
            cpu = time.process_time() - cpu0
            total = marks[-1][1] - marks[0][1]
            stages, last = {}, marks[0][1]
            for name, ts in marks[1:]:
                stages[name] = stages.get(name, 0.0) + ts - last
                last = ts
            s = res.summary
            print(f"ingest {path.suffix[1:]:8s} {n:,} rows: {total:6.2f} s  "
                  f"({n / total / 1e3:.0f}k rows/s; cpu {cpu:.1f} s)  "
                  f"accepted {s['accepted']:,} merged {s['merged']:,} events {s['events']:,}")
            print("   stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--big", type=int, default=10_000_000, help="0 to skip")
    p.add_argument("--skip-ingest", action="store_true")
    p.add_argument("--store", action="store_true", help="the incident-store benchmark only")
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000])
    p.add_argument("--parquet-sizes", type=int, nargs="*", default=[1_000_000, 2_000_000],
                   help="sizes also ingested from Parquet (--store)")
    p.add_argument("--case", nargs="+", help=argparse.SUPPRESS)  # child process
    a = p.parse_args(argv)
    if a.case:
        from bench_ingest_store import run_case

        run_case(*a.case)
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    if a.store:
        from bench_ingest_store import bench_store

        bench_store(a.sizes, synthetic_export, a.parquet_sizes)
    else:
        bench_index(a.n, a.big)
        if not a.skip_ingest:
            bench_ingest(a.n)
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
