# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: travel mode on the Gaps and Siting pages (issue 11) — figures equal the products."""

from __future__ import annotations

import pytest
from app_helpers import app_env, app_inputs, deck_spec, layer, metric, run_page  # noqa: F401

from data import DATA_DIR
from data._roads import ROADS_FILE


@pytest.fixture
def sample_env(app_env, monkeypatch):
    for name in ("incidents", "resources", "candidates", "boundary"):
        suffix = "geojson" if name == "boundary" else "csv"
        monkeypatch.setenv(f"GAPMAP_{name.upper()}", str(DATA_DIR / f"sample_{name}.{suffix}"))
    monkeypatch.setenv("GAPMAP_ROADS", str(DATA_DIR / ROADS_FILE))


R = {"tier": "restricted"}


def test_gaps_page_walk_mode(sample_env):
    at = run_page("gaps", session={**R, "gap_travel": "walk"})
    assert not at.exception
    spec = deck_spec(at)
    outline = layer(spec, "reach-naloxone")
    assert outline["@@type"] == "PolygonLayer" and len(outline["data"]) > 0
    table = at.dataframe[0].value
    assert (table["access measured by"] == "walking time on streets").all()
    col = table["walk to naloxone (min)"]
    assert col.str.fullmatch(r"\d+ min|no route").all()
    assert any("walking time on streets" in m.value for m in at.markdown)


def test_siting_page_walk_mode_equals_the_product(sample_env):
    at = run_page("siting", session={**R, "site_travel": "walk", "site_minutes": 10})
    assert not at.exception
    import pandas as pd

    from geo.ingest import read_incidents
    from products.query import Query
    from products.siting import siting_plan

    inc = read_incidents(DATA_DIR / "sample_incidents.csv").incidents
    res = pd.read_csv(DATA_DIR / "sample_resources.csv")
    cand = pd.read_csv(DATA_DIR / "sample_candidates.csv", dtype={"site_id": "string"})
    shown = at.dataframe[0].value
    assert (shown["coverage measured by"] == "walking time on streets").all()
    spec = deck_spec(at)
    assert layer(spec, "reach-chosen")["data"] and layer(spec, "reach-existing")["data"]
    end = inc["occurred_at"].max().normalize() + pd.Timedelta(days=1)
    q = Query(res=8, start=end - pd.Timedelta(days=365), end=end)  # the sidebar's default
    ref = siting_plan(inc, res, cand, q, "restricted", k=5,
                      travel="walk", roads=DATA_DIR / ROADS_FILE, minutes=10, curve=False)
    assert shown["site_id"].tolist() == ref.sites["site_id"].tolist()
    assert metric(at, "Covered with") == f"{ref.summary['coverage_pct_after']:.1f}%"
    assert any("looks covered in a straight line" in m.value for m in at.info)


def _island_inputs(tmp_path):
    """The sample roads plus a 40 m street far from every other one, with an extra naloxone
    site on it (an island of the road network)."""
    import json

    import numpy as np
    import pandas as pd
    from shapely.geometry import shape

    from layers.reach import travel_profile
    from layers.travel import snap_points

    bnd = shape(json.loads((DATA_DIR / "sample_boundary.geojson").read_text())
                ["features"][0]["geometry"])
    x0, y0, x1, y1 = bnd.bounds
    gx, gy = np.meshgrid(np.linspace(x0, x1, 40), np.linspace(y0, y1, 40))
    from shapely import contains_xy

    ok = contains_xy(bnd, gx.ravel(), gy.ravel())
    lon, lat = gx.ravel()[ok], gy.ravel()[ok]
    d = snap_points(travel_profile("walk", DATA_DIR / ROADS_FILE), lat, lon).dist_m
    i = int(np.argmax(d))  # the point farthest from every street
    assert d[i] > 300
    fc = json.loads((DATA_DIR / ROADS_FILE).read_text())
    fc["features"].append({"type": "Feature", "properties": {"highway": "residential"},
                           "geometry": {"type": "LineString", "coordinates": [
                               [lon[i] - 0.0002, lat[i]], [lon[i] + 0.0002, lat[i]]]}})
    roads = tmp_path / "island_roads.geojson"
    roads.write_text(json.dumps(fc))
    res = pd.read_csv(DATA_DIR / "sample_resources.csv")
    extra = res[res["kind"] == "naloxone"].iloc[:1].copy()
    extra["lat"], extra["lon"] = lat[i], lon[i] + 0.00005
    extra["site_id"] = "island-1"
    extra["name"] = "Island box"
    sites = tmp_path / "resources.csv"
    pd.concat([res, extra], ignore_index=True).to_csv(sites, index=False)
    return roads, sites


def test_sites_on_an_island_one_sentence_on_gaps_siting_and_cli(sample_env, tmp_path,
                                                                 monkeypatch, capsys):
    import pandas as pd

    from products.gaps import travel_notes

    roads, sites = _island_inputs(tmp_path)
    res = pd.read_csv(sites)
    notes = travel_notes(res, "walk", roads)
    assert len(notes) == 1
    assert notes[0].startswith("1 of the ") and "lies on a small piece of the road network" \
        in notes[0] and "naloxone" in notes[0]
    monkeypatch.setenv("GAPMAP_ROADS", str(roads))
    monkeypatch.setenv("GAPMAP_RESOURCES", str(sites))
    at = run_page("gaps", session={**R, "gap_travel": "walk"})
    assert notes[0] in [w.value for w in at.warning]
    at = run_page("siting", session={**R, "site_travel": "walk"})
    assert any("existing naloxone sites lies on a small piece" in w.value for w in at.warning)
    from cli import main

    assert main(["gaps", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--resources",
                 str(sites), "--travel", "walk", "--roads", str(roads), "--no-hotspots",
                 "--out", str(tmp_path / "g.csv")]) == 0
    assert f"note: {notes[0]}" in capsys.readouterr().err


def test_gaps_page_within_minutes_and_travel_2sfca_equal_the_product(sample_env):
    import numpy as np
    import pandas as pd

    at = run_page("gaps", session={**R, "gap_travel": "drive", "gap_within_min": 5})
    table = at.dataframe[0].value
    from geo.cells import cells_to_str
    from geo.ingest import read_incidents
    from products.gaps import gap_table
    from products.query import Query

    inc = read_incidents(DATA_DIR / "sample_incidents.csv").incidents
    res = pd.read_csv(DATA_DIR / "sample_resources.csv")
    end = inc["occurred_at"].max().normalize() + pd.Timedelta(days=1)
    q = Query(res=8, start=end - pd.Timedelta(days=365), end=end)  # the sidebar's default
    ref = gap_table(inc, res, q, "restricted", travel="drive", roads=DATA_DIR / ROADS_FILE,
                    boundary=DATA_DIR / "sample_boundary.geojson", within_min=5,
                    all_resources=res)
    ref = ref.set_index(pd.Index(cells_to_str(ref["h3"].to_numpy(np.uint64)))).loc[
        table["cell"]]
    np.testing.assert_array_equal(table["naloxone sites within 5 min drive"].to_numpy(int),
                                  ref["sites_within_min_naloxone"].to_numpy(int))
    np.testing.assert_allclose(table["2SFCA treatment, 30 min drive"].to_numpy(float),
                               ref["travel_2sfca_treatment"].round(4).to_numpy(float))
    col = table["drive to naloxone (min)"]
    assert col.str.fullmatch(r"\d+ min|no route").all()
