"""layers.deck: colour scales, layer builders, offline decks, view fitting."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.cells import cells_to_str, latlng_to_cells
from layers import deck


def test_sequential_colors_endpoints_and_suppressed():
    c = deck.sequential_colors([0.0, 10.0, np.nan, 5.0], 0, 10)
    assert tuple(c[0, :3]) == (253, 231, 37)  # low = light end of viridis
    assert tuple(c[1, :3]) == (68, 1, 84)  # high = dark end
    assert tuple(c[2, :3]) == deck.SUPPRESSED_COLOR
    # the middle value is between the 3rd and 4th stops (t = 0.5 → position 2.5)
    expect = (np.array([42, 120, 142]) + np.array([34, 168, 132])) / 2
    assert np.allclose(c[3, :3], np.round(expect), atol=1)
    c2 = deck.sequential_colors(pd.array([1, pd.NA, 3], dtype="Int64"))
    assert tuple(c2[1, :3]) == deck.SUPPRESSED_COLOR


def test_class_colors_and_legend():
    c = deck.class_colors(["hot_99", "cold_95", "not_significant", None])
    assert tuple(c[0, :3]) == deck.GI_COLORS["hot_99"]
    assert tuple(c[1, :3]) == deck.GI_COLORS["cold_95"]
    assert tuple(c[3, :3]) == deck.GI_COLORS["not_significant"]
    html = deck.class_legend()
    import html as _html

    assert all(_html.escape(deck.GI_LABELS[k]) in html for k in deck.GI_CLASSES)


def test_count_text():
    assert deck.count_text(pd.array([12, pd.NA, 0], dtype="Int64")) == [
        "12 overdoses",
        "suppressed",
        "0 overdoses",
    ]
    assert deck.count_text([np.nan], k=5, unit="") == ["suppressed"]


def test_hex_layer_uses_hex_ids_and_is_flat():
    cells = np.unique(latlng_to_cells(np.array([36.07, 36.08]), np.array([-79.79, -79.8]), 8))
    lyr = deck.hex_layer(
        cells, deck.class_colors(["hot_99"] * cells.size), ["a<b"] * cells.size, layer_id="x"
    )
    spec = json.loads(lyr.to_json())
    assert spec["@@type"] == "H3HexagonLayer" and spec["extruded"] is False and spec["id"] == "x"
    # one drawing pass: no outline (in software WebGL it cost as much as the cells); the cells
    # are told apart by the gap each leaves around it
    assert spec["stroked"] is False and spec["filled"] is True
    assert spec["coverage"] == deck.CELL_COVERAGE and 0.8 <= deck.CELL_COVERAGE < 1
    assert [d["h3"] for d in spec["data"]] == cells_to_str(cells).tolist()
    assert spec["data"][0]["tip"] == "a&lt;b"  # escaped
    with pytest.raises(ValueError, match="same length"):
        deck.hex_layer(cells, np.zeros((1, 4)), ["t"] * cells.size)


def test_outline_is_lng_lat_and_closed():
    poly = shapely.Polygon([(-79.9, 36.0), (-79.7, 36.0), (-79.7, 36.1), (-79.9, 36.0)])
    spec = json.loads(deck.outline_layer(poly).to_json())
    path = spec["data"][0]["path"]
    assert path[0] == path[-1] == [-79.9, 36.0]  # (lng, lat) as pydeck wants
    assert spec["@@type"] == "PathLayer" and spec["id"] == "study-area"
    assert "widthUnits" not in spec  # it blanks the whole deck in Streamlit's deck.gl


def test_sites_layer_requires_coordinates():
    with pytest.raises(ValueError, match="'lat' missing"):
        deck.sites_layer(pd.DataFrame({"lon": [1.0]}), layer_id="s", color=(0, 0, 0))


def test_make_deck_basemap_by_default_configurable_and_off(monkeypatch):
    v = deck.view_for_bounds(-80, 36, -79.5, 36.3)
    outline = [deck.outline_layer(shapely.box(-80, 36, -79.5, 36.3))]
    monkeypatch.delenv("GAPMAP_BASEMAP", raising=False)
    spec = json.loads(deck.make_deck(outline, v).to_json())
    assert spec["mapProvider"] == "carto"  # tokenless CARTO Positron by default
    assert spec["mapStyle"] == deck.DEFAULT_BASEMAP
    assert spec["mapStyle"] == "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json"
    for off in ("off", "none", " OFF ", "None", "false", "0"):
        monkeypatch.setenv("GAPMAP_BASEMAP", off)
        spec = json.loads(deck.make_deck(outline, v).to_json())
        # no provider, and pydeck's "no style given" sentinel, which Streamlit drops: no request
        # (the browser test with GAPMAP_BASEMAP=off checks that nothing outside is fetched)
        assert "mapProvider" not in spec and spec.get("mapStyle") == "__MAP_STYLE__", off
        assert spec["layers"][0]["id"] == "study-area"  # the layers are unchanged
    monkeypatch.setenv("GAPMAP_BASEMAP", "  https://tiles.example/style.json ")
    spec = json.loads(deck.make_deck([], v).to_json())
    assert spec["mapProvider"] == "carto" and spec["mapStyle"] == "https://tiles.example/style.json"
    # basemap=False: no basemap whatever is configured
    assert "mapProvider" not in json.loads(deck.make_deck([], v, basemap=False).to_json())
    monkeypatch.setenv("GAPMAP_BASEMAP", "   ")
    assert json.loads(deck.make_deck([], v).to_json())["mapStyle"] == deck.DEFAULT_BASEMAP


def test_bad_basemap_value_is_one_sentence(monkeypatch):
    from layers.basemap import basemap_style

    monkeypatch.setenv("GAPMAP_BASEMAP", "positron")
    with pytest.raises(ValueError, match=r"^GAPMAP_BASEMAP='positron' is neither a style URL"):
        basemap_style()
    with pytest.raises(ValueError, match="nor 'off'"):
        basemap_style("ftp://tiles.example/style.json")
    assert basemap_style("Off") is None and basemap_style("") == deck.DEFAULT_BASEMAP


def test_view_fits_bounds():
    minx, miny, maxx, maxy = -80.06, 35.88, -79.53, 36.26
    v = deck.view_for_bounds(minx, miny, maxx, maxy, width_px=740, height_px=480)
    px_per_deg = 512 * 2**v.zoom / 360  # deck.gl's Web Mercator at this zoom
    assert (maxx - minx) * px_per_deg <= 740
    lat = (miny + maxy) / 2
    assert (maxy - miny) / math.cos(math.radians(lat)) * px_per_deg <= 480
    assert (maxx - minx) * px_per_deg > 0.5 * 740 or (maxy - miny) * px_per_deg > 0.5 * 480
    with pytest.raises(ValueError, match="bad bounds"):
        deck.view_for_bounds(1, 1, 0, 0)


def test_text_layer_constants_are_strings_not_accessors():
    from layers.deck_areas import LABEL_FONT, text_layer

    spec = json.loads(text_layer(["Elm Grove"], [36.0], [-79.8], layer_id="t", bold=True).to_json())
    assert spec["fontFamily"] == LABEL_FONT and "sans-serif" in LABEL_FONT  # not "@@=..."
    assert spec["fontWeight"] == 700 and spec["getText"] == "@@=name"
    row = spec["data"][0]
    assert row["position"] == [-79.8, 36.0] and row["prio"] == 100  # a data label by default
    assert row["w"] == round(9 * 13 * 0.57, 1) and row["h"] == round(13 * 1.2, 1)


def test_thin_labels_keeps_no_two_overlapping_names():
    """Toy case checked by hand: at zoom 12 one degree of longitude is 512·2¹²/360 ≈ 5825 px,
    so 0.001° ≈ 5.8 px apart: two labels 60 px wide overlap; 0.05° ≈ 291 px apart do not."""
    from layers.deck_areas import text_layer, thin_labels

    areas = text_layer(["Area One", "Area Two"], [36.0, 36.0], [-79.8, -79.75], layer_id="a",
                       priority=10, bold=True)
    places = text_layer(["Place Near", "Place Far"], [36.0, 36.2], [-79.801, -79.8],
                        layer_id="p", priority=0)
    other = deck.outline_layer(shapely.box(-80, 36, -79.5, 36.3))
    out = thin_labels([places, other, areas], 12)
    assert out[1] is other  # other layers pass through
    assert [r["name"] for r in out[2].data] == ["Area One", "Area Two"]  # higher priority wins
    assert [r["name"] for r in out[0].data] == ["Place Far"]  # the near one would overlap
    assert len(places.data) == 2  # the caller's layer is not changed
    # zoomed far out every label overlaps the first (highest priority) one
    assert [len(lyr.data) for lyr in thin_labels([places, areas], 3) if lyr.type == "TextLayer"] \
        == [0, 1]
    # data labels (default priority, e.g. order numbers) are always kept; names give way
    order = text_layer(["1", "2"], [36.0, 36.0], [-79.8, -79.8], layer_id="order")
    kept = thin_labels([areas, order], 12)
    assert [r["name"] for r in kept[1].data] == ["1", "2"]
    assert [r["name"] for r in kept[0].data] == ["Area Two"]
    # invariant: no two kept boxes overlap at the deck's zoom
    from layers.deck_areas import _mercator_px

    kept = [r for lyr in out if lyr.type == "TextLayer" for r in lyr.data]
    x, y = _mercator_px([r["position"][0] for r in kept], [r["position"][1] for r in kept], 12)
    for i in range(len(kept)):
        for j in range(i):
            assert (abs(x[i] - x[j]) >= (kept[i]["w"] + kept[j]["w"]) / 2
                    or abs(y[i] - y[j]) >= (kept[i]["h"] + kept[j]["h"]) / 2)


def test_make_deck_thins_labels(monkeypatch):
    from layers.deck_areas import text_layer

    monkeypatch.setenv("GAPMAP_BASEMAP", "off")
    names = text_layer(["A long name", "Another long name"], [36.0, 36.0], [-79.8, -79.8001],
                       layer_id="names", priority=10)
    spec = json.loads(deck.make_deck([names], deck.view_for_bounds(-80, 36, -79.5, 36.3))
                      .to_json())
    assert [r["name"] for r in spec["layers"][0]["data"]] == ["A long name"]
