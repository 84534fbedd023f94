"""Opening the incident store safely: foreign files, locks held by other processes, lost space.

* A file that is not a DuckDB database (or a DuckDB database that is not a gapmap store, or a
  folder) is refused with one sentence (``ValueError``), never a traceback.
* DuckDB lets one process write a file, or several read it. When another process holds it (a
  second ``gapmap ingest``, or the dashboard loading), :func:`connect` retries for up to
  ``wait_s`` seconds (default 60, or ``GAPMAP_STORE_WAIT``), says once that it is waiting, and
  then gives up with one sentence. The dashboard opens the store read-only for each load and
  closes it at once, so an idle browser tab never blocks an ingest.
* A transaction that was killed (or failed) leaves its written blocks in the file: DuckDB
  forgets them but does not shrink the file. :func:`reclaim` notices a file much larger than
  the blocks in use and rewrites the database into a fresh file (``COPY FROM DATABASE``),
  swapped in atomically.
* When ``GAPMAP_STORE_KEY`` (or a file named by ``GAPMAP_STORE_KEY_FILE``) is set, the store is
  an encrypted DuckDB file (same mechanism and crypto switch as :mod:`cases.db`): it is attached
  to an in-memory connection with its key (``USE store``), and the reclaim copy is encrypted
  with the same key. An encrypted store opened without its key, or with a wrong one, is one
  sentence telling the user to set ``GAPMAP_STORE_KEY``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import duckdb

from geo.at_rest import key_from_env, load_crypto

__all__ = ["connect", "reclaim", "store_key", "DEFAULT_WAIT_S", "KEY_ENV", "KEY_FILE_ENV"]

KEY_ENV = "GAPMAP_STORE_KEY"
KEY_FILE_ENV = "GAPMAP_STORE_KEY_FILE"

#: Seconds a writer (or a loader) waits for another process to release the store.
DEFAULT_WAIT_S = 60.0

#: Reclaim when the file exceeds the blocks in use by this much (and by half of them).
RECLAIM_MIN_BYTES = 16 << 20


def _wait_default() -> float:
    try:
        return float(os.environ.get("GAPMAP_STORE_WAIT", DEFAULT_WAIT_S))
    except ValueError:
        return DEFAULT_WAIT_S


def store_key() -> str | None:
    """The store's encryption key from ``GAPMAP_STORE_KEY`` or ``GAPMAP_STORE_KEY_FILE``."""
    return key_from_env(KEY_ENV, KEY_FILE_ENV, "incident store")


def _quote(text) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _quiet(con):
    """No DuckDB progress bar on the user's terminal (the CLI reports progress itself)."""
    con.execute("SET enable_progress_bar = false")
    return con


def _open(path: Path, read_only: bool, key: str | None):
    """One attempt: the plain file, or the encrypted file attached as ``store``."""
    if not key:
        return _quiet(duckdb.connect(str(path), read_only=read_only))
    con = _quiet(duckdb.connect())
    try:
        load_crypto(con, "incident store")
        ro = "READ_ONLY, " if read_only else ""
        con.execute(f"ATTACH {_quote(path)} AS store ({ro}ENCRYPTION_KEY {_quote(key)})")
        con.execute("USE store")
        return con
    except BaseException:
        con.close()
        raise


def _busy(msg: str) -> bool:
    """Held by another process (file lock) or, encrypted, by another connection here."""
    low = msg.lower()
    return "lock" in low or "already attached" in low


def _say_waiting(path: Path, wait_s: float) -> None:
    print(f"gapmap: the incident store {path} is in use by another process (an ingest or a "
          f"dashboard load); waiting up to {wait_s:.0f} s for it…", file=sys.stderr, flush=True)


def connect(path: Path, *, read_only: bool, wait_s: float | None = None, on_wait=None):
    """A DuckDB connection to the store at ``path``, waiting while another process holds it.

    Parameters
    ----------
    path : Path
    read_only : bool
    wait_s : float, optional
        Longest wait for a lock held by another process (default ``GAPMAP_STORE_WAIT`` or 60).
    on_wait : callable, optional
        Called once as ``on_wait(path, wait_s)`` when the wait starts (default: a line on
        stderr).

    Raises
    ------
    ValueError
        Not a DuckDB file, not a gapmap store, a folder, or still locked after ``wait_s``.
    """
    path = Path(path)
    wait_s = _wait_default() if wait_s is None else float(wait_s)
    if path.is_dir():
        raise ValueError(f"--store {path} is a folder; give the path of a store file "
                         "(e.g. data/store/gapmap.duckdb)")
    key = store_key()
    deadline, pause, waited = time.monotonic() + wait_s, 0.05, False
    while True:
        try:
            con = _open(path, read_only, key)
            break
        except duckdb.Error as exc:
            msg = str(exc)
            if not _busy(msg):
                raise ValueError(_foreign(path, msg, key)) from None
            if time.monotonic() >= deadline:
                raise ValueError(
                    f"the incident store {path} is still in use by another process (an ingest "
                    f"or a dashboard load) after {wait_s:.0f} s; try again when it has finished "
                    "(or set GAPMAP_STORE_WAIT to wait longer)") from None
            if not waited:
                (on_wait or _say_waiting)(path, wait_s)
                waited = True
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 1.0)
    if not _has_records(con):  # a new store, or not a gapmap store
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()").fetchall()}
        if tables and "records" not in tables:
            con.close()
            raise ValueError(f"{path} is a DuckDB database but not a gapmap incident store (it "
                             "has no 'records' table); give --store a new path or an existing "
                             "store")
    return con


def _has_records(con) -> bool:
    """The database has a ``records`` table (``duckdb_tables()``: ~10x less CPU than
    ``information_schema``, paid by every load)."""
    return bool(con.execute("SELECT 1 FROM duckdb_tables() WHERE database_name = "
                            "current_database() AND table_name = 'records'").fetchall())


def _foreign(path: Path, msg: str, key: str | None = None) -> str:
    low = msg.lower()
    if "without a key" in low:
        return (f"the incident store {path} is encrypted; set {KEY_ENV} (or {KEY_FILE_ENV}) "
                "to its key")
    if "wrong encryption key" in low:
        return (f"the incident store {path} is encrypted with another key than the configured "
                f"one; set {KEY_ENV} (or {KEY_FILE_ENV}) to its key")
    if key and "not encrypted" in low:
        return (f"the incident store {path} is not encrypted but {KEY_ENV} is set; unset it to "
                "open this store, or ingest into a new --store path to start an encrypted one")
    if "not a valid duckdb" in msg.lower() or "invalid" in msg.lower():
        return (f"{path} is not a gapmap incident store (not a DuckDB database file); give "
                "--store a new path or an existing store")
    first = msg.splitlines()[0] if msg else "unknown error"
    return f"cannot open the incident store {path}: {first}"


def reclaim(con, path: Path):
    """Shrink a store whose file holds much unused space; returns the (possibly new) connection.

    ``con`` is a read-write connection to ``path`` with no open transaction. The database is
    copied into ``<path>.compact`` and renamed over ``path`` while ``con`` still holds the old
    file's lock, so no other process ever writes to the replaced file.
    """
    path = Path(path)
    con.execute("CHECKPOINT")
    size = con.execute("SELECT block_size, total_blocks, free_blocks FROM pragma_database_size() "
                       "WHERE database_name = current_database()").fetchall()
    if not size:
        return con
    block, total, free = size[0]
    used = (int(total) - int(free)) * int(block)
    excess = path.stat().st_size - used
    if excess <= max(RECLAIM_MIN_BYTES, used // 2):
        return con
    tmp = path.with_name(path.name + ".compact")
    for p in (tmp, tmp.with_name(tmp.name + ".wal")):
        p.unlink(missing_ok=True)
    name = con.execute("SELECT current_database()").fetchall()[0][0]
    quoted = str(tmp).replace("'", "''")
    key = store_key()
    enc = f" (ENCRYPTION_KEY {_quote(key)})" if key else ""
    con.execute(f"ATTACH '{quoted}' AS _compact{enc}")
    try:
        con.execute(f'COPY FROM DATABASE "{name}" TO _compact')
    finally:
        con.execute("DETACH _compact")
    os.replace(tmp, path)
    con.close()
    return connect(path, read_only=False)
