"""The steps of ``gapmap hotspots`` / ``gapmap gaps`` on a store, old way vs new, same run.

Usage::

    .venv/bin/python bench/bench_count_steps.py --store /tmp/h6_1m/bench.duckdb [--runs 5]

In one process, on the store's events (the gaps read: two burden windows), each step is timed
the old way and the new way alternately, CPU seconds (getrusage, self), median of ``--runs``,
and the two results are checked equal:

* ``read``: ``load_since`` with :data:`geo.store_read.COUNT_COLUMNS` vs
  :func:`commands.common.count_columns` (no filter: no drug / age-band / sex columns);
* ``window``: the boolean take ``df.loc[incident_mask(...)]`` vs
  :func:`geo.grid.filter_incidents` (a slice of the time-sorted frame);
* ``cells``: ``np.unique`` + ``np.searchsorted`` vs :func:`geo.grid.unique_cells`;
* ``occupied``: ``np.unique`` vs ``np.sort(pd.unique(...))`` (products.hotspots.occupied_cells);
* ``data_end``: ``pd.to_datetime(col).max()`` vs :func:`products.query.data_end`.

The machine is shared: compare the same-run ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from commands.common import count_columns  # noqa: E402
from geo.grid import cells_at, filter_incidents, incident_mask, unique_cells  # noqa: E402
from geo.store import IncidentStore  # noqa: E402
from geo.store_read import COUNT_COLUMNS, cells_for, load_since  # noqa: E402
from products.hotspots import occupied_cells  # noqa: E402
from products.query import Query, data_end  # noqa: E402


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn):
    c = cpu()
    out = fn()
    return cpu() - c, out


def same(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(a, b)
            return True
        except AssertionError:
            return False
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b)
    return a == b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/h6_1m/bench.duckdb")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    store = IncidentStore(args.store)
    print(f"store {args.store}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load "
          f"average {os.getloadavg()[0]:.1f}; {args.runs} runs each, CPU s (self)", flush=True)
    ev = load_since(store, None, columns=COUNT_COLUMNS, cell_res=cells_for(8))
    t = ev["occurred_at"]
    end = t.max().normalize() + pd.Timedelta(days=1)
    start, prior = end - pd.Timedelta(days=364), end - pd.Timedelta(days=728)
    recent = filter_incidents(ev, start=start, end=end)
    at = cells_at(recent, 8)
    at = at[at != 0]
    print(f"{len(ev):,} events; window {start:%Y-%m-%d}..{end:%Y-%m-%d}: {len(recent):,}")

    def old_cells():
        u = np.unique(at)
        return u, np.searchsorted(u, at)

    def old_occupied(cells):
        return np.unique(cells[cells != 0]).astype(np.uint64)

    def read(cols):
        return lambda: load_since(store, lambda p: prior, columns=cols, cell_res=cells_for(8))

    narrow = count_columns(Query())
    steps = {
        "read": (read(COUNT_COLUMNS), read(narrow)),
        "window": (lambda: ev.loc[incident_mask(ev, start=start, end=end)],
                   lambda: filter_incidents(ev, start=start, end=end)),
        "cells": (old_cells, lambda: unique_cells(at)),
        "occupied": (lambda: old_occupied(cells_at(recent, 8)),
                     lambda: occupied_cells(recent, 8)),
        "data_end": (lambda: pd.to_datetime(ev["occurred_at"]).max(), lambda: data_end(ev)),
    }
    for name, (old, new) in steps.items():
        runs = {"old": [], "new": []}
        outs = {}
        for _ in range(args.runs):
            for k, fn in (("old", old), ("new", new)):
                c, outs[k] = timed(fn)
                runs[k].append(c)
        if name == "read":  # the same events; the new read leaves out three columns
            ok = same(outs["old"][list(outs["new"].columns)], outs["new"])
        else:
            ok = same(outs["old"], outs["new"])
        mo, mn = statistics.median(runs["old"]), statistics.median(runs["new"])
        print(f"{name:9s}: old {mo:.4f} s, new {mn:.4f} s cpu; old/new {mo / max(mn, 1e-6):.1f}x; "
              f"{'equal' if ok else 'DIFFERENT'} (old {[round(x, 3) for x in runs['old']]}, "
              f"new {[round(x, 3) for x in runs['new']]})", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
