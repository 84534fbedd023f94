"""The operations database: one DuckDB file for accounts, audit, cases and contacts.

Path: ``GAPMAP_CASES_DB`` or :data:`DEFAULT_PATH` (``data/store/cases.duckdb``, git-ignored).
When a key is configured (``GAPMAP_CASES_KEY``, or a file named by ``GAPMAP_CASES_KEY_FILE``)
the file is encrypted at rest with DuckDB's database encryption (AES-GCM); it cannot then be
opened without the key. Without a key the file is plain: anyone who can read the disk can read
the cases, contacts and notes (see README, Follow-up).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from geo.at_rest import UNSAFE_ENV, key_from_env, load_crypto

__all__ = ["DEFAULT_PATH", "PATH_ENV", "KEY_ENV", "KEY_FILE_ENV", "db_path", "encryption_key",
           "connect", "exists", "UNSAFE_ENV"]

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "store" / "cases.duckdb"
PATH_ENV = "GAPMAP_CASES_DB"
KEY_ENV = "GAPMAP_CASES_KEY"
KEY_FILE_ENV = "GAPMAP_CASES_KEY_FILE"
_LOCK = threading.RLock()

_DDL = [
    "CREATE TABLE IF NOT EXISTS users (username VARCHAR PRIMARY KEY, role VARCHAR, "
    "pw_hash VARCHAR, active BOOLEAN, created_at TIMESTAMP, failed INTEGER, "
    "locked_until TIMESTAMP, last_login TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS audit (seq BIGINT, logged_at TIMESTAMP, username VARCHAR, "
    "role VARCHAR, action VARCHAR, what VARCHAR, n_records BIGINT, detail VARCHAR, "
    "hash VARCHAR)",
    "CREATE TABLE IF NOT EXISTS cases (case_id VARCHAR PRIMARY KEY, event_id VARCHAR, "
    "occurred_at TIMESTAMP, source VARCHAR, sources VARCHAR, area VARCHAR, lat DOUBLE, "
    "lon DOUBLE, person_key VARCHAR, opened_at TIMESTAMP, received_at TIMESTAMP, "
    "assigned_to VARCHAR, status VARCHAR, closed_at TIMESTAMP, close_reason VARCHAR)",
    "CREATE TABLE IF NOT EXISTS contacts (case_id VARCHAR, attempted_at TIMESTAMP, mode VARCHAR, "
    "outcome VARCHAR, worker VARCHAR, recorded_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS services (case_id VARCHAR, provided_at TIMESTAMP, service VARCHAR, "
    "worker VARCHAR)",
    "CREATE TABLE IF NOT EXISTS notes (case_id VARCHAR, written_at TIMESTAMP, worker VARCHAR, "
    "text VARCHAR)",
    "CREATE TABLE IF NOT EXISTS kits (distributed_on DATE, site VARCHAR, channel VARCHAR, "
    "lat DOUBLE, lon DOUBLE, kits INTEGER, entered_by VARCHAR)",
]


def db_path(path: str | Path | None = None) -> Path:
    """The operations database file: ``path``, else ``GAPMAP_CASES_DB``, else the default."""
    if path is not None:
        return Path(path)
    env = os.environ.get(PATH_ENV, "").strip()
    return Path(env) if env else DEFAULT_PATH


def encryption_key() -> str | None:
    """The encryption key from ``GAPMAP_CASES_KEY`` or the file in ``GAPMAP_CASES_KEY_FILE``."""
    return key_from_env(KEY_ENV, KEY_FILE_ENV, "cases")


def exists(path: str | Path | None = None) -> bool:
    """True when the operations database file exists."""
    return db_path(path).exists()


def _quote(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _crypto(con) -> None:
    """Load a writing crypto module: httpfs (installed by the operator), or opted-in mbedtls."""
    load_crypto(con, "cases database")


def _open(p: Path, key: str | None, wait: float = 10.0):
    """Open (retrying while another process holds the file's lock, up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        con = duckdb.connect()
        try:
            if key:
                _crypto(con)
                con.execute(f"ATTACH {_quote(p)} AS ops (ENCRYPTION_KEY {_quote(key)})")
            else:
                con.execute(f"ATTACH {_quote(p)} AS ops")
            con.execute("USE ops")
            return con
        except duckdb.IOException as exc:
            con.close()
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)  # another process writes right now: try again shortly
            delay = min(delay * 2, 1.0)
        except BaseException:
            con.close()
            raise


@contextmanager
def connect(path: str | Path | None = None, key: str | None = None) -> Iterator:
    """A short-lived connection to the operations database (schema created on first use).

    Parameters
    ----------
    path : str or Path, optional
        Default :func:`db_path`.
    key : str, optional
        Encryption key; default :func:`encryption_key`. An encrypted file opened without its
        key (or with a wrong one) raises ``ValueError`` with one sentence.
    """
    p = db_path(path)
    key = key if key is not None else encryption_key()
    p.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK:
        try:
            con = _open(p, key)
        except (duckdb.Error, duckdb.IOException) as exc:
            msg = str(exc).splitlines()[0]
            raise ValueError(
                f"cannot open the cases database {p}"
                + (" with the configured key" if key else
                   " (if it is encrypted, set GAPMAP_CASES_KEY)") + f": {msg}"
            ) from None
        try:
            for ddl in _DDL:
                con.execute(ddl)
            yield con
        finally:
            con.close()
