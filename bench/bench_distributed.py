"""Benchmark: the local engine vs a Dask LocalCluster on a partitioned Parquet dataset (same run).

Two families of jobs, each run locally (one process) and on a Dask ``LocalCluster`` of 2 worker
processes x 1 thread (``geo.distributed.dask_client``; cluster start-up timed separately), with
the results checked identical in the run:

* **Aggregations at 10M-50M rows** (``--rows``), on a synthetic partitioned dataset of
  ``--part-rows`` rows per Parquet file (time-partitioned; columns ``occurred_at, lat, lon,
  source``), generated once into ``--data`` (vectorised numpy/pyarrow) and reused:

  - ``cells``: records per H3 cell at res 8 -- read lat/lon + H3 + group-by, per partition;
    the per-partition counts are summed (on the client). Reference in the same run: one polars
    query (``scan_parquet`` + polars-h3 + ``group_by``, multi-threaded, one process).
  - ``hotspots``: the Gi* inputs -- records per res-8 cell in a one-year window (reads
    ``occurred_at`` too) per partition, summed; then the same Gi* path on the client
    (``products.hotspots.analysis_cells`` k-ring grid, ``build_neighbourhood``, ``gi_star``).
  - ``areas``: point-in-polygon counts per area (``geo.areas.points_to_areas``, the sample's 26
    neighbourhoods) per partition, summed.

  These count *records* (no validation, no de-duplication): they measure the distributable
  part of the jobs -- reading, indexing and aggregating partitions -- at sizes where the full
  record path does not fit in a benchmark budget.

* **ingest** (``--ingest-rows``): the full record path of ``gapmap ingest/cells/areas/hotspots
  --engine``: :func:`geo.distributed.read_dataset` (read, validate, H3, cross-partition
  de-duplication) on ``write_records_dataset`` rows (~10 % cross-source duplicates); the events
  must be identical.

CPU seconds: the local engine's process CPU (all its threads); for Dask the client process
(which also hosts the scheduler) plus every worker process (``psutil``), sampled before and
after the job. Wall seconds are noisy on a shared machine; say so when you report them.

Usage::

    .venv/bin/python bench/bench_distributed.py --rows 10000000 50000000 \
        --jobs cells hotspots areas --ingest-rows 1000000 --data /tmp/gapmap_dist

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
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.distributed import dask_client, read_dataset  # noqa: E402

RES = 8
T0 = np.datetime64("2024-01-01T00:00:00", "us")
WEEK_US = 7 * 86400 * 1_000_000  # each partition holds one week of records
BBOX = (35.883627, 36.260329, -80.063013, -79.532093)  # the sample neighbourhoods
AREAS = Path(__file__).resolve().parent.parent / "data" / "sample_neighbourhoods.geojson"


# --- data --------------------------------------------------------------------------------------

def write_partition(path: Path, k: int, n: int, seed: int = 11) -> None:
    """Partition ``k``: ``n`` records in week ``k`` from :data:`T0`, 70 % uniform over the
    sample area, 30 % in 12 Gaussian clusters (so Gi* has hot spots)."""
    rng = np.random.default_rng([seed, k])
    t = T0 + np.sort(rng.integers(k * WEEK_US, (k + 1) * WEEK_US, n)).astype("timedelta64[us]")
    lat = rng.uniform(BBOX[0], BBOX[1], n)
    lon = rng.uniform(BBOX[2], BBOX[3], n)
    crng = np.random.default_rng(seed)  # the same clusters in every partition
    centres = np.column_stack([crng.uniform(BBOX[0] + .05, BBOX[1] - .05, 12),
                               crng.uniform(BBOX[2] + .05, BBOX[3] - .05, 12)])
    hot = rng.random(n) < 0.3
    which = rng.integers(0, 12, int(hot.sum()))
    lat[hot] = centres[which, 0] + rng.normal(0, 0.006, which.size)
    lon[hot] = centres[which, 1] + rng.normal(0, 0.006, which.size)
    src = pa.DictionaryArray.from_arrays(
        pa.array(rng.integers(0, 3, n).astype(np.int8)), pa.array(["ems", "police", "hospital"]))
    table = pa.table({"occurred_at": pa.array(t), "lat": lat, "lon": lon, "source": src})
    pq.write_table(table, path, compression="snappy")


def ensure_dataset(root: Path, rows: int, part_rows: int) -> list[str]:
    """The first ``rows // part_rows`` partitions of the dataset in ``root`` (written if absent).

    Partitions are fixed by ``part_rows`` so the 10M dataset is the first fifth of the 50M one.
    """
    root.mkdir(parents=True, exist_ok=True)
    parts = -(-rows // part_rows)
    files = []
    for k in range(parts):
        f = root / f"part-{part_rows}-{k:04d}.parquet"
        if not f.exists():
            tmp = f.with_suffix(".tmp")
            write_partition(tmp, k, part_rows, seed=11)
            tmp.rename(f)
        files.append(str(f))
    return files


def write_records_dataset(root: Path, rows: int, parts: int, seed: int = 3) -> None:
    """Canonical export rows with ~10 % cross-source duplicates, ``parts`` files by time."""
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
    df["incident_id"] = pd.Series(np.arange(len(df))).astype(str).radd("R").to_numpy()
    df = df.sort_values("occurred_at", kind="stable")
    df["occurred_at"] = df["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    bounds = np.linspace(0, len(df), parts + 1).astype(int)
    for k in range(parts):
        df.iloc[bounds[k]:bounds[k + 1]].to_parquet(root / f"part-{k:03d}.parquet", index=False)


# --- per-partition work (identical on both engines) ----------------------------------------------

def part_cells(path: str, res: int = RES) -> pd.Series:
    from geo.cells import latlng_to_cells

    t = pq.read_table(path, columns=["lat", "lon"])
    cells = latlng_to_cells(t.column("lat").to_numpy(), t.column("lon").to_numpy(), res)
    return pd.Series(cells).value_counts(sort=False)


def part_window_cells(path: str, window: tuple, res: int = RES) -> pd.Series:
    """Records per cell with ``window[0] <= occurred_at < window[1]``."""
    from geo.cells import latlng_to_cells

    t = pq.read_table(path, columns=["occurred_at", "lat", "lon"])
    ts = t.column("occurred_at").to_numpy()
    keep = (ts >= window[0]) & (ts < window[1])
    if not keep.any():
        return pd.Series([], dtype=np.int64, index=pd.Index([], dtype=np.uint64))
    cells = latlng_to_cells(t.column("lat").to_numpy()[keep], t.column("lon").to_numpy()[keep],
                            res)
    return pd.Series(cells).value_counts(sort=False)


def part_areas(path: str, layer) -> np.ndarray:
    from geo.areas import points_to_areas

    t = pq.read_table(path, columns=["lat", "lon"])
    idx = points_to_areas(t.column("lat").to_numpy(), t.column("lon").to_numpy(), layer)
    return np.bincount(idx + 1, minlength=layer.n + 1)  # slot 0: in no area


def _sum_series(parts: list[pd.Series]) -> pd.Series:
    s = pd.concat(parts)
    return s.groupby(level=0, sort=True).sum().astype(np.int64)


def gi_from_counts(counts: pd.Series) -> pd.DataFrame:
    """The Gi* path of ``products.hotspots.hotspot_table`` on exact counts (restricted)."""
    from clustering.gistar import gi_star
    from clustering.neighbours import build_neighbourhood
    from products.hotspots import analysis_cells

    grid = analysis_cells(counts.index.to_numpy(np.uint64), RES, None, 1)
    table = pd.DataFrame({"h3": grid})
    table["count"] = counts.reindex(grid, fill_value=0).to_numpy(np.int64)
    return table.join(gi_star(table, build_neighbourhood(grid, 1)))


# --- runners ------------------------------------------------------------------------------------

def _window(parts: int) -> tuple:
    """The hotspot window: the second half of the dataset's weeks, ``[start, end)``."""
    return (T0 + np.timedelta64(parts // 2 * WEEK_US, "us"),
            T0 + np.timedelta64(parts * WEEK_US, "us"))


def _worker_cpu() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _cpu_now(client) -> np.ndarray:
    """CPU seconds so far: ``[client (+ the scheduler of a LocalCluster), worker 1, ...]``."""
    own = time.process_time()
    workers = sorted(client.run(_worker_cpu).items()) if client is not None else []
    return np.array([own] + [v for _, v in workers])


def _cpu_split(d: np.ndarray) -> str:
    """``total (client c + workers w1/w2)`` of a CPU delta."""
    if d.size == 1:
        return f"{d[0]:.1f}"
    return f"{d.sum():.1f} (client {d[0]:.1f} + workers {'/'.join(f'{x:.1f}' for x in d[1:])})"


def run_job(job: str, files: list[str], client, layer):
    """``(result, wall s, CPU s)`` of ``job`` on ``files``; Dask when ``client`` is given."""
    fn = {"cells": part_cells, "hotspots": part_window_cells, "areas": part_areas}[job]
    extra = {"areas": (layer,), "hotspots": (_window(len(files)),)}.get(job, ())
    c0, w0 = _cpu_now(client), time.perf_counter()
    if client is None:
        parts = [fn(f, *extra) for f in files]
    else:
        if job == "areas":
            extra = (client.scatter(layer, broadcast=True),)
        parts = client.gather(client.map(fn, files, *[[e] * len(files) for e in extra],
                                         pure=False))
    result = np.sum(parts, axis=0) if job == "areas" else _sum_series(parts)
    if job == "hotspots":
        result = gi_from_counts(result)
    return result, time.perf_counter() - w0, _cpu_now(client) - c0


def polars_cells(files: list[str]):
    """Reference for ``cells``: one polars query (scan + polars-h3 + group-by, all cores)."""
    import polars as pl
    import polars_h3 as plh3

    c0, w0 = _cpu_now(None), time.perf_counter()
    df = (pl.scan_parquet(files).select(plh3.latlng_to_cell("lat", "lon", RES).alias("h3"))
          .group_by("h3").len().collect())
    s = pd.Series(df["len"].to_numpy().astype(np.int64),
                  index=pd.Index(df["h3"].to_numpy().astype(np.uint64))).sort_index()
    return s, time.perf_counter() - w0, _cpu_now(None) - c0


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    return a.equals(b)


def _row(job, n, engine, wall, cpu, ratio="") -> str:
    return (f"| {job} | {n / 1e6:g}M | {engine} | {wall:.1f} | {_cpu_split(cpu)} | "
            f"{n / wall / 1e6:.2f} M | {ratio} |")


def bench_aggregations(args, client, layer) -> None:
    for rows in args.rows:
        t = time.perf_counter()
        files = ensure_dataset(Path(args.data), rows, args.part_rows)
        n = len(files) * args.part_rows
        print(f"# {n:,} rows in {len(files)} partitions of {args.data} "
              f"(ready in {time.perf_counter() - t:.1f} s)", flush=True)
        for job in args.jobs:
            runs = {"local": [], "dask": []} | ({"polars": []} if job == "cells" else {})
            for _ in range(args.repeat):
                for engine, c in (("local", None), ("dask", client)):
                    runs[engine].append(run_job(job, files, c, layer))
                if job == "cells":
                    runs["polars"].append(polars_cells(files))
            same = all(_same(r[0], runs["local"][0][0]) for e in runs for r in runs[e])
            med = {e: sorted(r, key=lambda x: x[1])[len(r) // 2] for e, r in runs.items()}
            (_, wl, cl), (_, wd, cd) = med["local"], med["dask"]
            print(_row(job, n, "local", wl, cl), flush=True)
            print(_row(job, n, "dask 2x1", wd, cd,
                       f"wall {wl / wd:.2f}x, CPU {cl.sum() / cd.sum():.2f}x; "
                       f"identical: {same}"), flush=True)
            if "polars" in med:
                _, wp, cp = med["polars"]
                print(_row(job, n, "polars query (reference)", wp, cp,
                           f"local/polars: wall {wl / wp:.2f}x, CPU {cl.sum() / cp.sum():.2f}x"),
                      flush=True)


def bench_ingest(args, client) -> None:
    for rows in args.ingest_rows:
        with tempfile.TemporaryDirectory(dir=args.data) as tmp:
            root = Path(tmp)
            parts = max(2, rows // 250_000)
            write_records_dataset(root, rows, parts)
            res = {}
            for engine, c in (("local", None), ("dask", client)):
                c0, w0 = _cpu_now(c), time.perf_counter()
                got = read_dataset(root, engine=engine, client=c)
                res[engine] = (got, time.perf_counter() - w0, _cpu_now(c) - c0)
            (a, wl, cl), (b, wd, cd) = res["local"], res["dask"]
            same = a.incidents.sort_values("event_id").reset_index(drop=True).equals(
                b.incidents.sort_values("event_id").reset_index(drop=True))
            n = a.summary["read"]
            print(f"# ingest: {n:,} rows in {parts} partitions, {len(a.incidents):,} events "
                  f"(merged {a.summary['merged']:,})", flush=True)
            print(_row("ingest+dedup", n, "local", wl, cl), flush=True)
            print(_row("ingest+dedup", n, "dask 2x1", wd, cd,
                       f"wall {wl / wd:.2f}x, CPU {cl.sum() / cd.sum():.2f}x; "
                       f"identical: {same}"), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000_000])
    ap.add_argument("--part-rows", type=int, default=1_000_000)
    ap.add_argument("--jobs", nargs="*", default=["cells", "hotspots", "areas"],
                    choices=["cells", "hotspots", "areas"])
    ap.add_argument("--ingest-rows", type=int, nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "gapmap_dist"))
    args = ap.parse_args(argv)
    Path(args.data).mkdir(parents=True, exist_ok=True)
    from geo.areas import load_areas

    layer = load_areas(AREAS, "name")
    w = time.perf_counter()
    with dask_client() as client:
        print(f"# Dask LocalCluster 2 worker processes x 1 thread started in "
              f"{time.perf_counter() - w:.1f} s", flush=True)
        print("| job | rows | engine | wall s | CPU s | rows/s (wall) | local/dask |")
        print("|---|---|---|---|---|---|---|")
        bench_aggregations(args, client, layer)
        bench_ingest(args, client)


if __name__ == "__main__":
    main()
