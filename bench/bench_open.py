"""How fast the store opens: ``load()``, ``gapmap hotspots`` and ``gapmap gaps`` from start.

Usage::

    .venv/bin/python bench/bench_open.py --store /tmp/cap1m/bench.duckdb \\
        [--base /tmp/h3_base] [--runs 5]

* ``load()``: each run in a fresh child process, wall and CPU seconds of the call itself
  (imports excluded), median of ``--runs``: ``load`` (``IncidentStore.load()`` alone), ``full``
  (the same plus record keys, as the dashboard and every door do), the projected load a Gi*
  command makes (:data:`geo.store_read.COUNT_COLUMNS`, cells at res 8, record keys) for all
  time (``gi_all``) and from the default public window's start (``gi_window``), and — with
  ``--base`` — ``load()`` alone (``base_load``) and with record keys (``base``) in the older
  checkout.
* ``gapmap --help``, ``gapmap hotspots --store S`` and ``gapmap gaps --store S --resources
  data/sample_resources.csv`` (public tier): wall and CPU (children) seconds from process
  start, median of ``--runs``, alternating with the ``--base`` checkout's ``cli.py`` when given
  (``git worktree add /tmp/h3_base <rev>``), so both see the same machine load. Outputs of
  the two checkouts are compared byte for byte.
* ``--dashboard``: the dashboard's first page (Overview) from process start in a fresh child
  (Streamlit's AppTest: imports, store load, KPIs, alerts, map), wall and CPU, alternating with
  ``--base``.

The machine is shared: compare CPU seconds and the same-run ratios.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The start of every timing child (bench_open, bench_load): imports (not timed) and ``cpu()``.
CHILD_PRELUDE = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from geo.store import IncidentStore
from geo.privacy import with_record_keys
"""

_CHILD = CHILD_PRELUDE + r"""
store = IncidentStore({store!r})
case = {case!r}
if not case.startswith("base"):
    from geo.store_read import COUNT_COLUMNS, load_since
c0, t0 = cpu(), time.perf_counter()
if case in ("base_load", "load"):
    df = store.load()
elif case == "base":
    df = with_record_keys(store.load())
elif case == "full":
    df = with_record_keys(store.load())
elif case == "gi_all":
    df = load_since(store, None, columns=COUNT_COLUMNS, cell_res=(8,))
else:
    from products.query import Query, resolve
    q = Query(res=8)
    df = load_since(store, lambda p: resolve(q, p, "public").start, columns=COUNT_COLUMNS,
                    cell_res=(8,))
print(json.dumps({{"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "rows": len(df),
                  "cols": df.shape[1]}}))
"""


_DASH = r"""
import os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
os.environ["GAPMAP_STORE"] = {store!r}
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({script!r}, default_timeout=900)
at.run()
assert not at.exception, [e.value for e in at.exception]
print("ready", time.perf_counter() - t0)
"""


def child_dashboard(root: Path, store: str) -> tuple[float, float]:
    """Wall (from process start to the Overview rendered) and CPU seconds of one child."""
    code = _DASH.format(root=str(root), store=store, script=str(root / "dashboard.py"))
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    wall = time.perf_counter() - t0
    d = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return wall, (d.ru_utime + d.ru_stime) - (c.ru_utime + c.ru_stime)


def child_load(root: Path, store: str, case: str) -> dict:
    code = _CHILD.format(root=str(root), store=store, case=case)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def timed_cli(root: Path, *args) -> tuple[float, float]:
    """Wall and CPU seconds of one ``gapmap`` command of the checkout ``root``, from start."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(root / "cli.py"), *map(str, args)],
                       capture_output=True, text=True, cwd=root)
    wall = time.perf_counter() - t0
    d = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return wall, (d.ru_utime + d.ru_stime) - (c.ru_utime + c.ru_stime)


def _med(runs, i):
    return statistics.median(r[i] for r in runs)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/cap1m/bench.duckdb")
    ap.add_argument("--base", default=None, help="an older checkout (git worktree) to compare")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--dashboard", action="store_true",
                    help="also time the dashboard's first page from process start")
    args = ap.parse_args(argv)
    store = str(Path(args.store).resolve())
    base = Path(args.base).resolve() if args.base else None
    print(f"store {store}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
          f"{os.getloadavg()[0]:.1f}; {args.runs} runs each", flush=True)
    if not args.skip_load:
        cases = ["load", "full", "gi_all", "gi_window"] + (["base_load", "base"] if base else [])
        res = {c: [] for c in cases}
        for _ in range(args.runs):  # interleaved: every case sees the same machine
            for c in cases:
                res[c].append(child_load(base if c.startswith("base") else ROOT, store, c))
        for c in cases:
            rs = res[c]
            print(f"load {c:9s}: median {_med([(r['wall'], r['cpu']) for r in rs], 0):.3f} s "
                  f"wall, {_med([(r['wall'], r['cpu']) for r in rs], 1):.3f} s cpu; "
                  f"{rs[0]['rows']:,} rows x {rs[0]['cols']} columns "
                  f"(cpu runs {[round(r['cpu'], 2) for r in rs]})", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        res_csv = ROOT / "data" / "sample_resources.csv"
        cmds = {
            "--help": ["--help"],
            "hotspots": ["hotspots", "--store", store, "--out", "{out}"],
            "gaps": ["gaps", "--store", store, "--resources", res_csv, "--out", "{out}"],
        }
        for name, cmd in ({} if args.skip_cli else cmds).items():
            roots = {"new": ROOT} | ({"base": base} if base else {})
            runs = {k: [] for k in roots}
            for _ in range(args.runs):
                for k, root in roots.items():
                    out = tmp / f"{name.strip('-')}_{k}.csv"
                    runs[k].append(timed_cli(root, *[str(out) if a == "{out}" else a
                                                     for a in cmd]))
            line = f"gapmap {name:8s}: " + "; ".join(
                f"{k} median {_med(r, 0):.2f} s wall, {_med(r, 1):.2f} s cpu "
                f"(cpu {[round(c, 2) for _, c in r]})" for k, r in runs.items())
            if base:
                line += (f"; cpu base/new {_med(runs['base'], 1) / _med(runs['new'], 1):.2f}x, "
                         f"wall {_med(runs['base'], 0) / _med(runs['new'], 0):.2f}x")
                if name != "--help":
                    same = filecmp.cmp(tmp / f"{name}_new.csv", tmp / f"{name}_base.csv",
                                       shallow=False)
                    line += f"; outputs {'identical' if same else 'DIFFER'}"
            print(line, flush=True)
    if args.dashboard:
        roots = {"new": ROOT} | ({"base": base} if base else {})
        runs = {k: [] for k in roots}
        for _ in range(args.runs):
            for k, root in roots.items():
                runs[k].append(child_dashboard(root, store))
        line = "dashboard Overview ready from process start: " + "; ".join(
            f"{k} median {_med(r, 0):.2f} s wall, {_med(r, 1):.2f} s cpu "
            f"(cpu {[round(c, 2) for _, c in r]})" for k, r in runs.items())
        if base:
            line += f"; cpu base/new {_med(runs['base'], 1) / _med(runs['new'], 1):.2f}x"
        print(line, flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
