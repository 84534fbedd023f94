"""Maps in a real headless Chromium with no network: the default basemap (CARTO Positron) is
requested but unreachable (every request outside the app is aborted), and still every map page
draws its cells, roads and names. Proof by pixels at the places deck.gl itself puts them: the
test reads the page's deck instance (layers, data, viewport) and looks at the screenshot where
each kept label and each road segment must be. With ``GAPMAP_BASEMAP=off`` nothing outside the
app is requested at all. Screenshots: ``test-artifacts/screenshots/offline_*.png``."""

from __future__ import annotations

import io
import json
import os
import time
from urllib.parse import urlparse

import bcrypt
import numpy as np
import pytest

from layers.basemap import DEFAULT_BASEMAP
from tests.browser.conftest import (
    FIND_DECK_JS,
    PASSWORD,
    ROOT,
    block_outside,
    dashboard_server,
)
from tests.browser.test_dashboard_browser import _coloured_pixels, _hot_pixels, _idle

pytestmark = pytest.mark.browser

#: map pages and their titles (the Overview's map shows the sample's alert cells)
MAP_PAGES = {"": "Overview", "hotspots": "Hotspots", "gaps": "Gaps", "siting": "Siting",
             "outreach": "Outreach", "areas": "Areas"}

#: Finds the deck.gl instance behind the chart's canvas (React fiber → DeckGL's ref) and returns
#: what it draws: viewport size, layers (id, type, rows, loaded), every label with its pixel
#: position (deck's own projection) and box, and road segment midpoints in pixels.
_DECK_JS = """() => {
  const canvas = document.querySelector('[data-testid="stDeckGlJsonChart"] canvas');
  if (!canvas) return null;
""" + FIND_DECK_JS + """  if (!deck || !deck.layerManager) return null;
  const vp = deck.getViewports()[0];
  if (!vp) return null;
  const top = deck.layerManager.getLayers().filter(l => !l.parent);
  const labels = [], roads = [];
  for (const l of top) {
    const data = Array.isArray(l.props.data) ? l.props.data : [];
    if (l.constructor.layerName === 'TextLayer') {
      for (const r of data) {
        const [x, y] = vp.project(r.position);
        labels.push({layer: l.id, name: r.name, x, y, w: r.w, h: r.h});
      }
    } else if (l.id === 'roads') {
      for (const r of data) {
        for (let i = 1; i < r.path.length; i++) {
          const a = r.path[i - 1], b = r.path[i];
          const [x, y] = vp.project([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2]);
          roads.push([x, y]);
        }
      }
    }
  }
  return {w: vp.width, h: vp.height, labels, roads,
          layers: top.map(l => [l.id, l.constructor.layerName,
                                Array.isArray(l.props.data) ? l.props.data.length : -1,
                                l.isLoaded])};
}"""


def _rgb(png: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(png), format="png")[..., :3]


def _hot(img: np.ndarray) -> bool:
    """Enough hot-spot red (as :func:`_hot_pixels`) for the cells to have been drawn."""
    return int(((img[..., 0] > 0.55) & (img[..., 1] < 0.35) & (img[..., 2] < 0.35)).sum()) > 300


def _inside(img: np.ndarray, x: float, y: float) -> bool:
    return 0 <= x < img.shape[1] and 0 <= y < img.shape[0]


def _label_ink(img: np.ndarray, lab: dict) -> int:
    """Dark text pixels (rgb ≤ 64: the names' colours 20 and 55; outlines and cells are lighter)
    in the label's box."""
    x0, x1 = int(lab["x"] - lab["w"] / 2), int(lab["x"] + lab["w"] / 2) + 1
    y0, y1 = int(lab["y"] - lab["h"] / 2), int(lab["y"] + lab["h"] / 2) + 1
    box = img[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)]
    return int((box.max(axis=2) <= 64 / 255).sum()) if box.size else 0


def _readable(img: np.ndarray, labels: list[dict]) -> list[dict]:
    """Labels inside the map whose box holds ink for about 5% of its area (bold text of this
    size fills ~20-30%; an empty box none)."""
    return [lab for lab in labels if _inside(img, lab["x"], lab["y"])
            and _label_ink(img, lab) >= max(10, 0.05 * lab["w"] * lab["h"])]


def _darker(img: np.ndarray, pts: np.ndarray, than: np.ndarray) -> float:
    """Share of points ``pts`` darker (darkest pixel within one pixel, by 0.05) than the
    matching points ``than``: roads (grey, drawn over cells and fills) darken the map under
    them, whatever the colour there."""
    lum = img.mean(axis=2)

    def darkest(x, y):
        xi, yi = int(round(x)), int(round(y))
        return lum[max(yi - 1, 0):yi + 2, max(xi - 1, 0):xi + 2].min()

    if len(pts) == 0:
        return 0.0
    pairs = zip(pts, than, strict=True)
    return float(np.mean([darkest(*p) < darkest(*q) - 0.05 for p, q in pairs]))


def _deck(page, timeout: float = 40.0) -> dict:
    """The drawn deck's description, once every layer is loaded."""
    page.wait_for_selector('[data-testid="stDeckGlJsonChart"] canvas', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = page.evaluate(_DECK_JS)
        if info and info["layers"] and all(lyr[3] for lyr in info["layers"]):
            return info
        time.sleep(0.3)
    raise AssertionError(f"the deck did not load: {info}")


def _map_png(page, info: dict, ok, timeout: float = 30.0) -> bytes:
    """A screenshot of the deck's canvas (its pixels = deck's viewport pixels), retaken until
    ``ok(img)`` holds (WebGL in SwiftShader and the font atlas need a moment) or time is up."""
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    canvas.scroll_into_view_if_needed()
    deadline = time.monotonic() + timeout
    while True:
        box = canvas.bounding_box()
        png = page.screenshot(clip={"x": box["x"], "y": box["y"], "width": info["w"],
                                    "height": info["h"]})
        if ok(_rgb(png)) or time.monotonic() > deadline:
            return png
        time.sleep(0.4)


@pytest.fixture(scope="module")
def default_url(chromium_path, tmp_path_factory):
    """The dashboard on the bundled sample with the basemap left at its default."""
    env = dict(os.environ)
    env["GAPMAP_PASSWORD_HASH"] = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    env.pop("GAPMAP_STORE", None)
    env.pop("GAPMAP_BASEMAP", None)  # the default: CARTO Positron
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    with dashboard_server(env, tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


def test_default_basemap_requested_unreachable_and_the_map_still_draws(app_page, default_url,
                                                                       shots):
    outside = block_outside(app_page, default_url)
    app_page.goto(f"{default_url}/hotspots")
    _idle(app_page)
    info = _deck(app_page)
    png = _map_png(app_page, info, _hot)
    (shots / "offline_basemap_unreachable_hotspots_map.png").write_bytes(png)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    assert app_page.locator('[data-testid="stAlert"]', has_text="basemap").count() == 0
    # the basemap is on by default: its style was requested, and only its host was asked
    assert DEFAULT_BASEMAP in outside, outside
    hosts = {urlparse(u).hostname for u in outside}
    assert hosts == {"basemaps.cartocdn.com"}, hosts
    # no blank map: the cells (hot spots in RdBu red) and the context are drawn
    assert _hot_pixels(png) > 300 and _coloured_pixels(png) > 1500


@pytest.mark.parametrize("name", list(MAP_PAGES), ids=[p or "overview" for p in MAP_PAGES])
def test_map_pages_draw_names_and_roads_withblock_outside(app_page, default_url, shots, name):
    outside = block_outside(app_page, default_url)
    app_page.goto(f"{default_url}/{name}")
    _idle(app_page)
    title = app_page.locator('[data-testid="stMain"] h1').first.inner_text()
    assert MAP_PAGES[name].lower() in title.lower(), title
    info = _deck(app_page)
    # the context's names (data labels such as the siting order numbers are drawn whatever)
    labels = [lab for lab in info["labels"] if lab["layer"] in ("area-names", "places-names")]
    area_names = [lab for lab in labels if lab["layer"] == "area-names"]
    place_names = [lab for lab in labels if lab["layer"] == "places-names"]
    assert len(area_names) >= 8 and len(place_names) >= 2, info["layers"]
    assert len(info["roads"]) >= 30, info["layers"]

    def drawn(img) -> bool:
        return len(_readable(img, labels)) >= 0.9 * len(labels)

    png = _map_png(app_page, info, drawn)
    tag = name or "overview"
    (shots / f"offline_{tag}_map.png").write_bytes(png)
    (shots / f"offline_{tag}_map.json").write_text(json.dumps(info))  # what deck.gl drew where
    app_page.screenshot(path=str(shots / f"offline_{tag}.png"), full_page=True)
    img = _rgb(png)
    assert app_page.locator('[data-testid="stException"]').count() == 0
    # names: ink where deck.gl put each kept label (≥ 90% of them; one may sit under a marker)
    ok = _readable(img, labels)
    missing = sorted({lab["name"] for lab in labels} - {lab["name"] for lab in ok})
    assert len(ok) >= 0.9 * len(labels), f"{tag}: names without ink: {missing}"
    assert any(lab["layer"] == "places-names" for lab in ok), f"{tag}: no place name drawn"
    # the thinned labels do not overlap (so each can be read)
    for i, a in enumerate(labels):
        for b in labels[:i]:
            assert (abs(a["x"] - b["x"]) >= (a["w"] + b["w"]) / 2
                    or abs(a["y"] - b["y"]) >= (a["h"] + b["h"]) / 2), (a["name"], b["name"])
    # roads: the segments are darker than points 5 px beside them (down-right), far more often
    # than points beside them are darker than points 10 px left of those (a control)
    d = np.array([5.0, 5.0])
    roads = np.array(info["roads"], dtype=float).reshape(-1, 2)
    pts = np.array([p for p in roads if _inside(img, *(p - d)) and _inside(img, *(p + d))
                    and _inside(img, p[0] - 5, p[1] + 5)])
    on = _darker(img, pts, pts + d)
    control = _darker(img, pts + d, pts + np.array([-5.0, 5.0]))
    assert on >= 0.5 and on >= 2 * control, f"{tag}: roads darker {on:.2f}, control {control:.2f}"
    # the only requests that left the app were for the basemap (aborted here)
    assert {urlparse(u).hostname for u in outside} <= {"basemaps.cartocdn.com"}


def test_basemap_off_requests_nothing_outside(app_page, app_url, shots):
    """The session server runs with GAPMAP_BASEMAP=off (tests/browser/conftest.py)."""
    outside = block_outside(app_page, app_url)
    app_page.goto(f"{app_url}/hotspots")
    _idle(app_page)
    info = _deck(app_page)
    png = _map_png(app_page, info, _hot)
    (shots / "offline_basemap_off_hotspots_map.png").write_bytes(png)
    assert _hot_pixels(png) > 300
    assert not outside, sorted(set(outside))
