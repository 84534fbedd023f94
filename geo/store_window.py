"""The matching inputs of the store's de-duplication (:mod:`geo.store_events`): the records
of a time window read as numpy arrays in record order, and their candidate pairs and
connected components, memory bounded by blocks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from geo.dedup import candidate_pairs
from geo.schema import SOURCES

__all__ = ["STAGED", "window_sql", "read_window", "pairs_by_block", "components", "PAIR_BLOCK"]

#: A record's source priority code (SQL over ``records``; see :data:`geo.schema.SOURCES`).
SRC_CODE = ("CASE source " + " ".join(f"WHEN '{x}' THEN {k}" for k, x in enumerate(SOURCES))
            + f" ELSE {len(SOURCES) - 1} END")
#: A record's event id when it represents its event (SQL over ``records r``).
EVENT_ID = "r.source || ':' || r.incident_id"


def window_sql(file_id=None) -> str:
    """The matching inputs of the records in ``[$lo, $hi]`` (SQL, no order).

    ``is_new``: the record was added by this ingest (``file_id``), or every record (a rebuild);
    every other record has its event already (ingest is one transaction)."""
    new = "true" if file_id is None else f"r.file_id = {int(file_id)}"
    return (f"SELECT r.fingerprint, r.occurred_at, r.lat, r.lon, {SRC_CODE}::TINYINT AS src, "
            f"coalesce(r.time_precision = 'day', false) AS day, {new} AS is_new, "
            f"hash({EVENT_ID}) AS idh, r.rowid AS rid "
            "FROM records r WHERE r.occurred_at BETWEEN $lo AND $hi")


#: Temporary table of the matching inputs of every slab, in record order (several slabs)
STAGED = "_gapmap_window"


def read_window(con, lo, hi, file_id=None, staged=None) -> dict:
    """The matching inputs (:func:`window_sql`) of the records in ``[lo, hi]``, in record
    order, as numpy arrays: from the staged table when ``staged`` (its time range) covers
    them (sorted once, so a slab's read skips the rest), else from ``records``."""
    params = {"lo": lo.to_pydatetime(), "hi": hi.to_pydatetime()}
    if staged is not None and staged[0] <= lo and hi <= staged[1]:
        return con.sql(f"SELECT * FROM {STAGED} WHERE occurred_at BETWEEN $lo AND $hi",
                       params=params).fetchnumpy()  # in table order: record order
    return con.sql(window_sql(file_id) + " ORDER BY r.occurred_at, r.fingerprint",
                   params=params).fetchnumpy()


def pairs_by_block(t, lat, lon, src, mergeable, window_min, radius_m, block):
    """:func:`geo.dedup.candidate_pairs` over records in time order, ``block`` at a time.

    Block ``[s, e)`` is searched together with the records up to ``window_min`` after its
    last one and keeps the pairs whose first record is in it, so every pair is found once and
    memory is bounded by the block. The pairs are exact (the search is a hair wide, then an
    exact filter), so they are those of one search over all records, in the same order.
    """
    n = t.size
    if n <= block:  # ``src``: source codes (no strings are built)
        return candidate_pairs(t, lat, lon, src, mergeable, window_min=window_min,
                               radius_m=radius_m)
    reach = np.timedelta64(int(np.ceil(float(window_min) * 60e6)) + 1000, "us")  # + 1 ms
    out_i, out_j, out_s = [], [], []
    for s in range(0, n, block):
        e = min(n, s + block)
        stop = int(np.searchsorted(t, t[e - 1] + reach, side="right"))
        sl = slice(s, stop)
        i, j, sc = candidate_pairs(t[sl], lat[sl], lon[sl], src[sl], mergeable[sl],
                                   window_min=window_min, radius_m=radius_m)
        mine = i < e - s  # i < j: the pair's first record is in this block
        out_i.append(i[mine] + s)
        out_j.append(j[mine] + s)
        out_s.append(sc[mine])
    i, j, sc = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s)
    order = np.lexsort((j, i))
    return i[order], j[order], sc[order]


#: Records per block of the candidate-pair search (memory bound).
PAIR_BLOCK = 500_000


def components(w: dict, window_min: float, radius_m: float):
    t = np.asarray(w["occurred_at"]).astype("datetime64[us]")
    src = np.asarray(w["src"], np.int64)
    lat, lon = np.asarray(w["lat"], float), np.asarray(w["lon"], float)
    i, j, score = pairs_by_block(t, lat, lon, src, ~np.asarray(w["day"], bool), window_min,
                                  radius_m, PAIR_BLOCK)
    n = t.size
    g = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    return t, src, comp, i, j, score
