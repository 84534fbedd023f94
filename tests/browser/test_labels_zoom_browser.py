"""Names dropped for space at the first view come back when the user zooms in, in a real
headless Chromium (Streamlit's own deck.gl, its ``CollisionFilterExtension``, no network).

Proof by pixels: the Areas page map is screenshot with the ``names-on-zoom`` layer drawn and
with it switched off (the page's deck.gl instance, ``visible: false`` on a clone of that one
layer), at the first view, after zooming in with the mouse wheel and after zooming back out.
The two screenshots are the same at the first view and again after zooming out (the thinned
first view of before); zoomed in they differ, and only inside the boxes of dropped names, which
overlap neither each other nor a kept label. Screenshots: ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from layers.deck_areas import NAMES_ON_ZOOM
from tests.browser.conftest import FIND_DECK_JS
from tests.browser.test_dashboard_browser import _idle
from tests.browser.test_offline_maps_browser import _deck, _rgb

pytestmark = pytest.mark.browser

#: The chart's deck.gl instance (as tests/browser/test_offline_maps_browser.py finds it):
#: its zoom, and the ``names-on-zoom`` layer switched on or off (``arg``: true / false / null
#: to only read), with every label row's pixel position.
_PROBE_JS = """(show) => {
  const canvas = document.querySelector('[data-testid="stDeckGlJsonChart"] canvas');
""" + FIND_DECK_JS + """  if (!deck) return null;
  if (show !== null) {
    deck.setProps({layers: deck.props.layers.map(
      l => l && l.id === '%s' ? l.clone({visible: show}) : l)});
  }
  const vp = deck.getViewports()[0];
  const labels = [];
  for (const l of deck.layerManager.getLayers().filter(l => !l.parent)) {
    if (l.constructor.layerName !== 'TextLayer') continue;
    for (const r of (Array.isArray(l.props.data) ? l.props.data : [])) {
      if (r.w === undefined) continue;  // the kept labels' blocks in names-on-zoom
      const [x, y] = vp.project(r.position);
      labels.push({layer: l.id, name: r.name, x, y, w: r.w, h: r.h, cp: r.cp});
    }
  }
  return {zoom: vp.zoom, w: vp.width, h: vp.height, labels,
          redraw: !!deck.needsRedraw({clearRedrawFlags: false}),
          loaded: deck.layerManager.getLayers().every(l => l.isLoaded)};
}""" % NAMES_ON_ZOOM


def _settled_png(page, box: dict, timeout: float = 40.0) -> np.ndarray:
    """The canvas once drawn: deck has nothing to redraw and two screenshots 0.5 s apart are
    the same (SwiftShader WebGL and the font atlas need a moment)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        info = page.evaluate(_PROBE_JS, None)
        img = _rgb(page.screenshot(clip=box))
        if (info and info["loaded"] and not info["redraw"] and last is not None
                and np.array_equal(img, last)) or time.monotonic() > deadline:
            return img
        last = img
        time.sleep(0.5)


def _on_off(page, box: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """Screenshots with the names-on-zoom layer off and on, and the probe (labels on)."""
    page.evaluate(_PROBE_JS, False)
    off = _settled_png(page, box)
    info = page.evaluate(_PROBE_JS, True)
    on = _settled_png(page, box)
    return off, on, info


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a - b).max(axis=2) > 0.1


def _in_box(mask: np.ndarray, lab: dict, grow: float = 3.0) -> int:
    x0, x1 = int(lab["x"] - lab["w"] / 2 - grow), int(lab["x"] + lab["w"] / 2 + grow) + 1
    y0, y1 = int(lab["y"] - lab["h"] / 2 - grow), int(lab["y"] + lab["h"] / 2 + grow) + 1
    return int(mask[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)].sum())


def _shown(changed: np.ndarray, dropped: list[dict]) -> list[dict]:
    """The dropped names drawn: most important first, a name is drawn when its box holds
    changed pixels (over 5% of it) that no box of a name already found drawn explains (two
    names dropped at one place, one drawn: the other's box overlaps its text)."""
    left = changed.copy()
    shown = []
    for lab in sorted(dropped, key=lambda r: -r["cp"]):
        if _in_box(left, lab) > 0.05 * lab["w"] * lab["h"]:
            shown.append(lab)
            _clear(left, lab)
    return shown


def _clear(mask: np.ndarray, lab: dict, grow: float = 4.0) -> None:
    """``mask`` set to False in the label's box (grown by ``grow`` px: the halo)."""
    dx, dy = lab["w"] / 2 + grow, lab["h"] / 2 + grow
    x0, x1 = max(int(lab["x"] - dx), 0), max(int(lab["x"] + dx) + 1, 0)
    y0, y1 = max(int(lab["y"] - dy), 0), max(int(lab["y"] + dy) + 1, 0)
    mask[y0:y1, x0:x1] = False


def _overlap(a: dict, b: dict) -> bool:
    return abs(a["x"] - b["x"]) < (a["w"] + b["w"]) / 2 and abs(a["y"] - b["y"]) < (
        a["h"] + b["h"]) / 2


def _wheel(page, box: dict, delta: float, clicks: int) -> dict:
    """``clicks`` mouse-wheel steps of ``delta`` over the map's centre (negative: zoom in)."""
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(clicks):
        before = page.evaluate(_PROBE_JS, None)["zoom"]
        page.mouse.wheel(0, delta)
        deadline = time.monotonic() + 10
        while page.evaluate(_PROBE_JS, None)["zoom"] == before and time.monotonic() < deadline:
            time.sleep(0.1)
    return page.evaluate(_PROBE_JS, None)


def test_dropped_names_come_back_when_zooming_in(app_page, app_url, shots):
    app_page.goto(f"{app_url}/areas")
    _idle(app_page)
    first = _deck(app_page)
    assert any(lyr[0] == NAMES_ON_ZOOM and lyr[2] > 0 for lyr in first["layers"]), \
        first["layers"]  # the sample's first view drops names: they wait in names-on-zoom
    canvas = app_page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    canvas.scroll_into_view_if_needed()
    b = canvas.bounding_box()
    box = {"x": b["x"], "y": b["y"], "width": first["w"], "height": first["h"]}

    # first view: the names-on-zoom layer draws nothing (the thinned view of before)
    off0, on0, info0 = _on_off(app_page, box)
    z0 = info0["zoom"]
    (shots / "labels_zoom_first_view.png").write_bytes(_png(on0))
    (shots / "labels_zoom_first_view_names_off.png").write_bytes(_png(off0))
    assert int(_changed(off0, on0).sum()) <= 20, int(_changed(off0, on0).sum())

    # zoomed in (two wheel steps, over one level): dropped names are drawn where they fit
    zoomed = _wheel(app_page, box, -100, 2)["zoom"]
    assert zoomed > z0 + 1, (z0, zoomed)
    off1, on1, info1 = _on_off(app_page, box)
    (shots / "labels_zoom_in_names_on.png").write_bytes(_png(on1))
    (shots / "labels_zoom_in_names_off.png").write_bytes(_png(off1))
    changed = _changed(off1, on1)
    dropped = [lab for lab in info1["labels"] if lab["layer"] == NAMES_ON_ZOOM]
    kept = [lab for lab in info1["labels"] if lab["layer"] != NAMES_ON_ZOOM]
    shown = _shown(changed, dropped)
    names = sorted(lab["name"] for lab in shown)
    assert len(shown) >= 3, (names, int(changed.sum()), z0, zoomed)
    # every changed pixel belongs to a dropped name's box (its text and halo)
    outside = changed.copy()
    for lab in dropped:
        _clear(outside, lab)
    assert int(outside.sum()) <= 20, int(outside.sum())
    # and none of the names that came back overlaps a kept label or another one
    for i, a in enumerate(shown):
        for other in kept + shown[:i]:
            if _inside(a, on1) and _inside(other, on1):
                assert not _overlap(a, other), (a["name"], other["name"])

    # zoomed back out to the first view: hidden again
    assert abs(_wheel(app_page, box, 100, 2)["zoom"] - z0) < 1e-3
    off2, on2, _ = _on_off(app_page, box)
    assert int(_changed(off2, on2).sum()) <= 20, int(_changed(off2, on2).sum())


def _inside(lab: dict, img: np.ndarray) -> bool:
    return 0 <= lab["x"] < img.shape[1] and 0 <= lab["y"] < img.shape[0]


def _png(img: np.ndarray) -> bytes:
    import io

    import matplotlib.image as mpimg

    buf = io.BytesIO()
    mpimg.imsave(buf, img, format="png")
    return buf.getvalue()
