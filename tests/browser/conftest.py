"""Real-browser fixtures: `streamlit run dashboard.py` on a free port + Debian's Chromium.

Never downloads a browser: Playwright drives ``/usr/bin/chromium`` through ``executable_path``.
Without chromium the tests skip locally and fail in CI (``GAPMAP_REQUIRE_BROWSER=1``), through
:func:`tests.conftest.require_browser`. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from tests.conftest import require_browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "browser-test-password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_browser()


@contextlib.contextmanager
def dashboard_server(env: dict, log: Path):
    """``streamlit run dashboard.py`` on a free loopback port with ``env``; yields the URL once
    /_stcore/health answers (a condition, not a fixed wait) and stops the server after."""
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy after 60 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server we started, and only it
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def app_url(chromium_path, tmp_path_factory):
    """Start the dashboard on the bundled sample with the basemap off, wait for /_stcore/health,
    stop it at the end (test_offline_maps_browser.py starts one with the default basemap)."""
    env = dict(os.environ)
    env["GAPMAP_PASSWORD_HASH"] = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    env.pop("GAPMAP_STORE", None)
    env["GAPMAP_BASEMAP"] = "off"  # no basemap: nothing outside the app is requested
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with dashboard_server(env, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def chromium(chromium_path):
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        pw.stop()


@pytest.fixture
def app_page(chromium):
    """A fresh browser tab (own session) with downloads enabled."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1600},
                                   accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


def block_outside(page, app_url: str) -> list[str]:
    """Abort every request of ``page`` that leaves the app; the list fills with their URLs
    (a deployment with no network, and a record of what the page tried to fetch)."""
    from urllib.parse import urlparse

    app_host = urlparse(app_url).netloc
    outside: list[str] = []

    def block(route):
        if urlparse(route.request.url).netloc != app_host:
            outside.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", block)
    return outside


#: JavaScript statements that find the deck.gl instance behind ``canvas`` (the chart's canvas,
#: a variable the including function defines): React fiber → DeckGL's ref, set as ``deck``
#: (null when not found). Pasted into the map tests' page functions.
FIND_DECK_JS = """  const isDeck = (o) => o && typeof o === 'object' && o.layerManager
                        && typeof o.getViewports === 'function';
  const key = canvas && Object.keys(canvas).find(k => k.startsWith('__reactFiber$'));
  let deck = null;
  for (let f = key && canvas[key], d = 0; f && d < 60 && !deck; d++, f = f.return) {
    for (let h = f.memoizedState, i = 0; h && i < 50 && !deck; i++, h = h.next) {
      const v = h.memoizedState;
      for (const c of [v, v && v.current, v && v.current && v.current.deck, v && v.deck]) {
        if (isDeck(c)) { deck = c; break; }
      }
    }
  }
"""
