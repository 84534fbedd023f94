"""The store's events table: de-duplicated at ingest, incrementally, and read back through Arrow.

:class:`geo.store.IncidentStore` keeps two event tables beside ``records``:

* ``events`` — every record's ``event_id`` (the record → event map);
* ``incidents`` — one row per event, the canonical columns of :data:`geo.schema.INCIDENT_COLUMNS`
  plus the point-in-hexagon cells ``h3_r6`` … ``h3_r10`` (:data:`STORED_CELL_RES`) and
  ``first_fp`` (the fingerprint of the event's first record, for a stable order).

Both are written in the ingest transaction (:func:`update_events`), so loading never rebuilds
events (:func:`geo.store_read.read_events`: one SQL query into Arrow, no per-row Python
objects).

Incremental de-duplication
--------------------------
A record only pairs with records at most ``window_min`` apart in time, so the new records
(those without a row in ``events``) can only change the events of the *connected components*
of the candidate-pair graph that contain them. :func:`update_events` takes the new records in
time slabs (:data:`SLAB_RECORDS`); for each it reads the records within ``window_min`` of the
slab, builds the candidate pairs there and takes the components holding a new record of the
slab; while such a component reaches within ``window_min`` of the edge of what was read, the
range widens and the step repeats. Those components are then complete, and
:func:`geo.dedup.assign_events` on them gives exactly the labels a rebuild over the whole
store gives (their relative record order, hence every tie, is the same). Every other component
is untouched by the slab's records, so its stored events stand (a later slab's component that
reaches back rebuilds them, as an append does). The ``incidents`` rows of every event that
lost or gained a record are rebuilt from all of its records.

An incident id names one incident of a source, so matched events whose representatives carry
one ``source:incident_id`` are one event (:mod:`geo.store_ids`: stored events are also found
by a hash of their id; the collapse then groups by the ids themselves).

Cost: the ingest reads the touched records' matching columns once per slab (time window),
their full rows once per block of events (``BLOCK_RECORDS``, by row id), and finds stored
events by numbers (fingerprints, id hashes); nothing scans the id strings of the whole store,
so appending a small file costs little more than ingesting it into an empty store, and memory
is bounded by a slab, not by the file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.dedup import collapse_events
from geo.grid import ANALYSIS_RES, add_cells
from geo.ingest import to_canonical
from geo.schema import INCIDENT_COLUMNS
from geo.store_read import _EVENT_COLUMNS, to_frame  # one definition (the read path)
from geo.store_window import STAGED, components, read_window, window_sql

__all__ = ["STORED_CELL_RES", "INCIDENTS_DDL", "arrow_sql", "insert_records", "refresh_events",
           "update_events", "reused_ids_warning",
           "build_incidents", "to_frame"]

#: Resolutions whose point-in-hexagon cell is stored with every event (``h3_r<res>``).
STORED_CELL_RES = tuple(ANALYSIS_RES)

_CELL_COLUMNS = [f"h3_r{r}" for r in STORED_CELL_RES]

INCIDENTS_DDL = (
    "CREATE TABLE IF NOT EXISTS incidents ("
    + ", ".join(f"{c} {t}" for c, t in _EVENT_COLUMNS.items())
    + ", " + ", ".join(f"{c} UBIGINT" for c in _CELL_COLUMNS) + ", first_fp UBIGINT, "
    "id_hash UBIGINT)"
)

def arrow_sql(con, tbl: pa.Table, name: str, sql: str):
    """Run ``sql`` with the Arrow table ``tbl`` readable as ``name``; returns its result.

    Not ``con.register``: inside a transaction, DuckDB keeps every registered Python object
    (and so its Arrow buffers) alive until the transaction ends, so a streamed ingest held
    every chunk's records until its commit (~120 bytes a record). A relation's query lets
    go of the table when it returns.
    """
    return con.from_arrow(tbl).query(name, sql)


def insert_records(con, new: pd.DataFrame, columns, now, *, skip_stored: bool = True) -> int:
    """Insert ``new`` (the record ``columns``) into ``records`` with ``received_at = now``;
    those whose fingerprint is already stored are skipped unless ``skip_stored`` is False
    (nothing can be). Returns the number inserted."""
    stamp = con.execute("SELECT $now::TIMESTAMP", {"now": now}).fetchall()[0][0]
    cols = ", ".join(columns)
    skip = (" WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.fingerprint = n.fingerprint)"
            if skip_stored else "")
    got = arrow_sql(con, pa.Table.from_pandas(new[list(columns)], preserve_index=False),
                    "_new_records", f"INSERT INTO records ({cols}, received_at) SELECT {cols}, "
                    f"TIMESTAMP '{stamp.isoformat(sep=' ')}' FROM _new_records n{skip}").fetchall()
    return int(got[0][0]) if got else 0


def _new_range(con, file_id=None):
    if file_id is None:
        sql, args = ("SELECT min(r.occurred_at), max(r.occurred_at), count(*) FROM records r "
                     "ANTI JOIN events e USING (fingerprint)"), []
    else:  # the records this ingest added
        sql, args = ("SELECT min(occurred_at), max(occurred_at), count(*) FROM records "
                     "WHERE file_id = ?"), [int(file_id)]
    lo, hi, n = con.execute(sql, args).fetchall()[0]
    return (None, None) if not n else (pd.Timestamp(lo), pd.Timestamp(hi))


#: Records per block when the events of the touched records are written (memory bound).
BLOCK_RECORDS = 500_000


def reused_ids_warning(n: int, window_min: float) -> str:
    """The ingest's warning when ``n`` incident ids name reports far apart in time."""
    return (f"{n:,} incident id(s) name reports of one source more than {window_min:g} minutes "
            "apart; each such id is counted as one incident (an id names one incident of its "
            "source). If the agency reuses incident numbers (e.g. every year), export ids that "
            "include the year.")


def refresh_events(con, window_min: float, radius_m: float, file_id=None, *, rebuild: bool,
                   meta) -> list[str]:
    """The ingest's event step: the tables made ready (``rebuild``: a changed rule or an older
    layout, every record de-duplicated again), the id hashes filled when missing or made by
    another DuckDB (``meta``: the store's get/set of its meta values), then
    :func:`update_events`. Returns the warnings for the ingest's summary."""
    get, put = meta
    if rebuild:
        con.execute("DROP TABLE IF EXISTS incidents")
        con.execute("DELETE FROM events")
    con.execute(INCIDENTS_DDL)
    con.execute("ALTER TABLE incidents ADD COLUMN IF NOT EXISTS area VARCHAR")  # older stores
    con.execute("ALTER TABLE incidents ADD COLUMN IF NOT EXISTS id_hash UBIGINT")
    probe = str(con.execute("SELECT hash('gapmap event id')").fetchall()[0][0])
    if get(con, "id_hash") != probe:  # a store from before, or another DuckDB hash
        for table in ("events", "incidents"):
            con.execute(f"UPDATE {table} SET id_hash = hash(event_id)")
        put(con, "id_hash", probe)
    far = update_events(con, window_min, radius_m, file_id)
    return [reused_ids_warning(far, window_min)] if far else []


def update_events(con, window_min: float, radius_m: float, file_id=None,
                  block_records: int | None = None) -> int:
    """De-duplicate the records that have no event yet against the stored ones (incremental).

    Run inside the ingest transaction, after the new records are inserted. With an empty
    ``events`` table this is a full rebuild (the first ingest, or a changed rule). ``file_id``
    (optional) is the ingest's file: its records are the new ones (found without a join).

    The new records are taken in time slabs of about :data:`SLAB_RECORDS` records
    (:func:`_slab_cuts`), one after the other, so memory and the sort of the matching inputs
    are bounded by a slab, not by the file. Within a slab, the pairs and components use only
    the matching columns (time, location, source, day-only flag: ~35 bytes a record); the
    events of the touched records are then collapsed (:func:`_write_events`)
    ``block_records`` records at a time. A component that crosses into the next slab is
    finished in this one (its later records are remembered as written); one that reaches
    back into an earlier slab's written events rebuilds them, as an append does. So the
    events are those of one pass over all new records (tests compare with the whole-window
    reference).

    Returns how many incident ids join matched events more than ``window_min`` apart (an id
    the agency may have reused: the ingest warns).
    """
    lo, hi = _new_range(con, file_id)
    if lo is None:
        return 0
    gmin, gmax = (pd.Timestamp(x) for x in con.execute(
        "SELECT min(occurred_at), max(occurred_at) FROM records").fetchall()[0])
    cuts = _slab_cuts(con, lo, hi, SLAB_RECORDS)
    far: set[int] = set()
    spill = (np.empty(0, np.uint64), np.empty(0, "datetime64[us]"))
    staged = None
    if len(cuts) > 2:  # several slabs: their inputs sorted once (a file not in time order
        # would otherwise make every slab's read decompress the whole records table)
        pad = pd.Timedelta(minutes=float(window_min))
        staged = (lo - pad, hi + pad)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGED} AS {window_sql(file_id)} "
                    "ORDER BY r.occurred_at, r.fingerprint",
                    {"lo": staged[0].to_pydatetime(), "hi": staged[1].to_pydatetime()})
    for k in range(len(cuts) - 1):
        spill = _update_slab(con, window_min, radius_m, file_id, block_records,
                             (cuts[k], cuts[k + 1], k == len(cuts) - 2), (gmin, gmax),
                             spill, far, staged)
    if staged is not None:  # (on an error the ingest's rollback drops it)
        con.execute(f"DROP TABLE IF EXISTS {STAGED}")
    return len(far)


#: New records per time slab of :func:`update_events` (memory and sort bound).
SLAB_RECORDS = 1_000_000


def _slab_cuts(con, lo, hi, slab: int) -> list[pd.Timestamp]:
    """Times ``lo = c0 < c1 < ... < cm = hi`` cutting ``[lo, hi]`` into slabs of about
    ``slab`` stored records each (cut at hour starts, from one count per hour)."""
    n = con.execute("SELECT count(*) FROM records WHERE occurred_at BETWEEN $lo AND $hi",
                    {"lo": lo.to_pydatetime(), "hi": hi.to_pydatetime()}).fetchall()[0][0]
    if n <= slab:
        return [lo, hi]
    h = con.execute(
        "SELECT date_trunc('hour', occurred_at) AS h, count(*) AS n FROM records "
        "WHERE occurred_at BETWEEN $lo AND $hi GROUP BY h ORDER BY h",
        {"lo": lo.to_pydatetime(), "hi": hi.to_pydatetime()}).fetchnumpy()
    hours = np.asarray(h["h"]).astype("datetime64[us]")
    before = np.cumsum(np.asarray(h["n"], np.int64)) - np.asarray(h["n"], np.int64)
    at = np.searchsorted(before, np.arange(1, -(-n // slab)) * slab)  # first hour past k*slab
    inner = [pd.Timestamp(x) for x in np.unique(hours[at[at < hours.size]])]
    return [lo] + [c for c in inner if lo < c < hi] + [hi]


def _update_slab(con, window_min, radius_m, file_id, block_records, slab, bounds, spill,
                 far: set, staged=None) -> tuple[np.ndarray, np.ndarray]:
    """One slab of :func:`update_events`: the new records with times in ``[c0, c1)`` (``last``:
    ``[c0, c1]``) that are not written yet are matched with every record within the matching
    window of them, and the events they touch are written. ``spill``: (fingerprints, times)
    of new records with times from ``c0`` on written by earlier slabs (components that crossed
    over); ``staged``: see :func:`geo.store_window.read_window`. Adds the ids far apart to
    ``far`` (their hashes); returns the new spill."""
    from geo.dedup import assign_events
    from geo.store_ids import id_groups, ids_far_apart, with_stored

    (c0, c1, last), (gmin, gmax) = slab, bounds
    t0, t1 = (np.datetime64(c.to_datetime64(), "us") for c in (c0, c1))
    pad = pd.Timedelta(minutes=float(window_min))
    a, b = c0 - pad, c1 + pad
    while True:
        w = read_window(con, a, b, file_id, staged)
        if not len(w["fingerprint"]):
            return spill
        t, src, comp, i, j, score = components(w, window_min, radius_m)
        fp_all = np.asarray(w["fingerprint"], np.uint64)
        # new and not written yet: no earlier slab's seed (those are before c0) nor spill
        pending = np.asarray(w["is_new"], bool) & (t >= t0)
        if spill[0].size:
            pending &= ~_member(fp_all, spill[0])
        seed = pending & ((t <= t1) if last else (t < t1))
        touched = np.zeros(comp.max() + 1, bool)
        touched[comp[seed]] = True
        sel = touched[comp]
        if not sel.any():
            return spill
        na = min(a, pd.Timestamp(t[sel].min()) - pad)
        nb = max(b, pd.Timestamp(t[sel].max()) + pad)
        if (na < a and a > gmin) or (nb > b and b < gmax):
            a, b = na, nb  # a touched component reaches the edge of what was read: widen
            continue
        break
    over = sel & pending & (t >= t1)  # written now, in a later slab's time range
    keep_old = spill[1] >= t1
    spill = (np.concatenate([spill[0][keep_old], fp_all[over]]),
             np.concatenate([spill[1][keep_old], t[over]]))
    pos = np.cumsum(sel) - 1
    keep = sel[i]
    codes = src[sel]
    labels = assign_events(int(sel.sum()), pos[i[keep]], pos[j[keep]], score[keep], codes,
                           comp=comp[sel])  # touched components are whole in ``sel``
    fp = fp_all[sel]
    rid = np.asarray(w["rid"], np.int64)[sel]
    idh = np.asarray(w["idh"], np.uint64)[sel]
    old_fp = fp_all[sel & ~pending]  # their events are rebuilt
    stored = bool(old_fp.size)
    t = t[sel]
    del w, comp, i, j, score, keep, sel, pending, fp_all
    groups, gidh = id_groups(labels, codes, idh)
    if stored or _has_rows(con, "incidents"):  # stored events may join or lose records
        fp, rid, t, labels, groups, stored = with_stored(con, fp, rid, t, labels, groups,
                                                         gidh, old_fp)
    # events in order of their first record; a block holds whole events (and ids)
    step = max(int(block_records or BLOCK_RECORDS), 1)
    first = np.full(int(groups.max()) + 1, groups.size, np.int64)
    np.minimum.at(first, groups, np.arange(groups.size))  # each group's first record
    block = (first // step)[groups]
    ids_differ = bool(groups.max() == labels.max())
    _write_events(con, fp, rid, labels, block, ids_differ=ids_differ)
    if not ids_differ:
        grp = ids_far_apart(groups, labels, t, window_min)
        far.update(gidh[grp[grp < gidh.size]].tolist())  # (only matched groups can be)
    return spill


def _member(x: np.ndarray, few: np.ndarray) -> np.ndarray:
    """Which of ``x`` are in the (small, non-empty) array ``few``."""
    s = np.sort(few)
    pos = np.minimum(np.searchsorted(s, x), s.size - 1)
    return s[pos] == x


def _has_rows(con, table: str) -> bool:
    return bool(con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)")
                .fetchall()[0][0])


def _write_events(con, fp, rid, labels, block, *, ids_differ: bool = False) -> None:
    """Write the events of the touched records (``fp``, in record order; ``rid``: their row
    ids in ``records``; ``labels``: their matched events; ``block``: their block; the stored
    rows they replace are deleted already): one block of events at a time, its records are
    read from ``records`` (by row id) and collapsed
    (:func:`geo.store_collapse.collapse_records`; cells at :data:`STORED_CELL_RES` added)
    into ``incidents`` rows, and their ``events`` rows are written. ``ids_differ``: every
    matched event has its own id (see :func:`geo.store_collapse.collapse_records`).
    """
    from geo.cells import latlng_to_cells
    from geo.store_collapse import RECORDS_SQL, collapse_records

    n_blocks = int(block.max()) + 1 if block.size else 0
    for blk in range(n_blocks):
        rows = np.flatnonzero(block == blk)
        part = pa.table({"rid": rid[rows], "_lab": labels[rows], "_pos": rows})
        got = arrow_sql(con, part, "_blk", RECORDS_SQL).to_arrow_table()
        ev, rec = collapse_records(got, ids_differ=ids_differ)
        del got, part
        lat = ev["lat"].to_numpy(zero_copy_only=False)
        lon = ev["lon"].to_numpy(zero_copy_only=False)
        for r in STORED_CELL_RES:
            ev = ev.append_column(f"h3_r{r}", pa.array(latlng_to_cells(lat, lon, r)))
        cols = ", ".join(ev.column_names)  # by name: an older store has ``area`` last
        arrow_sql(con, ev, "_events", f"INSERT INTO incidents ({cols}, id_hash) SELECT {cols}, "
                  "hash(event_id) FROM _events")
        arrow_sql(con, rec, "_rec", "INSERT INTO events (fingerprint, event_id, id_hash) "
                  "SELECT fingerprint, event_id, hash(event_id) FROM _rec")


def build_incidents(rec: pd.DataFrame) -> pd.DataFrame:
    """Canonical events (+ stored cells and ``first_fp``) from records with their ``_event``.

    ``rec`` must be ordered by ``occurred_at, fingerprint`` (the store's record order).
    """
    if not len(rec):
        cols = {**{c: pd.Series(dtype=t) for c, t in INCIDENT_COLUMNS.items()},
                **{c: pd.Series(dtype=np.uint64) for c in [*_CELL_COLUMNS, "first_fp"]}}
        return pd.DataFrame(cols)
    labels, _ = pd.factorize(rec["_event"])
    _, first = np.unique(labels, return_index=True)
    fp = rec["fingerprint"].to_numpy(np.uint64)[first]
    body = rec.drop(columns=["fingerprint", "file_id", "_event", "received_at"],
                    errors="ignore")
    body["h3"] = body["h3"].astype(np.uint64)
    events = to_canonical(collapse_events(to_canonical(body), labels)).reset_index(drop=True)
    events = add_cells(events, STORED_CELL_RES)
    events["first_fp"] = fp
    return events
