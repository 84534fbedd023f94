# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Map readability: zero cells left clear, log colour scale, roads as offline context, order
numbers and reach circles on recommended sites, legends for those layers."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
from app_helpers import app_env, app_inputs, run_page  # noqa: F401

from data import get_path
from layers import deck
from layers.deck_areas import context_layers, context_legend, road_paths, roads_layer


def test_zero_cells_are_clear_and_the_log_scale_spreads_low_counts():
    v = np.array([0.0, 9.0, 99.0, np.nan])
    lin = deck.sequential_colors(v, 0, 99)
    out = deck.sequential_colors(v, 0, 99, log=True, zero_clear=True)
    assert out[0, 3] == deck.ZERO_ALPHA and lin[0, 3] > 100  # 0: nearly transparent
    assert out[3, 3] == lin[3, 3] and tuple(out[3, :3]) == deck.SUPPRESSED_COLOR
    # log1p(9) / log1p(99) = 0.5: the middle of the 6 viridis stops (between 2 and 3)
    mid = (deck._VIRIDIS[2] + deck._VIRIDIS[3]) / 2
    assert np.allclose(out[1, :3], np.round(mid), atol=1)
    assert np.allclose(out[2, :3], deck._VIRIDIS[-1])
    leg = deck.sequential_legend(0, 99, "Overdoses", "", 10, log=True, zero_clear=True)
    assert "log scale" in leg and "0 (left clear)" in leg and "1–9 (suppressed)" in leg


def test_sample_roads_draw_as_a_path_layer():
    roads = gpd.read_file(get_path("roads"))
    paths = road_paths(roads)
    n_parts = sum(len(getattr(g, "geoms", [g])) for g in roads.geometry)
    assert len(paths) == n_parts
    first = roads.geometry.iloc[0]
    assert paths["path"].iloc[0][0] == [round(first.coords[0][0], 6), round(first.coords[0][1], 6)]
    lay = roads_layer(roads)
    assert lay.type == "PathLayer" and lay.id == "roads"
    assert context_layers([], None, roads=roads)[0].id == "roads"
    assert "road" in context_legend([], None, roads)


def test_hotspot_map_of_the_sample_draws_roads(monkeypatch):
    monkeypatch.setenv("GAPMAP_INCIDENTS", str(get_path("incidents")))
    at = run_page("hotspots")
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    ids = [ly["id"] for ly in spec["layers"]]
    assert "roads" in ids and "area-names" in ids
    assert any("road" in m.value for m in at.markdown)


def test_siting_map_numbers_sites_and_draws_reach_circles():
    at = run_page("siting", session={"tier": "restricted"})
    spec = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
    by_id = {ly["id"]: ly for ly in spec["layers"]}
    table = next(d.value for d in at.dataframe if "order" in d.value.columns)
    texts = [r["name"] for r in by_id["order-chosen"]["data"]]
    assert texts == [str(o) for o in table["order"]]
    # the numbers sit on the recommended-site markers: they must contrast with them (an orange
    # number on the orange marker could not be read)
    from layers.deck import SITE_COLORS

    def lum(c):
        r, g, b = (float(x) for x in list(c)[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    ink = by_id["order-chosen"]["getColor"]
    assert lum(SITE_COLORS["chosen"]) - lum(ink) > 80, (ink, SITE_COLORS["chosen"])
    circles = by_id["reach-circles-chosen"]
    radius = at.session_state["site_radius"]
    assert len(circles["data"]) == len(table)
    from geo.cells import haversine_m

    for ring, (_, r) in zip(circles["data"], table.iterrows(), strict=True):
        xy = np.array(ring["polygon"])
        d = haversine_m(r["lat"], r["lon"], xy[:, 1], xy[:, 0])
        assert np.allclose(d, float(radius), rtol=0.01)
    assert any("Reach circle" in m.value for m in at.markdown)


def test_context_roads_are_the_major_network_only():
    """A street grid drawn whole at county zoom hides the map beneath it (a road every few
    pixels): context layers draw the major classes; the full network stays available."""
    roads = gpd.read_file(get_path("roads"))
    lay = roads_layer(roads)
    drawn = len(lay.data)
    major = roads["highway"].isin(["motorway", "motorway_link", "secondary"]).sum()
    assert drawn == sum(len(getattr(g, "geoms", [g]))
                        for g in roads.geometry[roads["highway"].isin(
                            ["motorway", "motorway_link", "secondary"])])
    assert 0 < major < len(roads) and drawn < len(road_paths(roads))
    assert len(roads_layer(roads, classes=None).data) == len(road_paths(roads))


def test_no_units_string_became_an_accessor():
    """pydeck turns a plain string property into an accessor expression ("@@=pixels"): a
    `width_units="pixels"` on the roads drew every road as a grey block over the whole map."""
    import os

    os.environ.pop("GAPMAP_INCIDENTS", None)
    for page in ("areas", "hotspots"):
        at = run_page(page)
        for el in at.get("deck_gl_json_chart"):
            text = el.proto.json
            for bad in ("@@=pixels", "@@=meters", "@@=common"):
                assert bad not in text, f"{page}: {bad} in the deck spec"
