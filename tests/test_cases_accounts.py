# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Accounts, roles, lock-out, session expiry, the audit trail and ``gapmap users``."""

from __future__ import annotations

import io

import bcrypt
import duckdb
import pandas as pd
import pytest
from app_helpers import DASHBOARD, ROOT, app_env, app_inputs, run_page  # noqa: F401

from cases import accounts, audit

PW = "a long password"
T0 = pd.Timestamp("2026-11-15 12:00")


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "ops.duckdb"
    monkeypatch.setenv("GAPMAP_CASES_DB", str(path))
    return path


def test_roles_map_to_privacy_tiers():
    assert {r: accounts.role_tier(r) for r in accounts.ROLES} == {
        "viewer": "public", "partner": "partner", "outreach": "restricted",
        "admin": "restricted"}
    with pytest.raises(ValueError, match="role must be one of"):
        accounts.role_tier("root")


def test_add_authenticate_disable_reset(db):
    accounts.add_user("ann", "outreach", PW)
    users = accounts.list_users()
    assert users["username"].tolist() == ["ann"] and "pw_hash" not in users.columns
    with duckdb.connect(str(db)) as con:  # stored as a bcrypt hash, never the password
        h = con.execute("SELECT pw_hash FROM users").fetchone()[0]
    assert h.startswith("$2") and bcrypt.checkpw(PW.encode(), h.encode())
    acc, msg = accounts.authenticate("ann", PW)
    assert acc == accounts.Account("ann", "outreach") and acc.tier == "restricted"
    assert accounts.authenticate("ann", "wrong password")[0] is None
    assert accounts.authenticate("nobody", PW) == (None, "Wrong user name or password.")
    with pytest.raises(ValueError, match="exists"):
        accounts.add_user("ann", "viewer", PW)
    with pytest.raises(ValueError, match="at least 10"):
        accounts.add_user("bob", "viewer", "short")
    with pytest.raises(ValueError, match="user name"):
        accounts.add_user("b b", "viewer", PW)
    accounts.disable_user("ann")
    assert accounts.authenticate("ann", PW)[0] is None
    accounts.reset_password("ann", "another long one", role="admin")
    assert accounts.authenticate("ann", "another long one")[0] == accounts.Account("ann", "admin")


def test_account_locks_after_five_failures_until_time_passes_or_reset(db):
    accounts.add_user("ann", "outreach", PW, now=T0)
    for _ in range(4):
        assert accounts.authenticate("ann", "nope", now=T0)[1] == "Wrong user name or password."
    acc, msg = accounts.authenticate("ann", "nope", now=T0)
    assert acc is None and msg.startswith("Account locked after 5 failures")
    # even the right password is refused while locked
    acc, msg = accounts.authenticate("ann", PW, now=T0 + pd.Timedelta(minutes=14))
    assert acc is None and "try again in 1 min" in msg
    assert accounts.authenticate("ann", PW, now=T0 + pd.Timedelta(minutes=15))[0] is not None
    for _ in range(5):
        accounts.authenticate("ann", "nope", now=T0)
    accounts.reset_password("ann", PW)  # an admin reset unlocks
    assert accounts.authenticate("ann", PW, now=T0)[0] is not None


def test_audit_is_a_hash_chain(db):
    assert audit.record("ann", "outreach", "view", "page:Cases", 3, now=T0) == 0
    assert audit.record("ann", "outreach", "export", "cases.csv", 7, now=T0) == 1
    log = audit.read()
    assert log[["seq", "username", "action", "what", "n_records"]].values.tolist() == [
        [0, "ann", "view", "page:Cases", 3], [1, "ann", "export", "cases.csv", 7]]
    assert audit.verify()
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE audit SET n_records = 1 WHERE seq = 0")
    assert not audit.verify()


def test_cli_users(db, monkeypatch, capsys):
    from cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert main(["users", "add", "ann", "--role", "admin", "--password-stdin"]) == 0
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "ann" in out and "admin" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "bob", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    assert main(["users", "disable", "ann"]) == 0
    assert accounts.authenticate("ann", PW)[0] is None
    monkeypatch.setattr("sys.stdin", io.StringIO("brand new password\n"))
    assert main(["users", "reset", "ann", "--password-stdin"]) == 0
    assert accounts.authenticate("ann", "brand new password")[0] is not None
    assert main(["users", "disable", "nobody"]) == 2


# ------------------------------------------------------------------ dashboard
def login(at, user: str, password: str = PW):
    at.sidebar.text_input(key="login_user").input(user)
    at.sidebar.text_input(key="login_pw").input(password)
    at.sidebar.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_viewer_partner_outreach_admin_see_their_tiers_and_pages(db):
    for name, role in [("vic", "viewer"), ("pat", "partner"), ("olga", "outreach"),
                       ("adam", "admin")]:
        accounts.add_user(name, role, PW)
    expect = {"vic": ("public", False, False), "pat": ("partner", False, False),
              "olga": ("restricted", True, False), "adam": ("restricted", True, True)}
    for name, (tier, cases, admin) in expect.items():
        at = login(run_page(), name)
        assert at.session_state["tier"] == tier and at.session_state["user"] == name
        assert any(f"Signed in as {name}" in s.value for s in at.sidebar.success)
        for page, allowed in (("cases", cases), ("admin", admin)):
            if allowed:
                at.switch_page(f"app_pages/team/{page}.py").run()
                assert not at.exception
            else:  # not registered in the navigation: no URL reaches it
                with pytest.raises(ValueError, match="Could not find a navigation page"):
                    at.switch_page(f"app_pages/team/{page}.py")


def test_viewer_cannot_reach_cases_by_url_or_query_parameter(db):
    accounts.add_user("vic", "viewer", PW)
    at = login(run_page(), "vic")
    for q in ({"page": "cases"}, {"page": "team/cases"}, {"case": "C-1"}):
        at.query_params.clear()
        for k, v in q.items():
            at.query_params[k] = v
        at.run()
        assert not at.exception
        assert at.title[0].value != "Follow-up cases"
        assert not any("Follow-up" in t.value for t in at.title)
    # the page itself refuses a viewer even if run directly
    from streamlit.testing.v1 import AppTest

    direct = AppTest.from_file(str(ROOT / "app_pages" / "team" / "cases.py"), default_timeout=60)
    direct.session_state["role"] = "viewer"
    direct.session_state["user"] = "vic"
    direct.run()
    assert any("needs a signed-in outreach or admin" in e.value for e in direct.error)
    assert len(direct.dataframe) == 0


def test_account_lockout_in_the_dashboard(db):
    accounts.add_user("olga", "outreach", PW)
    at = run_page()
    for _ in range(4):
        login(at, "olga", "wrong password")
        assert any("Wrong user name or password" in e.value for e in at.sidebar.error)
    login(at, "olga", "wrong password")
    assert any("Account locked" in e.value for e in at.sidebar.error)
    fresh = login(run_page(), "olga")  # another browser session: the account stays locked
    assert any("Account locked" in e.value for e in fresh.sidebar.error)
    assert fresh.session_state["tier"] != "restricted" if "tier" in fresh.session_state else True


def test_session_expires_after_inactivity(db, monkeypatch):
    import time

    accounts.add_user("olga", "outreach", PW)
    monkeypatch.setenv("GAPMAP_SESSION_IDLE_MIN", "30")
    at = login(run_page(), "olga")
    assert at.session_state["tier"] == "restricted"
    at.session_state["_last_seen"] = time.time() - 29 * 60  # still active
    at.run()
    assert at.session_state["tier"] == "restricted"
    at.session_state["_last_seen"] = time.time() - 31 * 60
    at.run()
    assert at.session_state["tier"] == "public" and "user" not in at.session_state
    assert any("inactivity" in i.value for i in at.sidebar.info)


def test_shared_password_still_works_and_is_audited(db, monkeypatch):
    h = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=4)).decode()
    monkeypatch.setenv("GAPMAP_PASSWORD_HASH", h)
    accounts.add_user("olga", "outreach", PW)
    at = run_page()
    at.sidebar.text_input(key="login_pw").input("correct horse")  # user name left blank
    at.sidebar.button[0].click().run()
    assert at.session_state["tier"] == "restricted"
    log = audit.read()
    assert (log["username"] == "shared-password").all()
    assert {"login", "view"} <= set(log["action"])


def test_every_restricted_page_view_writes_an_audit_row(db):
    accounts.add_user("olga", "outreach", PW)
    at = login(run_page(), "olga")
    assert "page:Overview" in set(audit.read()["what"])  # the landing page, after login
    pages = ["hotspots", "gaps", "siting", "outreach", "briefing", "data", "evaluation",
             "overview"]
    for page in pages:
        path = ROOT / "app_pages" / f"{page}.py"
        if not path.exists():
            continue
        before = len(audit.read())
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        log = audit.read()
        new = log.iloc[before:]
        views = new[new["what"] == f"page:{page.capitalize()}"]
        assert len(views) == 1, (page, new)
        assert (new["username"] == "olga").all()
        assert int(views["n_records"].iloc[0]) > 0
    # a public visitor's views are not audited (nothing restricted is shown)
    n = len(audit.read())
    run_page("outreach")
    assert len(audit.read()) == n


def test_admin_page_lists_users_and_exports_the_audit(db):
    accounts.add_user("adam", "admin", PW)
    at = login(run_page(), "adam")
    at.switch_page("app_pages/team/admin.py").run()
    assert not at.exception
    users = at.dataframe[0].value
    assert users["username"].tolist() == ["adam"] and "pw_hash" not in users.columns
    at.text_input(key="admin_new_user").input("olga")
    at.selectbox(key="admin_new_role").set_value("outreach")
    at.text_input(key="admin_new_pw").input(PW)
    for b in at.button:
        if b.label == "Add user":
            b.click().run()
            break
    assert not at.exception
    assert accounts.list_users()["username"].tolist() == ["adam", "olga"]
    log = audit.read()
    assert "user:add" in set(log["what"]) and "audit" in set(log["what"])


def test_partner_sees_every_public_page_without_small_counts(db):
    from test_public_sweep import check_public_table

    accounts.add_user("pat", "partner", PW)
    at = login(run_page(), "pat")
    assert at.session_state["tier"] == "partner"
    for page in ["overview", "hotspots", "gaps", "siting", "outreach", "briefing", "data",
                 "evaluation"]:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for i, df in enumerate(at.dataframe):
            check_public_table(df.value, f"{page} table {i}")
    assert audit.read()["action"].tolist() == ["login"]  # nothing restricted was viewed
