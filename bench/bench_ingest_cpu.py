"""Benchmark: CPU of the store ingest per phase, against an older checkout in the same run.

Each case runs in its own child process (imports outside the measurement) and reports its CPU
seconds (``getrusage`` of the process: every thread). Cases, for each file given:

* ``gapmap``: ``IncidentStore.ingest`` into a fresh store with this checkout's code, with the CPU
  of each phase (functions wrapped: read/scan, read/parse, validate, fingerprints, H3 and ids,
  the rest of a chunk's finishing, summary, de-duplication and events, insert and the rest);
* ``base``: the same with the code of ``--base`` (another checkout, e.g. a ``git worktree``);
* ``polars``: the polars-only pipeline of ``bench_ingest.py --store`` (read, parse, validate,
  H3, store; no de-duplication), the issue's yardstick;
* ``polars_store``: the same plus the rest of what the store keeps (issue 13 item 2: events
  stored at ingest): an events table, one row per record (no de-duplication: every record its
  own event) with its cells at resolutions 6-10, and the record -> event map: the floor of
  the store's contract with polars, polars-h3 and DuckDB.

``--front`` runs only the front half in both checkouts (read, validate, fingerprints, H3,
finishing, summary: what the store ingest does before inserting; nothing is stored).

Usage::

    git worktree add /tmp/base 50025da
    .venv/bin/python bench/bench_ingest_cpu.py --base /tmp/base --runs 3 \\
        --csv /tmp/h6_1m/bench.csv --parquet /tmp/x.parquet

A Parquet file is written from the CSV when ``--parquet`` names a file that does not exist
(``lat``/``lon`` typed as numbers, the other columns text). Medians of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: (module, attribute, phase); a generator's time is counted while it produces each item.
#: "a|b": the first of the modules that has the attribute (the chunk steps moved from
#: geo.ingest_stream to geo.ingest_chunks; an older checkout has them in the first)
_STEPS = "geo.ingest_chunks|geo.ingest_stream"
PHASES = [
    ("geo.chunk_readers", "detect_encoding", "read/encoding", False),
    ("geo.chunk_readers", "_scan_records", "read/scan", False),
    ("geo.chunk_readers", "_text_gen", "read/parse", True),
    ("geo.chunk_readers", "_parquet_gen", "read/parse", True),
    (_STEPS, "_Chunks.validate", "validate", False),
    (_STEPS, "_fingerprint", "fingerprints", False),
    (_STEPS, "finish_records", "H3+ids", False),
    (_STEPS, "_Chunks.finish", "finish (rest)", False),
    (_STEPS, "_Chunks.summary", "summary", False),
    ("geo.store", "IncidentStore._update_events", "dedup+events", False),
    ("geo.store", "IncidentStore.ingest", "insert+rest", False),
]


#: The yardsticks (no de-duplication): polars alone (read, parse, validate, H3, store the
#: records), and the same plus the rest of the store's contract (events table with cells at
#: resolutions 6-10, record -> event map; ``bench_ingest_store._polars_store``)
YARDSTICKS = ("polars", "polars_store")


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _user() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


def _instrument(acc: Counter) -> None:
    """Wrap the phase functions: each adds its own CPU (callees' phases excluded) to ``acc``."""
    import importlib

    stack: list[float] = []

    clock = {"user": _user, "sys": lambda: _cpu() - _user()}.get(
        os.environ.get("GAPMAP_BENCH_PHASES", ""), _cpu)

    def enter():
        stack.append(0.0)
        return clock()

    def leave(c0, label):
        d = clock() - c0
        inner = stack.pop()
        acc[label] += d - inner
        if stack:
            stack[-1] += d

    for mod_names, attr, label, is_gen in PHASES:
        owner, _, name = attr.rpartition(".")
        for mod_name in mod_names.split("|"):
            if not _in_checkout(mod_name):
                continue
            mod = importlib.import_module(mod_name)
            target = getattr(mod, owner, None) if owner else mod
            fn = getattr(target, name, None) if target is not None else None
            if fn is not None:
                break
        else:
            continue
        if is_gen:
            def wrapped(*a, _fn=fn, _label=label, **k):
                it = _fn(*a, **k)
                while True:
                    c0 = enter()
                    try:
                        item = next(it)
                    except StopIteration:
                        leave(c0, _label)
                        return
                    leave(c0, _label)
                    yield item
        else:
            def wrapped(*a, _fn=fn, _label=label, **k):
                c0 = enter()
                try:
                    return _fn(*a, **k)
                finally:
                    leave(c0, _label)
        setattr(target, name, functools.wraps(fn)(wrapped))


def run_case(kind: str, root: str, path: str, store: str) -> None:
    """Child side: one case, one JSON line."""
    sys.path.insert(0, root)
    import polars  # noqa: F401

    import geo.store  # noqa: F401 - imports outside the measurement

    acc: Counter = Counter()
    if kind in YARDSTICKS:
        sys.path.insert(0, str(HERE))
        import bench_ingest_store

        c0, u0 = _cpu(), _user()
        extra = getattr(bench_ingest_store, "_" + kind)(path, store)
    elif kind == "front":
        _instrument(acc)
        extra = _front(path)
        c0, u0 = extra.pop("c0"), extra.pop("u0")
    else:
        _instrument(acc)
        from geo.store import IncidentStore

        c0, u0 = _cpu(), _user()
        s = IncidentStore(store).ingest(path)
        extra = {k: s[k] for k in ("read", "accepted", "rejected", "records", "events")}
    cpu = _cpu() - c0
    user = _user() - u0
    out = {"case": kind, "cpu": cpu, "user": user, "sys": cpu - user, "phases": dict(acc),
           **extra,
           "geo": sys.modules["geo"].__file__}
    print(json.dumps(out), flush=True)


def _in_checkout(mod_name: str) -> bool:
    """Whether the checkout being measured has this module (the editable install of another
    checkout would otherwise supply a module this one does not have)."""
    import importlib.util

    top, _, rest = mod_name.partition(".")
    pkg = Path(importlib.import_module(top).__file__).parent
    return (pkg / (rest.replace(".", "/") + ".py")).is_file() if rest else True


def _front(path: str) -> dict:
    """The front half of a store ingest alone: chunks read, validated, fingerprinted, indexed
    and finished, and the summary (what ``stream_into_store`` does before inserting)."""
    import importlib

    from geo.chunk_readers import iter_chunks

    steps_mod = importlib.import_module(next(m for m in _STEPS.split("|") if _in_checkout(m)))
    c0, u0 = _cpu(), _user()
    steps = steps_mod._Chunks(preset=None, mapping=None, source=None, boundary=None,
                              drop_outside=False, exclude=None, drop_identical=False, now=None)
    n = 0
    for records, _rejects in steps_mod.processed_chunks(iter_chunks(path), steps):
        n += len(records)
    s = steps.summary()
    return {"c0": c0, "u0": u0, "read": s["read"], "accepted": s["accepted"],
            "rejected": s["rejected"]}


def child(kind: str, root: Path, path: Path, tmp: Path) -> dict:
    store = tmp / f"{kind}-{time.monotonic_ns()}.duckdb"
    cmd = [sys.executable, str(HERE / "bench_ingest_cpu.py"), "--case", kind, str(root),
           str(path), str(store)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    for f in tmp.glob(store.name + "*"):
        f.unlink()
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def _parquet_from(csv: Path, out: Path) -> None:
    import pandas as pd

    df = pd.read_csv(csv, keep_default_na=False, dtype=str)
    for c in ("lat", "lon"):
        df[c] = pd.to_numeric(df[c])
    df.to_parquet(out, index=False)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--base", type=Path, help="an older checkout to compare with")
    p.add_argument("--csv", type=Path, default=Path("/tmp/h6_1m/bench.csv"))
    p.add_argument("--parquet", type=Path, help="also a Parquet file (written from the CSV "
                   "when missing)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--front", action="store_true", help="only the front half (read, validate, "
                   "fingerprint, H3, finish, summary; nothing stored), no polars yardstick")
    p.add_argument("--user-phases", action="store_true",
                   help="phases in user CPU time (without the system time of page faults, "
                   "which varies 2-3x between runs on a VM)")
    p.add_argument("--case", nargs=4, help=argparse.SUPPRESS)  # child process
    a = p.parse_args(argv)
    if a.user_phases:
        os.environ["GAPMAP_BENCH_PHASES"] = "user"  # read by the children
    if a.case:
        run_case(*a.case)
        return
    if a.parquet is not None and not a.parquet.exists():
        _parquet_from(a.csv, a.parquet)
    files = [("CSV", a.csv)] + ([("Parquet", a.parquet)] if a.parquet else [])
    cases = [("gapmap", ROOT)] + ([("base", a.base)] if a.base else [])
    if not a.front:
        cases += [(k, ROOT) for k in YARDSTICKS]
    own = "front" if a.front else "gapmap"  # what the checkouts run
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="gapmap_cpu_") as tmp:
        for label, path in files:
            runs: dict[str, list[dict]] = {k: [] for k, _ in cases}
            for _ in range(a.runs):  # interleaved, so the load falls on every case alike
                for kind, root in cases:
                    runs[kind].append(child(kind if kind in YARDSTICKS else own, root, path,
                                            Path(tmp)))
            med = {k: statistics.median(r["cpu"] for r in v) for k, v in runs.items()}
            usr = {k: statistics.median(r["user"] for r in v) for k, v in runs.items()}
            n = runs["gapmap"][0]["read"]
            print(f"\n{label} {path.name}: {n:,} rows, medians of {a.runs} runs (CPU s)")
            for kind, _ in cases:
                r = runs[kind][0]
                cpus = [round(x["cpu"], 2) for x in runs[kind]]
                counts = (f"records {r['records']:,}, events {r['events']:,}" if "events" in r
                          else f"accepted {r['accepted']:,}")
                ratio = (f"; / polars {med[kind] / med['polars']:.1f}x (user time "
                         f"{usr[kind] / usr['polars']:.1f}x)") if "polars" in med else ""
                print(f"  {kind:12s} {med[kind]:6.2f} s ({n / med[kind] / 1e3:4.0f}k rows per "
                      f"cpu-s; runs {cpus}; user {usr[kind]:.2f} s); {counts}{ratio}")
            if "base" in med:
                print(f"  base / gapmap: {med['base'] / med['gapmap']:.2f}x (user time "
                      f"{usr['base'] / usr['gapmap']:.2f}x)")
            names = [ph for _, _, ph, _ in PHASES]
            names = list(dict.fromkeys(names))
            print(f"  {'phase':15s}" + "".join(f"{k:>9s}" for k, _ in cases
                                               if k not in YARDSTICKS))
            for ph in names:
                vals = [statistics.median(x["phases"].get(ph, 0.0) for x in runs[k])
                        for k, _ in cases if k not in YARDSTICKS]
                if any(vals):
                    print(f"  {ph:15s}" + "".join(f"{v:9.2f}" for v in vals))
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
