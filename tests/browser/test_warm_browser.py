"""``make run``'s server (``python -m app_pages._warm``: the dashboard plus the cache warm-up) in
a real Chromium: once the warm-up has reported, a new visitor's Overview shows exactly what
the plain ``streamlit run dashboard.py`` server (the session fixture ``app_url``) shows."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading

import pytest

from tests.browser.conftest import ROOT, _free_port, _healthy
from tests.browser.test_dashboard_browser import _open

pytestmark = pytest.mark.browser


def _page_text(page) -> dict:
    """Every metric (label -> value) and the sidebar's data line of the open Overview."""
    metrics = page.locator('[data-testid="stMetric"]')
    got = {}
    for i in range(metrics.count()):
        m = metrics.nth(i)
        label = m.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        got[label] = m.locator('[data-testid="stMetricValue"]').inner_text().strip()
    got["data"] = page.locator('[data-testid="stSidebar"]').get_by_text("Data:").first \
        .inner_text().strip()
    return got


@pytest.fixture(scope="module")
def warm_url(chromium_path):
    """The launcher on the bundled sample (same environment as ``app_url``), yielded once its
    warm-up has reported (the report is read from the server's output: a condition)."""
    env = dict(os.environ)
    env.pop("GAPMAP_STORE", None)
    env["GAPMAP_BASEMAP"] = "off"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_pages._warm", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        seen: list[str] = []
        while not (seen and seen[-1].startswith("gapmap:")):
            seen.append(lines.get(timeout=120))
        assert seen[-1].startswith("gapmap: Overview caches warm in "), seen
        assert _healthy(url)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server we started, and only it
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_warm_server_overview_equals_plain_server(app_page, app_url, warm_url, chromium):
    _open(app_page, warm_url)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    warm = _page_text(app_page)
    assert warm.get("Overdoses, 364 d", "").replace(",", "").isdigit(), warm
    other = chromium.new_context(viewport={"width": 1400, "height": 1600})
    try:
        page = other.new_page()
        _open(page, app_url)
        assert _page_text(page) == warm
    finally:
        other.close()
