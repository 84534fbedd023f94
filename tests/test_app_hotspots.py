# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Hotspots page (map cells = analysis cells, Gi* classes equal the library)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from app_helpers import (  # noqa: F401
    END,
    HOT_LAT,
    HOT_LON,
    app_env,
    app_inputs,
    deck_spec,
    layer,
    load_incidents,
    metric,
    run_page,
)

from clustering.gistar import gi_star
from clustering.neighbours import build_neighbourhood
from geo.cells import cells_to_str, latlng_to_cells
from geo.grid import analysis_grid, filter_incidents, incidents_to_cells, zero_fill


def _reference(app_inputs, res=8, days=365):
    inc = load_incidents(app_inputs["incidents"])
    end = pd.Timestamp(END.date()) + pd.Timedelta(days=1)
    sub = filter_incidents(inc, start=end - pd.Timedelta(days=days), end=end)
    grid = analysis_grid(gpd.read_file(app_inputs["boundary"]), res)
    table = zero_fill(incidents_to_cells(sub, res), grid)
    gi = gi_star(table, build_neighbourhood(table["h3"].to_numpy(np.uint64), k=1))
    return pd.concat([table, gi], axis=1)


def test_map_cells_equal_analysis_cells_and_classes(app_inputs):
    at = run_page("hotspots")
    ref = _reference(app_inputs)
    cells = layer(deck_spec(at), "cells")
    assert cells["@@type"] == "H3HexagonLayer" and cells["extruded"] is False
    data = cells["data"]
    assert len(data) == len(ref)
    assert sorted(d["h3"] for d in data) == sorted(cells_to_str(ref["h3"].to_numpy(np.uint64)))
    shown = {d["h3"]: d["cls"] for d in data}
    expect = dict(zip(cells_to_str(ref["h3"].to_numpy(np.uint64)), ref["class"], strict=True))
    assert shown == expect
    n_hot = int(ref["class"].str.startswith("hot").sum())
    assert metric(at, "Hot-spot cells") == f"{n_hot:,}"
    # the planted hot spot is hot
    hot_cell = cells_to_str(latlng_to_cells(np.array([HOT_LAT]), np.array([HOT_LON]), 8))[0]
    assert shown[hot_cell].startswith("hot")


def test_public_map_has_no_points_and_suppresses_small_counts(app_inputs):
    at = run_page("hotspots")
    spec = deck_spec(at)
    assert "mapProvider" not in spec  # map_provider=None: draws offline, no basemap request
    types = {lyr["@@type"] for lyr in spec["layers"]}
    assert "ScatterplotLayer" not in types  # naloxone sites are off by default; no incidents ever
    ref = _reference(app_inputs)
    small = ref[(ref["count"] >= 1) & (ref["count"] <= 9)]
    assert len(small) > 0
    tips = {d["h3"]: d["tip"] for d in layer(spec, "cells")["data"]}
    for h, n in zip(cells_to_str(small["h3"].to_numpy(np.uint64)), small["count"], strict=True):
        assert "suppressed" in tips[h]
        assert f"{n} overdoses" not in tips[h]
    big = ref[ref["count"] >= 10].iloc[0]
    assert (
        f"{int(big['count']):,} overdoses"
        in tips[cells_to_str(np.array([big["h3"]], np.uint64))[0]]
    )
    # every layer has an id; the outline is always drawn
    assert all(lyr.get("id") for lyr in spec["layers"])
    assert layer(spec, "study-area")["@@type"] == "PathLayer"


def test_widgets_change_the_map(app_inputs):
    at = run_page("hotspots")
    n8 = len(layer(deck_spec(at), "cells")["data"])
    fills_class = [tuple(d["fill"]) for d in layer(deck_spec(at), "cells")["data"]]
    at.radio(key="hot_colour").set_value("Overdose count").run()
    fills_count = [tuple(d["fill"]) for d in layer(deck_spec(at), "cells")["data"]]
    assert fills_class != fills_count
    at.sidebar.select_slider(key="res").set_value(7).run()
    assert not at.exception
    ref7 = _reference(app_inputs, res=7)
    assert len(layer(deck_spec(at), "cells")["data"]) == len(ref7) < n8
    at.toggle(key="hot_sites").set_value(True).run()
    assert layer(deck_spec(at), "naloxone-sites")["@@type"] == "ScatterplotLayer"


def test_public_tier_cannot_choose_fine_resolution():
    at = run_page("hotspots")
    assert max(at.sidebar.select_slider(key="res").options) == "8"


def test_clicked_cell_shows_history(app_inputs):
    hot = cells_to_str(latlng_to_cells(np.array([HOT_LAT]), np.array([HOT_LON]), 8))[0]
    sel = {"selection": {"indices": {"cells": [0]}, "objects": {"cells": [{"h3": hot}]}}}
    at = run_page("hotspots", session={"hotspot_map": sel})
    assert any(hot in s.value for s in at.subheader)
    assert len(at.get("arrow_vega_lite_chart")) >= 1 or len(at.get("vega_lite_chart")) >= 1
    assert any("All dates:" in c.value for c in at.caption)
    assert any("nearest site" in str(t.value.columns.tolist()) for t in at.table)


def test_rate_colouring_equals_library(app_inputs):
    from clustering.rates import population_to_cells, rate_table
    from geo.privacy import publish

    at = run_page("hotspots")
    at.radio(key="hot_colour").set_value("Rate per 10,000").run()
    assert not at.exception
    ref = _reference(app_inputs)
    pop = population_to_cells(
        gpd.read_file(app_inputs["population"]), ref["h3"].to_numpy(np.uint64)
    )
    rt = publish(rate_table(ref[["h3", "count"]], pop, method="eb"), "public")
    tips = {d["h3"]: d["tip"] for d in layer(deck_spec(at), "cells")["data"]}
    shown = rt[rt["rate"].notna()]
    assert len(shown) > 10
    for h, r in zip(cells_to_str(shown["h3"].to_numpy(np.uint64)), shown["rate"], strict=True):
        assert f"{r:,.1f} per 10,000 residents" in tips[h]
    # suppressed cells show no rate (the gate blanks rates of small counts)
    small = rt[rt["suppressed"]]
    assert all("no rate" in tips[h] for h in cells_to_str(small["h3"].to_numpy(np.uint64)))


def test_rate_colouring_without_population_falls_back_to_counts(monkeypatch, tmp_path):
    monkeypatch.setenv("GAPMAP_POPULATION", str(tmp_path / "missing.geojson"))
    at = run_page("hotspots")
    before = [tuple(d["fill"]) for d in layer(deck_spec(at), "cells")["data"]]
    at.radio(key="hot_colour").set_value("Rate per 10,000").run()
    assert not at.exception
    assert any("No population layer" in i.value for i in at.info)
    assert [tuple(d["fill"]) for d in layer(deck_spec(at), "cells")["data"]] != before


def test_density_clusters_run_on_request_above_the_auto_limit(app_inputs, monkeypatch):
    """Large windows do not re-run DBSCAN on every filter change: it waits for the toggle."""
    from app_pages import _app

    auto = run_page("hotspots").dataframe  # small data: clusters computed automatically
    monkeypatch.setattr(_app, "DENSITY_AUTO_MAX", 0)
    at = run_page("hotspots")
    assert len(at.dataframe) == len(auto) - 1  # the cluster table waits for the toggle
    assert at.toggle(key="db_run").value is False
    at.toggle(key="db_run").set_value(True).run()
    assert not at.exception
    assert len(at.dataframe) == len(auto)
    assert at.dataframe[-1].value.equals(auto[-1].value)
