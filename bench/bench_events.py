"""CPU of report.events.event_arrays on a store's load: base checkout vs this one, same process.

Loads the store once (with record keys, as geo.store_read.load_since gives them), then times
alternately ``event_arrays`` of the base checkout's report/events.py (loaded under another
module name), this checkout's, and this checkout's with the shortcut turned off; medians of
``--reps`` rounds. Also times the proof alone (``_distinct_ids``) and ``pd.factorize`` of the
ids, and checks the arrays are identical.

    .venv/bin/python bench/bench_events.py --store /tmp/tidy/bench.duckdb --reps 9
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/tidy/bench.duckdb")
    ap.add_argument("--base", default="/tmp/tidy/base")
    ap.add_argument("--reps", type=int, default=9)
    a = ap.parse_args()
    import report.events as new
    from geo.privacy import with_record_keys
    from geo.store import IncidentStore

    spec = importlib.util.spec_from_file_location("base_events",
                                                  Path(a.base) / "report" / "events.py")
    base = importlib.util.module_from_spec(spec)
    sys.modules["base_events"] = base  # dataclasses look their module up
    spec.loader.exec_module(base)
    df = with_record_keys(IncidentStore(a.store).load())
    real = new._distinct_ids

    def off(df):
        new._distinct_ids = lambda eid: False
        try:
            return new.event_arrays(df)
        finally:
            new._distinct_ids = real

    cases = {"base": base.event_arrays, "new": new.event_arrays, "new, shortcut off": off,
             "_distinct_ids alone": lambda d: real(d["event_id"]),
             "pd.factorize(event_id)": lambda d: pd.factorize(d["event_id"])}
    times: dict[str, list[float]] = {k: [] for k in cases}
    out = {}
    for _ in range(a.reps):
        for name, f in cases.items():
            c = cpu()
            out[name] = f(df)
            times[name].append(cpu() - c)
    for f in ("t", "outcome", "naloxone", "h3", "lat", "lon", "rkey"):
        x, y = getattr(out["base"], f), getattr(out["new"], f)
        assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True), f
    print(f"rows {len(df):,}; proof: {out['_distinct_ids alone']}")
    ref = statistics.median(times["base"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:24s} cpu median {med:.3f} s  (min {min(ts):.3f})  ratio {med / ref:.2f}")


if __name__ == "__main__":
    main()
