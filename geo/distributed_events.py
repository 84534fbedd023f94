"""De-duplicated, keyed events that stay on the Dask workers (one frame per partition).

:func:`geo.distributed.read_dataset` finds the candidate pairs of the de-duplication on the
workers (time bins with an overlap of the matching window). This module turns the records and
those pairs into **events held by the workers**, each with its record key (``rkey``), exactly
the events and keys of the local engine (``dedup_incidents`` then ``with_record_keys`` over the
whole dataset):

1. *Labels* (client, small). Only records that take part in a candidate pair can merge; the
   client labels those alone (:func:`geo.dedup.assign_events` on the pair graph, the records
   renumbered in order, so components and the greedy rebuild are the global ones). Each merged
   group is named by its first record's global position (``gkey``) and *owned* by the partition
   holding that record. The client keeps O(pairs), never the records.
2. *Collapse* (workers). Each partition sends the member rows of groups owned elsewhere to
   their owner (worker to worker); each owner collapses its singletons and the groups it owns
   (:func:`geo.dedup.collapse_events`, which works group by group) and orders its events by
   first record. Partition order then gives the global event order.
3. *Record keys* (workers). A key is a row hash plus the ordinal of the row among identical
   rows in event order (:func:`geo.privacy.cellkey.record_keys`). Identical rows in different
   partitions are found by hash buckets: each bucket task sees the hash counts of every
   partition for its hashes and tells each partition how many identical rows come before it.
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from geo.dedup import assign_events, collapse_events
from geo.ingest import to_canonical
from geo.privacy.cellkey import content_hashes, keys_from_hashes

__all__ = ["plan_groups", "events_on_workers"]

_GKEY = "_gkey"


def plan_groups(found: list, sizes) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per partition: (local positions, group keys, owner partitions) of its merged records.

    ``found`` holds the pair tuples ``(i, j, score, source_i, source_j)`` of the bin tasks
    (global positions); ``sizes`` the number of records of each partition.
    """
    sizes = np.asarray(sizes, np.int64)
    bounds = np.cumsum(sizes)
    starts = bounds - sizes
    empty = (np.empty(0, np.int64),) * 3
    found = [f for f in found if len(f[0])]
    if not found:
        return [empty] * len(sizes)
    i, j, s = (np.concatenate([f[k] for f in found]) for k in range(3))
    si = np.concatenate([np.asarray(f[3], object) for f in found])
    sj = np.concatenate([np.asarray(f[4], object) for f in found])
    order = np.lexsort((j, i))  # the order of the global search
    i, j, s, si, sj = i[order], j[order], s[order], si[order], sj[order]
    nodes = np.unique(np.concatenate([i, j]))
    ci, cj = np.searchsorted(nodes, i), np.searchsorted(nodes, j)
    src = np.empty(nodes.size, object)
    src[ci], src[cj] = si, sj
    lab = assign_events(nodes.size, ci, cj, s, src)  # 0..m-1 in order of first record
    _, first = np.unique(lab, return_index=True)
    multi = np.bincount(lab)[lab] > 1
    pos, gkey = nodes[multi], nodes[first][lab][multi]
    part = np.searchsorted(bounds, pos, side="right")
    owner = np.searchsorted(bounds, gkey, side="right")
    out = []
    for p in range(len(sizes)):
        m = part == p
        out.append((pos[m] - starts[p], gkey[m], owner[m]))
    return out


# --- worker tasks ------------------------------------------------------------------------------

def _indexed(part, offset: int) -> pd.DataFrame:
    rec = part[0]
    return rec.set_axis(pd.RangeIndex(offset, offset + len(rec)), axis=0)


def _route(part, offset: int, local_pos, gkey, owner) -> dict:
    """The merged member rows of a partition, by owner partition (index: global position)."""
    rows = _indexed(part, offset).iloc[local_pos].assign(**{_GKEY: gkey})
    return {int(o): rows.iloc[np.flatnonzero(owner == o)] for o in np.unique(owner)}


def _collapse(part, offset: int, local_pos, *incoming) -> tuple[pd.DataFrame, np.ndarray]:
    """This partition's events (canonical, in global event order) and their content hashes."""
    rec = _indexed(part, offset)
    keep = np.ones(len(rec), bool)
    keep[np.asarray(local_pos, np.int64)] = False
    single = rec.iloc[np.flatnonzero(keep)]
    frames = [single.assign(**{_GKEY: single.index.to_numpy(np.int64)})]
    frames += [f for f in incoming if len(f)]
    members = pd.concat(frames) if len(frames) > 1 else frames[0]
    keys, labels = np.unique(members[_GKEY].to_numpy(np.int64), return_inverse=True)
    events = collapse_events(members.drop(columns=_GKEY), labels)  # in order of keys
    events = to_canonical(events)
    return events, content_hashes(events)


def _hash_counts(collapsed, n_buckets: int) -> list[tuple[np.ndarray, np.ndarray]]:
    h = collapsed[1]
    uniq, counts = np.unique(h, return_counts=True)
    b = (uniq % np.uint64(n_buckets)).astype(np.int64)
    return [(uniq[b == k], counts[b == k]) for k in range(n_buckets)]


def _bucket_prefix(*per_part) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each partition: its hashes with identical rows in earlier partitions, and how many
    (hashes ascending)."""
    h = np.concatenate([u for u, _ in per_part])
    c = np.concatenate([n for _, n in per_part]).astype(np.int64)
    part = np.repeat(np.arange(len(per_part)), [u.size for u, _ in per_part])
    order = np.lexsort((part, h))  # by hash, then partition order
    h, c, part = h[order], c[order], part[order]
    excl = np.cumsum(c) - c  # rows before this entry, over all hashes
    first = np.flatnonzero(np.r_[True, h[1:] != h[:-1]]) if h.size else np.empty(0, np.int64)
    before = excl - np.repeat(excl[first], np.diff(np.r_[first, h.size]))
    out = []
    for p in range(len(per_part)):
        m = (part == p) & (before > 0)
        out.append((h[m], before[m]))
    return out


def _keyed(collapsed, *prefixes) -> pd.DataFrame:
    events, h = collapsed
    ordinal = np.array(pd.Series(h).groupby(h, sort=False).cumcount(), dtype=np.int64)
    for uniq, before in prefixes:
        if uniq.size:
            idx = np.searchsorted(uniq, h).clip(0, uniq.size - 1)
            hit = uniq[idx] == h
            ordinal[hit] += before[idx[hit]]
    return events.assign(rkey=keys_from_hashes(h, ordinal))


# --- the graph ---------------------------------------------------------------------------------

def events_on_workers(client, parts: list, sizes, found: list, n_buckets: int | None = None
                      ) -> list:
    """Futures of each partition's keyed events (``rkey``), in global event order.

    ``parts`` are the futures of :func:`geo.distributed._read_partition`, ``sizes`` their record
    counts, ``found`` the gathered pair tuples of the bin tasks (see :func:`plan_groups`).
    """
    sizes = [int(s) for s in sizes]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64).tolist()
    plan = plan_groups(found, sizes)
    routed = {}
    for p, (pos, gkey, owner) in enumerate(plan):
        if pos.size:
            routed[p] = client.submit(_route, parts[p], offsets[p], pos, gkey, owner, pure=False)
    collapsed = []
    for p, part in enumerate(parts):
        senders = sorted(q for q, (_, _, owner) in enumerate(plan) if (owner == p).any())
        incoming = [client.submit(operator.getitem, routed[q], p, pure=False) for q in senders]
        collapsed.append(client.submit(_collapse, part, offsets[p], plan[p][0], *incoming,
                                       pure=False))
    if len(parts) == 1:
        return [client.submit(_keyed, collapsed[0], pure=False)]
    b = max(1, int(n_buckets or min(len(parts), 16)))
    counts = [client.submit(_hash_counts, c, b, pure=False) for c in collapsed]
    buckets = [client.submit(_bucket_prefix,
                             *[client.submit(operator.getitem, c, k, pure=False) for c in counts],
                             pure=False) for k in range(b)]
    return [client.submit(_keyed, c,
                          *[client.submit(operator.getitem, bk, p, pure=False) for bk in buckets],
                          pure=False)
            for p, c in enumerate(collapsed)]
