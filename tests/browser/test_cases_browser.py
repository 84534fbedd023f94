"""The follow-up queue in a real browser: an outreach worker signs in and records a contact;
a viewer finds no Cases page, by menu or URL. Own server (own cases database with accounts)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.browser.conftest import ROOT, dashboard_server
from tests.browser.test_dashboard_browser import _idle

pytestmark = pytest.mark.browser

PW = "browser outreach password"


@pytest.fixture(scope="module")
def cases_app(chromium_path, tmp_path_factory):
    """Dashboard on the bundled sample with an operations database holding two accounts."""
    folder = tmp_path_factory.mktemp("cases_app")
    db = folder / "ops.duckdb"
    env = dict(os.environ)
    env["GAPMAP_CASES_DB"] = str(db)
    for var in ("GAPMAP_STORE", "GAPMAP_PASSWORD_HASH", "GAPMAP_CASES_KEY", "GAPMAP_INCIDENTS"):
        env.pop(var, None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    make = ("from cases import accounts; accounts.add_user('olga', 'outreach', %r); "
            "accounts.add_user('vic', 'viewer', %r)" % (PW, PW))
    subprocess.run([sys.executable, "-c", make], cwd=ROOT, env=env, check=True)
    with dashboard_server(env, folder / "server.log") as url:
        yield url, db, env


def _login(page, url: str, user: str) -> None:
    page.goto(url)
    _idle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_label("User name").fill(user)
    sidebar.get_by_label("Password for the restricted tier").fill(PW)
    sidebar.get_by_role("button", name="Log in").click()
    sidebar.get_by_text(f"Signed in as {user}", exact=False).wait_for(timeout=30_000)
    _idle(page)


def _contacts(env) -> list:
    code = ("from cases import queue; t = queue.load_all()['contacts']; "
            "print(len(t), ','.join(sorted(set(t['worker']))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return out


def test_outreach_worker_records_a_contact(cases_app, app_page, shots):
    url, db, env = cases_app
    _login(app_page, url, "olga")
    app_page.locator('[data-testid="stSidebarNav"]').get_by_text("Cases", exact=True).click()
    app_page.get_by_role("heading", name="Follow-up cases").wait_for(timeout=45_000)
    _idle(app_page)
    before = int(_contacts(env)[0])
    app_page.get_by_role("button", name="Record attempt").click()
    # the run ends when the new attempt is in the case's contact table
    deadline = time.monotonic() + 45
    while int(_contacts(env)[0]) == before:
        assert time.monotonic() < deadline, "the contact attempt was not recorded"
        time.sleep(0.2)
    app_page.wait_for_function(  # the rerun after the write has replaced every stale element
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0",
        timeout=45_000)
    _idle(app_page)
    n, workers = _contacts(env)
    assert int(n) == before + 1 and "olga" in workers.split(",")
    app_page.screenshot(path=str(shots / "cases_outreach.png"), full_page=True)


def test_viewer_has_no_cases_page(cases_app, app_page):
    url, _, _ = cases_app
    _login(app_page, url, "vic")
    nav = app_page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Cases" not in nav and "Admin" not in nav and "Evaluation" in nav
    app_page.goto(f"{url}/cases")  # a new session by URL: not signed in, page not registered
    _idle(app_page)
    assert "Follow-up cases" not in app_page.locator('[data-testid="stMain"]').inner_text()
