"""The Hotspots page's cell history in a real headless Chromium: a click on a hot cell of the map
draws the history's bars (app_pages._linechart.bar_chart: st.bar_chart's Vega-Lite spec, drawn
without altair). Screenshot: ``test-artifacts/screenshots/hotspots_cell_history.png``."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from tests.browser.test_dashboard_browser import _idle

pytestmark = pytest.mark.browser

CHART = '[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"]'


def _rgb(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(png), format="png")[..., :3]


def _bar_pixels(img: np.ndarray) -> int:
    """Pixels in Streamlit's first chart colour (blue, about #0068C9)."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    return int(((r < 0.15) & (g > 0.3) & (g < 0.5) & (b > 0.7)).sum())


def test_clicking_a_hot_cell_draws_its_history_bars(app_page, app_url, shots):
    from scipy.ndimage import uniform_filter

    app_page.goto(f"{app_url}/hotspots")
    _idle(app_page)
    deck = app_page.locator('[data-testid="stDeckGlJsonChart"]').first
    deck.scroll_into_view_if_needed()
    hot, deadline = np.zeros((1, 1), bool), time.monotonic() + 40
    while time.monotonic() < deadline:  # WebGL (SwiftShader) needs a moment to draw
        img = _rgb(deck.screenshot())
        hot = (img[..., 0] > 0.55) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)
        if hot.sum() > 300:
            break
        time.sleep(0.5)
    assert hot.sum() > 300, "the map drew no hot cells to click"
    # the middle of the most solidly red patch (inside a cell, not on an outline)
    y, x = np.unravel_index(np.argmax(uniform_filter(hot.astype(float), 9)), hot.shape)
    box = deck.bounding_box()
    px, py = box["x"] + x * box["width"] / hot.shape[1], box["y"] + y * box["height"] / hot.shape[0]
    title = app_page.locator("h3", has_text="Cell ").first
    deadline = time.monotonic() + 60
    while not title.is_visible():  # deck.gl picks only once it is ready: click until selected
        assert time.monotonic() < deadline, "clicking the hot cell selected nothing"
        app_page.mouse.move(px, py)
        app_page.mouse.click(px, py)
        try:
            title.wait_for(timeout=5_000)
        except Exception:  # noqa: BLE001 (playwright's timeout: click again)
            pass
    _idle(app_page)
    chart = app_page.locator(CHART).first
    chart.scroll_into_view_if_needed()
    bars, deadline = 0, time.monotonic() + 30
    while time.monotonic() < deadline:  # Vega draws after the element mounts
        png = chart.screenshot()
        bars = _bar_pixels(_rgb(png))
        if bars > 200:
            break
        time.sleep(0.5)
    (shots / "hotspots_cell_history.png").write_bytes(png)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    assert bars > 200, f"only {bars} bar pixels in the cell history chart"
