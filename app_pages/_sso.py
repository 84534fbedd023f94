"""App layer for the optional single sign-on (Streamlit's OIDC login; :mod:`cases.sso`).

Only active when ``.streamlit/secrets.toml`` has an ``[auth]`` section with a provider; then the
sidebar offers "Log in with <provider>" beside the local login, and a signed-in email becomes
its local account's role (unknown emails: ``viewer``). Without it nothing here runs.
"""

from __future__ import annotations

import streamlit as st

from app_pages import _auth
from cases.sso import DEFAULT_PROVIDER, sso_account, sso_providers

__all__ = ["providers", "box", "logout"]


def providers() -> dict[str, str]:
    """Configured OIDC providers (``{name: label}``; empty without an ``[auth]`` provider)."""
    try:
        auth = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets file, or an unreadable one: no SSO
        return {}
    if auth is None:
        return {}
    return sso_providers(auth.to_dict() if hasattr(auth, "to_dict") else dict(auth))


def _logged_in() -> bool:
    """True when the identity provider has signed this browser in (``st.user``)."""
    return bool(st.user.get("is_logged_in", False))


def _identity() -> tuple[str | None, bool | None]:
    """The provider's ``email`` and ``email_verified`` claims."""
    return st.user.get("email"), st.user.get("email_verified")


def box() -> bool:
    """Map a signed-in identity to its account, else draw the SSO buttons; False without SSO."""
    found = providers()
    if not found:
        return False
    if _logged_in() and not st.session_state.get("user"):
        try:
            email, verified = _identity()
            acc = sso_account(email, verified=verified)
        except ValueError as exc:
            st.sidebar.error(str(exc))
            return True
        _auth.sign_in(acc.username, acc.role, acc.tier)
        st.rerun()
    for name, label in found.items():
        if st.sidebar.button(f"Log in with {label}", key=f"sso_{name}"):
            if name == DEFAULT_PROVIDER:
                st.login()
            else:
                st.login(name)
    return True


def logout() -> None:
    """End the identity provider's session too (so the next run does not sign in again)."""
    if providers() and _logged_in():
        st.logout()
