"""The incident store: one embedded DuckDB file holding every record ever ingested.

The store keeps **records** (one per accepted input row, keyed by a fingerprint of its
canonical values), the **files** ingested (SHA-256 of their bytes) and the current **event**
of every record. Each :meth:`IncidentStore.ingest`

* skips a file whose bytes were ingested before (re-ingesting adds nothing), and any record
  whose fingerprint is already stored (overlapping exports);
* re-runs the cross-source de-duplication over *all* stored records, so an EMS file and a
  police file ingested separately still merge into events;
* runs in one transaction: if anything fails part-way, the store is exactly as it was.

:meth:`IncidentStore.load` returns canonical events (as :func:`geo.ingest.read_incidents`
does); :meth:`IncidentStore.status` summarises the store. Default path:
``data/store/gapmap.duckdb`` (git-ignored).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from geo.dedup import collapse_events, dedup_incidents
from geo.grid import ANALYSIS_RES, add_cells
from geo.ingest import IngestResult, read_incidents, to_canonical

__all__ = ["IncidentStore", "DEFAULT_STORE_PATH"]

DEFAULT_STORE_PATH = Path(__file__).resolve().parent.parent / "data" / "store" / "gapmap.duckdb"

_RECORD_COLUMNS = {
    "fingerprint": "UBIGINT", "incident_id": "VARCHAR", "occurred_at": "TIMESTAMP",
    "time_precision": "VARCHAR", "lat": "DOUBLE", "lon": "DOUBLE", "outcome": "VARCHAR",
    "naloxone": "VARCHAR", "naloxone_doses": "BIGINT", "source": "VARCHAR", "agency": "VARCHAR",
    "suspected_drug": "VARCHAR", "age_band": "VARCHAR", "sex": "VARCHAR",
    "location_precision": "VARCHAR", "in_study_area": "BOOLEAN", "h3": "UBIGINT",
    "file_id": "INTEGER",
}
_DDL = [
    "CREATE TABLE IF NOT EXISTS records ("
    + ", ".join(f"{c} {t}" for c, t in _RECORD_COLUMNS.items()) + ")",
    "CREATE TABLE IF NOT EXISTS files (file_id INTEGER, path VARCHAR, sha256 VARCHAR, "
    "ingested_at TIMESTAMP, n_read BIGINT, accepted BIGINT, rejected BIGINT, added BIGINT, "
    "preset VARCHAR)",
    "CREATE TABLE IF NOT EXISTS events (fingerprint UBIGINT, event_id VARCHAR)",
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)",
]


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

    Examples
    --------
    >>> store = IncidentStore("county.duckdb")              # doctest: +SKIP
    >>> store.ingest("ems_2024.csv", source="ems")          # doctest: +SKIP
    >>> store.ingest("police_2024.csv", source="police")    # doctest: +SKIP
    >>> events = store.load(start="2024-01-01")             # doctest: +SKIP
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else DEFAULT_STORE_PATH

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
            return duckdb.connect(str(self.path), read_only=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        for stmt in _DDL:
            con.execute(stmt)
        return con

    @staticmethod
    def _meta(con, key: str, default=None):
        rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return default if not rows else rows[0][0]

    @staticmethod
    def _set_meta(con, key: str, value) -> None:
        con.execute("DELETE FROM meta WHERE key = ?", [key])
        con.execute("INSERT INTO meta VALUES (?, ?)", [key, str(value)])

    @staticmethod
    def _counts(con) -> tuple[int, int]:
        n_rec = con.execute("SELECT count(*) FROM records").fetchall()[0][0]
        n_ev = con.execute("SELECT count(DISTINCT event_id) FROM events").fetchall()[0][0]
        return int(n_rec), int(n_ev)

    def _replace_events(self, con, window_min: float, radius_m: float) -> None:
        """Re-run de-duplication over every stored record and store each record's event."""
        rec = con.execute(
            "SELECT fingerprint, incident_id, occurred_at, time_precision, lat, lon, source "
            "FROM records ORDER BY occurred_at, fingerprint"
        ).df()
        if len(rec):
            rec["naloxone_doses"] = pd.array([pd.NA] * len(rec), dtype="Int64")
            rec["outcome"] = "unknown"
            rec["naloxone"] = "unknown"
            _, per = dedup_incidents(rec, window_min=window_min, radius_m=radius_m)
            ev = pd.DataFrame({"fingerprint": rec["fingerprint"].to_numpy(np.uint64),
                               "event_id": per.astype(object).to_numpy()})
        else:
            ev = pd.DataFrame({"fingerprint": np.empty(0, np.uint64), "event_id": []})
        con.execute("DELETE FROM events")
        con.register("_new_events", ev)
        con.execute("INSERT INTO events SELECT fingerprint, event_id FROM _new_events")
        con.unregister("_new_events")

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
    ) -> dict:
        """Append a file (or an :class:`~geo.ingest.IngestResult`) to the store.

        Parameters
        ----------
        source_data : path or IngestResult
            An export (read with :func:`geo.ingest.read_incidents`) or an already-read result.
        preset, mapping, source, boundary, drop_outside, progress
            As in :func:`geo.ingest.read_incidents` (ignored for an ``IngestResult``).
        window_min, radius_m : float
            De-duplication rule, applied to the whole store (and remembered).
        rejects_path : path, optional
            Write the rejected rows (line, reason, raw values) here as CSV when there are any.

        Returns
        -------
        dict
            ``read``, ``accepted``, ``rejected``, ``added`` (new records), ``already_stored``,
            ``merged`` (records folded into events by this ingest, across the whole store),
            ``events`` and ``records`` (store totals after), ``outside_area``, ``skipped``
            (True when the same file was ingested before) and ``rejects_path``.
        """
        if isinstance(source_data, IngestResult):
            result, label = source_data, "<in-memory>"
            fps = np.sort(result.records["fingerprint"].to_numpy(np.uint64))
            digest = "rows:" + hashlib.sha256(fps.tobytes()).hexdigest()
        else:
            path = Path(source_data)
            if not path.exists():
                raise FileNotFoundError(f"incident file {path} does not exist")
            label, digest, result = str(path), _sha256(path), None
        if self.path.exists():  # the same bytes again: nothing to do (and nothing read)
            con = self._connect()
            try:
                if self._seen(con, digest):
                    return self._skipped(con, label)
            finally:
                con.close()
        if result is None:  # read before touching the store: a bad file creates nothing
            result = read_incidents(
                label, preset=preset, mapping=mapping, source=source, boundary=boundary,
                drop_outside=drop_outside, dedup=False, progress=progress,
            )
        summary = {"path": label, "skipped": False, "preset": result.summary.get("preset")}
        for k in ("read", "accepted", "rejected", "outside_area"):
            summary[k] = int(result.summary.get(k, 0))
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
            if self._seen(con, digest):
                return self._skipped(con, label)
            summary.update(self._append(con, result, label, digest, window_min, radius_m))
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

    def _append(self, con, result: IngestResult, label, digest, window_min, radius_m) -> dict:
        rec = result.records
        if rec is None:
            raise ValueError("IngestResult has no records; build it with geo.ingest.read_incidents")
        con.execute("BEGIN TRANSACTION")
        try:
            before_rec, before_ev = self._counts(con)
            file_id = con.execute(
                "SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchall()[0][0]
            new = rec[[c for c in _RECORD_COLUMNS if c != "file_id"]].copy()
            for c in new.columns:
                if isinstance(new[c].dtype, pd.StringDtype):
                    new[c] = new[c].astype(object)
            new["file_id"] = np.int32(file_id)
            con.register("_new_records", new)
            cols = ", ".join(_RECORD_COLUMNS)
            con.execute(
                f"INSERT INTO records SELECT {cols} FROM _new_records n WHERE NOT EXISTS "
                "(SELECT 1 FROM records r WHERE r.fingerprint = n.fingerprint)"
            )
            con.unregister("_new_records")
            added = self._counts(con)[0] - before_rec
            con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [file_id, label, digest, datetime.now(), int(result.summary.get("read", len(rec))),
                 int(result.summary.get("accepted", len(rec))),
                 int(result.summary.get("rejected", 0)), added, result.summary.get("preset")],
            )
            self._replace_events(con, window_min, radius_m)
            self._set_meta(con, "window_min", window_min)
            self._set_meta(con, "radius_m", radius_m)
            after_rec, after_ev = self._counts(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return {"added": int(added), "already_stored": int(len(rec) - added),
                "merged": int((after_rec - after_ev) - (before_rec - before_ev)),
                "records": after_rec, "events": after_ev}

    def load(self, start=None, end=None, *, cell_res=ANALYSIS_RES) -> pd.DataFrame:
        """Canonical de-duplicated events with ``occurred_at`` in ``[start, end)``.

        Events are built from every record of the event, including records just outside the
        window, so an event is the same whichever window loads it.

        Besides the canonical columns, each event carries its point-in-hexagon cell at every
        resolution of ``cell_res`` as ``h3_r<res>`` (:func:`geo.grid.add_cells`; default the
        analysis resolutions 6–10), so the dashboard's many filtered counts never re-index.
        Pass ``cell_res=()`` for the canonical columns only.
        """
        con = self._connect(read_only=True)
        try:
            window = float(self._meta(con, "window_min", 60))
            pad = pd.Timedelta(minutes=window * 5) + pd.Timedelta(days=1)
            where, args = [], []
            if start is not None:
                where.append("r.occurred_at >= ?")
                args.append((pd.Timestamp(start) - pad).to_pydatetime())
            if end is not None:
                where.append("r.occurred_at < ?")
                args.append((pd.Timestamp(end) + pad).to_pydatetime())
            sql = ("SELECT r.*, e.event_id AS _event FROM records r JOIN events e "
                   "USING (fingerprint)")
            if where:
                sql += " WHERE " + " AND ".join(where)
            rec = con.execute(sql + " ORDER BY r.occurred_at, r.fingerprint", args).df()
        finally:
            con.close()
        rec["h3"] = rec["h3"].astype(np.uint64)
        rec = to_canonical(rec.drop(columns=["fingerprint", "file_id"])).assign(
            _event=rec["_event"].to_numpy())
        labels = pd.factorize(rec["_event"])[0]
        events = collapse_events(rec.drop(columns="_event"), labels) if len(rec) else rec
        events = to_canonical(events).reset_index(drop=True)
        t = events["occurred_at"]
        keep = np.ones(len(events), dtype=bool)
        if start is not None:
            keep &= (t >= pd.Timestamp(start)).to_numpy()
        if end is not None:
            keep &= (t < pd.Timestamp(end)).to_numpy()
        events = events.loc[keep].reset_index(drop=True)
        return add_cells(events, cell_res) if len(cell_res) else events

    def status(self) -> dict:
        """Rows, events, records per source, date range, files ingested and the dedup rule."""
        con = self._connect(read_only=True)
        try:
            n_rec, n_ev = self._counts(con)
            src = dict(con.execute(
                "SELECT source, count(*) FROM records GROUP BY source ORDER BY source").fetchall())
            lo, hi = con.execute(
                "SELECT min(occurred_at), max(occurred_at) FROM records").fetchall()[0]
            files = con.execute(
                "SELECT path, sha256, ingested_at, n_read, accepted, rejected, added "
                "FROM files ORDER BY file_id").df()
            window = self._meta(con, "window_min")
            radius = self._meta(con, "radius_m")
        finally:
            con.close()
        return {
            "path": str(self.path),
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
