"""Reading the incident store fast: column projection, a lower time bound, one connection.

:meth:`geo.store.IncidentStore.load` reads the ``incidents`` table (one row per event, written
at ingest by :mod:`geo.store_events`) with :func:`read_events`: one DuckDB query into Arrow
and a conversion to pandas (Arrow-backed strings; DuckDB is asked for ``large_string``
buffers, the type pandas keeps, so no string column is cast). A full load of 1M events is
mostly DuckDB's scan into Arrow of 25 columns (bench/bench_open.py). What makes a command on
a 1M store fast is reading less:

* **Column projection** (``columns=``): the Gi* and gap products read only
  :data:`COUNT_COLUMNS` (time, place, filters, the record-key and area-location columns) and
  the cells at their resolution, never the event and incident ids nor the other columns.
  The record-key columns (:data:`KEY_COLUMNS`) are always read, so the record keys of a
  projected load are those of a full load. Commands that have not been checked column by
  column load everything (the default).
* **A lower time bound** (:func:`load_since`): a command that knows its query asks the store
  for its last event time, lets the product resolve its window from it (public: the fixed
  release window; gaps: also the equal period before) and loads the events from that window's
  start on. Loading ``[start, ∞)`` keeps the last event, so the products' own window rules
  (the release date is built from the last event) resolve exactly as on a full load;
  identical-content events share their time, so the record keys (ordinals of identical rows
  included) are unchanged too.

This module imports neither the ingest nor the de-duplication code (scipy's spatial and graph
modules), so a command that only reads the store starts quickly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.privacy.cellkey import _IDENTITY, with_record_keys
from geo.schema import BASE_RES, INCIDENT_COLUMNS

__all__ = ["ANALYSIS_COLUMNS", "COUNT_COLUMNS", "KEY_COLUMNS", "STORED_CELL_RES", "cells_for",
           "read_events", "last_time", "load_since", "to_frame"]

#: Resolutions whose point-in-hexagon cell is stored with every event (``h3_r<res>``); the
#: same as :data:`geo.store_events.STORED_CELL_RES` (geo.grid.ANALYSIS_RES).
STORED_CELL_RES = (6, 7, 8, 9, 10)
#: Columns the record keys are computed from: always read.
KEY_COLUMNS = tuple(c for c in _IDENTITY if c in INCIDENT_COLUMNS)
#: Every canonical column except the event and incident ids (no product table reads them).
ANALYSIS_COLUMNS = tuple(c for c in INCIDENT_COLUMNS if c not in ("incident_id", "event_id"))
#: What the cell-count products (Gi* hot spots, gaps) read: time and place, every filter
#: (outcome, source(s), drug, age band, sex), the record-key columns and the columns that mark
#: a record located only to an area (counted by area, never in a cell).
COUNT_COLUMNS = ("occurred_at", "lat", "lon", "outcome", "source", "agency", "suspected_drug",
                 "age_band", "sex", "location_precision", "area", "sources", "h3")

_DUCK = {"string": "VARCHAR", "datetime64[us]": "TIMESTAMP", "float64": "DOUBLE",
         "Int64": "BIGINT", "boolean": "BOOLEAN", "uint64": "UBIGINT"}
_EVENT_COLUMNS = {c: _DUCK[t] for c, t in INCIDENT_COLUMNS.items()}
_ARROW_TO_PANDAS = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
                    pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow → pandas with the canonical dtypes (Arrow-backed strings, nullable Int64/boolean)."""
    return table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)


def _columns(columns: Iterable[str] | None) -> list[str]:
    """The canonical columns to read, in canonical order (key columns always included)."""
    if columns is None:
        return list(INCIDENT_COLUMNS)
    want = set(columns)
    unknown = sorted(want - set(INCIDENT_COLUMNS))
    if unknown:
        raise ValueError(f"unknown incident column(s) {', '.join(unknown)}; the store has "
                         f"{', '.join(INCIDENT_COLUMNS)}")
    want |= set(KEY_COLUMNS)
    return [c for c in INCIDENT_COLUMNS if c in want]


def _after_prefix(pts, pfp, tts, tfp):
    """For each tail row ``(tts, tfp)``: how many rows of the sorted prefix ``(pts, pfp)``
    sort before it or equal to it (so a stable sort keeps prefix rows first on ties)."""
    lo = np.searchsorted(pts, tts, side="left")
    hi = np.searchsorted(pts, tts, side="right")
    while True:  # binary search on first_fp among the prefix rows of the same time
        act = np.flatnonzero(lo < hi)
        if not act.size:
            return lo
        mid = (lo[act] + hi[act]) // 2
        right = pfp[mid] <= tfp[act]
        lo[act[right]] = mid[right] + 1
        hi[act[~right]] = mid[~right]


def _in_event_order(tbl: pa.Table) -> pa.Table:
    """Rows by ``(occurred_at, first_fp)`` (a stable sort), touching only what must move.

    Rows come back in insertion order: one sorted run per ingest, the newest at the end. The
    longest sorted prefix stays as it is; only the rows after it (the tail) are sorted, and
    merged into the prefix by binary search, so an append costs a sort of the appended rows,
    not of the store. The prefix rows before the first merged tail row are kept as a
    zero-copy slice; the rest is one ``take``.
    """
    if tbl.num_rows < 2:
        return tbl
    ts = tbl["occurred_at"].to_numpy().astype("datetime64[us]").view(np.int64)
    fp = tbl["first_fp"].to_numpy()
    down = (ts[1:] < ts[:-1]) | ((ts[1:] == ts[:-1]) & (fp[1:] < fp[:-1]))
    if not down.any():
        return tbl
    d = int(np.argmax(down)) + 1  # rows [0, d) are sorted
    tail = np.arange(d, ts.size)
    tail = tail[np.lexsort((fp[d:], ts[d:]))]
    before = _after_prefix(ts[:d], fp[:d], ts[tail], fp[tail])
    q = int(before[0])  # before is non-decreasing: rows [0, q) stay where they are
    at = before - q + np.arange(tail.size)  # where each sorted tail row goes in [q, n)
    order = np.empty(ts.size - q, dtype=np.int64)
    moved = np.zeros(order.size, dtype=bool)
    moved[at] = True
    order[at] = tail
    order[~moved] = np.arange(q, d)
    return pa.concat_tables([tbl.slice(0, q), tbl.take(pa.array(order))])


def read_events(con, start=None, end=None, cell_res=STORED_CELL_RES,
                columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Events with ``occurred_at`` in ``[start, end)`` from the ``incidents`` table, via Arrow.

    ``columns`` (optional) limits the canonical columns read (the key columns are always
    read); the cells ``h3_r<res>`` of ``cell_res`` follow them. Cells at resolutions not
    stored are computed with :func:`geo.grid.add_cells`.
    """
    want = sorted({int(r) for r in cell_res} - {BASE_RES})
    stored = [f"h3_r{r}" for r in want if r in STORED_CELL_RES]
    canon = _columns(columns)
    where, params = [], {}
    if start is not None:
        where.append("occurred_at >= $start")
        params["start"] = pd.Timestamp(start).to_pydatetime()
    if end is not None:
        where.append("occurred_at < $end")
        params["end"] = pd.Timestamp(end).to_pydatetime()
    have = {r[0] for r in con.execute("SELECT name FROM pragma_table_info('incidents')")
            .fetchall()}
    # a store written before a column existed (e.g. ``area``) loads it as missing
    sel = [c if c in have else f"NULL::{_EVENT_COLUMNS[c]} AS {c}" for c in canon + stored]
    sql = f"SELECT {', '.join(sel)}, first_fp FROM incidents"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # large_string buffers: pandas' Arrow strings use them, so no column is cast (copied)
    con.execute("SET arrow_large_buffer_size = true")
    tbl = _in_event_order(con.sql(sql, params=params).to_arrow_table())
    out = to_frame(tbl.drop_columns(["first_fp"]))
    missing = [r for r in want if r not in STORED_CELL_RES]
    if missing:
        from geo.grid import add_cells

        out = add_cells(out, missing)[canon + [f"h3_r{r}" for r in want]]
    return out


def cells_for(res: int) -> tuple[int, ...]:
    """The stored cell column a product at ``res`` reads (none when ``res`` is not stored:
    the cells are then indexed from ``lat``/``lon``, as on a full load)."""
    return (int(res),) if int(res) in STORED_CELL_RES else ()


def last_time(con) -> pd.Timestamp | None:
    """The last event time in the ``incidents`` table (None when it is empty)."""
    last = con.execute("SELECT max(occurred_at) FROM incidents").fetchall()[0][0]
    return None if last is None else pd.Timestamp(last)


def load_since(store, since: Callable[[pd.DataFrame], object] | None = None, *,
               columns: Iterable[str] | None = None, cell_res=STORED_CELL_RES
               ) -> pd.DataFrame:
    """Keyed events of ``store`` (an :class:`~geo.store.IncidentStore`) for one query.

    ``since(probe)`` gets a one-row frame holding the store's last event time (what the
    products' window rules read) and returns the first time the query needs (or None: all);
    the events from then on are loaded (one read-only connection for both). The products then
    resolve the same window as on a full load (the last event is kept) and count the same
    events with the same keys.
    """
    from geo.store import LAYOUT

    con = store._connect(read_only=True)
    try:
        if store._has_incidents(con) and store._meta(con, "layout") == LAYOUT:
            start = None
            last = last_time(con) if since is not None else None
            if last is not None:
                probe = pd.DataFrame({"occurred_at": pd.Series([last], dtype="datetime64[us]")})
                first = since(probe)
                if first is not None and pd.Timestamp(first) <= last:
                    start = pd.Timestamp(first)
            return with_record_keys(read_events(con, start, None, cell_res, columns))
    finally:
        con.close()
    # a store from an older layout: its events are built on load (all of them)
    return with_record_keys(store.load(cell_res=cell_res, columns=columns))
