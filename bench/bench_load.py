"""How fast the store loads with record keys (``with_record_keys(store.load())``), old vs new.

Usage::

    git worktree add /tmp/storeload/base 50025da
    .venv/bin/python bench/bench_load.py --store /tmp/h6_1m/bench.duckdb \\
        --base /tmp/storeload/base [--runs 5] [--appended 2000]

Each run is a fresh child process per checkout (this one, ``new``; ``--base``, the older one),
alternating, so both see the same machine load. A child imports first (not timed), then times
``store.load()`` (``load``) and ``with_record_keys`` of it (``keys``); ``full`` is the two
together, what every door does. Wall and CPU seconds (the child's own getrusage); medians of
``--runs``.

Every child also prints a digest of its event ids (in order) and record keys: the two
checkouts must load the same events in the same order with the same keys.

A last child loads the store once and times the record keys of that frame by pandas'
definition (the old code: ``hash_pandas_object`` and ``groupby.cumcount``) and by this
checkout, alternating, ``--runs`` times each: the keys' same-run ratio without the noise of
process start, and a check that both give the same keys.

``--appended N`` also times a copy of the store in which N events spread over the whole
time range were deleted and inserted again at the end (what an ingest of late records leaves:
a sorted store with an unsorted tail). Its load must equal the original store's, row for row.

The machine is shared: compare CPU seconds and the same-run ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench_open import CHILD_PRELUDE  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parent.parent

_CHILD = CHILD_PRELUDE + r"""
import hashlib
store = IncidentStore({store!r})
c0, t0 = cpu(), time.perf_counter()
df = store.load()
c1, t1 = cpu(), time.perf_counter()
keyed = with_record_keys(df)
c2, t2 = cpu(), time.perf_counter()
digest = hashlib.sha256("\n".join(keyed["event_id"].astype(str)).encode())
digest.update(keyed["rkey"].to_numpy("int64").tobytes())
print(json.dumps({{"load": [t1 - t0, c1 - c0], "keys": [t2 - t1, c2 - c1],
                  "full": [t2 - t0, c2 - c0], "rows": len(df), "cols": df.shape[1],
                  "digest": digest.hexdigest()[:16]}}))
"""


_KEYS = CHILD_PRELUDE + r"""
import numpy as np, pandas as pd
from geo.privacy import cellkey
def pandas_keys(df):  # the definition the keys were published with (the old code)
    cols = [c for c in cellkey._IDENTITY if c in df.columns]
    h = pd.util.hash_pandas_object(df[cols].reset_index(drop=True), index=False,
                                   hash_key=cellkey._salt()).to_numpy(np.uint64)
    ordinal = pd.Series(h).groupby(h, sort=False).cumcount().to_numpy(np.uint64)
    return cellkey.keys_from_hashes(h, ordinal)
df = IncidentStore({store!r}).load()
out = {{"old": [], "new": []}}
for _ in range({runs}):
    for name, f in (("old", pandas_keys), ("new", cellkey.record_keys)):
        c0, t0 = cpu(), time.perf_counter()
        k = f(df)
        out[name].append([time.perf_counter() - t0, cpu() - c0])
        out[name + "_keys"] = k
same = bool((out.pop("old_keys") == out.pop("new_keys")).all())
print(json.dumps(out | {{"same": same}}))
"""


def keys_in_one_process(store: Path, runs: int) -> dict:
    """The record keys of one loaded frame, pandas' definition vs this checkout, alternating."""
    code = _KEYS.format(root=str(ROOT), store=str(store), runs=runs)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def child(root: Path, store: Path) -> dict:
    code = _CHILD.format(root=str(root), store=str(store))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def appended_copy(store: Path, n: int, dest: Path) -> Path:
    """A copy of ``store`` whose ``n`` sampled events were moved to the end of the table."""
    import duckdb

    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(store, dest)
    con = duckdb.connect(str(dest))
    try:
        con.execute(f"CREATE TEMP TABLE moved AS SELECT * FROM incidents "
                    f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE (7)")
        con.execute("DELETE FROM incidents WHERE event_id IN (SELECT event_id FROM moved)")
        con.execute("INSERT INTO incidents SELECT * FROM moved")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return dest


def run(stores: dict[str, Path], roots: dict[str, Path], runs: int) -> dict:
    res = {(s, k): [] for s in stores for k in roots}
    for _ in range(runs):  # interleaved: every case sees the same machine
        for s, path in stores.items():
            for k, root in roots.items():
                res[(s, k)].append(child(root, path))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/h6_1m/bench.duckdb")
    ap.add_argument("--base", default=None, help="an older checkout (git worktree) to compare")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--appended", type=int, default=0,
                    help="also time a copy with this many events moved to the end")
    ap.add_argument("--tmp", default="/tmp/storeload")
    args = ap.parse_args(argv)
    store = Path(args.store).resolve()
    roots = {"new": ROOT} | ({"base": Path(args.base).resolve()} if args.base else {})
    stores = {"store": store}
    if args.appended:
        stores["appended"] = appended_copy(store, args.appended,
                                           Path(args.tmp) / "bench_load_appended.duckdb")
    print(f"store {store}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
          f"{os.getloadavg()[0]:.1f}; {args.runs} runs each; checkouts "
          + ", ".join(f"{k}={v}" for k, v in roots.items()), flush=True)
    res = run(stores, roots, args.runs)
    digests = set()
    for s in stores:
        for part in ("load", "keys", "full"):
            line = f"{s:8s} {part:4s}:"
            med = {}
            for k in roots:
                rs = res[(s, k)]
                wall = statistics.median(r[part][0] for r in rs)
                cpu = statistics.median(r[part][1] for r in rs)
                med[k] = (wall, cpu)
                line += (f" {k} {wall:.3f} s wall, {cpu:.3f} s cpu "
                         f"(cpu {[round(r[part][1], 3) for r in rs]});")
            if "base" in med:
                line += (f" base/new cpu {med['base'][1] / med['new'][1]:.2f}x, "
                         f"wall {med['base'][0] / med['new'][0]:.2f}x")
            print(line, flush=True)
        for k in roots:
            d = {r["digest"] for r in res[(s, k)]}
            digests |= d
            r0 = res[(s, k)][0]
            print(f"{s:8s} {k}: {r0['rows']:,} rows x {r0['cols']} columns; digest "
                  f"{', '.join(sorted(d))}", flush=True)
    kr = keys_in_one_process(store, args.runs)
    med = {k: [statistics.median(r[i] for r in kr[k]) for i in (0, 1)] for k in ("old", "new")}
    print(f"keys in one process (warm), pandas definition vs new: old {med['old'][0]:.3f} s "
          f"wall, {med['old'][1]:.3f} s cpu; new {med['new'][0]:.3f} s wall, {med['new'][1]:.3f} "
          f"s cpu (cpu {[round(r[1], 3) for r in kr['new']]}); old/new cpu "
          f"{med['old'][1] / med['new'][1]:.2f}x; keys {'IDENTICAL' if kr['same'] else 'DIFFER'}",
          flush=True)
    print(f"events, order and record keys {'IDENTICAL' if len(digests) == 1 else 'DIFFER'} "
          f"across checkouts{' and stores' if args.appended else ''}")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0 if len(digests) == 1 and kr["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
