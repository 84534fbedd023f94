"""Per-user accounts with roles, bcrypt password hashes and an account lock-out.

Roles map to the privacy tiers: ``viewer`` → public, ``partner`` → partner, ``outreach`` and
``admin`` → restricted. ``outreach`` works the follow-up queue; ``admin`` also manages users
and reads the audit trail. After :data:`MAX_FAILURES` consecutive wrong passwords an account is
locked for :data:`LOCK_MINUTES` minutes (an admin ``reset`` unlocks it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pandas as pd

from cases.db import connect

__all__ = ["ROLES", "ROLE_TIER", "MAX_FAILURES", "LOCK_MINUTES", "MIN_PASSWORD", "Account",
           "add_user", "disable_user", "reset_password", "list_users", "authenticate",
           "role_tier", "hash_password"]

ROLES = ("viewer", "partner", "outreach", "admin")
ROLE_TIER = {"viewer": "public", "partner": "partner", "outreach": "restricted",
             "admin": "restricted"}
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


@dataclass(frozen=True)
class Account:
    """A signed-in user: name, role and the privacy tier the role sees."""

    username: str
    role: str

    @property
    def tier(self) -> str:
        """Privacy tier of the role."""
        return role_tier(self.role)


def role_tier(role: str) -> str:
    """The privacy tier of ``role`` (ValueError for an unknown role)."""
    if role not in ROLE_TIER:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return ROLE_TIER[role]


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password`` (at least :data:`MIN_PASSWORD` characters)."""
    if len(password or "") < MIN_PASSWORD:
        raise ValueError(f"a password needs at least {MIN_PASSWORD} characters")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode()


def _now(now) -> pd.Timestamp:
    return pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)


def add_user(username: str, role: str, password: str, *, path: str | Path | None = None,
             now=None) -> Account:
    """Create an active account (ValueError for a bad name, role, short password or a clash)."""
    if not _NAME.match(username or ""):
        raise ValueError("a user name is 2–64 letters, digits or . _ @ - (no spaces)")
    role_tier(role)
    h = hash_password(password)
    with connect(path) as con:
        if con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise ValueError(f"user {username!r} exists (use reset to change the password)")
        con.execute("INSERT INTO users VALUES (?, ?, ?, TRUE, ?, 0, NULL, NULL)",
                    [username, role, h, _now(now).to_pydatetime()])
    return Account(username, role)


def _require(con, username: str) -> None:
    if not con.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
        raise ValueError(f"no user {username!r}")


def disable_user(username: str, *, path: str | Path | None = None) -> None:
    """Disable an account (it can no longer sign in; its audit rows stay)."""
    with connect(path) as con:
        _require(con, username)
        con.execute("UPDATE users SET active = FALSE WHERE username = ?", [username])


def reset_password(username: str, password: str, *, role: str | None = None,
                   path: str | Path | None = None) -> None:
    """Set a new password (and optionally role); re-enables and unlocks the account."""
    h = hash_password(password)
    if role is not None:
        role_tier(role)
    with connect(path) as con:
        _require(con, username)
        con.execute("UPDATE users SET pw_hash = ?, active = TRUE, failed = 0, "
                    "locked_until = NULL WHERE username = ?", [h, username])
        if role is not None:
            con.execute("UPDATE users SET role = ? WHERE username = ?", [role, username])


def list_users(*, path: str | Path | None = None) -> pd.DataFrame:
    """Users without their hashes: name, role, active, failures, locked until, last login."""
    with connect(path) as con:
        return con.execute(
            "SELECT username, role, active, created_at, failed, locked_until, last_login "
            "FROM users ORDER BY username").df()


def authenticate(username: str, password: str, *, path: str | Path | None = None,
                 now=None) -> tuple[Account | None, str]:
    """Check a sign-in; returns ``(account or None, message)``.

    Unknown users, disabled accounts and wrong passwords all give the same message (no user
    enumeration). A locked account is refused without checking the password.
    """
    t = _now(now)
    bad = "Wrong user name or password."
    with connect(path) as con:
        row = con.execute("SELECT role, pw_hash, active, failed, locked_until FROM users "
                          "WHERE username = ?", [username]).fetchone()
        if row is None:
            bcrypt.checkpw(b"x", bcrypt.hashpw(b"y", bcrypt.gensalt(4)))  # similar timing
            return None, bad
        role, h, active, failed, locked = row
        if locked is not None and pd.Timestamp(locked) > t:
            mins = max(1, math.ceil((pd.Timestamp(locked) - t).total_seconds() / 60))
            return None, f"Account locked after repeated failures: try again in {mins} min."
        ok = bool(active) and bcrypt.checkpw(password.encode("utf-8"), h.encode("utf-8"))
        if ok:
            con.execute("UPDATE users SET failed = 0, locked_until = NULL, last_login = ? "
                        "WHERE username = ?", [t.to_pydatetime(), username])
            return Account(username, role), "ok"
        failed = int(failed or 0) + 1
        lock = t + pd.Timedelta(minutes=LOCK_MINUTES) if failed >= MAX_FAILURES else None
        con.execute("UPDATE users SET failed = ?, locked_until = ? WHERE username = ?",
                    [0 if lock is not None else failed,
                     None if lock is None else lock.to_pydatetime(), username])
        if lock is not None:
            return None, (f"Account locked after {MAX_FAILURES} failures: try again in "
                          f"{LOCK_MINUTES} min.")
        return None, bad
