"""Cell labels: area names + nearest place, in CLI tables; map-context layers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from cli import main
from data import get_path
from geo.areas import areas_from_frame, load_areas
from geo.cells import latlng_to_cells, str_to_cells
from geo.labels import cell_labels, configured_geography, load_places
from layers.deck_areas import context_layers, context_legend


def test_toy_labels_hand_checkable():
    g = gpd.GeoDataFrame({"n": ["West", "East"]}, geometry=[box(0, 0, .1, .1), box(.1, 0, .2, .1)],
                         crs=4326)
    z = gpd.GeoDataFrame({"z": ["ZIP 00001"]}, geometry=[box(0, 0, .2, .1)], crs=4326)
    layers = [areas_from_frame(g, "n", kind="hood"), areas_from_frame(z, "z", kind="ZIP")]
    places = pd.DataFrame({"name": ["Westville", "Faraway"], "kind": ["town", "town"],
                           "lat": [.05, 5.0], "lon": [.02, 5.0]})
    cells = latlng_to_cells([.05, .05, 3.0], [.05, .15, 3.0], 9)
    lab = cell_labels(cells, layers, places)
    # the East cell is 14 km from Westville (only places within 8 km are named); the third
    # cell is in no area and near no place
    assert lab.tolist() == ["West · ZIP 00001 (near Westville)", "East · ZIP 00001", ""]
    assert cell_labels(np.array([], dtype=np.uint64), layers, places).empty


def test_cli_label_column_equals_cell_labels_and_counts_unchanged(tmp_path):
    base = ["cells", "--incidents", str(get_path("incidents")), "--tier", "restricted"]
    assert main(base + ["--out", str(tmp_path / "a.csv")]) == 0
    assert main(base + ["--areas", str(get_path("neighbourhoods")), "--area-name", "name",
                        "--areas", str(get_path("zips")), "--area-name", "name", "--places",
                        str(get_path("places")), "--out", str(tmp_path / "b.csv")]) == 0
    a, b = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    assert list(b.columns[:2]) == ["h3", "label"] and "label" not in a.columns
    pd.testing.assert_frame_equal(a, b.drop(columns="label"))
    layers = [load_areas(get_path("neighbourhoods"), "name"), load_areas(get_path("zips"), "name")]
    ref = cell_labels(str_to_cells(b["h3"].to_numpy(str)), layers, load_places(get_path("places")))
    assert b["label"].fillna("").tolist() == ref.tolist()
    inside = b["label"].fillna("").str.contains(" · ZIP 000")
    assert inside.mean() > 0.98  # cells whose centre lies outside the county have no area


def test_configured_geography_env(monkeypatch):
    monkeypatch.delenv("GAPMAP_AREAS", raising=False)
    monkeypatch.delenv("GAPMAP_PLACES", raising=False)
    layers, places = configured_geography(sample=True)
    assert [x.kind for x in layers] == ["neighbourhood", "ZIP"] and len(places) == 16
    assert configured_geography(sample=False) == ([], None)
    monkeypatch.setenv("GAPMAP_AREAS", f"{get_path('zips')}|zip|ZIP")
    layers, places = configured_geography(sample=True)
    assert layers[0].names[0] == "00011" and places is None
    monkeypatch.setenv("GAPMAP_AREAS", f"{get_path('zips')}")
    with pytest.raises(ValueError, match="FILE|NAME_COLUMN"):
        configured_geography()


def test_context_layers_draw_names_from_local_files():
    layers, places = configured_geography(sample=True)
    out = context_layers(layers, places, names_of=1)
    ids = [lyr.id for lyr in out]
    assert ids == ["area-outline-0", "area-outline-1", "area-names", "places-dots",
                   "places-names"]
    names = out[2]
    assert names.type == "TextLayer"
    assert sorted(d["name"] for d in names.data) == sorted(layers[1].names)
    assert "ZIP outline" in context_legend(layers, places)


def test_briefing_names_top_areas_alerts_and_gaps():
    from geo.ingest import load_boundary, read_incidents
    from layers.sites import load_resources
    from report.briefing import _alert_lines, _gap_lines
    from report.sections import briefing_content

    inc = read_incidents(get_path("incidents")).incidents
    geo = configured_geography(sample=False, areas_spec=f"{get_path('neighbourhoods')}|name|"
                               f"neighbourhood;{get_path('zips')}|name|ZIP",
                               places_path=str(get_path("places")))
    sites = load_resources([str(get_path("resources"))]).sites
    c = briefing_content(inc, sites, load_boundary(get_path("boundary")), geography=geo)
    ref = cell_labels(c.top["h3"].to_numpy(np.uint64), *geo)
    assert c.top["label"].tolist() == ref.tolist()
    assert c.top["label"].iloc[0].startswith("Northgate Downtown · ZIP 00011")
    gaps = cell_labels(c.gaps["h3"].to_numpy(np.uint64), *geo)
    assert c.gaps["label"].tolist() == gaps.tolist()
    lines, _ = _gap_lines(c)
    assert gaps.iloc[0].split(" (near")[0] in lines[0]
    cell_alerts = c.alerts[c.alerts["area_type"] == "h3"]
    assert (cell_alerts["label"].str.len() > 0).all()
    alert_text = " ".join(_alert_lines(c)[0])
    assert not any(h in alert_text for h in cell_alerts["area"].head(6))  # names, not hex ids
    plain = briefing_content(inc, sites, load_boundary(get_path("boundary")))
    assert "label" not in plain.top.columns
    pd.testing.assert_frame_equal(plain.top, c.top.drop(columns="label"))
