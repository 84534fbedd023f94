# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Gaps by named area: products.area_gaps.area_gap_table, `gapmap gaps --areas`, Areas page."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from app_helpers import (  # noqa: F401
    END,
    app_env,
    app_inputs,
    load_incidents,
    run_page,
)
from shapely.geometry import box

from cli import main
from data import get_path
from geo.areas import areas_from_frame, load_areas
from geo.ingest import read_incidents
from geo.privacy import release_date
from layers.sites import load_resources
from products.area_gaps import area_gap_table
from products.areas import area_table
from products.gaps import burden_window
from products.query import Query


def _hav(lat1, lon1, lat2, lon2):
    """Reference great-circle distance (m), written out (mean Earth radius)."""
    r = 6_371_008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * r * np.arcsin(np.sqrt(a))


def _toy():
    """Three 0.1° squares in a row; 4 sites; 3 / 7 / 2 overdoses (now) and 1 / 7 / 2 before."""
    gdf = gpd.GeoDataFrame({"nm": ["West", "Mid", "East"], "pop": [1000, 2000, 4000]},
                           geometry=[box(0, 0, .1, .1), box(.1, 0, .2, .1), box(.2, 0, .3, .1)],
                           crs=4326)
    layer = areas_from_frame(gdf, "nm", kind="town", population_column="pop")
    sites = pd.DataFrame({
        "site_id": ["n1", "s1", "t1", "n2"],
        "name": ["Nal West", "SSP Mid", "MOUD East", "Nal Mid"],
        "kind": ["naloxone", "ssp", "treatment", "naloxone"],
        "lat": [.02, .07, .05, .09], "lon": [.03, .13, .28, .11],
        "naloxone_distribution": [True, True, False, True],
        "open_24_7": [False, False, False, True],
        "buprenorphine": [False, False, True, False],
        "medicaid": [False, False, True, False]})
    lon = np.r_[np.full(3, .05), np.full(7, .15), np.full(2, .25), .05, np.full(7, .15),
                np.full(2, .25)]
    when = np.r_[np.full(12, 40), np.full(10, 5)]  # days after 2025-12-01
    df = pd.DataFrame({"incident_id": [f"i{i}" for i in range(lon.size)],
                       "occurred_at": pd.Timestamp("2025-12-01") + pd.to_timedelta(when, "D"),
                       "lat": np.full(lon.size, .05), "lon": lon, "outcome": "nonfatal",
                       "naloxone": "yes", "source": "ems"})
    return layer, gdf, sites, df


Q = Query(start="2026-01-05", end="2026-03-02")  # 8 weeks; the prior 8 weeks hold day 5


def test_counts_equal_area_table_and_distances_hand_computed():
    layer, gdf, sites, df = _toy()
    t = area_gap_table(df, sites, layer, Q, "restricted").set_index("area")
    ref = area_table(df, layer, Q, "restricted", breakdown=()).set_index("area")
    assert t.loc[["West", "Mid", "East"], "count"].tolist() == [3, 7, 2]
    assert t.loc[["West", "Mid", "East"], "count_prior"].tolist() == [1, 7, 2]
    for c in ("count", "count_prior", "rate_per_100k", "population"):
        pd.testing.assert_series_equal(t[c].reindex(ref.index), ref[c], check_names=False,
                                       check_dtype=False)
    assert t.loc["West", "trend"] == "rising" and t.loc["Mid", "trend"] == "stable"
    kinds = {"naloxone": [0, 1, 3], "ssp": [1], "treatment": [2],
             "naloxone_24_7": [3], "medicaid_buprenorphine": [2]}
    for name, geom in zip(gdf["nm"], gdf.geometry, strict=True):
        p = geom.representative_point()
        for group, rows in kinds.items():
            d = min(_hav(p.y, p.x, sites["lat"][i], sites["lon"][i]) for i in rows)
            assert t.loc[name, f"dist_m_{group}"] == pytest.approx(d, rel=1e-6), (name, group)
    inside = {"West": {"naloxone": 1, "ssp": 0, "treatment": 0},
              "Mid": {"naloxone": 2, "ssp": 1, "treatment": 0},
              "East": {"naloxone": 0, "ssp": 0, "treatment": 1}}
    for name, exp in inside.items():
        for group, n in exp.items():
            assert t.loc[name, f"sites_in_{group}"] == n, (name, group)
    assert sorted(t["gap_rank"]) == [1, 2, 3]
    assert t["reason"].str.contains("nearest naloxone").all()
    assert t.loc["Mid", "reason"].startswith("7 overdoses in the 8 weeks to 2026-03-01, stable")


@pytest.fixture(scope="module")
def sample():
    inc = read_incidents(get_path("incidents")).incidents
    sites = load_resources([get_path("resources")]).sites
    # a fine layer (a 6 x 6 grid over the incidents) so that some areas hold 1-9 overdoses
    x0, x1 = inc["lon"].quantile([.01, .99])
    y0, y1 = inc["lat"].quantile([.01, .99])
    xs, ys = np.linspace(x0, x1, 7), np.linspace(y0, y1, 7)
    geoms = [box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(6) for j in range(6)]
    gdf = gpd.GeoDataFrame({"nm": [f"G{i:02d}" for i in range(36)]}, geometry=geoms, crs=4326)
    return inc, sites, areas_from_frame(gdf, "nm", kind="grid square")


def test_public_no_small_counts_and_reasons_hide_hidden_counts(sample):
    inc, sites, layer = sample
    t = area_gap_table(inc, sites, layer, Query(), "public")
    exact = area_gap_table(inc, sites, layer, Query(), "restricted").set_index("area")
    pub = area_table(inc, layer, Query(start=burden_window(Query(), inc, "public")[0],
                                       end=burden_window(Query(), inc, "public")[1]),
                     "public", breakdown=()).set_index("area")
    pd.testing.assert_series_equal(t.set_index("area")["count"].reindex(pub.index),
                                   pub["count"], check_names=False)
    for c in ("count", "count_prior"):
        v = pd.to_numeric(t[c], errors="coerce").dropna().to_numpy(float)
        assert not ((v >= 1) & (v <= 9)).any(), c
    hidden = t["count"].isna()
    small = exact["count"].reindex(t["area"]).between(1, 9).to_numpy()
    assert small.any() and hidden.to_numpy()[small].all()  # the toy really hides some
    for reason, cnt, area in zip(t["reason"], t["count"], t["area"], strict=True):
        head = reason.split(" in the ")[0]
        if pd.isna(cnt):
            assert head == "fewer than 10 overdoses", reason
            n_exact = int(exact.loc[area, "count"])
            assert not re.search(rf"(?<![\d.]){n_exact} overdose", reason)
        else:
            assert head in (f"{int(cnt)} overdoses", "no overdoses", "1 overdose"), reason
    assert t["gap_rank"].tolist() == sorted(t["gap_rank"])


def test_cli_output_equals_product(tmp_path):
    inc = read_incidents(get_path("incidents")).incidents
    sites = load_resources([get_path("resources")]).sites
    zips = load_areas(get_path("zips"), "name", kind="ZIP")
    out = tmp_path / "ag.csv"
    rc = main(["gaps", "--incidents", str(get_path("incidents")), "--resources",
               str(get_path("resources")), "--areas", str(get_path("zips")), "--area-name",
               "name", "--area-kind", "ZIP", "--out", str(out)])
    assert rc == 0
    got = pd.read_csv(out)
    ref = area_gap_table(inc, sites, zips, Query(), "public")
    assert got["area"].tolist() == ref["area"].tolist()
    np.testing.assert_array_equal(pd.to_numeric(got["count"]).to_numpy(float),
                                  pd.to_numeric(ref["count"]).to_numpy(float, na_value=np.nan))
    for c in ("dist_m_naloxone", "dist_m_treatment", "dist_m_ssp", "gap_score"):
        np.testing.assert_allclose(got[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-9)
    assert got["reason"].tolist() == ref["reason"].tolist()
    assert got["gap_rank"].tolist() == ref["gap_rank"].tolist()


def test_cli_bad_area_options_one_sentence(tmp_path, capsys):
    rc = main(["gaps", "--incidents", str(get_path("incidents")), "--resources",
               str(get_path("resources")), "--areas", str(get_path("zips")),
               "--out", str(tmp_path / "x.csv")])
    assert rc == 2
    assert "--area-name" in capsys.readouterr().err


@pytest.fixture
def areas_env(monkeypatch):
    monkeypatch.setenv("GAPMAP_AREAS", f"{get_path('neighbourhoods')}|name|neighbourhood")
    monkeypatch.setenv("GAPMAP_PLACES", str(get_path("places")))


def test_areas_page_gap_table_equals_product(app_inputs, areas_env):
    at = run_page("areas")
    nb = load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood")  # as configured
    inc = load_incidents(app_inputs["incidents"])
    sites = load_resources([app_inputs["resources"]]).sites if "resources" in app_inputs \
        else load_resources([get_path("resources")]).sites
    r = release_date(END)
    ref = area_gap_table(inc, sites, nb, Query(start=r - pd.Timedelta(days=364), end=r),
                         "public")
    shown = next(d.value for d in at.dataframe if "gap_rank" in d.value.columns)
    assert shown["area"].tolist() == ref["area"].tolist()
    pd.testing.assert_series_equal(shown["count"], ref["count"], check_names=False)
    assert shown["reason"].tolist() == ref["reason"].tolist()
    np.testing.assert_allclose(shown["gap_score"].to_numpy(float),
                               ref["gap_score"].to_numpy(float))
    assert any(b.label == "Download gaps by area (CSV)" for b in at.get("download_button"))
