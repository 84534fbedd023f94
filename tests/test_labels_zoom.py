"""Names dropped for space at the first view are handed to deck.gl's CollisionFilterExtension
(layer ``names-on-zoom``), which draws them again when the user zooms in.

The browser behaviour is checked in tests/browser/test_labels_zoom_browser.py; here: the spec
(what Streamlit's deck.gl JSON converter gets), the rows (names, blocks, priorities) and, with
deck.gl's collision rule written out in numpy (a label is drawn when its anchor is outside every
higher-priority box widened by the padding), that no dropped name shows at the first view, that
names shown when zoomed in never overlap another label, and that they do come back.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from data import get_path
from geo.ingest import load_boundary
from geo.labels import configured_geography
from layers import deck
from layers.deck_areas import (
    _EN_SPACE,
    _LABEL_GAP,
    NAMES_ON_ZOOM,
    _mercator_px,
    context_layers,
    names_on_zoom_layer,
    text_layer,
    thin_labels,
)


def _toy():
    """Hand-checkable (as tests/test_deck.py): at zoom 12, 0.001° of longitude ≈ 5.8 px."""
    areas = text_layer(["Area One", "Area Two"], [36.0, 36.0], [-79.8, -79.75], layer_id="a",
                       priority=10, bold=True)
    places = text_layer(["Place Near", "Place Far"], [36.0, 36.2], [-79.801, -79.8],
                        layer_id="p", size=11, color=(55, 55, 55), priority=0, bold=True)
    return areas, places


def test_without_the_placeholder_thin_labels_is_unchanged():
    areas, places = _toy()
    plain = thin_labels([places, areas], 12)
    with_zoom = thin_labels([places, areas, names_on_zoom_layer()], 12)
    assert [lyr.id for lyr in with_zoom] == ["p", "a", NAMES_ON_ZOOM]
    for a, b in zip(plain, with_zoom[:2], strict=True):
        assert json.loads(a.to_json()) == json.loads(b.to_json())
    assert [r["name"] for r in plain[0].data] == ["Place Far"]  # as before


def test_dropped_names_and_blocks_rows():
    areas, places = _toy()
    placeholder = names_on_zoom_layer()
    out = thin_labels([places, areas, placeholder], 12)
    assert placeholder.data == []  # the caller's placeholder is not filled in place
    spec = json.loads(out[2].to_json())
    rows = spec["data"]
    # one dropped name (Place Near, under Area One), then one block per kept label
    assert [r["name"] for r in rows[:1]] == ["Place Near"]
    near = rows[0]
    assert near["size"] == 11 and near["color"] == [55, 55, 55, 255]
    assert near["position"] == places.data[0]["position"] and near["w"] == places.data[0]["w"]
    blocks = rows[1:]
    assert [b["position"] for b in blocks] == [areas.data[0]["position"], areas.data[1]["position"],
                                               places.data[1]["position"]]
    for b, src in zip(blocks, [areas.data[0], areas.data[1], places.data[1]], strict=True):
        assert set(b["name"]) == {_EN_SPACE} and b["color"][3] == 0 and b["cp"] == 999
        n = len(b["name"])  # en spaces: half the size each → a box at least the estimate
        assert n * b["size"] / 2 >= src["w"] > (n - 1) * b["size"] / 2 and b["size"] == src["h"]
    assert near["cp"] <= 999 - 10
    # the spec as Streamlit's deck.gl JSON converter needs it
    assert spec["extensions"] == [{"@@type": "CollisionFilterExtension"}]
    assert spec["getCollisionPriority"] == "@@=cp" and spec["getText"] == "@@=name"
    assert spec["background"] is True and spec["getBackgroundColor"][3] == 0
    assert _EN_SPACE in spec["characterSet"] and "A" in spec["characterSet"]  # not an accessor
    pad = spec["collisionTestProps"]["padding"]
    half = [round(near["w"] / 2 + _LABEL_GAP + 2, 1), round(near["h"] / 2 + _LABEL_GAP + 2, 1)]
    assert pad == half * 2  # half the widest and tallest dropped name, the gap, 2 px fading
    assert spec["fontWeight"] == 700 and spec["pickable"] is False


def test_nothing_dropped_no_layer_and_a_filled_layer_passes_through():
    far = text_layer(["Alone"], [36.0], [-79.8], layer_id="x", priority=10)
    out = thin_labels([far, names_on_zoom_layer()], 12)
    assert [lyr.id for lyr in out] == ["x"]
    areas, places = _toy()
    once = thin_labels([places, areas, names_on_zoom_layer()], 12)
    twice = thin_labels(once, 12)
    assert [json.loads(a.to_json()) for a in once] == [json.loads(b.to_json()) for b in twice]


def test_data_labels_block_names_and_are_never_in_the_layer():
    areas, _ = _toy()
    order = text_layer(["1", "2"], [36.0, 36.0], [-79.8, -79.8], layer_id="order")
    out = thin_labels([areas, order, names_on_zoom_layer()], 12)
    rows = out[2].data
    assert [r["name"] for r in rows if "w" in r] == ["Area One"]  # dropped under the numbers
    assert sum("w" not in r for r in rows) == 3  # blocks: both numbers and Area Two


def _visible(spec: dict, zoom: float) -> list[dict]:
    """deck.gl's collision rule on the layer's rows at ``zoom``: rows drawn in order, a later
    (higher-priority) box covers; a name is drawn when its anchor, ±2 px, shows its own box."""
    rows = spec["data"]
    pad_x, pad_y = spec["collisionTestProps"]["padding"][:2]
    x, y = _mercator_px([r["position"][0] for r in rows], [r["position"][1] for r in rows], zoom)
    cp = np.array([r["cp"] for r in rows])
    assert (np.diff(cp) >= 0).all()  # lowest priority first
    # box half sizes: blocks' en spaces (h size), names at most their estimate
    hw = np.array([len(r["name"]) * r["size"] / 4 if "w" not in r else r["w"] / 2
                   for r in rows]) + pad_x
    hh = np.array([r["size"] / 2 for r in rows]) + pad_y
    shown = []
    for i, r in enumerate(rows):
        if "w" not in r:
            continue
        higher = cp > cp[i]
        covered = higher & (np.abs(x - x[i]) < hw + 2) & (np.abs(y - y[i]) < hh + 2)
        if not covered.any():
            shown.append({**r, "x": x[i], "y": y[i]})
    return shown


@pytest.mark.parametrize("names_of", [0, 1])
def test_sample_names_hidden_at_first_view_back_when_zoomed_in_never_overlapping(names_of):
    layers, places = configured_geography(sample=True)
    ctx = context_layers(layers, places, names_of=names_of, names_on_zoom=True)
    z0 = deck.view_for_bounds(*load_boundary(get_path("boundary")).bounds).zoom  # the maps' view
    out = thin_labels(ctx, z0)
    kept = [r for lyr in out if lyr.type == "TextLayer" and lyr.id != NAMES_ON_ZOOM
            for r in lyr.data]
    spec = json.loads(out[-1].to_json())
    assert out[-1].id == NAMES_ON_ZOOM
    n_dropped = sum("w" in r for r in spec["data"])
    assert n_dropped == sum(len(lyr.data) for lyr in ctx if lyr.type == "TextLayer") - len(kept)
    assert _visible(spec, z0) == []  # the first view is the thinned view of before
    back = {}
    for dz in (0.5, 1.0, 2.0, 4.0):
        z = z0 + dz
        shown = _visible(spec, z)
        back[dz] = len(shown)
        kx, ky = _mercator_px([r["position"][0] for r in kept], [r["position"][1] for r in kept], z)
        boxes = [(kx[i], ky[i], r["w"], r["h"]) for i, r in enumerate(kept)]
        for s in shown:
            for bx, by, bw, bh in boxes:  # no name that came back overlaps another label
                assert (abs(s["x"] - bx) >= (s["w"] + bw) / 2 + _LABEL_GAP
                        or abs(s["y"] - by) >= (s["h"] + bh) / 2 + _LABEL_GAP), s["name"]
            boxes.append((s["x"], s["y"], s["w"], s["h"]))
        # the exact thinning at that zoom keeps at least as many (the rule is conservative)
        exact = sum(len(lyr.data) for lyr in thin_labels(ctx, z) if lyr.type == "TextLayer")
        assert len(kept) + len(shown) <= exact
    assert back[4.0] == n_dropped and back[1.0] >= n_dropped / 2 and back[0.5] <= back[1.0], back


def test_context_layers_end_with_the_placeholder_only_with_names():
    layers, places = configured_geography(sample=True)
    assert context_layers(layers, places, names_on_zoom=True)[-1].id == NAMES_ON_ZOOM
    assert all(lyr.id != NAMES_ON_ZOOM for lyr in context_layers(layers, places))  # opt-in
    assert all(lyr.id != NAMES_ON_ZOOM for lyr in
               context_layers(layers, None, names_of=None, names_on_zoom=True))
    assert math.isclose(len(json.loads(names_on_zoom_layer().to_json())["data"]), 0)
