"""App layer: signed-in user, role, session expiry, page access and the audit hook.

Session state keys: ``tier`` (``public`` / ``partner`` / ``restricted``), ``user``, ``role``
and ``_last_seen`` (epoch seconds of the last run). The login form itself is
:func:`app_pages._login.login_box`; accounts live in :mod:`cases.accounts`.
"""

from __future__ import annotations

import os
import time

import streamlit as st

from cases import db as cases_db

__all__ = ["IDLE_ENV", "SHARED_USER", "PAGE_ROLES", "role", "username", "idle_minutes",
           "sign_in", "sign_out", "expired", "touch", "page_allowed", "require_role", "audit",
           "audit_view", "audit_page",
           "accounts_enabled"]

IDLE_ENV = "GAPMAP_SESSION_IDLE_MIN"
#: Who the shared password signs in as (role ``outreach``: the restricted tier, no admin).
SHARED_USER = "shared-password"
#: Pages only some roles may open (not even registered in the navigation for others; they
#: live in ``app_pages/team/``, outside the public page sweeps).
PAGE_ROLES = {"team/cases.py": ("outreach", "admin"), "team/admin.py": ("admin",)}


def role() -> str:
    """The signed-in role (``viewer`` when nobody is signed in)."""
    return str(st.session_state.get("role") or "viewer")


def username() -> str:
    """The signed-in user name (``anonymous`` when nobody is signed in)."""
    return str(st.session_state.get("user") or "anonymous")


def idle_minutes() -> float:
    """Minutes of inactivity after which a session is signed out (default 30)."""
    try:
        return max(1.0, float(os.environ.get(IDLE_ENV, "30")))
    except ValueError:
        return 30.0


def sign_in(user: str, role_name: str, tier_name: str) -> None:
    """Put a signed-in user into session state (and write an audit row)."""
    st.session_state.update(user=user, role=role_name, tier=tier_name, _last_seen=time.time())
    st.session_state.pop("_audited", None)
    audit("login", "session", None)


def sign_out() -> None:
    """Back to the public tier."""
    for k in ("user", "role", "_last_seen", "_audited"):
        st.session_state.pop(k, None)
    st.session_state["tier"] = "public"


def expired() -> bool:
    """True when the signed-in session has been idle longer than :func:`idle_minutes`."""
    last = st.session_state.get("_last_seen")
    return last is not None and time.time() - float(last) > idle_minutes() * 60


def touch() -> None:
    """Record activity now."""
    st.session_state["_last_seen"] = time.time()


def page_allowed(fname: str) -> bool:
    """May the current role open ``app_pages/<fname>``?"""
    roles = PAGE_ROLES.get(fname)
    return roles is None or role() in roles


def require_role(*roles: str) -> None:
    """Stop the page unless the signed-in role is one of ``roles`` (defence in depth)."""
    if role() not in roles:
        st.error("This page needs a signed-in " + " or ".join(roles) + " account.")
        st.stop()


def accounts_enabled() -> bool:
    """True when an operations database with at least one active account exists."""
    if not cases_db.exists():
        return False
    try:
        with cases_db.connect() as con:
            return bool(con.execute("SELECT count(*) FROM users WHERE active").fetchone()[0])
    except ValueError:
        return True  # encrypted without key etc.: show the form; sign-in reports the error


def audit(action: str, what: str, n_records: int | None, detail: str = "") -> None:
    """Append an audit row for the signed-in user; stops the page if it cannot be written.

    Restricted data is never shown without its audit row (fail closed).
    """
    from cases.audit import record

    try:
        record(username(), role(), action, what, n_records, detail)
    except Exception as exc:  # noqa: BLE001 - any failure must block the restricted view
        st.error(f"Restricted data is not shown: the audit trail cannot be written ({exc}).")
        st.stop()


def audit_view(what: str, n_records: int | None, key: object = None) -> None:
    """Audit a restricted view once per distinct (what, key) in this session."""
    k = (what, key, n_records)
    if st.session_state.get("_audited") == k:
        return
    audit("view", what, n_records)
    st.session_state["_audited"] = k


def audit_page(title: str, f) -> None:
    """Audit a page view in the restricted tier: the events the filters expose (``f``)."""
    if st.session_state.get("tier") != "restricted":
        return
    from app_pages._data import incidents, source_key

    n = None
    if source_key()[0] != "none":
        t = incidents()["occurred_at"]
        keep = t.notna()
        if f.start is not None:
            keep &= t >= f.start
        if f.end is not None:
            keep &= t < f.end
        n = int(keep.sum())
    audit_view(f"page:{title}", n, key=(f.start, f.end, f.sources, f.outcomes))
