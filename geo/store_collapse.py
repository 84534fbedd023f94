"""Records → one row per event, in Arrow and numpy (the store's event writer, issue 13).

The rule is :func:`geo.dedup.collapse_events` (see :mod:`geo.dedup`): records are grouped by
``event_id``; within an event they are taken in source priority (EMS, police, hospital, ODMAP,
other), then record order (``occurred_at``, ``fingerprint``). The event takes the first
record's (the representative's) id, location, source, study-area flag and cell; its time is
the earliest; ``time_precision``, ``outcome`` and ``naloxone`` the first level any record has
(``minute`` < ``hour`` < ``day``; ``fatal`` < ``nonfatal`` < ``unknown``; ``yes`` < ``no`` <
``unknown``), the dose count the largest, and the descriptive fields the first known value.
Events come out in order of their first record, with ``first_fp`` (that record's fingerprint).

No per-row Python: group boundaries from one sort, ``reduceat`` per column, Arrow ``take``
for the text columns. :func:`geo.store_events.build_incidents` (pandas) stays the reference
(tests compare the two).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from geo.schema import INCIDENT_COLUMNS, SOURCES

__all__ = ["RECORDS_SQL", "collapse_records"]

_SRC_CODE = ("CASE r.source " + " ".join(f"WHEN '{x}' THEN {k}" for k, x in enumerate(SOURCES))
             + f" ELSE {len(SOURCES) - 1} END")
_LEVELS = {"time_precision": ("minute", "hour", "day"),
           "outcome": ("fatal", "nonfatal", "unknown"),
           "naloxone": ("yes", "no", "unknown")}
_FIRST_KNOWN = ("suspected_drug", "age_band", "sex", "location_precision", "area", "agency")

#: The records of one block of events (``_blk``: ``rid``, the record's ``rowid`` read in the
#: same transaction, and its ``_lab``, ``_pos``), in any order. By row id, not by fingerprint
#: within the block's time span: DuckDB fetches those rows without decompressing the rest
#: of ``records``, which a time filter cannot skip when the files were not in time order.
RECORDS_SQL = (
    "SELECT r.* EXCLUDE (file_id, received_at), b._lab, b._pos, "
    f"({_SRC_CODE})::TINYINT AS _src FROM records r JOIN _blk b ON r.rowid = b.rid"
)

_NAMES = np.array(["+".join(sorted(s for k, s in enumerate(SOURCES) if m >> k & 1))
                   for m in range(1 << len(SOURCES))], dtype=object)


def _level_codes(col: pa.ChunkedArray, levels) -> np.ndarray:
    """Index of each value in ``levels``; missing or other values → the last level."""
    idx = pc.index_in(col, value_set=pa.array(levels))
    return pc.fill_null(idx, len(levels) - 1).to_numpy().astype(np.int8)


def _sorted_runs(group, src, pos, span: int):
    """Rows sorted by (group, source priority, record order) and the start of each group."""
    n = group.size
    if not n:
        e = np.empty(0, np.int64)
        return e, e, e
    key = (group - group.min()) * (len(SOURCES) * span) + src * span + pos  # distinct keys
    order = np.argsort(key)
    gs = group[order]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    return order, starts, np.diff(np.r_[starts, n])


def collapse_records(tbl: pa.Table, *, ids_differ: bool = False) -> tuple[pa.Table, pa.Table]:
    """One row per event of ``tbl``: records with ``_lab`` (matched event; labels number
    events in order of their first record), ``_pos`` (record order: ``occurred_at``, then
    ``fingerprint``) and ``_src`` (source priority code), in any row order.

    A matched event's id is its representative's ``source:incident_id``; matched events with
    one id are one event (an id names one incident of a source). Returns the events (the
    canonical columns of :data:`geo.schema.INCIDENT_COLUMNS` and ``first_fp``; in order of
    first record when the labels are) and the ``events`` rows (``fingerprint``, ``event_id``)
    of every record. ``ids_differ``: the caller knows no two matched events share an id
    (their hashes differ), so the ids are not compared.
    """
    n = tbl.num_rows
    lab = tbl["_lab"].to_numpy().astype(np.int64)
    pos = tbl["_pos"].to_numpy().astype(np.int64)
    src = tbl["_src"].to_numpy().astype(np.int64)
    fp = tbl["fingerprint"].to_numpy()
    span = int(pos.max()) + 1 if n else 1
    order, starts, size = _sorted_runs(lab, src, pos, span)
    rep = order[starts]  # each matched event's representative
    ids = pc.binary_join_element_wise(tbl["source"].take(pa.array(rep)),
                                      tbl["incident_id"].take(pa.array(rep)), ":")
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    enc = None if ids_differ else pc.dictionary_encode(ids)
    event_ids = ids if enc is None else enc.dictionary
    if len(event_ids) < starts.size:  # some ids are shared: group by id
        code = enc.indices.to_numpy().astype(np.int64)  # in order of first label
        gid = np.empty(n, np.int64)
        gid[order] = np.repeat(code, size)
        order, starts, size = _sorted_runs(gid, src, pos, span)
        rep = order[starts]
    multi = size > 1
    first = rep.copy()  # each event's first record (record order)
    if multi.any():
        pos_o = pos[order]
        low = np.minimum.reduceat(pos_o, starts)
        at = np.flatnonzero(pos_o == np.repeat(low, size))  # one row per event, in order
        first = order[at]
    rep_a = pa.array(rep)
    out = {}
    for c in INCIDENT_COLUMNS:
        if c in ("event_id", "n_sources", "sources"):
            continue
        out[c] = tbl[c].take(rep_a)
    if multi.any():
        out["occurred_at"] = tbl["occurred_at"].take(pa.array(first))
        # reductions over each event's records (segments of ``order``), kept for events of 2+
        is_multi = pa.array(multi)
        for c, levels in _LEVELS.items():
            code = np.minimum.reduceat(_level_codes(tbl[c], levels)[order], starts)
            merged = pa.array(levels, pa.string()).take(pa.array(code))
            out[c] = pc.if_else(is_multi, merged, out[c].combine_chunks())
        doses = tbl["naloxone_doses"].to_numpy(zero_copy_only=False).astype(float)
        top = np.fmax.reduceat(doses[order], starts)
        top = np.where(multi, top, out["naloxone_doses"].to_numpy(zero_copy_only=False)
                       .astype(float))
        out["naloxone_doses"] = pa.array(top, pa.int64(), from_pandas=True)
        rank = np.arange(n, dtype=np.int64)
        for c in _FIRST_KNOWN:
            valid = tbl[c].is_valid().to_numpy(zero_copy_only=False)[order]
            if valid.all():
                continue
            cand = np.where(valid, rank, n)
            hit = np.minimum.reduceat(cand, starts)
            found = hit < n
            idx = np.where(found, order[np.minimum(hit, n - 1)], 0)
            taken = tbl[c].take(pa.array(idx))
            out[c] = pc.if_else(pa.array(found), taken, pa.nulls(len(idx), taken.type))
    bits = np.bitwise_or.reduceat(np.left_shift(1, src[order]), starts) if n else \
        np.empty(0, np.int64)
    out["n_sources"] = pa.array(size.astype(np.int64))
    out["sources"] = pa.array(_NAMES[bits], pa.string())
    out["event_id"] = event_ids if len(event_ids) < len(ids) else ids
    cols = {c: out[c] for c in INCIDENT_COLUMNS}
    cols["first_fp"] = pa.array(fp[first])
    per_record = np.repeat(np.arange(starts.size), size)
    records = pa.table({"fingerprint": pa.array(fp[order]),
                        "event_id": out["event_id"].take(pa.array(per_record))})
    return pa.table(cols), records
