"""Benchmark: store ingest at scale, memory and CPU (issue 13 item 1), old and new in one run.

For every ``--sizes`` n, a synthetic CSV export (``bench_ingest.synthetic_export``) is ingested
into an empty store by a fresh child process (``bench_ingest.py --case ingest``), which reports
its CPU seconds (getrusage, imports excluded), wall seconds and peak resident memory (VmHWM,
imports included). With ``--baseline DIR`` (a copy of the source tree before the change, e.g.
``git archive <commit> | tar -x -C DIR``) the same child runs from that tree too, alternating,
so old and new see the same machine load (``--runs`` times each: medians). Then: the CPU of
the largest size over the smallest (target: 5M / 1M <= 5.5x; also in user time, without the
system time of first-touched memory, which varies 2-3x between runs on this VM), and
appending 10k rows (the last two weeks) to a copy of the smallest
store against ingesting them into an empty store, ``--repeat`` times each (medians; target
<= 2x).

Usage::

    .venv/bin/python bench/bench_ingest_mem.py --sizes 1000000 2000000 5000000 \
        --baseline /tmp/old_tree --data /tmp/ingest_csv

``--data`` keeps the generated CSVs (they are made once). ``--density constant`` spreads
every size over 3 years per million rows (the same reports per km2 and hour at every size),
instead of one county's 3 years for every size. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))


def ingest_child(root: Path, path: Path, store: Path, *, fresh: bool = True) -> dict:
    """One ingest in a fresh process running the code of ``root`` (into an empty store when
    ``fresh``)."""
    for f in (store, Path(str(store) + ".wal")) if fresh else ():
        f.unlink(missing_ok=True)
    cmd = [sys.executable, str(root / "bench" / "bench_ingest.py"), "--case", "ingest",
           str(path), str(store)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def export(n: int, data: Path, density: str = "county", order: str = "random") -> Path:
    """The synthetic export of ``n`` rows: ``county``, every size over the same 3 years (so n
    rows are n/1M times as dense in time and space as 1M, and candidate duplicate pairs grow
    with the square of n); ``constant``, 3 years per million rows (the same reports per
    km2 and hour at every size: a bigger jurisdiction or a longer history). ``order``:
    ``random`` (the generator's), or ``time`` (rows sorted by time, as most agency exports)."""
    from bench_ingest import synthetic_export

    path = data / (f"x{n}.csv" if density == "county" else f"x{n}_{density}.csv")
    if not path.exists():
        years = 3 if density == "county" else 3 * n / 1_000_000
        synthetic_export(n, years=years).to_csv(path, index=False)
    if order == "time":
        import pandas as pd

        src, path = path, path.with_name(path.stem + "_sorted.csv")
        if not path.exists():
            df = pd.read_csv(src, dtype=str, keep_default_na=False)
            df.sort_values("occurred_at", kind="stable").to_csv(path, index=False)
    return path


def append_file(data: Path) -> Path:
    """10k rows in the last two weeks of the synthetic period (as in bench_ingest --store)."""
    from bench_ingest import synthetic_export

    path = data / "new10k.csv"
    if not path.exists():
        new = synthetic_export(10_000, seed=9)
        t = np.datetime64("2024-12-18T00:00") + np.random.default_rng(9).integers(
            0, 14 * 1440, len(new)).astype("timedelta64[m]")
        new["occurred_at"] = t.astype("datetime64[s]").astype(str)
        new["incident_id"] = [f"N{k}" for k in range(len(new))]
        new.to_csv(path, index=False)
    return path


def _r(xs) -> list:
    return [round(x, 2) for x in sorted(xs)]


def _line(name: str, r: dict, n: int) -> str:
    us = (f" (user {r['user']:.2f}, sys {r['sys']:.2f}, {r['faults']:,} page faults)"
          if "user" in r else "")
    return (f"  {name:8s}: {r['cpu']:7.2f} s cpu{us} ({r['cpu'] / n * 1e6:5.1f} µs/row), "
            f"{r['wall']:7.2f} s wall, peak {r['rss_peak_mb'] / 1024:5.2f} GiB "
            f"(after imports {r['rss_base_mb']:,.0f} MB); records {r['records']:,}, "
            f"events {r['events']:,}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000])
    p.add_argument("--baseline", type=Path, help="source tree of the old code (same run)")
    p.add_argument("--data", type=Path, help="folder for the generated CSVs (kept)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each append case (0: none)")
    p.add_argument("--order", choices=["random", "time"], default="random",
                   help="row order of the files: the generator's, or sorted by time")
    p.add_argument("--runs", type=int, default=1, help="ingests of each size per tree (the "
                   "median run is shown; ratios of medians)")
    p.add_argument("--density", choices=["county", "constant"], default="county",
                   help="county: every size over the same 3 years (denser with size); "
                   "constant: 3 years per million rows (default county)")
    a = p.parse_args(argv)
    roots = {"new": ROOT}
    if a.baseline:
        roots["old"] = a.baseline.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="gapmap_bench_mem_"))
    data = a.data or tmp
    data.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()} at start", flush=True)
    try:
        cpu = {}
        for n in sorted(a.sizes):
            path = export(n, data, a.density, a.order)
            print(f"store ingest, CSV, {n:,} rows (load average {os.getloadavg()[0]:.1f}):",
                  flush=True)
            res = {}
            runs: dict[str, list] = {name: [] for name in roots}
            for _ in range(a.runs):  # alternating, so the load falls on every tree alike
                for name, root in roots.items():
                    runs[name].append(ingest_child(root, path, tmp / f"{name}{n}.duckdb"))
            for name in roots:
                rs = sorted(runs[name], key=lambda r: r["cpu"])
                res[name] = rs[len(rs) // 2]  # the median run
                cpu[name, n] = res[name]["cpu"]
                cpu[name, n, "user"] = statistics.median(r.get("user", float("nan")) for r in rs)
                print(_line(name, res[name], n), flush=True)
                if a.runs > 1:
                    print(f"            runs: cpu {_r(r['cpu'] for r in rs)} s, user "
                          f"{_r(r.get('user', float('nan')) for r in rs)} s, peak "
                          f"{_r(r['rss_peak_mb'] / 1024 for r in rs)} GiB", flush=True)
            if "old" in res:
                for k in ("records", "events", "accepted", "rejected", "added"):
                    assert res["old"][k] == res["new"][k], (k, res["old"][k], res["new"][k])
                print(f"  new/old : {res['new']['cpu'] / res['old']['cpu']:.2f}x cpu, peak "
                      f"{res['new']['rss_peak_mb'] / res['old']['rss_peak_mb']:.2f}x "
                      "(same records and events)", flush=True)
            for name in roots:  # only the smallest store is kept (appends)
                if n != min(a.sizes):
                    (tmp / f"{name}{n}.duckdb").unlink(missing_ok=True)
        lo, hi = min(a.sizes), max(a.sizes)
        if hi > lo:
            for name in roots:
                print(f"  {name}: cpu {hi:,} / {lo:,} rows = {cpu[name, hi] / cpu[name, lo]:.2f}x "
                      f"(user time {cpu[name, hi, 'user'] / cpu[name, lo, 'user']:.2f}x) "
                      f"for {hi / lo:.0f}x rows", flush=True)
        new = append_file(data)
        for name, root in roots.items() if a.repeat else ():
            grown, empty = [], []
            for _ in range(a.repeat):
                store = tmp / f"{name}grown.duckdb"
                shutil.copy(tmp / f"{name}{lo}.duckdb", store)
                Path(str(store) + ".wal").unlink(missing_ok=True)
                grown.append(ingest_child(root, new, store, fresh=False)["cpu"])
                empty.append(ingest_child(root, new, tmp / f"{name}empty.duckdb")["cpu"])
            g, e = statistics.median(grown), statistics.median(empty)
            print(f"append 10k rows to the {lo:,}-row store ({name}): cpu {_r(grown)} s, "
                  f"into an empty store {_r(empty)} s: median {g:.2f} / {e:.2f} = "
                  f"{g / e:.2f}x", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average {os.getloadavg()} at end", flush=True)


if __name__ == "__main__":
    main()
