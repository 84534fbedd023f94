# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Areas page (table = products.areas.area_table, names drawn) and cell labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_helpers import (  # noqa: F401
    END,
    app_env,
    app_inputs,
    deck_spec,
    layer,
    load_incidents,
    run_page,
)

from data import get_path
from geo.areas import load_areas
from geo.cells import cells_to_str, str_to_cells
from geo.labels import cell_labels, load_places
from geo.privacy import release_date
from products.areas import area_table
from products.query import Query

R = release_date(END)


@pytest.fixture(autouse=True)
def areas_env(monkeypatch):
    monkeypatch.setenv("GAPMAP_AREAS", f"{get_path('neighbourhoods')}|name|neighbourhood;"
                       f"{get_path('zips')}|name|ZIP")
    monkeypatch.setenv("GAPMAP_PLACES", str(get_path("places")))


def test_areas_page_table_equals_product_and_names_drawn(app_inputs):
    at = run_page("areas")
    nb = load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood")
    inc = load_incidents(app_inputs["incidents"])
    ref = area_table(inc, nb, Query(start=R - pd.Timedelta(days=364), end=R), "public")
    shown = at.dataframe[0].value
    assert shown["area"].tolist() == ref["area"].tolist()
    pd.testing.assert_series_equal(shown["count"], ref["count"], check_names=False)
    for c in [c for c in shown.columns if c == "count" or c.startswith(("n_", "count_"))]:
        v = pd.to_numeric(shown[c], errors="coerce").dropna().to_numpy(float)
        assert not ((v >= 1) & (v <= 9)).any(), c  # public: no count 1-9 on the page
    spec = deck_spec(at)
    names = layer(spec, "area-names")
    assert names["@@type"] == "TextLayer"
    assert sorted(d["name"] for d in names["data"]) == sorted(nb.names.tolist())
    fills = layer(spec, "areas")
    assert {d["area"] for d in fills["data"]} == set(nb.names)
    places = layer(spec, "places-names")
    assert "Northgate" in {d["name"] for d in places["data"]}
    assert not any(lyr.get("@@type") == "TileLayer" for lyr in spec["layers"])
    assert spec.get("mapProvider") in (None, "")  # draws offline


def test_areas_page_zip_unit_and_restricted(app_inputs):
    at = run_page("areas", session={"tier": "restricted", "user": "tester"})
    at.radio(key="areas_unit").set_value("ZIP").run()
    assert not at.exception
    zips = load_areas(get_path("zips"), "name", kind="ZIP")
    shown = at.dataframe[0].value
    assert shown["area"].tolist() == zips.names.tolist()
    assert "ZIP 00011" in {d["name"] for d in layer(deck_spec(at), "area-names")["data"]}


def test_hotspot_tooltips_carry_area_labels(app_inputs):
    at = run_page("hotspots")
    data = layer(deck_spec(at), "cells")["data"]
    layers = [load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood"),
              load_areas(get_path("zips"), "name", kind="ZIP")]
    places = load_places(get_path("places"))
    cells = str_to_cells(np.array([d["h3"] for d in data]))
    expect = cell_labels(cells, layers, places)
    assert expect.str.len().gt(0).all()
    for d, lab in zip(data, expect, strict=True):
        assert d["label"] == lab
        assert lab.replace("&", "&amp;") in d["tip"]
    assert cells_to_str(cells[:1])[0] in data[0]["tip"]  # the hex id stays next to the name


def test_area_layer_added_on_the_data_page_is_used(app_inputs, monkeypatch):
    """The Data page's 'Area layers' tab stores a spec in the session; every page uses it."""
    monkeypatch.delenv("GAPMAP_AREAS")
    spec = f"{get_path('zips')}|zip|ZIP code"
    at = run_page("areas", session={"area_layers": [spec]})
    assert at.radio(key="areas_unit").options == ["ZIP code"]
    assert at.dataframe[0].value["area"].tolist()[:2] == ["00011", "00012"]
    at = run_page("data", session={"tier": "restricted", "user": "tester"})
    assert any(t.label == "Area layers" for t in at.tabs)
