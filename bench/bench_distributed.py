"""Benchmark: a partitioned Parquet dataset read locally vs on a Dask LocalCluster (same run).

Writes ``--rows`` synthetic canonical incidents (EMS/police/hospital, ~10 % cross-source
duplicates within the matching window) as ``--parts`` Parquet files partitioned by time, then
reads them with :func:`geo.distributed.read_dataset` on the local engine and on a local Dask
cluster of 2 worker processes (cluster start-up timed separately), checks the events are
identical and prints wall seconds for each.

Usage::

    .venv/bin/python bench/bench_distributed.py --rows 400000 --parts 8

Nothing is downloaded; the cluster listens on loopback only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.distributed import dask_client, read_dataset  # noqa: E402


def write_dataset(root: Path, rows: int, parts: int, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    n0 = int(rows / 1.1)
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 365 * 86400, n0), "s")
    lat = rng.uniform(35.8, 36.3, n0)
    lon = rng.uniform(-80.1, -79.5, n0)
    src = rng.choice(["ems", "police", "hospital"], n0)
    dup = rng.random(n0) < 0.1
    t2 = t[dup] + pd.to_timedelta(rng.uniform(0, 3000, dup.sum()), "s")
    src2 = np.where(src[dup] == "ems", "police", "ems")
    df = pd.DataFrame({
        "occurred_at": np.concatenate([t.to_numpy(), t2.to_numpy()]),
        "lat": np.concatenate([lat, lat[dup] + 0.001]),
        "lon": np.concatenate([lon, lon[dup]]),
        "source": np.concatenate([src, src2]),
        "outcome": "nonfatal",
    })
    df["incident_id"] = [f"R{k}" for k in range(len(df))]
    df = df.sort_values("occurred_at", kind="stable")
    df["occurred_at"] = df["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    bounds = np.linspace(0, len(df), parts + 1).astype(int)
    for k in range(parts):
        part = df.iloc[bounds[k]:bounds[k + 1]]
        part.to_parquet(root / f"part-{k:03d}.parquet", index=False)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--parts", type=int, default=8)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root, args.rows, args.parts)
        w = time.perf_counter()
        local = read_dataset(root)
        t_local = time.perf_counter() - w
        w = time.perf_counter()
        with dask_client() as client:
            t_start = time.perf_counter() - w
            w = time.perf_counter()
            dist = read_dataset(root, engine="dask", client=client)
            t_dask = time.perf_counter() - w
        same = local.incidents.sort_values("event_id").reset_index(drop=True).equals(
            dist.incidents.sort_values("event_id").reset_index(drop=True))
        n = local.summary["read"]
        print(f"rows {n:,} in {args.parts} partitions; events {len(local.incidents):,} "
              f"(merged {local.summary['merged']:,}); identical events: {same}")
        print(f"local engine            {t_local:7.2f} s  ({n / t_local / 1e3:6.0f} k rows/s)")
        print(f"dask 2 procs (+start {t_start:4.1f} s) {t_dask:7.2f} s  "
              f"({n / t_dask / 1e3:6.0f} k rows/s)  ratio local/dask {t_local / t_dask:.2f}")


if __name__ == "__main__":
    main()
