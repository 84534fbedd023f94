"""What the incident store reports about itself: receipt times per record and its status
(:meth:`geo.store.IncidentStore.receipts` / :meth:`~geo.store.IncidentStore.status`)."""

from __future__ import annotations

import pandas as pd

__all__ = ["receipts", "status"]


def receipts(con, start=None, end=None) -> pd.DataFrame:
    """Every stored record with its receipt time, ``occurred_at`` in ``[start, end)``.

    Columns: ``occurred_at``, ``received_at`` (when the record reached the store: the
    ingest transaction's time; for records stored before receipt times were kept, the
    ingest time of their file), ``source``, ``agency``, ``outcome``, ``lat``, ``lon``.
    One row per record (not per event): each source's copy of an event has its own lag.
    """
    has = bool(con.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'records' "
        "AND column_name = 'received_at'").fetchall())
    rec = "coalesce(r.received_at, f.ingested_at)" if has else "f.ingested_at"
    where, params = [], {}
    if start is not None:
        where.append("r.occurred_at >= $start")
        params["start"] = pd.Timestamp(start).to_pydatetime()
    if end is not None:
        where.append("r.occurred_at < $end")
        params["end"] = pd.Timestamp(end).to_pydatetime()
    sql = (f"SELECT r.occurred_at, {rec} AS received_at, r.source, r.agency, r.outcome, "
           "r.lat, r.lon FROM records r LEFT JOIN files f USING (file_id)"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY r.occurred_at, r.fingerprint")
    return con.sql(sql, params=params).df()


def status(con, path, counts: tuple[int, int], meta) -> dict:
    """Rows, events, records per source, date range, files ingested and the dedup rule
    (``counts`` = (records, events); ``meta(con, key)`` reads the store's settings)."""
    n_rec, n_ev = counts
    src = dict(con.execute(
        "SELECT source, count(*) FROM records GROUP BY source ORDER BY source").fetchall())
    lo, hi = con.execute("SELECT min(occurred_at), max(occurred_at) FROM records").fetchall()[0]
    files = con.execute(
        "SELECT path, sha256, ingested_at, n_read, accepted, rejected, added "
        "FROM files ORDER BY file_id").df()
    window = meta(con, "window_min")
    radius = meta(con, "radius_m")
    return {
        "path": str(path),
        "rows": n_rec,
        "events": n_ev,
        "sources": {k: int(v) for k, v in src.items()},
        "first": None if lo is None else str(lo),
        "last": None if hi is None else str(hi),
        "last_ingest": None if files.empty else str(files["ingested_at"].iloc[-1]),
        "files_ingested": int(len(files)),
        "files": [
            {"path": r.path, "sha256": r.sha256, "ingested_at": str(r.ingested_at),
             "read": int(r.n_read), "accepted": int(r.accepted), "rejected": int(r.rejected),
             "added": int(r.added)}
            for r in files.itertuples()
        ],
        "window_min": None if window is None else float(window),
        "radius_m": None if radius is None else float(radius),
    }
