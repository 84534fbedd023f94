"""App layer: the sidebar's login box (shared password, accounts, single sign-on) and its
throttles (see :mod:`app_pages._app`; the tier itself is :func:`app_pages._ui.tier`)."""

from __future__ import annotations

import logging
import math
import os

import bcrypt
import streamlit as st

from app_pages import _auth
from app_pages._throttle import LoginThrottle

__all__ = ["password_hash", "check_password", "login_box", "LOGIN_MAX_FAILURES"]


def tier() -> str:
    """The session's tier (:func:`app_pages._ui.tier`)."""
    from app_pages._ui import tier as _tier

    return _tier()


def password_hash() -> str | None:
    """The configured bcrypt hash (secrets ``[auth] password_hash`` or ``GAPMAP_PASSWORD_HASH``)."""
    try:
        h = st.secrets["auth"]["password_hash"]
        if h:
            return str(h)
    except (FileNotFoundError, KeyError, AttributeError):
        pass
    h = os.environ.get("GAPMAP_PASSWORD_HASH", "").strip()
    return h or None


def check_password(password: str, hashed: str | None) -> bool:
    """True when ``password`` matches the bcrypt ``hashed`` (False for no hash / bad hash)."""
    if not hashed or not password:
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("utf-8"))
    except ValueError:
        return False


#: Failed logins allowed per session (and per client address) before a growing lock.
LOGIN_MAX_FAILURES = 5
_log = logging.getLogger("gapmap.auth")


@st.cache_resource(max_entries=1, show_spinner=False)
def _address_throttle() -> LoginThrottle:
    """One throttle per server process, keyed by client address (survives a page reload)."""
    return LoginThrottle(max_failures=LOGIN_MAX_FAILURES)


def _session_throttle() -> LoginThrottle:
    """This browser session's throttle (kept in session state; tests may put one there)."""
    t = st.session_state.get("_login_throttle")
    if not isinstance(t, LoginThrottle):
        t = LoginThrottle(max_failures=LOGIN_MAX_FAILURES)
        st.session_state["_login_throttle"] = t
    return t


def _client_address() -> str | None:
    """The client's address as the server sees it (None when unknown, e.g. under AppTest)."""
    try:
        return st.context.ip_address or None
    except Exception:  # noqa: BLE001 - no request context: no per-address throttle
        return None


def _login_wait() -> float:
    """Seconds before this session (or its address) may try a password again."""
    wait = _session_throttle().wait("session")
    addr = _client_address()
    if addr:
        wait = max(wait, _address_throttle().wait(addr))
    return wait


def _attempt_login(pw: str, hashed: str | None, user: str = "") -> None:
    """Check a submitted password (an account's when ``user`` is given, else the shared one),
    honouring and updating the throttles."""
    wait = _login_wait()
    if wait > 0:
        st.sidebar.error(f"Too many attempts: try again in {math.ceil(wait)} s.")
        return
    addr = _client_address()
    if user:
        from cases.accounts import authenticate

        try:
            account, msg = authenticate(user, pw)
        except ValueError as exc:
            st.sidebar.error(str(exc))
            return
        if account is not None:
            _session_throttle().success("session")
            if addr:
                _address_throttle().success(addr)
            _auth.sign_in(account.username, account.role, account.tier)
            st.rerun()
        if msg.startswith("Account locked"):
            st.sidebar.error(msg)
            return
    elif hashed and check_password(pw, hashed):
        _session_throttle().success("session")
        if addr:
            _address_throttle().success(addr)
        _auth.sign_in(_auth.SHARED_USER, "outreach", "restricted")
        st.rerun()
    wait = _session_throttle().failure("session")
    if addr:
        wait = max(wait, _address_throttle().failure(addr))
    _log.warning(
        "failed login (%d in this session) from %s",
        _session_throttle().failures("session"),
        addr or "unknown address",
    )
    if wait > 0:
        st.sidebar.error(f"Too many attempts: try again in {math.ceil(wait)} s.")
    else:
        st.sidebar.error(("Wrong user name or password" if user else "Wrong password")
                         + ": still in the public tier.")


def login_box() -> None:
    """The sidebar's Access box: who is signed in and Log out, or the login form."""
    st.sidebar.markdown("**Access**")
    if tier() != "public" or st.session_state.get("user"):
        if _auth.expired():
            _auth.sign_out()
            st.session_state["_expired_notice"] = True
            st.rerun()
        _auth.touch()
        who = f"{_auth.username()} ({_auth.role()})"
        if tier() == "restricted":
            st.sidebar.success(f"Restricted tier: line lists and points are visible. "
                               f"Signed in as {who}.")
        else:
            st.sidebar.success(f"{tier().capitalize()} tier (counts 1–9 suppressed). "
                               f"Signed in as {who}.")
        if st.sidebar.button("Log out", key="logout"):
            _auth.sign_out()
            from app_pages import _sso

            _sso.logout()
            st.rerun()
        return
    if st.session_state.pop("_expired_notice", False):
        st.sidebar.info(f"Signed out after {_auth.idle_minutes():g} min of inactivity.")
    from app_pages import _sso

    sso = _sso.box()  # "Log in with <provider>" when [auth] has an OIDC provider
    hashed = password_hash()
    accounts = _auth.accounts_enabled()
    if hashed is None and not accounts:
        if not sso:
            st.sidebar.caption(
                "Public tier. The restricted tier is unavailable: no password hash is "
                "configured (see README, Dashboard)."
            )
        return
    with st.sidebar.form("login", clear_on_submit=True):
        user = ""
        if accounts:
            user = st.text_input("User name" + (" (blank: shared password)" if hashed else ""),
                                 key="login_user")
        pw = st.text_input("Password for the restricted tier", type="password", key="login_pw")
        ok = st.form_submit_button("Log in")
    if ok:
        _attempt_login(pw, hashed, (user or "").strip())
    st.sidebar.caption("Public tier: aggregated cells, counts 1–9 suppressed, no points.")


_login_box = login_box  # the name the docs used
