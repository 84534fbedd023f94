"""Counting on the Dask workers: the client sums small keyed count tables, never holds events.

A keyed count is additive: the count of a set of events is the sum of the counts of its parts,
and its cell key (the sum of the events' record keys modulo 2^20, see
:mod:`geo.privacy.cellkey`) is the sum of the parts' keys modulo 2^20. So each worker counts
its own partitions' events (:func:`products.counting.keyed_cell_counts`, the function the local
products use, on the events and record keys of :func:`geo.distributed.dask_events`), the client
adds the tables up per cell, lists the study-area grid, and publishes the result through the
one gate (:func:`geo.privacy.publish`) exactly as :func:`products.hotspots.cell_table` does:
counts leave the workers, never points, and the gate runs on the client on the final counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.privacy import KEY_SUFFIX, as_policy, publish
from geo.privacy.cellkey import KEY_MOD

__all__ = ["merge_keyed_counts", "window_probe", "dask_cell_counts", "dask_cell_table"]


def _last_time(events: pd.DataFrame):
    t = pd.to_datetime(events["occurred_at"])
    return t.max() if len(t) else pd.NaT


def window_probe(client, events: list) -> pd.DataFrame:
    """A one-row frame with the data's last incident time: what :func:`products.query.resolve`
    reads of the incidents (the release window in public) without gathering them."""
    last = [t for t in client.gather(client.map(_last_time, events, pure=False))
            if not pd.isna(t)]
    return pd.DataFrame({"occurred_at": pd.to_datetime([max(last)] if last else [pd.NaT])})


def _cell_counts(events: pd.DataFrame, query, fams: tuple) -> pd.DataFrame:
    from products.counting import keyed_cell_counts
    from products.query import select

    return keyed_cell_counts(select(events, query), query.res, breakdown=fams)


def merge_keyed_counts(tables: list[pd.DataFrame], key: str = "h3", cells=None
                       ) -> pd.DataFrame:
    """Sum keyed count tables per ``key``: counts add, cell keys add modulo 2^20.

    With ``cells`` (uint64), every cell is listed (zero counts, key 0) with ``in_grid``, and
    occupied cells outside are kept: the table :func:`products.counting.keyed_cell_counts`
    gives for the union of the tables' events.
    """
    frame = pd.concat(tables, ignore_index=True)
    cols = [c for c in frame.columns if c != key]
    out = frame.groupby(key, sort=True)[cols].sum()
    keys = [c for c in cols if c.endswith(KEY_SUFFIX)]
    out[keys] = np.mod(out[keys], KEY_MOD)
    occupied = out.index.to_numpy(np.uint64)
    grid = occupied if cells is None else np.union1d(np.asarray(cells, np.uint64), occupied)
    out = out.reindex(pd.Index(grid, name=key), fill_value=0).astype(np.int64).reset_index()
    out[key] = out[key].to_numpy(np.uint64)
    if cells is not None:
        out["in_grid"] = np.isin(grid, np.asarray(cells, dtype=np.uint64))
    return out


def dask_cell_counts(client, events: list, query, cells=None, breakdown=("outcome",)
                     ) -> pd.DataFrame:
    """Keyed counts per H3 cell at ``query.res`` of the events in the (resolved) ``query``:
    counted per partition on the workers, summed here."""
    fams = tuple(breakdown or ())
    tables = client.gather([client.submit(_cell_counts, ev, query, fams, pure=False)
                            for ev in events])
    return merge_keyed_counts(tables, cells=cells)


def dask_cell_table(spec, query, policy="public", *, boundary=None, breakdown: bool = True,
                    client=None, scheduler: str | None = None, **options) -> pd.DataFrame:
    """:func:`products.hotspots.cell_table` of a partitioned dataset, counted on the workers.

    ``options`` go to :func:`geo.distributed.dask_events` (``window_min``, ``radius_m``,
    ``preset``, ``mapping``, ``source``, ...). Same table as the local engine's ``cell_table``.
    """
    from geo.distributed import dask_client, dask_events
    from geo.grid import analysis_grid
    from products.query import resolve

    if client is None:
        with dask_client(scheduler) as c:
            return dask_cell_table(spec, query, policy, boundary=boundary, breakdown=breakdown,
                                   client=c, **options)
    pol = as_policy(policy)
    events = dask_events(spec, client, **options)[0]  # the records are released once used
    q = resolve(query, window_probe(client, events), pol)
    cells = None if boundary is None else analysis_grid(boundary, q.res)
    fams = ("outcome", "naloxone", "source") if breakdown else ()
    counts = dask_cell_counts(client, events, q, cells=cells, breakdown=fams)
    return publish(counts, pol).reset_index(drop=True)
