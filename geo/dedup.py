"""Cross-source de-duplication: reports of one overdose by EMS, police and hospital → one event.

There is no published rule for matching EMS, police and hospital reports of one scene, so the
rule is **our documented design choice** (README, section *ingest*):

1. Two records are a *candidate pair* when they come from **different sources**, both have a
   time of day (``time_precision`` minute or hour: date-only records are never merged on time),
   they are at most ``window_min`` minutes apart (default 60) and at most ``radius_m`` metres
   apart on the great circle (default 300).
2. An event holds **at most one record per source**. Candidate pairs are linked by union-find
   (single linkage); where a chain would put two records of the same source into one event
   (EMS₁ ~ police ~ EMS₂), that component is rebuilt greedily: pairs are joined closest first
   (score ``dt / window + d / radius``, ties by position) and a pair whose union would hold two
   records of one source is skipped. So same-source records are never merged, and a chain's
   extent is bounded by (number of sources − 1) × window / radius.
3. The event takes its location, id and agency from the highest-priority source in it (EMS,
   then police, hospital, ODMAP, other: EMS carries scene GPS), its time from the earliest
   report (``time_precision`` the finest among the reports), ``outcome`` fatal if any report
   says fatal (else nonfatal if any, else unknown),
   ``naloxone`` yes if any report says yes (else no if any), ``naloxone_doses`` the maximum,
   and other attributes from the first report (in priority order) that has them.

Candidate pairs come from a sort-and-sweep over latitude-band × longitude cells a few radii
wide (:mod:`geo.dedup_match`: each record against the later records of its cell and of the
neighbouring cells within reach, up to ``window_min`` later; a hair wider than the rule), then
are filtered exactly (haversine distance, time difference, source). No Python loop touches a
record unless it is in a conflicting chain.

References
----------
Tarjan, R. E. (1975). Efficiency of a good but not linear set union algorithm. J. ACM 22(2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from geo.cells import haversine_m
from geo.dedup_match import near_pairs
from geo.schema import SOURCES

__all__ = ["candidate_pairs", "assign_events", "collapse_events", "dedup_incidents"]


def _source_codes(source) -> np.ndarray:
    """Index of each source in :data:`geo.schema.SOURCES` (missing or unknown: the last);
    an integer array is taken as such codes already (no strings are built)."""
    if isinstance(source, np.ndarray) and source.dtype.kind in "iu":
        return np.minimum(source.astype(np.int64), len(SOURCES) - 1)
    return _level_codes(source, SOURCES)


def _level_codes(values, levels) -> np.ndarray:
    """Index of each value in ``levels``; missing or other values: the last level."""
    codes = pd.Index(levels).get_indexer(pd.Series(values, dtype="string")).astype(np.int64)
    codes[codes < 0] = len(levels) - 1
    return codes


def _check_params(window_min: float, radius_m: float) -> None:
    if not np.isfinite(window_min) or window_min < 0:
        raise ValueError(f"window_min must be a non-negative number of minutes, got {window_min!r}")
    if not np.isfinite(radius_m) or radius_m <= 0:
        raise ValueError(f"radius_m must be a positive number of metres, got {radius_m!r}")


def candidate_pairs(
    occurred_at, lat, lon, source, mergeable=None, *, window_min: float = 60, radius_m: float = 300
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of records that may be one event (different sources, close in time and space).

    Parameters
    ----------
    occurred_at : array-like of datetime64
    lat, lon : array-like of float (degrees)
    source : array-like of str
    mergeable : array-like of bool, optional
        Records that may be merged at all (default: all; ingest passes "has a time of day").
    window_min, radius_m : float
        Maximum time difference (minutes) and great-circle distance (metres).

    Returns
    -------
    i, j, score : ndarray
        Positions with ``i < j`` and ``score = dt / window + d / radius`` (0 = identical).
    """
    _check_params(window_min, radius_m)
    t = _as_us(occurred_at)
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    codes = _source_codes(source)
    n = lat.size
    ok = np.ones(n, bool) if mergeable is None else np.asarray(mergeable, bool).copy()
    ok &= np.isfinite(lat) & np.isfinite(lon) & ~np.isnat(t)
    idx = np.flatnonzero(ok)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if idx.size < 2 or (codes[idx] == codes[idx[0]]).all():
        return empty
    # every pair within the rule plus a few more (a hair wide, so rounding never drops a pair
    # exactly at the edge; the exact filter below decides): results then do not depend on
    # which records are searched together
    if idx.size == n:  # every record may be merged: no copies
        a, b = near_pairs(t.view(np.int64), lat, lon, window_min, radius_m)
    else:
        a, b = near_pairs(t[idx].view(np.int64), lat[idx], lon[idx], window_min, radius_m)
        a, b = idx[a], idx[b]
    keep = codes[a] != codes[b]
    a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])  # as the KD-tree had
    dt = np.abs(t[a] - t[b]).astype("timedelta64[us]").astype(np.float64) / 6e7
    keep = dt <= window_min
    a, b, dt = a[keep], b[keep], dt[keep]
    d = haversine_m(lat[a], lon[a], lat[b], lon[b])
    keep = d <= radius_m
    a, b, dt, d = a[keep], b[keep], dt[keep], d[keep]
    score = (dt / window_min if window_min > 0 else 0.0) + d / radius_m
    order = np.argsort(a * n + b) if n < 2**31 else np.lexsort((b, a))
    return a[order], b[order], score[order]


def _as_us(occurred_at) -> np.ndarray:
    """``occurred_at`` as datetime64[us] (a datetime64 array is cast directly, no pandas)."""
    t = np.asarray(occurred_at)
    if t.dtype.kind == "M":
        return t.astype("datetime64[us]", copy=False)
    return np.asarray(pd.to_datetime(t).astype("datetime64[us]"))


def _find(parent: list[int], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        parent[x], x = root, parent[x]
    return root


def assign_events(n: int, i, j, score, source, *, comp=None) -> np.ndarray:
    """Event label (0..m-1, in order of first record) per record; one record per source per event.

    Parameters
    ----------
    n : int
        Number of records.
    i, j, score : array-like
        Candidate pairs from :func:`candidate_pairs`.
    source : array-like of str
    comp : array-like of int, optional
        Connected-component labels of the pair graph (any numbering, e.g. from
        ``scipy.sparse.csgraph.connected_components``), when the caller has them already;
        computed here otherwise. The result does not depend on their numbering.
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    score = np.asarray(score, float)
    codes = _source_codes(source)
    if i.size == 0:
        return np.arange(n, dtype=np.int64)
    if comp is None:
        g = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
        comp = connected_components(g, directed=False)[1]
    comp, firstpos = _first_order(np.asarray(comp, np.int64))
    # components holding two records of one source must be rebuilt greedily
    nodes = np.zeros(n, bool)
    nodes[i] = True
    nodes[j] = True
    nodes = np.flatnonzero(nodes)  # records in a pair (the others are alone)
    cn = comp[nodes]
    seen = np.zeros(firstpos.size, np.int64)
    np.bitwise_or.at(seen, cn, np.left_shift(1, codes[nodes]))
    conflicted = np.bincount(cn, minlength=firstpos.size) > np.bitwise_count(seen)
    del nodes, cn, seen
    if not conflicted.any():
        return comp
    bad_pair = conflicted[comp[i]]
    bi, bj, bs = i[bad_pair], j[bad_pair], score[bad_pair]  # masked once, not per pass
    order = np.lexsort((bj, bi, bs))
    # union-find over the records of conflicted components only, numbered 0..k-1 in
    # record order (the same unions as over all n records, without n Python objects)
    members = np.flatnonzero(conflicted[comp])
    parent = list(range(members.size))
    mask = [1 << c for c in codes[members].tolist()]
    ci, cj = np.searchsorted(members, bi[order]), np.searchsorted(members, bj[order])
    del bi, bj, bs, order
    for a, b in zip(ci.tolist(), cj.tolist(), strict=True):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb or mask[ra] & mask[rb]:
            continue
        parent[rb] = ra
        mask[ra] |= mask[rb]
    del ci, cj, mask
    root = np.fromiter((_find(parent, x) for x in range(members.size)), np.int64,
                       count=members.size)
    # the first record of each rebuilt piece (members are in record order)
    piece_first = np.full(members.size, members.size, np.int64)
    np.minimum.at(piece_first, root, np.arange(members.size))
    piece_first = members[piece_first[root]]
    # relabel 0..m-1 in order of first record: a record that starts an event counts
    starts = np.zeros(n, bool)
    starts[firstpos[~conflicted]] = True
    starts[piece_first] = True
    rank = np.cumsum(starts) - 1
    out = rank[firstpos[comp]]
    out[members] = rank[piece_first]
    return out


def _first_order(comp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels renumbered 0..L-1 in order of first appearance, and each label's first position.

    ``scipy.sparse.csgraph.connected_components`` numbers components that way already (checked
    in one pass, then kept as they are)."""
    n = comp.size
    if n == 0:
        return comp, np.empty(0, np.int64)
    top = np.maximum.accumulate(comp)
    new = np.empty(n, bool)
    new[0] = True
    np.greater(comp[1:], top[:-1], out=new[1:])
    if comp[0] == 0 and comp.min() >= 0 and (comp[new] == np.arange(int(new.sum()))).all():
        return comp, np.flatnonzero(new)
    lo = int(comp.min())
    first = np.full(int(comp.max()) - lo + 1, n, np.int64)
    np.minimum.at(first, comp - lo, np.arange(n))
    starts = np.zeros(n, bool)
    starts[first[first < n]] = True
    rank = np.cumsum(starts) - 1
    comp = rank[first[comp - lo]]
    return comp, np.flatnonzero(starts)


def collapse_events(records: pd.DataFrame, labels) -> pd.DataFrame:
    """One row per event from records and their event labels (see module docstring).

    Returns
    -------
    DataFrame
        Indexed by the representative record's index label, in order of first record, with
        ``event_id`` (``"<source>:<incident_id>"`` of the representative), ``n_sources`` and
        ``sources`` (sorted, joined by ``+``, e.g. ``"ems+police"``).
    """
    labels = np.asarray(labels, np.int64)
    if labels.size != len(records):
        raise ValueError(f"labels has {labels.size} entries for {len(records)} records")
    n_ev = int(labels.max()) + 1 if labels.size else 0
    codes = _source_codes(records["source"])
    order = np.lexsort((codes, labels))  # by event, then source priority
    srt = records.iloc[order]
    lab = labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]]) if lab.size else np.empty(0, int)
    out = srt.iloc[starts].copy()
    size = np.diff(np.r_[starts, lab.size])
    multi = size > 1
    if multi.any():
        rows = np.flatnonzero(multi)

        def reduce(ufunc, values):  # per event, over all its records
            return ufunc.reduceat(values, starts)

        t = srt["occurred_at"].to_numpy().astype("datetime64[us]").view(np.int64)
        out["occurred_at"] = reduce(np.minimum, t).view("datetime64[us]")
        for col, levels in (("time_precision", ("minute", "hour", "day")),
                            ("outcome", ("fatal", "nonfatal", "unknown")),
                            ("naloxone", ("yes", "no", "unknown"))):
            code = _level_codes(srt[col], levels)  # the first level any report has wins
            out[col] = pd.array(np.asarray(levels, object)[reduce(np.minimum, code)],
                                dtype="string")
        doses = srt["naloxone_doses"].to_numpy(dtype=float, na_value=np.nan)
        out["naloxone_doses"] = pd.array(reduce(np.fmax, doses), dtype="Float64").astype("Int64")
        in_multi = np.repeat(multi, size)
        sub = srt.iloc[np.flatnonzero(in_multi)]
        grp = sub.groupby(lab[in_multi], sort=True)
        for col in ("suspected_drug", "age_band", "sex", "location_precision", "area", "agency"):
            if col in sub.columns:
                out.iloc[rows, out.columns.get_loc(col)] = grp[col].first().to_numpy()
    bits = np.bitwise_or.reduceat(np.left_shift(1, codes[order]), starts) if lab.size else codes[:0]
    names = np.array(["+".join(sorted(s for k, s in enumerate(SOURCES) if m >> k & 1))
                      for m in range(1 << len(SOURCES))], dtype=object)
    sources = names[bits]
    out["n_sources"] = pd.array(size, dtype="Int64")
    out["sources"] = pd.array(sources, dtype="string")
    out["event_id"] = (out["source"].astype("string") + ":" + out["incident_id"].astype("string"))
    assert len(out) == n_ev
    return out


def dedup_incidents(
    records: pd.DataFrame, *, window_min: float = 60, radius_m: float = 300
) -> tuple[pd.DataFrame, pd.Series]:
    """Merge cross-source reports of one event.

    Parameters
    ----------
    records : DataFrame
        Canonical records (one per report). Never mutated.
    window_min, radius_m : float
        Matching window in minutes and radius in metres.

    Returns
    -------
    events : DataFrame
        One row per event (see :func:`collapse_events`).
    record_event_id : Series
        The ``event_id`` of every input record, indexed like ``records``.
    """
    _check_params(window_min, radius_m)
    need = [c for c in ("occurred_at", "lat", "lon", "source", "incident_id", "time_precision")
            if c not in records.columns]
    if need:
        raise ValueError(
            f"cannot de-duplicate: column(s) {need} missing; found {list(records.columns)}")
    mergeable = (records["time_precision"].astype("string") != "day").fillna(False).to_numpy(bool)
    i, j, score = candidate_pairs(
        records["occurred_at"].to_numpy(), records["lat"].to_numpy(float),
        records["lon"].to_numpy(float), records["source"].to_numpy(object), mergeable,
        window_min=window_min, radius_m=radius_m,
    )
    labels = assign_events(len(records), i, j, score, records["source"].to_numpy(object))
    events = collapse_events(records, labels)
    per_record = pd.Series(events["event_id"].to_numpy()[labels], index=records.index,
                           dtype="string")
    return events, per_record
