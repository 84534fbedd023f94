# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Optional single sign-on: provider detection, email → local account, and the sidebar.

There is no identity provider to test against: the redirect to the provider and its callback
(``st.login`` → ``st.user``) are Streamlit's and are not exercised here; the mapping they feed
(:func:`cases.sso.sso_account`) and the sidebar with and without ``[auth]`` are.
"""

from __future__ import annotations

import pytest
from app_helpers import DASHBOARD, app_env, app_inputs  # noqa: F401

from cases.accounts import Account, add_user, disable_user
from cases.sso import sso_account, sso_providers

BASE = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32}
GOOGLE = {"client_id": "id", "client_secret": "secret",
          "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration"}


def test_providers_need_redirect_cookie_and_a_complete_client():
    assert sso_providers(None) == {}
    assert sso_providers({"password_hash": "$2b$..."}) == {}  # gapmap's own shared password
    assert sso_providers({**BASE}) == {}  # no provider
    assert sso_providers({"google": GOOGLE}) == {}  # no redirect_uri / cookie_secret
    assert sso_providers({**BASE, "google": {**GOOGLE, "client_secret": ""}}) == {}
    assert sso_providers({**BASE, "google": GOOGLE}) == {"google": "Google"}
    assert sso_providers({**BASE, **GOOGLE}) == {"default": "accounts.google.com"}
    both = sso_providers({**BASE, "google": GOOGLE, "microsoft": GOOGLE, "password_hash": "x"})
    assert both == {"google": "Google", "microsoft": "Microsoft"}


def test_email_maps_to_the_local_accounts_role(tmp_path):
    db = tmp_path / "ops.duckdb"
    add_user("alice@county.gov", "outreach", "correct horse battery", path=db)
    add_user("Bob@County.gov", "admin", "correct horse battery", path=db)
    add_user("carol@county.gov", "partner", "correct horse battery", path=db)
    disable_user("carol@county.gov", path=db)
    assert sso_account("alice@county.gov", path=db) == Account("alice@county.gov", "outreach")
    assert sso_account("ALICE@county.gov ", path=db).role == "outreach"  # case-insensitive
    assert sso_account("bob@county.gov", path=db) == Account("Bob@County.gov", "admin")
    assert sso_account("carol@county.gov", path=db) == Account("carol@county.gov", "viewer")
    assert sso_account("dave@elsewhere.org", path=db) == Account("dave@elsewhere.org", "viewer")
    assert sso_account("Dave@Elsewhere.org", path=db).tier == "public"
    assert sso_account("alice@county.gov", verified=False, path=db).role == "viewer"
    assert sso_account("alice@county.gov", verified=True, path=db).role == "outreach"
    for bad in (None, "", "alice"):
        with pytest.raises(ValueError, match="no email address"):
            sso_account(bad, path=db)


def _sidebar(secrets: dict | None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    for k, v in (secrets or {}).items():
        at.secrets[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = [b.label for b in at.sidebar.button]
    captions = [c.value for c in at.sidebar.caption]
    return at, labels, captions


def test_without_auth_the_sidebar_is_unchanged_and_with_a_provider_it_offers_sso():
    at, labels, captions = _sidebar(None)
    assert not [x for x in labels if x.startswith("Log in with")]
    assert any("restricted tier is unavailable" in c for c in captions)
    # only gapmap's shared password in [auth]: the local form, no SSO button
    at, labels, _ = _sidebar({"auth": {"password_hash": "$2b$12$" + "x" * 53}})
    assert not [x for x in labels if x.startswith("Log in with")]
    assert at.sidebar.text_input(key="login_pw") is not None
    at, labels, captions = _sidebar({"auth": {**BASE, "google": GOOGLE}})
    assert "Log in with Google" in labels
    assert not any("restricted tier is unavailable" in c for c in captions)


@pytest.mark.parametrize(("email", "role", "tier"), [("alice@county.gov", "outreach",
                                                      "restricted"),
                                                     ("stranger@else.org", "viewer", "public")])
def test_a_signed_in_email_becomes_its_accounts_role(monkeypatch, email, role, tier):
    """The provider's callback simulated (``st.user`` patched): the sidebar signs in."""
    from app_pages import _sso

    add_user("alice@county.gov", "outreach", "correct horse battery")
    monkeypatch.setattr(_sso, "_logged_in", lambda: True)
    monkeypatch.setattr(_sso, "_identity", lambda: (email, True))
    at, _, _ = _sidebar({"auth": {**BASE, "google": GOOGLE}})
    assert at.session_state["user"] == email and at.session_state["role"] == role
    assert at.session_state["tier"] == tier
