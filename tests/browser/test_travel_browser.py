"""Gaps and Siting in walk mode in a real headless Chromium (issue 11): the reach outlines
along the streets are drawn (their colours appear on the map only in walk mode)."""

from __future__ import annotations

import io
import time

import pytest

from layers.deck_travel import REACH_COLORS
from tests.browser.test_dashboard_browser import _idle, _open

pytestmark = pytest.mark.browser


def _img(png: bytes):
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(png), format="png")[..., :3]


def _changed(a: bytes, b: bytes) -> int:
    """Pixels that differ between two screenshots of the map."""
    import numpy as np

    x, y = _img(a), _img(b)
    if x.shape != y.shape:
        return x.shape[0] * x.shape[1]
    return int((np.abs(x - y).max(axis=2) > 0.08).sum())


def _hue(png: bytes, rgb) -> int:
    """Pixels whose colour leans towards the outline colour (green or purple channel order)."""
    img = _img(png)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    if rgb == REACH_COLORS["existing"]:
        return int(((g - r > 0.12) & (g - b > 0.12)).sum())
    return int(((b - g > 0.12) & (r - g > 0.05)).sum())


def _chart(page, timeout: float = 25.0, stable: float = 1.0) -> bytes:
    """The map's screenshot once it has stopped changing (WebGL needs a moment to draw)."""
    from playwright.sync_api import Error

    chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
    deadline = time.monotonic() + timeout

    def shot() -> bytes:
        while True:  # the element is replaced while Streamlit re-renders: locate it again
            try:
                chart.scroll_into_view_if_needed()
                page.locator('[data-testid="stDeckGlJsonChart"] canvas').first.wait_for(
                    state="visible")
                return chart.screenshot()
            except Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.25)

    png = shot()
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        nxt = shot()
        if _changed(png, nxt) == 0:
            if time.monotonic() - since > stable:
                return nxt
        else:
            since = time.monotonic()
        png = nxt
    return png


@pytest.mark.parametrize("page_name,colour", [("gaps", "existing"), ("siting", "existing")])
def test_walk_mode_draws_reach_outlines(app_page, app_url, shots, page_name, colour):
    rgb = REACH_COLORS[colour]
    _open(app_page, app_url, page_name)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    before = _chart(app_page)
    radio = app_page.locator('[data-testid="stRadio"]', has_text="Walking time").first
    radio.get_by_text("Walking time").click()
    _idle(app_page)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    after = _chart(app_page)
    app_page.screenshot(path=str(shots / f"{page_name}_walk.png"), full_page=True)
    changed = _changed(before, after)
    assert changed > 300, f"the map did not change in walk mode ({changed} pixels)"
    gain = _hue(after, rgb) - _hue(before, rgb)
    assert gain > 100, f"no reach outline colour drawn ({gain} more pixels)"
    assert app_page.get_by_text("walking time on streets").count() > 0
