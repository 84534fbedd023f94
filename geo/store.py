"""The incident store: one embedded DuckDB file holding every record ever ingested.

The store keeps **records** (one per accepted input row, keyed by a fingerprint of its
canonical values), the **files** ingested (SHA-256 of their bytes) and the current **event**
of every record. Each :meth:`IncidentStore.ingest`

* skips a file whose bytes were ingested before (re-ingesting adds nothing), and any record
  whose fingerprint is already stored (overlapping exports);
* de-duplicates the new records against the stored ones within the matching window of them
  (:func:`geo.store_events.update_events`: the same events as a rebuild over the whole store,
  at a cost that grows with the new records, not with the store), so an EMS file and a police
  file ingested separately still merge into events;
* writes the events (one row each, with their cells at resolutions 6-10) in the same
  transaction: if anything fails part-way, the store is exactly as it was.

:meth:`IncidentStore.load` reads those events through Arrow (nothing is rebuilt on load);
:meth:`IncidentStore.status` summarises the store. Default path: ``data/store/gapmap.duckdb``
(git-ignored). Opening: :mod:`geo.store_open` (foreign files, locks held by another process,
space left by a killed ingest).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from geo.store_open import connect, reclaim
from geo.store_read import STORED_CELL_RES, last_time, read_events

if TYPE_CHECKING:  # annotations only: geo.ingest is imported where it is used
    from geo.ingest import IngestResult

# The ingest and de-duplication modules (geo.ingest, geo.store_events: scipy's spatial and
# graph code) are imported where they are used, so reading the store starts quickly.

__all__ = ["IncidentStore", "DEFAULT_STORE_PATH"]

DEFAULT_STORE_PATH = Path(__file__).resolve().parent.parent / "data" / "store" / "gapmap.duckdb"

_RECORD_COLUMNS = {
    "fingerprint": "UBIGINT", "incident_id": "VARCHAR", "occurred_at": "TIMESTAMP",
    "time_precision": "VARCHAR", "lat": "DOUBLE", "lon": "DOUBLE", "outcome": "VARCHAR",
    "naloxone": "VARCHAR", "naloxone_doses": "BIGINT", "source": "VARCHAR", "agency": "VARCHAR",
    "suspected_drug": "VARCHAR", "age_band": "VARCHAR", "sex": "VARCHAR",
    "location_precision": "VARCHAR", "in_study_area": "BOOLEAN", "h3": "UBIGINT",
    "file_id": "INTEGER", "area": "VARCHAR",
}
_DDL = [
    "CREATE TABLE IF NOT EXISTS records ("
    + ", ".join(f"{c} {t}" for c, t in _RECORD_COLUMNS.items()) + ")",
    "CREATE TABLE IF NOT EXISTS files (file_id INTEGER, path VARCHAR, sha256 VARCHAR, "
    "ingested_at TIMESTAMP, n_read BIGINT, accepted BIGINT, rejected BIGINT, added BIGINT, "
    "preset VARCHAR)",
    "CREATE TABLE IF NOT EXISTS events (fingerprint UBIGINT, event_id VARCHAR)",
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)",
    # per-record receipt time (the ingest transaction's time); NULL in stores written before
    # it existed: :meth:`IncidentStore.receipts` falls back to the file's ``ingested_at``
    "ALTER TABLE records ADD COLUMN IF NOT EXISTS received_at TIMESTAMP",
    # the area a record is located to only; NULL in stores written before it existed
    "ALTER TABLE records ADD COLUMN IF NOT EXISTS area VARCHAR",
    # DuckDB's hash of event_id, so the ingest finds events by id without reading strings
    # (filled for older stores by ``_update_events``)
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS id_hash UBIGINT",
]
#: Version of the table layout; older stores get their events rebuilt at the next ingest.
LAYOUT = "2"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class IncidentStore:
    """An append-only, de-duplicating incident store in one DuckDB file.

    Parameters
    ----------
    path : str or Path, optional
        The DuckDB file (created by the first ingest). Default :data:`DEFAULT_STORE_PATH`.
    wait_s : float, optional
        How long to wait while another process holds the store (default 60 s, or
        ``GAPMAP_STORE_WAIT``); then a ``ValueError`` in one sentence.
    on_wait : callable, optional
        Called once as ``on_wait(path, wait_s)`` when a wait starts (default: a line on stderr).

    Examples
    --------
    >>> store = IncidentStore("county.duckdb")              # doctest: +SKIP
    >>> store.ingest("ems_2024.csv", source="ems")          # doctest: +SKIP
    >>> store.ingest("police_2024.csv", source="police")    # doctest: +SKIP
    >>> events = store.load(start="2024-01-01")             # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None, *, wait_s: float | None = None,
                 on_wait=None):
        self.path = Path(path) if path is not None else DEFAULT_STORE_PATH
        self.wait_s, self.on_wait = wait_s, on_wait

    def __repr__(self) -> str:
        return f"IncidentStore({str(self.path)!r})"

    # ------------------------------------------------------------------ helpers
    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        if read_only:
            if not self.path.exists():
                raise FileNotFoundError(
                    f"incident store {self.path} does not exist; create it with "
                    f"`gapmap ingest FILE --store {self.path}`"
                )
            return connect(self.path, read_only=True, wait_s=self.wait_s, on_wait=self.on_wait)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = connect(self.path, read_only=False, wait_s=self.wait_s, on_wait=self.on_wait)
        for stmt in _DDL:
            con.execute(stmt)
        return con

    @staticmethod
    def _has_incidents(con) -> bool:
        return bool(con.execute("SELECT 1 FROM information_schema.tables "
                                "WHERE table_name = 'incidents'").fetchall())

    @staticmethod
    def _meta(con, key: str, default=None):
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return default if not rows else rows[0][0]

    @staticmethod
    def _set_meta(con, key: str, value) -> None:
        con.execute("DELETE FROM meta WHERE key = ?", [key])
        con.execute("INSERT INTO meta VALUES (?, ?)", [key, str(value)])

    @classmethod
    def _counts(cls, con) -> tuple[int, int]:
        n_rec = con.execute("SELECT count(*) FROM records").fetchall()[0][0]
        if cls._has_incidents(con) and cls._meta(con, "layout") == LAYOUT:
            n_ev = con.execute("SELECT count(*) FROM incidents").fetchall()[0][0]
        else:
            n_ev = con.execute("SELECT count(DISTINCT event_id) FROM events").fetchall()[0][0]
        return int(n_rec), int(n_ev)

    def _update_events(self, con, window_min: float, radius_m: float, file_id=None) -> list:
        """De-duplicate the new records (incrementally) and write their events; returns the
        warnings to add to the ingest's summary.

        A changed rule (window, radius) or a store from an older layout is rebuilt whole.
        """
        from geo.store_events import refresh_events

        rebuild = not (self._meta(con, "window_min") == str(float(window_min))
                       and self._meta(con, "radius_m") == str(float(radius_m))
                       and self._meta(con, "layout") == LAYOUT)
        out = refresh_events(con, window_min, radius_m, None if rebuild else file_id,
                             rebuild=rebuild, meta=(self._meta, self._set_meta))
        self._set_meta(con, "layout", LAYOUT)
        return out

    # ------------------------------------------------------------------ public API
    def ingest(
        self,
        source_data: str | Path | IngestResult,
        *,
        preset: str | None = None,
        mapping: dict[str, str] | None = None,
        source: str | None = None,
        boundary=None,
        drop_outside: bool = False,
        window_min: float = 60,
        radius_m: float = 300,
        rejects_path: str | Path | None = None,
        progress=None,
        received_at=None,
        exclude=None,
        drop_identical: bool = False,
        same_source_window_min: float | None = None,
        same_source_radius_m: float | None = None,
        chunk_rows: int | None = None,
    ) -> dict:
        """Append a file (or an :class:`~geo.ingest.IngestResult`) to the store.

        Parameters
        ----------
        source_data : path or IngestResult
            An export (read with :func:`geo.ingest.read_incidents`) or an already-read result.
        preset, mapping, source, boundary, drop_outside, progress, exclude, drop_identical, \
        same_source_window_min, same_source_radius_m
            As in :func:`geo.ingest.read_incidents` (ignored for an ``IngestResult``).
        chunk_rows : int, optional
            A CSV/TXT/TSV or Parquet file is read, validated and stored this many rows at a
            time (:mod:`geo.ingest_stream`; default 250,000), so memory does not grow with the
            file; other files (and the same-source rule) are read whole.
        window_min, radius_m : float
            De-duplication rule, applied to the whole store (and remembered).
        rejects_path : path, optional
            Write the rejected rows (line, reason, raw values) here as CSV when there are any.
        received_at : datetime, optional
            The receipt time stored with every new record and as the file's ``ingested_at``
            (default: now, the time of the ingest transaction). For tests and back-filling.

        Returns
        -------
        dict
            ``read``, ``accepted``, ``rejected``, ``added`` (new records), ``already_stored``,
            ``merged`` (records folded into events by this ingest, across the whole store),
            ``events`` and ``records`` (store totals after), ``outside_area``, ``skipped``
            (True when the same file was ingested before) and ``rejects_path``.
        """
        from geo.ingest import IngestResult, read_incidents

        if isinstance(source_data, IngestResult):
            result, label = source_data, str(source_data.summary.get("path", "<in-memory>"))
            fps = np.sort(result.records["fingerprint"].to_numpy(np.uint64))
            digest = "rows:" + hashlib.sha256(fps.tobytes()).hexdigest()
        else:
            from geo.readers import check_readable

            path = check_readable(source_data, "incident file")  # one sentence: missing, folder
            label, digest, result = str(path), _sha256(path), None
            from geo.ingest_stream import check_header

            check_header(path, dict(preset=preset, mapping=mapping, exclude=exclude))
        con = None
        if self.path.exists():  # the same bytes again: nothing to do (and nothing read)
            con = self._connect()
            try:
                if self._seen(con, digest):
                    return self._skipped(con, label)
            except BaseException:
                con.close()
                raise
            if result is not None:
                con.close()
                con = None
        if result is None:  # a bad file fails before the store is touched: it creates nothing
            from geo.ingest_stream import stream_into_store

            options = dict(preset=preset, mapping=mapping, source=source, boundary=boundary,
                           drop_outside=drop_outside, exclude=exclude,
                           drop_identical=drop_identical,
                           same_source_window_min=same_source_window_min,
                           same_source_radius_m=same_source_radius_m)
            try:  # the connection that checked the file (opening a big store costs)
                out = stream_into_store(self, path, label, digest, options=options,
                                        window_min=window_min, radius_m=radius_m,
                                        rejects_path=rejects_path, progress=progress,
                                        received_at=received_at, chunk_rows=chunk_rows,
                                        con=con)
            finally:
                if con is not None:
                    con.close()
            if out is not None:
                return out
            result = read_incidents(label, dedup=False, progress=progress, **options)
        summary = {"path": label, "skipped": False, "preset": result.summary.get("preset")}
        for k in ("read", "accepted", "rejected", "outside_area", "excluded", "identical",
                  "dropped_identical", "near_duplicates"):
            summary[k] = int(result.summary.get(k, 0))
        summary["warnings"] = list(result.summary.get("warnings", []))
        summary["unrecognised"] = dict(result.summary.get("unrecognised", {}))
        summary["reasons"] = dict(result.summary.get("reasons", {}))
        written = None
        if rejects_path is not None and len(result.rejects):
            written = Path(rejects_path)
            tmp = written.with_name(written.name + ".part")
            result.rejects.to_csv(tmp, index=False)
            tmp.replace(written)
        summary["rejects_path"] = str(written) if written else None
        con = self._connect()
        try:
            con = reclaim(con, self.path)  # space left by a killed ingest
            if self._seen(con, digest):
                return self._skipped(con, label)
            now = datetime.now() if received_at is None else pd.Timestamp(
                received_at).to_pydatetime()
            summary.update(self._append(con, result, label, digest, window_min, radius_m, now))
            con.execute("CHECKPOINT")
            return summary
        finally:
            con.close()

    @staticmethod
    def _seen(con, digest: str) -> bool:
        return bool(con.execute("SELECT 1 FROM files WHERE sha256 = ?", [digest]).fetchall())

    def _skipped(self, con, label: str) -> dict:
        n_rec, n_ev = self._counts(con)
        return {"path": label, "skipped": True, "read": 0, "accepted": 0, "rejected": 0,
                "added": 0, "already_stored": 0, "merged": 0, "outside_area": 0,
                "records": n_rec, "events": n_ev, "rejects_path": None}

    def _append(self, con, result: IngestResult, label, digest, window_min, radius_m,
                now: datetime) -> dict:
        rec = result.records
        if rec is None:
            raise ValueError("IngestResult has no records; build it with geo.ingest.read_incidents")
        con.execute("BEGIN TRANSACTION")
        try:
            before_rec, before_ev = self._counts(con)
            file_id = con.execute(
                "SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchall()[0][0]
            from geo.store_events import insert_records

            added = insert_records(con, rec.assign(file_id=np.int32(file_id)),
                                   _RECORD_COLUMNS, now)
            con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [file_id, label, digest, now, int(result.summary.get("read", len(rec))),
                 int(result.summary.get("accepted", len(rec))),
                 int(result.summary.get("rejected", 0)), added, result.summary.get("preset")],
            )
            warnings = self._update_events(con, window_min, radius_m, file_id)
            self._set_meta(con, "window_min", float(window_min))
            self._set_meta(con, "radius_m", float(radius_m))
            after_rec, after_ev = self._counts(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            try:
                reclaim(con, self.path).close()  # give back what the failed transaction wrote
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
            raise
        return {"added": int(added), "already_stored": int(len(rec) - added),
                "warnings": list(result.summary.get("warnings", [])) + warnings,
                "merged": int((after_rec - after_ev) - (before_rec - before_ev)),
                "records": after_rec, "events": after_ev}

    def load(self, start=None, end=None, *, cell_res=STORED_CELL_RES,
             columns=None) -> pd.DataFrame:
        """Canonical de-duplicated events with ``occurred_at`` in ``[start, end)``.

        Events were built at ingest from every record of the event, so an event is the same
        whichever window loads it; loading is one query into Arrow (no event is rebuilt).

        Besides the canonical columns, each event carries its point-in-hexagon cell at every
        resolution of ``cell_res`` as ``h3_r<res>`` (stored at ingest for the analysis
        resolutions 6–10, the default; others are computed with :func:`geo.grid.add_cells`),
        so the dashboard's many filtered counts never re-index. Pass ``cell_res=()`` for the
        canonical columns only.

        ``columns`` (optional) reads only these canonical columns (plus the record-key columns,
        so record keys are those of a full load), e.g.
        :data:`geo.store_read.ANALYSIS_COLUMNS` (all but the event and incident ids, which
        are most of the read); see :mod:`geo.store_read`.
        """
        con = self._connect(read_only=True)
        try:
            if self._has_incidents(con) and self._meta(con, "layout") == LAYOUT:
                return read_events(con, start, end, cell_res, columns)
            # a store written by an older gapmap: build the events in memory (the next
            # ingest stores them)
            rec = con.sql("SELECT r.*, e.event_id AS _event FROM records r JOIN events e "
                          "USING (fingerprint) ORDER BY r.occurred_at, r.fingerprint").df()
        finally:
            con.close()
        from geo.store_events import INCIDENTS_DDL, build_incidents

        tmp = duckdb.connect()
        try:
            tmp.execute(INCIDENTS_DDL)
            ev = pa.Table.from_pandas(build_incidents(rec), preserve_index=False)
            tmp.register("_events", ev)
            cols = ", ".join(ev.column_names)
            tmp.execute(f"INSERT INTO incidents ({cols}) SELECT {cols} FROM _events")
            return read_events(tmp, start, end, cell_res, columns)
        finally:
            tmp.close()

    def last_time(self) -> pd.Timestamp | None:
        """The last event time in the store (None when it has no events, or when its events
        are from an older layout and are only built on load)."""
        con = self._connect(read_only=True)
        try:
            if self._has_incidents(con) and self._meta(con, "layout") == LAYOUT:
                return last_time(con)
            return None
        finally:
            con.close()

    def receipts(self, start=None, end=None) -> pd.DataFrame:
        """Every stored record with its receipt time, ``occurred_at`` in ``[start, end)``
        (:func:`geo.store_reports.receipts`)."""
        from geo.store_reports import receipts

        con = self._connect(read_only=True)
        try:
            return receipts(con, start, end)
        finally:
            con.close()

    def status(self) -> dict:
        """Rows, events, records per source, date range, files ingested and the dedup rule
        (:func:`geo.store_reports.status`)."""
        from geo.store_reports import status

        con = self._connect(read_only=True)
        try:
            return status(con, self.path, self._counts(con), self._meta)
        finally:
            con.close()
