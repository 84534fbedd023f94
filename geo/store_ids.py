"""Incident ids in the store's events: an id names one incident of its source.

Matched events whose representatives carry one ``source:incident_id`` are one event (a
corrected re-export moved a metre; a reused id, which the ingest reports). Such an event can
reach beyond the components an ingest touched, so stored events are found by a hash of their
id kept with every row (``events.id_hash``, ``incidents.id_hash``: DuckDB's
``hash(event_id)``), never by reading the whole store's id strings. Used by
:func:`geo.store_events.update_events`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from geo.store_events import arrow_sql

__all__ = ["id_groups", "with_stored", "ids_far_apart"]


def id_groups(labels, codes, idh):
    """The store's events: the matched events (``labels``) with one id joined (an id names
    one incident of a source, e.g. a corrected re-export moved a metre is the same event).

    An event's id is its representative's ``source:incident_id`` (source priority, then
    record order); ``idh`` is its hash per record. Returns each record's group (numbered in
    order of first record, as labels are) and each group's id hash. Equal hashes of two
    different ids would only put two events in one block: the collapse groups by the ids.
    """
    order = np.lexsort((codes, labels))  # stable: record order breaks ties
    first_of = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    rep_idh = idh[order[first_of]]  # per label (labels are 0..k-1)
    by_hash = np.argsort(rep_idh, kind="stable")  # (np.unique is slow on 1M numbers)
    sorted_idh = rep_idh[by_hash]
    starts = np.r_[True, sorted_idh[1:] != sorted_idh[:-1]]
    if starts.all():  # every matched event has its own id (the usual case)
        return labels, rep_idh
    grp = np.empty(rep_idh.size, np.int64)
    grp[by_hash] = np.cumsum(starts) - 1
    first_label = by_hash[starts]  # stable sort: each run starts at its smallest label
    rank = np.empty(first_label.size, np.int64)
    rank[np.argsort(first_label)] = np.arange(first_label.size)
    by_rank = np.empty(first_label.size, np.uint64)
    by_rank[rank[grp]] = rep_idh
    return rank[grp][labels], by_rank


def _distinct(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a number array (``np.unique`` is ~60x slower on 1M hashes
    under numpy 2.4)."""
    s = np.sort(x)
    return s[np.r_[True, s[1:] != s[:-1]]] if s.size else s


def with_stored(con, fp, rid, t, labels, groups, gidh, old_fp):
    """Add the stored events to rebuild to the touched records, and delete their rows.

    Rebuilt: the events of the touched stored records (``old_fp``), by their stored id (an id
    can hold records the matching did not touch), and the stored events whose id is a touched
    event's new id (they join it). Their untouched records come in as extra events (one label
    per id) in the block of the touched event with that id. Returns the arrays (``fp``,
    ``rid``: row ids in ``records``, ``t``, ``labels``, ``groups``) in record order and
    whether anything stored is replaced.
    """
    old = arrow_sql(con, pa.table({"fp": old_fp}), "_old", "SELECT DISTINCT id_hash FROM events "
                    "WHERE fingerprint IN (SELECT fp FROM _old)").fetchnumpy()["id_hash"]
    ask = pa.table({"idh": _distinct(np.concatenate([np.asarray(old, np.uint64), gidh]))})
    # (a hash shared by two ids only rebuilds one more event as it was: the collapse groups by
    # the ids themselves)
    hit = arrow_sql(con, ask, "_ids", "SELECT id_hash FROM incidents WHERE id_hash IN "
                    "(SELECT idh FROM _ids)").fetchnumpy()["id_hash"]
    drop = _distinct(np.concatenate([np.asarray(hit, np.uint64), np.asarray(old, np.uint64)]))
    if not drop.size:
        return fp, rid, t, labels, groups, False
    drop = pa.table({"idh": drop})
    arrow_sql(con, drop, "_ids", "DELETE FROM incidents WHERE id_hash IN (SELECT idh FROM _ids)")
    gone = arrow_sql(con, drop, "_ids", "SELECT fingerprint, id_hash, event_id FROM events "
                     "WHERE id_hash IN (SELECT idh FROM _ids)").fetchnumpy()
    arrow_sql(con, drop, "_ids", "DELETE FROM events WHERE id_hash IN (SELECT idh FROM _ids)")
    efp = np.asarray(gone["fingerprint"], np.uint64)
    out = ~np.isin(efp, fp)  # records touched by the matching are in already
    efp = efp[out]
    if not efp.size:
        return fp, rid, t, labels, groups, True
    when = arrow_sql(con, pa.table({"fp": efp}), "_x", "SELECT fingerprint, occurred_at, "
                     "rowid AS rid FROM records WHERE fingerprint IN (SELECT fp FROM _x)"
                     ).fetchnumpy()
    wfp = np.asarray(when["fingerprint"], np.uint64)
    k = np.argsort(wfp)
    at = k[np.searchsorted(wfp[k], efp)]
    et = np.asarray(when["occurred_at"]).astype("datetime64[us]")[at]
    erid = np.asarray(when["rid"], np.int64)[at]
    eidh = np.asarray(gone["id_hash"], np.uint64)[out]
    _, ecode = np.unique(np.asarray(gone["event_id"], object)[out], return_inverse=True)
    elab = labels.max() + 1 + ecode  # one label per stored id
    # an extra event goes with the touched event of its id (hash), else a group of its own
    by_hash = np.argsort(gidh)  # gidh: each group's id hash
    at = np.minimum(np.searchsorted(gidh[by_hash], eidh), gidh.size - 1)
    egrp = np.where(gidh[by_hash][at] == eidh, by_hash[at], groups.max() + 1 + ecode)
    fp = np.concatenate([fp, efp])
    rid = np.concatenate([rid, erid])
    t = np.concatenate([t, et])
    labels = np.concatenate([labels, elab])
    groups = np.concatenate([groups, egrp])
    o = np.lexsort((fp, t))  # record order
    return fp[o], rid[o], t[o], labels[o], groups[o], True


def ids_far_apart(groups, labels, t, window_min: float) -> np.ndarray:
    """The groups (ids) that join matched events more than ``window_min`` apart (likely an id
    reused by the agency, rather than a corrected re-export)."""
    o = np.lexsort((labels, groups))
    g, lab = groups[o], labels[o]
    tt = t[o].astype("datetime64[us]").view(np.int64)
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    new_label = np.r_[True, (g[1:] != g[:-1]) | (lab[1:] != lab[:-1])]
    n_labels = np.add.reduceat(new_label.astype(np.int64), starts)
    span = np.maximum.reduceat(tt, starts) - np.minimum.reduceat(tt, starts)
    return g[starts][(n_labels > 1) & (span > float(window_min) * 60e6)]
