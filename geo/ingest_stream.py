"""Streaming ingest into the store: an export read, validated, indexed and stored chunk by chunk.

:meth:`geo.store.IncidentStore.ingest` of a file goes through :func:`stream_into_store`, so
memory is bounded by the chunk size (``chunk_rows``, default :data:`DEFAULT_CHUNK_ROWS`), not
by the file:

* **UTF-8 / Latin-1 text** (``.csv``/``.tsv``/``.txt``): the bytes are scanned once for record
  boundaries (:func:`geo.textfiles._scan_records`: quotes, multi-line fields, blank lines), then
  each run of ``chunk_rows`` records is parsed by pandas' C reader from its byte range, under
  the file's header. Line numbers are the file's (header = 1); ragged lines are rejects with
  their line, as in :func:`geo.readers.read_table`.
* **Parquet**: record batches of ``chunk_rows`` rows (``pyarrow.parquet.ParquetFile``), the
  pandas conversion of ``pandas.read_parquet``; row ``k`` is line ``k + 2``.

Every chunk goes through the same steps as :func:`geo.ingest.read_incidents_frame` (column
mapping, :func:`geo.validate.validate_rows`, exclusions, identical rows, ids, H3) and its
records are inserted into the store inside the ingest's one transaction; rejects are appended
to the rejects file. What spans chunks is carried exactly:

* exact repeats (``duplicate of line N`` / identical rows and their k-th fingerprints): the
  fingerprints kept so far, sorted, with their count and first line (:class:`_Seen`);
* "a date-only export written with 00:00 times" (text times all at midnight): chunks are held
  until a time off midnight is seen (the first chunk, in practice) or the file ends;
* the summary (counts, reasons in order of first appearance, shared-coordinate warnings).

De-duplication runs once over the stored records afterwards
(:func:`geo.store_events.update_events`). The result is the same as reading the whole file
(tests compare both paths on the sample and on generated files, CSV and Parquet).

Not streamed (the whole-file path, :func:`geo.ingest.read_incidents`, is used): Excel,
GeoJSON, UTF-16 text, text whose quotes do not balance or that pandas splits differently from
the scan, and the same-source near-duplicate rule (a greedy pass over the whole file in time
order).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.areas import area_located
from geo.boundary import boundary_geometry
from geo.chunk_readers import DEFAULT_CHUNK_ROWS, NotStreamable, iter_chunks
from geo.ingest import _fingerprint, _reason_kind, finish_records, to_canonical
from geo.presets import resolve_columns
from geo.readers import TEXT_SUFFIXES
from geo.rowrules import excluded_rows, parse_exclusions, repeat_index
from geo.textfiles import (
    RawTable,
)
from geo.validate import validate_rows

__all__ = ["DEFAULT_CHUNK_ROWS", "NotStreamable", "check_header", "iter_chunks",
           "stream_into_store"]



#: DuckDB's memory limit during a streaming ingest (``GAPMAP_INGEST_DUCKDB_MEMORY``).
_DUCKDB_MEMORY = os.environ.get("GAPMAP_INGEST_DUCKDB_MEMORY", "512MB")


def check_header(path: Path, options: dict) -> None:
    """The column choices (preset, ``--map``, ``--exclude``) against the header alone, so a
    wrong option fails in one sentence even when the file was ingested before."""
    from geo.readers import read_columns

    if path.suffix.lower() not in (*TEXT_SUFFIXES, ".parquet", ".pq") or not path.is_file():
        return
    try:
        cols = read_columns(path)
    except Exception:  # noqa: BLE001 - reading the file says what is wrong with it
        return
    if not cols:
        return
    resolve_columns([str(c) for c in cols], options.get("preset"),
                    dict(options.get("mapping") or {}), location_given=False)
    excluded_rows(pd.DataFrame(columns=cols), parse_exclusions(options.get("exclude")))


# ------------------------------------------------------------------------------ repeats
class _Seen:
    """Fingerprints of the rows seen so far (sorted), with their count and first line."""

    def __init__(self) -> None:
        self.fp = np.empty(0, np.uint64)
        self.count = np.empty(0, np.int64)
        self.line = np.empty(0, np.int64)

    def repeats(self, fp: np.ndarray, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(k: equal fingerprints before each row in the file, line of the first), then adds."""
        k, first = repeat_index(fp)
        first_line = lines[first]
        if fp.size:
            uniq, idx, cnt = np.unique(fp, return_index=True, return_counts=True)
            pos = np.searchsorted(self.fp, uniq)
            found = pos < self.fp.size
            found[found] = self.fp[pos[found]] == uniq[found]
            if found.any():
                before = np.zeros(uniq.size, np.int64)
                old_line = np.zeros(uniq.size, np.int64)
                before[found] = self.count[pos[found]]
                old_line[found] = self.line[pos[found]]
                at = np.searchsorted(uniq, fp)
                k = k + before[at]
                first_line = np.where(found[at], old_line[at], first_line)
                self.count[pos[found]] += cnt[found]
            new = ~found
            if new.any():
                ins = pos[new]
                self.fp = np.insert(self.fp, ins, uniq[new])
                self.count = np.insert(self.count, ins, cnt[new])
                self.line = np.insert(self.line, ins, lines[idx[new]])
        return k, first_line


# ------------------------------------------------------------------------------ chunks
class _Chunks:
    """The per-chunk steps of :func:`geo.ingest.read_incidents_frame` and the file's totals."""

    def __init__(self, *, preset, mapping, source, boundary, drop_outside, exclude,
                 drop_identical, now):
        self.preset, self.mapping, self.source = preset, dict(mapping or {}), source
        self.boundary = boundary_geometry(boundary)
        self.drop_outside, self.drop_identical = drop_outside, drop_identical
        self.rules = parse_exclusions(exclude)
        self.now = pd.Timestamp.now() if now is None else pd.Timestamp(now)
        self.colmap = None
        self.seen = _Seen()
        self.kinds: Counter = Counter()
        self.unrec: Counter = Counter()
        self.n = Counter()
        self.coords: list[np.ndarray] = []

    def setup(self, raw: pd.DataFrame) -> None:
        self.visible = list(raw.columns)
        self.name, self.colmap, self.default_source = resolve_columns(
            [str(c) for c in self.visible], self.preset, self.mapping, location_given=False)

    def validate(self, table: RawTable, midnight_day):
        if self.colmap is None:
            self.setup(table.frame)
        raw = table.frame
        excluded, why = excluded_rows(raw, self.rules)
        val = validate_rows(raw, self.colmap, source=self.source,
                            default_source=self.default_source, boundary=self.boundary,
                            drop_outside=self.drop_outside, now=self.now,
                            midnight_day=midnight_day)
        return val, excluded, why

    def finish(self, table: RawTable, val, excluded, why) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(canonical records with ``fingerprint``, rejects) of one validated chunk."""
        raw, line_no = table.frame, table.lines
        for k, v in val.unrecognised.items():
            self.unrec[k] += v
        reasons = val.reasons.to_numpy(object).copy()
        reasons[excluded] = ""
        ok = (reasons == "") & ~excluded
        set_aside = np.full(len(raw), "", dtype=object)
        set_aside[excluded] = ["excluded by " + w for w in why[excluded]]
        ok_pos = np.flatnonzero(ok)
        rec = val.records.loc[ok].copy()
        fp = _fingerprint(rec)
        missing_id = rec["incident_id"].isna().to_numpy()
        k, first_line = self.seen.repeats(fp, line_no[ok_pos])
        repeat = k > 0
        dup_id = repeat & ~missing_id
        identical = repeat & missing_id
        for j in np.flatnonzero(dup_id):
            reasons[ok_pos[j]] = f"duplicate of line {first_line[j]}"
        if self.drop_identical:
            for j in np.flatnonzero(identical):
                set_aside[ok_pos[j]] = (f"identical to line {first_line[j]} "
                                        "(dropped: --drop-identical)")
        if identical.any():
            fp = fp.copy()
            fp[identical] = pd.util.hash_pandas_object(
                pd.DataFrame({"fp": fp[identical], "k": k[identical]}), index=False
            ).to_numpy(np.uint64)
        keep = ~dup_id & ~(identical & self.drop_identical)
        rec, fp, ok_pos, missing_id = rec.loc[keep], fp[keep], ok_pos[keep], missing_id[keep]
        ok = finish_records(rec, fp, ok_pos, missing_id, len(raw))
        records = to_canonical(rec.assign(n_sources=1, sources=rec["source"]))
        records["fingerprint"] = fp
        bad = (reasons != "") & ~ok
        aside = (set_aside != "") & ~bad & ~ok
        out = bad | aside
        rejects = pd.concat(
            [pd.DataFrame({"line": line_no[out], "reason": np.where(bad, reasons, set_aside)[out]}),
             raw.loc[out, self.visible].reset_index(drop=True)], axis=1)
        n_bad = len(table.bad)
        if n_bad:
            rejects = pd.concat([rejects, table.bad], ignore_index=True).sort_values(
                "line", kind="stable").reset_index(drop=True)
        self.kinds.update(kk for r in reasons[bad] for kk in _reason_kind(r))
        self.n.update(ragged=n_bad)  # counted last, as when the file is read whole
        self.n.update(read=len(raw) + n_bad, accepted=int(ok.sum()),
                      rejected=int(bad.sum()) + n_bad, excluded=int(excluded.sum()),
                      identical=int(identical.sum()),
                      outside=int((~records["in_study_area"].fillna(True)).sum()))
        located = ~area_located(records)
        lat = np.round(records["lat"].to_numpy(float)[located], 6)
        lon = np.round(records["lon"].to_numpy(float)[located], 6)
        self.coords.append(np.column_stack([lat, lon]))
        return records, rejects

    def summary(self) -> dict:
        from geo.areas import shared_coordinate_warnings

        kinds = Counter(self.kinds)
        if self.n["ragged"]:
            kinds["ragged line"] += self.n["ragged"]
        coords = np.concatenate(self.coords) if self.coords else np.empty((0, 2))
        warn = shared_coordinate_warnings(pd.DataFrame({"lat": coords[:, 0], "lon": coords[:, 1]}))
        outside = self.n["outside"] if self.boundary is not None else 0
        if self.drop_outside and self.boundary is not None:
            outside = int(kinds.get("outside the study area", 0))
        return {
            "preset": self.name,
            "columns": {k: v for k, v in self.colmap.items() if not v.startswith("__")},
            "read": self.n["read"], "accepted": self.n["accepted"],
            "rejected": self.n["rejected"], "excluded": self.n["excluded"],
            "identical": self.n["identical"],
            "dropped_identical": self.n["identical"] if self.drop_identical else 0,
            "near_duplicates": 0, "outside_area": outside,
            "unrecognised": {k: v for k, v in self.unrec.items() if v},
            "reasons": dict(kinds.most_common()),
            "warnings": warn,
        }


def processed_chunks(chunks: Iterator[RawTable], steps: _Chunks):
    """(records, rejects) per chunk, the 00:00-throughout rule decided for the whole file."""
    held: list = []  # chunks validated while every text time so far is at midnight
    n_clock = 0
    decided = False
    for table in chunks:
        val, excluded, why = steps.validate(table, midnight_day=False)
        if decided:
            yield steps.finish(table, val, excluded, why)
            continue
        n_clock += val.n_clock
        held.append((table, val, excluded, why))
        if val.off_midnight:  # a time off midnight: the file is not date-only
            decided = True
            for item in held:
                yield steps.finish(*item)
            held = []
    if held:  # every time of day in the file is 00:00
        day = n_clock >= 2
        for table, val, excluded, why in held:
            if day:
                val, excluded, why = steps.validate(table, midnight_day=True)
            yield steps.finish(table, val, excluded, why)


# ------------------------------------------------------------------------------ the store
_REJECT_CHUNK = "rejects"


def stream_into_store(store, path: Path, label: str, digest: str, *, options: dict,
                      window_min: float, radius_m: float, rejects_path, progress, received_at,
                      chunk_rows: int | None = None) -> dict | None:
    """Ingest ``path`` into ``store`` chunk by chunk; ``None`` when the file is not streamable
    (nothing was written: the caller reads it whole). See the module docstring."""
    from geo.store import _RECORD_COLUMNS
    from geo.store_events import insert_records
    from geo.store_open import reclaim

    if options.get("same_source_window_min") is not None or \
            options.get("same_source_radius_m") is not None:
        return None  # the same-source rule is a greedy pass over the whole file
    chunk_rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else int(chunk_rows)
    try:
        chunks = iter_chunks(path, chunk_rows)
    except NotStreamable:
        return None
    steps = _Chunks(preset=options.get("preset"), mapping=options.get("mapping"),
                    source=options.get("source"), boundary=options.get("boundary"),
                    drop_outside=options.get("drop_outside", False),
                    exclude=options.get("exclude"),
                    drop_identical=options.get("drop_identical", False), now=None)
    parts = processed_chunks(chunks, steps)
    try:
        first = next(parts)  # a bad file fails here, before the store is touched
    except NotStreamable:
        return None
    except StopIteration:
        return None
    written = None
    tmp_rejects = None
    if rejects_path is not None:
        written = Path(rejects_path)
        tmp_rejects = written.with_name(written.name + ".part")
    n_rejects = 0
    con = store._connect()
    try:
        con = reclaim(con, store.path)
        # DuckDB's own memory (the transaction's new rows, join and sort buffers) within a
        # bound too: beyond it, it writes to the database file or spills to a temp file
        con.execute(f"SET memory_limit = '{_DUCKDB_MEMORY}'")
        if store._seen(con, digest):
            return store._skipped(con, label)
        now = datetime.now() if received_at is None else pd.Timestamp(
            received_at).to_pydatetime()
        con.execute("BEGIN TRANSACTION")
        try:
            before_rec, before_ev = store._counts(con)
            file_id = con.execute(
                "SELECT coalesce(max(file_id), 0) + 1 FROM files").fetchall()[0][0]
            added = kept = done = 0
            part, first = first, None  # (no reference kept to the first chunk)
            while part is not None:
                records, rejects = part
                if len(rejects) and tmp_rejects is not None:
                    rejects.to_csv(tmp_rejects, index=False, header=n_rejects == 0,
                                   mode="w" if n_rejects == 0 else "a")
                    n_rejects += len(rejects)
                # records already stored by an earlier file are skipped (an empty store holds
                # only this file's earlier chunks, whose rows are distinct: nothing to check)
                added += insert_records(con, records.assign(file_id=np.int32(file_id)),
                                        _RECORD_COLUMNS, now, skip_stored=before_rec > 0)
                kept += len(records)
                done += steps.n["read"] - done
                if progress:
                    progress("read", done, None)
                part = next(parts, None)
            summary = steps.summary()
            steps.coords.clear()
            steps.seen = None
            pa.default_memory_pool().release_unused()  # the chunks' buffers, before dedup
            con.execute(
                "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [file_id, label, digest, now, summary["read"], summary["accepted"],
                 summary["rejected"], added, summary["preset"]])
            store._update_events(con, window_min, radius_m, file_id)
            store._set_meta(con, "window_min", float(window_min))
            store._set_meta(con, "radius_m", float(radius_m))
            after_rec, after_ev = store._counts(con)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            try:
                reclaim(con, store.path).close()
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
            raise
        if progress:
            progress("dedup", after_ev, after_rec)
        con.execute("CHECKPOINT")
    except NotStreamable:  # a later chunk: nothing was committed; read the file whole
        if tmp_rejects is not None and tmp_rejects.exists():
            tmp_rejects.unlink()
        return None
    finally:
        con.close()
    if n_rejects:
        tmp_rejects.replace(written)
    else:
        written = None
    extra = {"format": "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"}
    out = {"path": label, "skipped": False, **summary, **extra,
           "rejects_path": str(written) if written else None,
           "added": added, "already_stored": kept - added,
           "merged": int((after_rec - after_ev) - (before_rec - before_ev)),
           "records": after_rec, "events": after_ev}
    return out
