"""The Areas page in a real headless Chromium with every request outside the app blocked:
area and place names are drawn on the map (text pixels appear with the names on and vanish
with them off), the table and its CSV download come through the public gate."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest

from tests.browser.conftest import block_outside
from tests.browser.test_dashboard_browser import _idle

pytestmark = pytest.mark.browser


def _dark_pixels(png: bytes) -> int:
    """Near-black pixels: the names' text (rgb 20/60); outlines and fills are lighter."""
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    return int((img.max(axis=2) < 0.16).sum())


def _chart_png(page, want_more_than: int | None = None, timeout: float = 25.0) -> bytes:
    chart = page.locator('[data-testid="stDeckGlJsonChart"]').first
    chart.scroll_into_view_if_needed()
    page.locator('[data-testid="stDeckGlJsonChart"] canvas').first.wait_for(state="visible")
    deadline = time.monotonic() + timeout
    png = chart.screenshot()
    while time.monotonic() < deadline:  # WebGL (SwiftShader) and the font atlas need a moment
        png = chart.screenshot()
        dark = _dark_pixels(png)
        if want_more_than is None or dark > want_more_than:
            break
        time.sleep(0.3)
    return png


def test_area_names_drawn_offline(app_page, app_url, shots):
    outside = block_outside(app_page, app_url)
    app_page.goto(f"{app_url}/areas")
    _idle(app_page)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    with_names = _chart_png(app_page, want_more_than=400)
    app_page.screenshot(path=str(shots / "areas.png"), full_page=True)
    dark_on = _dark_pixels(with_names)
    assert dark_on > 400, f"no names drawn ({dark_on} dark pixels)"

    app_page.get_by_text("Names", exact=True).first.click()
    _idle(app_page)
    without = _chart_png(app_page)
    dark_off = _dark_pixels(without)
    assert dark_off < dark_on / 3, (dark_on, dark_off)  # the dark pixels were the names

    # the public table: no count 1-9; the CSV download is the shown table
    with app_page.expect_download() as dl:
        app_page.get_by_text("Download table (CSV)").click()
    csv = pd.read_csv(dl.value.path())
    assert {"area", "count", "rate_per_100k", "suppressed"} <= set(csv.columns)
    for c in [c for c in csv.columns if c == "count" or c.startswith(("n_", "count_"))]:
        v = pd.to_numeric(csv[c], errors="coerce").dropna()
        assert not v.between(1, 9).any(), c
    assert "Northgate Downtown" in set(csv["area"])
    # nothing outside the deployment is fetched (conftest: GAPMAP_BASEMAP=off; local favicon)
    assert not outside, sorted(set(outside))
