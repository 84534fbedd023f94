"""Counting on the Dask workers: the client sums small keyed count tables, never holds events.

A keyed count is additive: the count of a set of events is the sum of the counts of its parts,
and its cell key (the sum of the events' record keys modulo 2^20, see
:mod:`geo.privacy.cellkey`) is the sum of the parts' keys modulo 2^20. So each worker counts
its own partitions' events (on the events and record keys of
:func:`geo.distributed.dask_events`) with the functions the local products use, and the client
adds the tables up and finishes the product from the counts:

- ``cells``: :func:`products.counting.keyed_cell_counts` per partition, then the study-area grid
  and :func:`geo.privacy.publish` (:func:`dask_cell_table`);
- ``hotspots --method gi``: the same counts per occupied cell and the window's total, then the
  one grid rule and :func:`products.hotspots.gi_table` (:func:`dask_hotspot_table`);
- ``hotspots --method emerging``: those counts, then the cube of counts per grid cell and time
  slice (:func:`clustering.emerging.incidents_to_cube` on slice bounds fixed for all workers),
  then :func:`clustering.emerging.emerging_cube_table` (:func:`dask_emerging_table`);
- ``areas``: :func:`products.areas.area_counts` per partition and layer, then
  :func:`products.areas.area_table_from_counts` (:func:`dask_area_tables`).

Counts leave the workers, never points; the gate runs on the client on the final counts, the
same function every door uses. Each table equals the local engine's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.privacy import KEY_SUFFIX, as_policy, key_sum, publish, publish_counts
from geo.privacy.cellkey import KEY_MOD

__all__ = ["merge_keyed_counts", "window_probe", "dask_cell_counts", "dask_cell_table",
           "dask_hotspot_table", "dask_area_tables", "dask_emerging_table"]


def _last_time(events: pd.DataFrame):
    t = pd.to_datetime(events["occurred_at"])
    return t.max() if len(t) else pd.NaT


def window_probe(client, events: list) -> pd.DataFrame:
    """A one-row frame with the data's last incident time: what :func:`products.query.resolve`
    reads of the incidents (the release window in public) without gathering them."""
    last = [t for t in client.gather(client.map(_last_time, events, pure=False))
            if not pd.isna(t)]
    return pd.DataFrame({"occurred_at": pd.to_datetime([max(last)] if last else [pd.NaT])})


def _cell_counts(events: pd.DataFrame, query, fams: tuple) -> tuple[pd.DataFrame, int, int]:
    """Keyed counts per cell of the partition's events in ``query``, and their number and key
    sum (cell-less events included: the published total of the window)."""
    from products.counting import keyed_cell_counts
    from products.query import select

    sub = select(events, query)
    return keyed_cell_counts(sub, query.res, breakdown=fams), len(sub), key_sum(sub["rkey"])


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
                     ) -> tuple[pd.DataFrame, int, int]:
    """Keyed counts per H3 cell at ``query.res`` of the events in the (resolved) ``query``:
    counted per partition on the workers, summed here; with the number of those events and
    their cell key (for a published total)."""
    fams = tuple(breakdown or ())
    got = client.gather([client.submit(_cell_counts, ev, query, fams, pure=False)
                         for ev in events])
    return (merge_keyed_counts([g[0] for g in got], cells=cells), sum(g[1] for g in got),
            sum(g[2] for g in got) % KEY_MOD)


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
    counts = dask_cell_counts(client, events, q, cells=cells, breakdown=fams)[0]
    return publish(counts, pol).reset_index(drop=True)


def dask_hotspot_table(spec, query, policy="public", *, boundary=None, k_ring: int = 1,
                       client=None, scheduler: str | None = None, options: dict | None = None,
                       **gi) -> pd.DataFrame:
    """:func:`products.hotspots.hotspot_table` (Gi*) of a partitioned dataset, its inputs
    counted on the workers: keyed counts per occupied cell and the window's total come back,
    the client lists the analysis grid (the one grid rule) and runs Gi* on the counts
    (:func:`products.hotspots.gi_table`). ``gi``: ``population``, ``rate``, ``permutations``,
    ``seed``, ... as for ``hotspot_table``; ``options`` go to
    :func:`geo.distributed.dask_events`. Same table as the local engine's."""
    from geo.distributed import dask_client, dask_events
    from products.hotspots import analysis_cells, check_gi_args, gi_table
    from products.query import resolve

    check_gi_args(k_ring, gi.get("permutations", 0), gi.get("min_population", 0))
    if client is None:
        with dask_client(scheduler) as c:
            return dask_hotspot_table(spec, query, policy, boundary=boundary, k_ring=k_ring,
                                      client=c, options=options, **gi)
    pol = as_policy(policy)
    events = dask_events(spec, client, **(options or {}))[0]
    q = resolve(query, window_probe(client, events), pol)
    occupied, n, key = dask_cell_counts(client, events, q, breakdown=())
    grid = analysis_cells(occupied["h3"].to_numpy(np.uint64), q.res, boundary, k_ring)
    counts = merge_keyed_counts([occupied], cells=grid)
    total = float(publish_counts([n], [key], pol)[0][0])
    return gi_table(counts, total, pol, k_ring=k_ring, **gi)


def _area_counts(events: pd.DataFrame, layer, query, breakdown: tuple) -> dict:
    from products.areas import area_counts

    return area_counts(events, layer, query, breakdown)


def dask_area_tables(spec, layers, query, policy="public", population=None, *,
                     population_column: str = "population",
                     breakdown=("outcome", "naloxone", "source"), gi: bool = True,
                     client=None, scheduler: str | None = None, options: dict | None = None
                     ) -> pd.DataFrame:
    """:func:`products.areas.area_tables` of a partitioned dataset, counted on the workers.

    Each worker counts its events per area of every layer (:func:`products.areas.area_counts`:
    keyed counts, breakdowns, area-located, prior period); the client adds the counts up
    (:func:`products.areas.add_area_counts`) and makes the table from them: the gate, rates,
    change and Gi* (:func:`products.areas.area_table_from_counts`). Same table as the local
    engine's. ``options`` go to :func:`geo.distributed.dask_events`.
    """
    from geo.distributed import dask_client, dask_events
    from products.areas import add_area_counts, area_table_from_counts, stack_area_tables
    from products.query import resolve

    if client is None:
        with dask_client(scheduler) as c:
            return dask_area_tables(spec, layers, query, policy, population,
                                    population_column=population_column, breakdown=breakdown,
                                    gi=gi, client=c, options=options)
    pol = as_policy(policy)
    events = dask_events(spec, client, **(options or {}))[0]
    q = resolve(query, window_probe(client, events), pol)
    tables = []
    for layer in layers:
        shared = client.scatter(layer, broadcast=True)
        parts = client.gather([client.submit(_area_counts, ev, shared, q, tuple(breakdown or ()),
                                             pure=False) for ev in events])
        tables.append(area_table_from_counts(add_area_counts(parts), layer, q, pol, population,
                                             population_column=population_column, gi=gi))
    return stack_area_tables(tables, layers)


def _time_span(events: pd.DataFrame, query) -> tuple:
    from products.query import select

    t = pd.to_datetime(select(events, query)["occurred_at"])
    return (t.min(), t.max()) if t.notna().any() else (pd.NaT, pd.NaT)


def _cube(events: pd.DataFrame, query, grid, slice: str, start, end) -> pd.DataFrame:
    from clustering.emerging import incidents_to_cube
    from products.query import select

    return incidents_to_cube(select(events, query), grid, query.res, slice, start=start, end=end)


def dask_emerging_table(spec, query, policy="public", *, boundary=None, k_ring: int = 1,
                        slice: str | None = None, window: int = 1, client=None,
                        scheduler: str | None = None, options: dict | None = None
                        ) -> pd.DataFrame:
    """:func:`products.clusters.emerging_table` of a partitioned dataset, its inputs counted on
    the workers: keyed counts per occupied cell, then counts per grid cell and time slice (the
    cube, on explicit slice bounds so every worker's cube has the same slices), summed here;
    the space-time Gi* and trends run on the summed cube
    (:func:`clustering.emerging.emerging_cube_table`). Same table as the local engine's."""
    from clustering.emerging import emerging_cube_table
    from geo.distributed import dask_client, dask_events
    from products.clusters import auto_slice, emerging_from_counts, emerging_window
    from products.hotspots import analysis_cells, check_gi_args
    from products.query import check_filters, resolve

    pol = as_policy(policy)
    check_filters(query, pol)
    check_gi_args(k_ring, 0, 0)  # the k_ring rule of emerging_table
    if client is None:
        with dask_client(scheduler) as c:
            return dask_emerging_table(spec, query, policy, boundary=boundary, k_ring=k_ring,
                                       slice=slice, window=window, client=c, options=options)
    events = dask_events(spec, client, **(options or {}))[0]
    q = resolve(query, window_probe(client, events), pol)
    occupied, n, _ = dask_cell_counts(client, events, q, breakdown=())
    if n == 0:
        raise ValueError("no incidents in the chosen window and filters")
    grid = analysis_cells(occupied["h3"].to_numpy(np.uint64), q.res, boundary, int(k_ring))
    spans = [s for s in client.gather([client.submit(_time_span, ev, q, pure=False)
                                       for ev in events]) if not pd.isna(s[0])]
    a, b = emerging_window(q, min(s[0] for s in spans), max(s[1] for s in spans))
    slice = slice or auto_slice((b - a).days)
    cells = np.unique(np.asarray(grid, dtype=np.uint64))
    cubes = client.gather([client.submit(_cube, ev, q, cells, slice, a, b, pure=False)
                           for ev in events])
    cube = cubes[0]
    for other in cubes[1:]:
        cube = cube + other
    em = emerging_cube_table(cube, slice=slice, k=int(k_ring), window=int(window))
    return emerging_from_counts(merge_keyed_counts([occupied], cells=grid), em, grid, pol, slice)
