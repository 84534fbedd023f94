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
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.chunk_readers import DEFAULT_CHUNK_ROWS, NotStreamable, iter_chunks
from geo.ingest_chunks import _Chunks, _Seen, processed_chunks  # noqa: F401  (the steps)
from geo.presets import resolve_columns
from geo.readers import TEXT_SUFFIXES
from geo.rowrules import excluded_rows, parse_exclusions

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


# ------------------------------------------------------------------------------ the store
_REJECT_CHUNK = "rejects"


def stream_into_store(store, path: Path, label: str, digest: str, *, options: dict,
                      window_min: float, radius_m: float, rejects_path, progress, received_at,
                      chunk_rows: int | None = None, con=None) -> dict | None:
    """Ingest ``path`` into ``store`` chunk by chunk; ``None`` when the file is not streamable
    (nothing was written: the caller reads it whole). See the module docstring.

    ``con`` (optional): an open read-write connection to the store to use (the caller closes
    it); otherwise one is opened once the first chunk has been read."""
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
    con = store._connect() if con is None else con
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
            summary["warnings"] = [*summary.get("warnings", []),
                                   *store._update_events(con, window_min, radius_m, file_id)]
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
