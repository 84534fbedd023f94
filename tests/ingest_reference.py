"""The store's de-duplication before issue 13's streaming rewrite, kept as a test reference.

``update_events_whole`` is ``geo.store_events.update_events`` as it was: the whole window of new
records read at once (all columns), events rebuilt in pandas (``build_incidents``). The tests
compare the block-wise SQL version with it (same ``events`` and ``incidents`` tables).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from geo.dedup import _source_codes, candidate_pairs
from geo.schema import SOURCES
from geo.store_events import _new_range, build_incidents, to_frame


def _read_window(con, lo, hi) -> pa.Table:
    return con.sql(
        "SELECT r.fingerprint, r.incident_id, r.occurred_at, r.time_precision, r.lat, r.lon, "
        "r.source, e.event_id FROM records r LEFT JOIN events e USING (fingerprint) "
        "WHERE r.occurred_at BETWEEN $lo AND $hi ORDER BY r.occurred_at, r.fingerprint",
        params={"lo": lo.to_pydatetime(), "hi": hi.to_pydatetime()}).to_arrow_table()


def _components(tbl: pa.Table, window_min: float, radius_m: float):
    t = tbl["occurred_at"].to_numpy().astype("datetime64[us]")
    src = _source_codes(to_frame(tbl.select(["source"]))["source"])
    day = pc.fill_null(pc.equal(tbl["time_precision"], "day"), False)
    mergeable = ~day.to_numpy(zero_copy_only=False)
    i, j, score = candidate_pairs(t, tbl["lat"].to_numpy(), tbl["lon"].to_numpy(),
                                  np.asarray(SOURCES, object)[src], mergeable,
                                  window_min=window_min, radius_m=radius_m)
    n = tbl.num_rows
    g = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    return t, src, comp, i, j, score  # src: source codes


def update_events_whole(con, window_min: float, radius_m: float, file_id=None) -> None:
    """De-duplicate the records that have no event yet against the stored ones (incremental).

    Run inside the ingest transaction, after the new records are inserted. With an empty
    ``events`` table this is a full rebuild (the first ingest, or a changed rule). ``file_id``
    (optional) is the ingest's file: its records are the new ones (found without a join).
    """
    from geo.dedup import assign_events

    lo, hi = _new_range(con, file_id)
    if lo is None:
        return
    gmin, gmax = (pd.Timestamp(x) for x in con.execute(
        "SELECT min(occurred_at), max(occurred_at) FROM records").fetchall()[0])
    pad = pd.Timedelta(minutes=float(window_min))
    a, b = lo - pad, hi + pad
    while True:
        tbl = _read_window(con, a, b)
        t, src, comp, i, j, score = _components(tbl, window_min, radius_m)
        is_new = tbl["event_id"].is_null().to_numpy(zero_copy_only=False)
        touched = np.zeros(comp.max() + 1, bool)
        touched[comp[is_new]] = True
        sel = touched[comp]
        na = min(a, pd.Timestamp(t[sel].min()) - pad)
        nb = max(b, pd.Timestamp(t[sel].max()) + pad)
        if (na < a and a > gmin) or (nb > b and b < gmax):
            a, b = na, nb  # a touched component reaches the edge of what was read: widen
            continue
        break
    pos = np.cumsum(sel) - 1
    keep = sel[i]
    m = int(sel.sum())
    codes = src[sel]  # source codes (priority order)
    labels = assign_events(m, pos[i[keep]], pos[j[keep]], score[keep],
                           np.asarray(SOURCES, object)[codes])
    # each event's id is its representative's (source priority, then record order)
    order = np.lexsort((codes, labels))
    starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    rep = pa.array(np.flatnonzero(sel)[order[starts]])
    rep_id = pc.binary_join_element_wise(tbl["source"].take(rep), tbl["incident_id"].take(rep),
                                         ":")
    new_id = rep_id.take(pa.array(labels))
    stored = pa.array(np.flatnonzero(sel & ~is_new))
    affected = pc.unique(pa.chunked_array([new_id, tbl["event_id"].take(stored)],
                                          pa.string()).combine_chunks())
    touched_tbl = pa.table({"fingerprint": tbl["fingerprint"].take(pa.array(np.flatnonzero(sel))),
                            "event_id": new_id})
    con.register("_touched", touched_tbl)
    con.register("_affected", pa.table({"event_id": affected}))
    try:
        con.execute("DELETE FROM events WHERE fingerprint IN (SELECT fingerprint FROM _touched)")
        con.execute("INSERT INTO events SELECT fingerprint, event_id, hash(event_id) "
                    "FROM _touched")
        con.execute("DELETE FROM incidents WHERE event_id IN (SELECT event_id FROM _affected)")
        rec = to_frame(con.sql(
            "SELECT r.*, e.event_id AS _event FROM records r JOIN events e USING (fingerprint) "
            "WHERE e.event_id IN (SELECT event_id FROM _affected) "
            "ORDER BY r.occurred_at, r.fingerprint").to_arrow_table())
        ev = pa.Table.from_pandas(build_incidents(rec), preserve_index=False)
        con.register("_events", ev)
        cols = ", ".join(ev.column_names)  # by name: an older store has ``area`` last
        con.execute(f"INSERT INTO incidents ({cols}, id_hash) SELECT {cols}, hash(event_id) "
                    "FROM _events")
    finally:
        for name in ("_touched", "_affected", "_events"):
            try:
                con.unregister(name)
            except Exception:  # noqa: BLE001 - not registered when an earlier step failed
                pass
