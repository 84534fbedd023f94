"""Benchmark: CPU of de-duplication matching (``candidate_pairs`` + ``assign_events``), this
checkout against an older one in the same run, with a check that both give the same output.

The matching inputs are the store's (time, lat, lon, source code, day-only flag of every record,
in record order ``occurred_at, fingerprint``), read once from a *copy* of ``--store``. Each case
runs in its own child process (imports outside the measurement) and reports CPU seconds
(``getrusage``: every thread; the system part of candidate_pairs is shown: page faults of fresh
memory, which vary with the machine's state): the first call in the process (``cold``, what one
ingest pays) and the median of ``--warm`` more calls (``warm``). ``assign_events`` is timed as
called before (it finds the components itself) and, where the checkout accepts it, with the
components passed in (``comp=``, as the store has them already), and the store's own
``store_window.pairs_by_block`` (500k-record blocks, warm only). Cases alternate base/new,
``--runs`` times; medians are printed.

Usage::

    git worktree add /tmp/match/base 258e6c0
    .venv/bin/python bench/bench_match.py --base /tmp/match/base --runs 5
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _sys() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def _inputs(store: str, out: Path) -> None:
    import duckdb
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from geo.schema import SOURCES

    copy = out.with_suffix(".duckdb")
    shutil.copyfile(store, copy)  # never open the given store itself
    code = ("CASE source " + " ".join(f"WHEN '{x}' THEN {k}" for k, x in enumerate(SOURCES))
            + f" ELSE {len(SOURCES) - 1} END")
    con = duckdb.connect(str(copy), read_only=True)
    w = con.sql(f"SELECT occurred_at, lat, lon, {code}::TINYINT AS src, "
                "coalesce(time_precision = 'day', false) AS day FROM records "
                "ORDER BY occurred_at, fingerprint").fetchnumpy()
    con.close()
    copy.unlink()
    np.savez(out, t=np.asarray(w["occurred_at"]).astype("datetime64[us]"),
             lat=np.asarray(w["lat"], float), lon=np.asarray(w["lon"], float),
             src=np.asarray(w["src"], np.int64), day=np.asarray(w["day"], bool))


def _child(tree: str, inputs: str, warm: int, save: str | None) -> None:
    sys.path.insert(0, tree)
    import numpy as np
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from geo.dedup import assign_events, candidate_pairs

    d = np.load(inputs)
    t, lat, lon, src, ok = d["t"], d["lat"], d["lon"], d["src"], ~d["day"]
    n = src.size
    has_comp = "comp" in inspect.signature(assign_events).parameters
    res: dict[str, list[float]] = {"pairs": [], "pairs_sys": [], "assign": [], "assign_comp": [],
                                   "blocks": []}
    for _ in range(1 + warm):
        c0, s0 = _cpu(), _sys()
        i, j, s = candidate_pairs(t, lat, lon, src, ok, window_min=60, radius_m=300)
        c1 = _cpu()
        res["pairs_sys"].append(_sys() - s0)
        lab = assign_events(n, i, j, s, src)
        c2 = _cpu()
        res["pairs"].append(c1 - c0)
        res["assign"].append(c2 - c1)
        if has_comp:
            comp = connected_components(sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n)),
                                        directed=False)[1]
            c3 = _cpu()
            lab2 = assign_events(n, i, j, s, src, comp=comp)
            res["assign_comp"].append(_cpu() - c3)
            assert np.array_equal(lab, lab2)
    # the store's path: 500k-record blocks searched with their window's overlap
    try:  # moved to geo.store_window
        from geo.store_window import pairs_by_block as _pairs_by_block
    except ImportError:
        from geo.store_events import _pairs_by_block

    for _ in range(warm):
        c0 = _cpu()
        bi, bj, bs = _pairs_by_block(t, lat, lon, src, ok, 60, 300, 500_000)
        res["blocks"].append(_cpu() - c0)
    assert np.array_equal(bi, i) and np.array_equal(bj, j) and np.array_equal(bs, s)
    if save:
        np.savez(save, i=i, j=j, s=s, lab=lab)
    print(json.dumps({"n": int(n), "pairs_n": int(i.size), "events": int(lab.max()) + 1,
                      **res}))


def _run(tree: str, inputs: Path, warm: int, save: Path | None) -> dict:
    cmd = [sys.executable, __file__, "--child", tree, "--inputs", str(inputs),
           "--warm", str(warm)] + (["--save", str(save)] if save else [])
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", help="older checkout (e.g. a git worktree of 258e6c0)")
    ap.add_argument("--store", default="/tmp/h6_1m/bench.duckdb")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--inputs")
    ap.add_argument("--save")
    a = ap.parse_args()
    if a.child:
        _child(a.child, a.inputs, a.warm, a.save)
        return
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="bench_match_") as tmp:
        tmp = Path(tmp)
        inputs = tmp / "inputs.npz"
        _inputs(a.store, inputs)
        trees = {"new": str(ROOT)} | ({"base": str(Path(a.base).resolve())} if a.base else {})
        got: dict[str, list[dict]] = {k: [] for k in trees}
        for r in range(a.runs):
            for name, tree in (trees.items() if r % 2 == 0 else reversed(trees.items())):
                got[name].append(_run(tree, inputs, a.warm, tmp / f"{name}.npz" if r == 0
                                      else None))
        print(f"load {os.getloadavg()[0]:.2f}; {got['new'][0]['n']:,} records, "
              f"{got['new'][0]['pairs_n']:,} pairs, {got['new'][0]['events']:,} events; "
              f"CPU s, median of {a.runs} runs (cold: first call in the process; "
              f"warm: median of {a.warm} more)")

        def med(name, key, cold):
            vals = [(x[key][0] if cold else statistics.median(x[key][1:])) for x in got[name]
                    if x[key]]
            return statistics.median(vals) if vals else float("nan")

        for cold in (True, False):
            label = "cold" if cold else "warm"
            row = {}
            for name in trees:
                p, s, sc = (med(name, k, cold) for k in ("pairs", "assign", "assign_comp"))
                row[name] = (p, s, sc)
                extra = f"   assign(comp=) {sc:6.3f}" if sc == sc else ""
                print(f"  {label} {name:>4}: candidate_pairs {p:6.3f} (sys "
                      f"{med(name, 'pairs_sys', cold):5.3f})   assign_events {s:6.3f}"
                      f"   total {p + s:6.3f}{extra}")
            if "base" in row:
                (bp, bs, _), (p, s, sc) = row["base"], row["new"]
                print(f"  {label} ratio base/new: candidate_pairs {bp / p:5.1f}x   "
                      f"assign_events {bs / s:5.1f}x   total {(bp + bs) / (p + s):5.1f}x   "
                      f"total with comp= {(bp + bs) / (p + sc):5.1f}x")
        for name in trees:
            bl = statistics.median(statistics.median(x["blocks"]) for x in got[name])
            print(f"  warm {name:>4}: pairs_by_block (500k blocks) {bl:6.3f}")
        if "base" in trees:
            o, b = np.load(tmp / "new.npz"), np.load(tmp / "base.npz")
            same = all(np.array_equal(o[k].view(np.int64) if k == "s" else o[k],
                                      b[k].view(np.int64) if k == "s" else b[k])
                       for k in ("i", "j", "s", "lab"))
            print(f"  outputs identical to base (pairs, scores bit for bit, labels): {same}")
            if not same:
                sys.exit(1)


if __name__ == "__main__":
    main()
