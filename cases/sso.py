"""Optional single sign-on: which OIDC providers are configured, and email → local account.

Streamlit's OIDC login (``st.login`` / ``st.user``, with Authlib) reads the ``[auth]`` section
of ``.streamlit/secrets.toml``: ``redirect_uri`` and ``cookie_secret``, and either one provider
directly in ``[auth]`` (``client_id``, ``client_secret``, ``server_metadata_url``) or named
providers in ``[auth.<name>]`` subsections. gapmap only *maps* a signed-in identity to a local
account: the role comes from the accounts table (:mod:`cases.accounts`), matched by user name =
email (case-insensitive); an unknown, disabled or unverified email signs in as ``viewer``
(the public tier). Without a provider nothing changes: local accounts are the default and work
offline. No Streamlit import here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from cases.accounts import Account
from cases.db import connect

__all__ = ["PROVIDER_KEYS", "DEFAULT_PROVIDER", "sso_providers", "provider_label",
           "sso_account"]

#: Keys a provider needs (Streamlit's OIDC configuration).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
#: Name of the provider configured directly in ``[auth]`` (``st.login()`` without argument).
DEFAULT_PROVIDER = "default"


def _complete(cfg: Mapping) -> bool:
    return all(str(cfg.get(k) or "").strip() for k in PROVIDER_KEYS)


def sso_providers(auth: Mapping | None) -> dict[str, str]:
    """Configured providers of an ``[auth]`` secrets section: ``{name: button label}``.

    Empty when ``auth`` is missing, lacks ``redirect_uri`` / ``cookie_secret``, or holds only
    gapmap's own ``password_hash``. The provider configured directly in ``[auth]`` is named
    :data:`DEFAULT_PROVIDER`; named ones keep their subsection name.
    """
    if not isinstance(auth, Mapping):
        return {}
    if not all(str(auth.get(k) or "").strip() for k in ("redirect_uri", "cookie_secret")):
        return {}
    out: dict[str, str] = {}
    if _complete(auth):
        out[DEFAULT_PROVIDER] = provider_label(DEFAULT_PROVIDER, auth)
    for name, cfg in auth.items():
        if isinstance(cfg, Mapping) and _complete(cfg):
            out[str(name)] = provider_label(str(name), cfg)
    return out


def provider_label(name: str, cfg: Mapping) -> str:
    """What the button names: the subsection's name (``google`` → ``Google``), or for the
    default provider the host of its metadata URL (``login.microsoftonline.com``)."""
    if name != DEFAULT_PROVIDER:
        return name.replace("_", " ").title() if name.islower() else name
    host = urlparse(str(cfg.get("server_metadata_url") or "")).hostname
    return host or "single sign-on"


def sso_account(email: str | None, *, verified: bool | None = None,
                path: str | Path | None = None) -> Account:
    """The local account of a signed-in email: its role if active, else ``viewer``.

    Parameters
    ----------
    email : str
        The identity provider's ``email`` claim. Blank: ``ValueError``.
    verified : bool, optional
        The ``email_verified`` claim when the provider sends one; ``False`` gives ``viewer``.
    path : path, optional
        The operations database (default :func:`cases.db.db_path`).

    Returns
    -------
    Account
        ``Account(<stored user name>, <role>)`` for an active account whose user name equals
        the email (case-insensitive); otherwise ``Account(<email>, "viewer")``.
    """
    mail = str(email or "").strip()
    if not mail or "@" not in mail:
        raise ValueError("single sign-on gave no email address: cannot map it to an account")
    if verified is False:
        return Account(mail.lower(), "viewer")
    with connect(path) as con:
        rows = con.execute("SELECT username, role, active FROM users "
                           "WHERE lower(username) = lower(?) ORDER BY username",
                           [mail]).fetchall()
    for username, role, active in rows:
        if active:
            return Account(str(username), str(role))
    return Account(mail.lower(), "viewer")
