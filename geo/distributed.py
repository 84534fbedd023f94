"""Partitioned Parquet datasets on one machine or a Dask cluster, with exact de-duplication.

A *dataset* is a folder of Parquet files (searched recursively) or a glob such as
``exports/2026-*/part-*.parquet``; its partitions are its files in sorted path order. Both
engines give the same result:

- ``engine="local"``: every partition is read, validated and indexed in turn
  (:func:`geo.ingest.read_incidents`), the records are concatenated, and cross-source reports
  are merged with :func:`geo.dedup.dedup_incidents` over all of them.
- ``engine="dask"``: the partitions are read, validated and indexed on the cluster's workers
  (one task each, the records stay on the workers); the candidate pairs of the de-duplication
  are searched on the workers in **time bins with an overlap of the matching window**; the
  client labels the records that take part in a pair, and the workers collapse them into
  events and key them (:mod:`geo.distributed_events`; :func:`dask_events` leaves the events
  on the workers, e.g. for counting there: :mod:`geo.distributed_counts`).

Why the time bins are exact. Bin ``k`` *owns* the instants ``[e_k, e_{k+1})`` and its task
receives every mergeable record with ``e_k <= t <= e_{k+1} + W`` (``W`` = the matching window)
from every partition. A candidate pair has ``|t_a - t_b| <= W``, so if its earlier record lies
in ``[e_k, e_{k+1})`` the later one lies in ``[e_k, e_{k+1} + W]``: the task sees both. The task
keeps only the pairs whose earlier record it owns, so every pair of the global search is found
exactly once, whatever the partitioning of the files (by time, by source, or none). The pair
test itself (:func:`geo.dedup.candidate_pairs`) does not depend on which records are searched
together, and the scores are computed from the same values, so the global greedy labelling
sees the same pairs with the same scores and gives the same events, record for record.

Record-level rules (validation, exclusions, exact repeats, the same-source rule) apply per
partition, as for separate exports; each reject carries its ``file`` and ``line``.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import logging
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from geo.dedup import candidate_pairs, dedup_incidents
from geo.ingest import IngestResult, read_incidents, to_canonical

__all__ = ["ENGINES", "is_dataset", "dataset_files", "read_dataset", "ingest_dataset",
           "dask_client", "dask_events"]

ENGINES = ("local", "dask")
_GLOB_CHARS = set("*?[")
_SUM_KEYS = ("read", "accepted", "rejected", "excluded", "identical", "dropped_identical",
             "near_duplicates", "outside_area")


def is_dataset(spec) -> bool:
    """True for a folder or a glob pattern (a partitioned dataset), False for one file."""
    if spec is None:
        return False
    s = str(spec)
    return Path(s).is_dir() or bool(_GLOB_CHARS & set(s))


def dataset_files(spec) -> list[Path]:
    """The Parquet partitions of a folder (recursive) or a glob, in sorted path order.

    Raises
    ------
    FileNotFoundError
        Nothing matches (one sentence naming the folder or pattern).
    ValueError
        A glob matches files that are not Parquet.
    """
    s = str(spec)
    p = Path(s)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file()
                       and f.suffix.lower() in (".parquet", ".pq"))
        if not files:
            raise FileNotFoundError(f"folder {s} holds no .parquet files")
        return files
    if _GLOB_CHARS & set(s):
        files = sorted(Path(f) for f in _glob.glob(s, recursive=True) if Path(f).is_file())
        if not files:
            raise FileNotFoundError(f"no file matches {s}")
        bad = [f.name for f in files if f.suffix.lower() not in (".parquet", ".pq")]
        if bad:
            raise ValueError(f"{s} matches files that are not Parquet (e.g. {bad[0]}); a "
                             "partitioned dataset is a folder or glob of .parquet files")
        return files
    if not p.exists():
        raise FileNotFoundError(f"incident file {s} does not exist")
    return [p]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, n_workers: int = 2, timeout: str = "20s"):
    """A ``distributed.Client``: to ``scheduler`` (``tcp://host:8786``) or a local cluster.

    The local cluster has ``n_workers`` worker processes of one thread each, listens on
    loopback only and serves no dashboard; it is closed on exit. A scheduler not reached
    within ``timeout`` is a ``ValueError`` of one sentence.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except OSError as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start "
                             "one with `dask scheduler` or leave --scheduler out") from None
        try:
            yield client
        finally:
            client.close()
        return
    with warnings.catch_warnings():
        # the scheduler's health endpoint (loopback) takes another port when 8787 is taken
        warnings.filterwarnings("ignore", message="Port .* is already in use")
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
    with cluster, Client(cluster) as client:
        yield client


# --- per-partition work (runs on a worker) ----------------------------------------------------

def _read_partition(path: str, options: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    res = read_incidents(path, dedup=False, **options)
    rejects = res.rejects
    if len(rejects):
        rejects = rejects.assign(file=str(path))
    return res.records, rejects, res.summary


def _mergeable(records: pd.DataFrame) -> np.ndarray:
    return (records["time_precision"].astype("string") != "day").fillna(False).to_numpy(bool)


def _time_range(part) -> tuple[int, int, int]:
    rec = part[0]
    t = rec["occurred_at"].to_numpy().astype("datetime64[us]").astype(np.int64)
    ok = _mergeable(rec) & ~np.isnat(rec["occurred_at"].to_numpy().astype("datetime64[us]"))
    if not ok.any():
        return len(rec), 0, -1
    return len(rec), int(t[ok].min()), int(t[ok].max())


def _keys(part, offset: int, lo: int, hi: int) -> pd.DataFrame:
    """The mergeable records of a partition with ``lo <= t <= hi`` (µs), with global positions."""
    rec = part[0]
    t = rec["occurred_at"].to_numpy().astype("datetime64[us]")
    ti = t.astype(np.int64)
    ok = _mergeable(rec) & ~np.isnat(t) & (ti >= lo) & (ti <= hi)
    pos = np.flatnonzero(ok)
    return pd.DataFrame({
        "g": offset + pos, "t": t[pos], "lat": rec["lat"].to_numpy(float)[pos],
        "lon": rec["lon"].to_numpy(float)[pos], "source": rec["source"].to_numpy(object)[pos],
    })


def _bin_pairs(core_lo: int, core_hi: int, window_min: float, radius_m: float, *slices):
    """Candidate pairs whose earlier record lies in ``[core_lo, core_hi)`` (global positions)."""
    keys = pd.concat(slices, ignore_index=True) if slices else pd.DataFrame()
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0, object),
             np.empty(0, object))
    if len(keys) < 2:
        return empty
    a, b, score = candidate_pairs(keys["t"].to_numpy(), keys["lat"].to_numpy(),
                                  keys["lon"].to_numpy(), keys["source"].to_numpy(),
                                  window_min=window_min, radius_m=radius_m)
    t = keys["t"].to_numpy().astype(np.int64)
    first = np.minimum(t[a], t[b])
    own = (first >= core_lo) & (first < core_hi)
    g = keys["g"].to_numpy(np.int64)  # slices arrive in partition order: g ascends with a < b
    src = keys["source"].to_numpy(object)
    a, b = a[own], b[own]
    return g[a], g[b], score[own], src[a], src[b]


# --- assembly ------------------------------------------------------------------------------

def _assemble(parts: list, records: pd.DataFrame, incidents: pd.DataFrame) -> IngestResult:
    summaries = [p[2] for p in parts]
    summary: dict = {k: int(sum(s.get(k, 0) for s in summaries)) for k in _SUM_KEYS}
    reasons: Counter = Counter()
    for s in summaries:
        reasons.update(s.get("reasons", {}))
    presets = {s.get("preset") for s in summaries}
    summary.update(
        preset=presets.pop() if len(presets) == 1 else "mixed", partitions=len(parts),
        merged=int(len(records) - len(incidents)), events=int(len(incidents)),
        reasons=dict(reasons.most_common()), format="parquet dataset",
    )
    rejects = [p[1] for p in parts if len(p[1])]
    rej = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(
        columns=["line", "reason", "file"])
    return IngestResult(to_canonical(incidents), rej, summary, records)


def _concat_records(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)] or frames[:1]
    return pd.concat(frames, ignore_index=True)


def read_dataset(spec, *, engine: str = "local", client=None, scheduler: str | None = None,
                 window_min: float = 60, radius_m: float = 300, dedup: bool = True,
                 n_bins: int | None = None, **options) -> IngestResult:
    """Read a partitioned Parquet dataset into canonical, de-duplicated incidents.

    Parameters
    ----------
    spec : str or Path
        A folder of ``.parquet`` files, a glob, or one file.
    engine : {"local", "dask"}
    client : distributed.Client, optional
        For ``engine="dask"``; without it one is opened (``scheduler`` or a local cluster).
    window_min, radius_m : float
        The de-duplication rule (:mod:`geo.dedup`).
    dedup : bool
        False: records only (``incidents`` = records), e.g. for the store, which de-duplicates.
    n_bins : int, optional
        Time bins of the distributed pair search (default: 4 per worker).
    **options
        Passed to :func:`geo.ingest.read_incidents` per partition (``preset``, ``mapping``,
        ``source``, ``boundary``, ``exclude``, ...).

    Returns
    -------
    IngestResult
        ``incidents`` (events), ``records`` (with ``fingerprint``), ``rejects`` (with ``file``
        and ``line``) and a summary summed over the partitions (plus ``partitions``).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    files = [str(f) for f in dataset_files(spec)]
    if engine == "local":
        parts = [_read_partition(f, options) for f in files]
        records = _concat_records([p[0] for p in parts])
        if not dedup:
            return _assemble(parts, records, _as_events(records))
        events, _ = dedup_incidents(records, window_min=window_min, radius_m=radius_m)
        return _assemble(parts, records, events)
    if client is None:
        with dask_client(scheduler) as c:
            return _read_dask(files, c, window_min, radius_m, dedup, n_bins, options)
    return _read_dask(files, client, window_min, radius_m, dedup, n_bins, options)


def _as_events(records: pd.DataFrame) -> pd.DataFrame:
    return records.assign(
        n_sources=1, sources=records["source"],
        event_id=records["source"].astype("string") + ":" + records["incident_id"].astype("string"))


def _dask_pairs(files, client, window_min, radius_m, dedup, n_bins, options):
    """Partition futures, their (size, t_min, t_max) and the pair futures of the time bins."""
    parts = client.map(_read_partition, files, options=options, pure=False)
    ranges = client.gather(client.map(_time_range, parts))
    pairs: list = []
    if dedup:
        offsets = np.concatenate([[0], np.cumsum([r[0] for r in ranges])[:-1]]).astype(int)
        valid = [r for r in ranges if r[2] >= r[1]]
        if valid:
            t0, t1 = min(r[1] for r in valid), max(r[2] for r in valid)
            n_workers = max(1, len(client.scheduler_info().get("workers", {})))
            k = max(1, int(n_bins or 4 * n_workers))
            edges = np.linspace(t0, t1 + 1, k + 1).astype(np.int64)
            edges[-1] = t1 + 1  # the last bin owns the last instant
            w = int(round(window_min * 60e6))
            for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
                slices = [client.submit(_keys, p, int(o), lo, hi + w, pure=False)
                          for p, o, r in zip(parts, offsets, ranges, strict=True)
                          if r[2] >= lo and r[1] <= hi + w]
                pairs.append(client.submit(_bin_pairs, lo, hi, window_min, radius_m, *slices,
                                           pure=False))
    return parts, ranges, pairs


def dask_events(spec, client, *, window_min: float = 60, radius_m: float = 300,
                n_bins: int | None = None, **options) -> tuple[list, list]:
    """Futures of the de-duplicated, keyed events of each partition, kept on the workers.

    The events (with ``rkey``) are those of the local engine followed by
    :func:`geo.privacy.with_record_keys`, row for row and in the same order when the partitions
    are concatenated (:mod:`geo.distributed_events`). Also returns the partition futures
    (records, rejects, summary). Only the candidate pairs pass through the client.
    """
    from geo.distributed_events import events_on_workers

    files = [str(f) for f in dataset_files(spec)]
    parts, ranges, pairs = _dask_pairs(files, client, window_min, radius_m, True, n_bins,
                                       options)
    events = events_on_workers(client, parts, [r[0] for r in ranges], client.gather(pairs))
    return events, parts


def _read_dask(files, client, window_min, radius_m, dedup, n_bins, options) -> IngestResult:
    if dedup:
        from geo.distributed_events import events_on_workers

        parts, ranges, pairs = _dask_pairs(files, client, window_min, radius_m, dedup, n_bins,
                                           options)
        events = events_on_workers(client, parts, [r[0] for r in ranges], client.gather(pairs))
        got = client.gather(parts)
        records = _concat_records([p[0] for p in got])
        frames = [f for f in client.gather(events) if len(f)] or [records.iloc[:0]]
        incidents = pd.concat(frames).drop(columns="rkey", errors="ignore")  # index: positions
        return _assemble(got, records, incidents)
    parts, _, _ = _dask_pairs(files, client, window_min, radius_m, dedup, n_bins, options)
    got = client.gather(parts)
    records = _concat_records([p[0] for p in got])
    return _assemble(got, records, _as_events(records))


def ingest_dataset(store, spec, *, engine: str = "local", scheduler: str | None = None,
                   window_min: float = 60, radius_m: float = 300, rejects_path=None,
                   **options) -> dict:
    """Append a partitioned Parquet dataset to an :class:`geo.store.IncidentStore`.

    The partitions are read, validated and indexed by ``engine`` (on the cluster's workers with
    ``"dask"``); the store then de-duplicates the new records against each other and against
    the stored ones within the matching window, exactly as for one file. Returns the store's
    ingest summary (plus ``partitions`` and the per-partition rule counts).
    """
    result = read_dataset(spec, engine=engine, scheduler=scheduler, dedup=False, **options)
    summary = store.ingest(result, window_min=window_min, radius_m=radius_m,
                           rejects_path=rejects_path)
    if not summary.get("skipped"):
        for k in ("excluded", "identical", "dropped_identical", "near_duplicates"):
            summary[k] = int(result.summary.get(k, 0))
        summary["partitions"] = result.summary["partitions"]
    return summary
