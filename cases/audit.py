"""The append-only audit trail: who saw or exported restricted data, when, and how much.

Rows are only ever appended (this module has no update or delete). Each row carries a SHA-256
chained over the previous row's hash, so an edited or deleted row is detected by
:func:`verify`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from cases.db import connect

__all__ = ["record", "record_cli", "read", "verify", "AUDIT_COLUMNS"]

AUDIT_COLUMNS = ["seq", "logged_at", "username", "role", "action", "what", "n_records", "detail"]


def _digest(prev: str, row: list) -> str:
    text = prev + "|" + "|".join("" if v is None else str(v) for v in row)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(username: str, role: str, action: str, what: str, n_records: int | None = None,
           detail: str = "", *, path: str | Path | None = None, now=None) -> int:
    """Append one audit row; return its sequence number.

    Parameters
    ----------
    username, role : str
        Who (``role`` as signed in).
    action : str
        ``"view"``, ``"export"``, ``"login"``, ``"update"`` …
    what : str
        The page, table or command (e.g. ``"page:Cases"``, ``"cli:hotspots"``).
    n_records : int, optional
        Person-level records shown or exported.
    """
    t = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)
    with connect(path) as con:
        last = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (0, "") if last is None else (int(last[0]) + 1, last[1])
        row = [seq, t.isoformat(), username, role, action, what,
               None if n_records is None else int(n_records), detail]
        con.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [seq, t.to_pydatetime(), username, role, action, what, row[6], detail,
                     _digest(prev, row)])
    return seq


def read(*, path: str | Path | None = None, username: str | None = None) -> pd.DataFrame:
    """Audit rows, oldest first (optionally of one user), without the hash column."""
    sql = f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit"
    args = []
    if username:
        sql += " WHERE username = ?"
        args.append(username)
    with connect(path) as con:
        return con.execute(sql + " ORDER BY seq", args).df()


def verify(*, path: str | Path | None = None) -> bool:
    """True when the hash chain is intact (no row edited, removed or reordered)."""
    with connect(path) as con:
        rows = con.execute("SELECT " + ", ".join(AUDIT_COLUMNS) + ", hash FROM audit "
                           "ORDER BY seq").fetchall()
    prev = ""
    for i, r in enumerate(rows):
        seq, at, *rest, h = r
        if seq != i:
            return False
        vals = [seq, pd.Timestamp(at).isoformat(), *rest]
        if _digest(prev, vals) != h:
            return False
        prev = h
    return True


def record_cli(what: str, n_records: int | None = None, detail: str = "") -> None:
    """Audit a restricted CLI output (operating-system user, role ``cli``).

    Written when the operations database exists (a deployment with accounts); a failure
    raises ``ValueError`` so the restricted output is not written without its audit row.
    """
    import getpass

    from cases.db import exists

    if not exists():
        return
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): still audit
        user = "unknown"
    try:
        record(user, "cli", "export", what, n_records, detail)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"restricted output refused: the audit trail cannot be written "
                         f"({exc})") from None
