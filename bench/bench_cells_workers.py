"""Benchmark: ``gapmap cells|hotspots|areas --engine dask``: counting on the workers vs gathering.

The full record path (read, validate, H3, cross-partition de-duplication, record keys, keyed
counts, the gate) on ``bench_distributed.write_records_dataset`` rows (~10 % cross-source
duplicates, time-partitioned, 250,000 rows a file), two ways in the same run, each in a fresh
client process connected to the same Dask ``LocalCluster`` (2 worker processes x 1 thread):

* ``gather`` (before): the events are gathered to the client, which keys and counts them
  (``read_dataset(engine="dask")`` + ``with_record_keys`` + ``products.hotspots.cell_table``);
* ``workers`` (after): the workers collapse, key and count their events, the client sums the
  count tables and publishes them (:func:`geo.distributed_counts.dask_cell_table`).

Printed per size: the client's peak RSS (``VmHWM`` of its own process, and its RSS after the
imports), the client's CPU seconds, the workers' CPU seconds (``psutil``, before/after) and the
wall, medians of ``--repeat`` runs; the two tables must be identical. The scheduler runs in this
parent process, not in the measured client. Wall is noisy on a shared machine.

``--products gi areas`` measure ``hotspots --method gi`` (``hotspot_table`` vs
:func:`geo.distributed_counts.dask_hotspot_table`) and ``areas`` (the sample's neighbourhoods,
``area_tables`` vs :func:`geo.distributed_counts.dask_area_tables`) the same way.

Usage::

    .venv/bin/python bench/bench_cells_workers.py --rows 1000000 4000000 --repeat 3 \
        --products cells gi areas

Data go to ``--data`` (default ``/tmp/gapmap_dist``, regenerated when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_distributed import AREAS, RES, _cpu_now, write_records_dataset  # noqa: E402
from geo.distributed import dask_client, read_dataset  # noqa: E402

PART_ROWS = 250_000


def _status_mb(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak RSS) of this process in MB. Not ``ru_maxrss``: Linux keeps
    that across ``exec``, so a child would inherit its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def cells_child(mode: str, root: str, scheduler: str, out: str) -> None:
    """One ``cells`` run in this (fresh) client process; prints a JSON line of figures."""
    from distributed import Client

    from geo.areas import load_areas
    from geo.distributed_counts import dask_area_tables, dask_cell_table, dask_hotspot_table
    from geo.privacy import with_record_keys
    from products.areas import area_tables
    from products.hotspots import cell_table, hotspot_table
    from products.query import Query

    product, mode = mode.split(":")
    layers = [load_areas(AREAS, "name")]
    local = {"cells": lambda inc: cell_table(inc, Query(res=RES), "restricted"),
             "gi": lambda inc: hotspot_table(inc, Query(res=RES), "restricted"),
             "areas": lambda inc: area_tables(inc, layers, Query(), "restricted")}[product]
    dask = {"cells": lambda c: dask_cell_table(root, Query(res=RES), "restricted", client=c),
            "gi": lambda c: dask_hotspot_table(root, Query(res=RES), "restricted", client=c),
            "areas": lambda c: dask_area_tables(root, layers, Query(), "restricted",
                                                client=c)}[product]
    base = _status_mb("VmRSS")
    with Client(scheduler) as client:
        c0, w0 = time.process_time(), time.perf_counter()
        if mode == "gather":
            table = local(with_record_keys(
                read_dataset(root, engine="dask", client=client).incidents))
        else:
            table = dask(client)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    table.to_parquet(out)
    peak = _status_mb("VmHWM")
    print(json.dumps({"mode": mode, "wall": wall, "cpu": cpu, "rss_start_mb": base,
                      "peak_mb": peak, "cells": len(table),
                      "events": int(table["count"].sum())}), flush=True)


def _dataset(data: Path, rows: int) -> tuple[Path, int]:
    root = data / f"records-{rows}"
    parts = max(2, rows // PART_ROWS)
    if not (root / f"part-{parts - 1:03d}.parquet").exists():
        root.mkdir(parents=True, exist_ok=True)
        write_records_dataset(root, rows, parts)
    return root, parts


def bench(rows: int, repeat: int, data: Path, client, product: str = "cells") -> None:
    root, parts = _dataset(data, rows)
    print(f"# {product}: {rows:,} rows in {parts} partitions of {root}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    res: dict = {"gather": [], "workers": []}
    outs = {mode: data / f"{product}-{mode}-{rows}.parquet" for mode in res}
    for _ in range(repeat):
        for mode in res:
            w0 = _cpu_now(client)[1:]
            run = subprocess.run(
                [sys.executable, __file__, "--child", f"{product}:{mode}", str(root),
                 client.scheduler_info()["address"], str(outs[mode])],
                capture_output=True, text=True, check=True)
            fig = json.loads(run.stdout.strip().splitlines()[-1])
            fig["workers_cpu"] = float((_cpu_now(client)[1:] - w0).sum())
            res[mode].append(fig)
    same = pd.read_parquet(outs["gather"]).equals(pd.read_parquet(outs["workers"]))
    print("| job, rows | path | client peak RSS MB (after imports) | client CPU s | workers CPU s "
          "| wall s |")
    print("|---|---|---|---|---|---|")
    med = {}
    for mode, figs in res.items():
        med[mode] = {k: float(np.median([f[k] for f in figs]))
                     for k in ("peak_mb", "rss_start_mb", "cpu", "workers_cpu", "wall")}
        m = med[mode]
        print(f"| {product} {rows / 1e6:g}M | {mode} | {m['peak_mb']:.0f} "
              f"({m['rss_start_mb']:.0f}) | {m['cpu']:.1f} | {m['workers_cpu']:.1f} | "
              f"{m['wall']:.1f} |", flush=True)
    g, w = med["gather"], med["workers"]
    print(f"# gather/workers: client peak RSS {g['peak_mb'] / w['peak_mb']:.2f}x (growth "
          f"{g['peak_mb'] - g['rss_start_mb']:.0f} MB vs {w['peak_mb'] - w['rss_start_mb']:.0f}"
          f" MB), client CPU {g['cpu'] / w['cpu']:.2f}x, workers CPU "
          f"{g['workers_cpu'] / w['workers_cpu']:.2f}x, wall {g['wall'] / w['wall']:.2f}x; "
          f"{res['gather'][0]['events']:,} events in {res['gather'][0]['cells']:,} cells; "
          f"identical tables: {same}; medians of {repeat}; load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--products", nargs="+", default=["cells"], choices=["cells", "gi", "areas"])
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "gapmap_dist"))
    ap.add_argument("--child", nargs=4, metavar=("MODE", "ROOT", "SCHEDULER", "OUT"),
                    help=argparse.SUPPRESS)  # one measured client process
    args = ap.parse_args(argv)
    if args.child:
        cells_child(*args.child)
        return
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    w = time.perf_counter()
    with dask_client() as client:
        print(f"# Dask LocalCluster 2 worker processes x 1 thread started in "
              f"{time.perf_counter() - w:.1f} s", flush=True)
        for rows in args.rows:
            for product in args.products:
                bench(rows, args.repeat, data, client, product)


if __name__ == "__main__":
    main()
