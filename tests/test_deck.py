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


def test_make_deck_offline_unless_basemap(monkeypatch):
    v = deck.view_for_bounds(-80, 36, -79.5, 36.3)
    monkeypatch.delenv("GAPMAP_BASEMAP", raising=False)
    spec = json.loads(
        deck.make_deck([deck.outline_layer(shapely.box(-80, 36, -79.5, 36.3))], v).to_json()
    )
    assert "mapProvider" not in spec  # map_provider=None → no basemap request
    monkeypatch.setenv("GAPMAP_BASEMAP", "https://tiles.example/style.json")
    spec = json.loads(deck.make_deck([], v).to_json())
    assert spec["mapProvider"] == "carto" and spec["mapStyle"].startswith("https://")


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
