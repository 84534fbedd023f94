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

#: The records of the events of block ``$blk`` (``_evblk``: event id → block), any order.
RECORDS_SQL = (
    "SELECT r.* EXCLUDE (file_id, received_at), e.event_id AS _event, "
    f"({_SRC_CODE})::TINYINT AS _src FROM records r JOIN events e USING (fingerprint) "
    "WHERE e.event_id IN (SELECT event_id FROM _evblk WHERE blk = $blk)"
)

_NAMES = np.array(["+".join(sorted(s for k, s in enumerate(SOURCES) if m >> k & 1))
                   for m in range(1 << len(SOURCES))], dtype=object)


def _level_codes(col: pa.ChunkedArray, levels) -> np.ndarray:
    """Index of each value in ``levels``; missing or other values → the last level."""
    idx = pc.index_in(col, value_set=pa.array(levels))
    return pc.fill_null(idx, len(levels) - 1).to_numpy().astype(np.int8)


def collapse_records(tbl: pa.Table) -> pa.Table:
    """One row per ``_event`` of ``tbl`` (records with ``_event`` and ``_src``): the canonical
    columns of :data:`geo.schema.INCIDENT_COLUMNS` and ``first_fp``, in event order."""
    n = tbl.num_rows
    t = tbl["occurred_at"].to_numpy().astype("datetime64[us]").view(np.int64)
    fp = tbl["fingerprint"].to_numpy()
    src = tbl["_src"].to_numpy().astype(np.int64)
    g = pc.dictionary_encode(tbl["_event"].combine_chunks())
    gid = g.indices.to_numpy().astype(np.int64)
    order = np.lexsort((fp, t, src, gid))  # by event, then priority, then record order
    gs = gid[order]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]]) if n else np.empty(0, np.int64)
    size = np.diff(np.r_[starts, n])
    rep = order[starts]
    # each event's first record (record order) and the order of events
    by_time = np.lexsort((fp, t, gid))
    first = by_time[starts]
    ev_order = np.lexsort((fp[first], t[first]))
    rep, first, size = rep[ev_order], first[ev_order], size[ev_order]
    multi = size > 1
    rep_a = pa.array(rep)
    out = {}
    for c in INCIDENT_COLUMNS:
        if c in ("event_id", "n_sources", "sources"):
            continue
        out[c] = tbl[c].take(rep_a)
    out["occurred_at"] = pa.array(t[first].astype("datetime64[us]"))
    if multi.any():
        # reductions over each event's records (segments of ``order``), kept for events of 2+
        starts_sorted = starts  # reduceat needs increasing segment starts
        for c, levels in _LEVELS.items():
            code = np.minimum.reduceat(_level_codes(tbl[c], levels)[order], starts_sorted)
            vals = np.asarray(levels, dtype=object)[code[ev_order]]
            merged = pa.array(vals, pa.string())
            out[c] = pc.if_else(pa.array(multi), merged, out[c].combine_chunks())
        doses = tbl["naloxone_doses"].to_numpy(zero_copy_only=False).astype(float)
        top = np.fmax.reduceat(doses[order], starts_sorted)[ev_order]
        top = np.where(multi, top, out["naloxone_doses"].to_numpy(zero_copy_only=False)
                       .astype(float))
        out["naloxone_doses"] = pa.array(top, pa.int64(), from_pandas=True)
        pos = np.arange(n, dtype=np.int64)
        for c in _FIRST_KNOWN:
            valid = tbl[c].is_valid().to_numpy(zero_copy_only=False)[order]
            if valid.all():
                continue
            cand = np.where(valid, pos, n)
            hit = np.minimum.reduceat(cand, starts_sorted)[ev_order]
            found = hit < n
            idx = np.where(found, order[np.minimum(hit, n - 1)], 0)
            taken = tbl[c].take(pa.array(idx))
            out[c] = pc.if_else(pa.array(found), taken, pa.nulls(len(idx), taken.type))
    bits = np.bitwise_or.reduceat(np.left_shift(1, src[order]), starts)[ev_order] if n else \
        np.empty(0, np.int64)
    out["n_sources"] = pa.array(size.astype(np.int64))
    out["sources"] = pa.array(_NAMES[bits], pa.string())
    out["event_id"] = g.dictionary.take(pa.array(gid[rep]))
    cols = {c: out[c] for c in INCIDENT_COLUMNS}
    cols["first_fp"] = pa.array(fp[first])
    return pa.table(cols)
