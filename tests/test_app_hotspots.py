# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Hotspots page (map cells = analysis cells, Gi* classes equal the library)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
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

from geo.boundary import boundary_geometry
from geo.cells import cells_to_str, latlng_to_cells
from geo.privacy import release_date
from products.hotspots import hotspot_table
from products.query import Query

#: The public sidebar's default window: the last 52 whole weeks to the release date.
R = release_date(END)


def _reference(app_inputs, res=8, tier="public", population=False):
    inc = load_incidents(app_inputs["incidents"])
    q = Query(res=res, start=R - pd.Timedelta(days=364), end=R)
    pop = gpd.read_file(app_inputs["population"]) if population else None
    return hotspot_table(inc, q, tier, boundary=boundary_geometry(
        gpd.read_file(app_inputs["boundary"])), population=pop)


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
    exact = _reference(app_inputs, tier="restricted")
    small = exact[(exact["count"] >= 1) & (exact["count"] <= 9)]
    assert len(small) > 0
    tips = {d["h3"]: d["tip"] for d in layer(spec, "cells")["data"]}
    for h, n in zip(cells_to_str(small["h3"].to_numpy(np.uint64)), small["count"], strict=True):
        assert "suppressed" in tips[h]
        assert f"{n} overdoses" not in tips[h]
    for h, n in zip(cells_to_str(ref["h3"].to_numpy(np.uint64)), ref["count"], strict=True):
        assert not pd.isna(n) or "suppressed" in tips[h]
        if not pd.isna(n):
            assert f"\n{int(n):,} overdoses" in tips[h].replace("<br/>", "\n")
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
    assert any("fixed 28-day periods ending 2026-11-16" in c.value for c in at.caption)
    assert not any("All dates:" in c.value for c in at.caption)  # no total beside periods
    at = run_page("hotspots", session={"hotspot_map": sel, "tier": "restricted"})
    assert any("All dates:" in c.value for c in at.caption)
    assert any("nearest site" in str(t.value.columns.tolist()) for t in at.table)


def test_rate_colouring_equals_library(app_inputs):
    at = run_page("hotspots")
    at.radio(key="hot_colour").set_value("Rate per 10,000").run()
    assert not at.exception
    rt = _reference(app_inputs, population=True)
    tips = {d["h3"]: d["tip"] for d in layer(deck_spec(at), "cells")["data"]}
    shown = rt[rt["rate"].notna()]
    assert len(shown) > 10
    for h, r in zip(cells_to_str(shown["h3"].to_numpy(np.uint64)), shown["rate"], strict=True):
        assert f"{r:,.1f} per 10,000 residents" in tips[h]
    # suppressed cells show no rate (the product blanks rates of hidden counts)
    small = rt[rt["suppressed"]]
    assert len(small) and all(
        "no rate" in tips[h] or "population too small" in tips[h]
        for h in cells_to_str(small["h3"].to_numpy(np.uint64)))
    # cells below the minimum population (products.hotspots.MIN_POPULATION) say so
    tiny = rt[rt["class"] == "population_too_small"]
    assert all("population too small" in tips[h]
               for h in cells_to_str(tiny["h3"].to_numpy(np.uint64)))


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


def _tip_count(tip: str):
    line = tip.split("<br/>")[1]
    return None if line.startswith("suppressed") else int(line.split()[0].replace(",", ""))


@pytest.mark.parametrize("tier", ["public", "restricted"])
def test_cli_dashboard_and_briefing_agree_cell_by_cell_on_the_sample(tier, monkeypatch, tmp_path):
    """Same query (sample, res 8, the sidebar's default window): h3, count and class equal."""
    from cli import main
    from data import get_path
    from geo.ingest import load_boundary, read_incidents
    from products.query import data_end
    from report.sections import briefing_content

    monkeypatch.setenv("GAPMAP_INCIDENTS", str(get_path("incidents")))
    monkeypatch.setenv("GAPMAP_BOUNDARY", str(get_path("boundary")))
    inc = read_incidents(get_path("incidents")).incidents
    if tier == "public":
        end = release_date(data_end(inc))
        start = end - pd.Timedelta(days=364)  # "Last 52 weeks"
    else:
        end = data_end(inc).normalize() + pd.Timedelta(days=1)
        start = end - pd.Timedelta(days=365)  # "Last 365 days"
    at = run_page("hotspots", session={} if tier == "public" else {"tier": "restricted"})
    app = {d["h3"]: (_tip_count(d["tip"]), d["cls"]) for d in layer(deck_spec(at), "cells")["data"]}
    out = tmp_path / "h.csv"
    assert main(["hotspots", "--incidents", str(get_path("incidents")), "--boundary",
                 str(get_path("boundary")), "--start", f"{start:%Y-%m-%d}", "--end",
                 f"{end:%Y-%m-%d}", "--tier", tier, "--out", str(out)]) == 0
    df = pd.read_csv(out)
    cli = {h: (None if pd.isna(n) else int(n), c)
           for h, n, c in zip(df["h3"], df["count"], df["class"], strict=True)}
    br = briefing_content(inc, boundary=load_boundary(get_path("boundary")), tier=tier,
                          res=8).map_table
    brief = {h: (None if pd.isna(n) else int(n), c) for h, n, c in zip(
        cells_to_str(br["h3"].to_numpy(np.uint64)), br["count"], br["class"], strict=True)}
    assert len(cli) == len(df) > 2000
    assert app == cli
    assert brief == cli
    hot = sum(c.startswith("hot") for _, c in cli.values())
    assert hot > 20
    if tier == "public":
        assert all(n is None or not 1 <= n <= 9 for n, _ in cli.values())
        assert sum(n is None for n, _ in cli.values()) > 50
