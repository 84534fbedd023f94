"""Travel time in the gap table, the siting plan and the CLI (issue 11)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from data import DATA_DIR
from data._roads import ROADS_FILE
from geo.cells import cells_to_latlng
from geo.ingest import read_incidents
from layers.access import DEFAULT_GROUPS, select_sites
from layers.reach import network_coverage, reach_outline, travel_profile
from layers.siting_plan import plan_sites
from layers.travel import coverage_within, nearest_minutes
from products.gaps import gap_table
from products.query import Query
from products.siting import siting_plan

ROADS = DATA_DIR / ROADS_FILE


@pytest.fixture(scope="module")
def sample():
    inc = read_incidents(DATA_DIR / "sample_incidents.csv").incidents
    res = pd.read_csv(DATA_DIR / "sample_resources.csv")
    cand = pd.read_csv(DATA_DIR / "sample_candidates.csv", dtype={"site_id": "string"})
    return inc, res, cand


def test_gap_table_travel_columns_equal_the_travel_layer(sample):
    inc, res, _ = sample
    t = gap_table(inc, res, Query(res=8), "restricted", hotspots=None, travel="walk",
                  roads=ROADS)
    assert (t["travel_mode"] == "walk").all()
    g = travel_profile("walk", ROADS)
    lat, lon = cells_to_latlng(t["h3"].to_numpy(np.uint64))
    by = {x.name: x for x in DEFAULT_GROUPS}
    for name in ("naloxone", "treatment", "ssp"):
        sub = res[select_sites(res, by[name].where)]
        ref, _ = nearest_minutes(g, lat, lon, sub["lat"], sub["lon"])
        np.testing.assert_array_equal(t[f"travel_min_{name}"].to_numpy(float), ref)
        cov = coverage_within(g, lat, lon, sub["lat"], sub["lon"], 10.0).toarray()
        np.testing.assert_array_equal(t[f"sites_within_min_{name}"].to_numpy(int),
                                      cov.sum(axis=1))
        # within 10 minutes ⇔ the nearest is at most 10 minutes away
        assert ((t[f"sites_within_min_{name}"] > 0).to_numpy() == (np.nan_to_num(ref, nan=99)
                                                                   <= 10.0)).all()
    # walking minutes are never shorter than the straight line walked
    d = t["dist_m_naloxone"].to_numpy(float) / (5000 / 60)
    ok = np.isfinite(t["travel_min_naloxone"].to_numpy(float))
    assert (t["travel_min_naloxone"].to_numpy(float)[ok] >= d[ok] - 1e-6).all()
    straight = gap_table(inc, res, Query(res=8), "restricted", hotspots=None,
                         travel="straight")
    assert (straight["travel_mode"] == "straight").all()
    assert straight["travel_min_naloxone"].isna().all()
    plain = gap_table(inc, res, Query(res=8), "restricted", hotspots=None)
    assert "travel_mode" not in plain.columns
    pd.testing.assert_frame_equal(plain, t[plain.columns])  # nothing else changes


def test_gap_table_travel_2sfca_and_within_min(sample):
    from layers.travel import travel_2sfca

    inc, res, _ = sample
    t = gap_table(inc, res, Query(res=8), "restricted", hotspots=None, travel="walk",
                  roads=ROADS, within_min=5, catchment_min=20)
    g = travel_profile("walk", ROADS)
    lat, lon = cells_to_latlng(t["h3"].to_numpy(np.uint64))
    tr = res[res["kind"] == "treatment"]
    demand = t["count"].to_numpy(float)  # restricted, no population: demand = exact burden
    supply = pd.to_numeric(tr["capacity"], errors="coerce").fillna(1.0).to_numpy(float)
    ref = travel_2sfca(g, lat, lon, demand, tr["lat"], tr["lon"], 20.0, supply=supply)
    np.testing.assert_allclose(t["travel_2sfca_treatment"].to_numpy(float), ref)
    assert t["travel_2sfca_treatment"].gt(0).any()
    nal = next(x for x in DEFAULT_GROUPS if x.name == "naloxone")
    sub = res[select_sites(res, nal.where)]
    cov = coverage_within(g, lat, lon, sub["lat"], sub["lon"], 5.0).toarray()
    np.testing.assert_array_equal(t["sites_within_min_naloxone"].to_numpy(int), cov.sum(axis=1))
    # limit case: a catchment longer than any trip gives total supply / total demand (over
    # the cells that reach a treatment site at all)
    big = gap_table(inc, res, Query(res=8), "restricted", hotspots=None, travel="drive",
                    roads=ROADS, catchment_min=1e6)
    gd = travel_profile("drive", ROADS)
    blat, blon = cells_to_latlng(big["h3"].to_numpy(np.uint64))
    tmin, _ = nearest_minutes(gd, blat, blon, tr["lat"], tr["lon"])
    ok = np.isfinite(tmin)
    expect = supply.sum() / big["count"].to_numpy(float)[ok].sum()
    np.testing.assert_allclose(big["travel_2sfca_treatment"].to_numpy(float)[ok], expect)
    np.testing.assert_allclose(big["travel_2sfca_treatment"].to_numpy(float)[~ok], 0.0)
    straight = gap_table(inc, res, Query(res=8), "restricted", hotspots=None,
                         travel="straight")
    assert straight["travel_2sfca_treatment"].isna().all()
    with pytest.raises(ValueError, match="within_min must be a positive number"):
        gap_table(inc, res, Query(res=8), "restricted", hotspots=None, travel="walk",
                  roads=ROADS, within_min=0)


def test_network_mode_needs_roads(sample):
    inc, res, cand = sample
    with pytest.raises(ValueError, match="needs a road network"):
        gap_table(inc, res, Query(res=8), "restricted", travel="walk")
    with pytest.raises(ValueError, match="travel mode must be one of"):
        siting_plan(inc, res, cand, Query(res=8), "restricted", travel="bike", roads=ROADS)


def _milp_reference(w, cov, ex, k):
    """Independent MCLP solve with scipy.optimize.milp (HiGHS) on the full, unreduced model."""
    n, m = cov.shape
    w = np.where(ex, 0.0, w)
    c = np.r_[np.zeros(m), -w]
    # y_i - sum_j C_ij x_j <= 0 ; sum x <= k
    A1 = sp.hstack([-cov.astype(float), sp.identity(n)])
    A2 = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))])
    cons = [LinearConstraint(A1, -np.inf, 0), LinearConstraint(A2, -np.inf, k)]
    integrality = np.r_[np.ones(m), np.zeros(n)]
    r = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1))
    assert r.success
    return -r.fun


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_exact_siting_by_minutes_equals_an_independent_highs_solve(sample, mode):
    inc, res, cand = sample
    from geo.grid import cells_at

    sub = inc[inc["occurred_at"] >= inc["occurred_at"].max() - pd.Timedelta(days=365)]
    cells, counts = np.unique(cells_at(sub, 8), return_counts=True)
    demand = pd.DataFrame({"h3": cells.astype(np.uint64), "count": counts.astype(float)})
    g = travel_profile(mode, ROADS)
    minutes = 10.0 if mode == "walk" else 4.0
    existing = res[res["kind"] == "naloxone"]
    plan = plan_sites(demand, cand, 6, 400.0, existing=existing, method="exact",
                      coverage=network_coverage(g, minutes))
    lat, lon = cells_to_latlng(cells)
    cov = coverage_within(g, lat, lon, cand["lat"], cand["lon"], minutes)
    ex = np.diff(coverage_within(g, lat, lon, existing["lat"], existing["lon"],
                                 minutes).indptr) > 0
    ref = _milp_reference(demand["count"].to_numpy(), cov, ex, 6)
    assert plan.summary["objective"] == pytest.approx(ref, abs=1e-6)
    assert plan.summary["status"] == "optimal"


def test_siting_plan_reports_straight_line_coverage_that_is_not_network(sample):
    inc, res, cand = sample
    out = siting_plan(inc, res, cand, Query(res=8), "restricted", k=5, radius_m=800.0,
                      exact=True, travel="walk", roads=ROADS, minutes=10.0, curve=False)
    s = out.summary
    assert s["travel_mode"] == "walk" and s["minutes"] == 10.0
    assert s["network_covered_pct"] == pytest.approx(s["coverage_pct_after"])
    assert s["straight_not_network_pct"] > 0  # the river and the snap walk cost real coverage
    assert s["straight_covered_pct"] - s["straight_not_network_pct"] + \
        s["network_not_straight_pct"] == pytest.approx(s["network_covered_pct"])


def test_reach_outline_follows_streets(sample):
    _, res, _ = sample
    g = travel_profile("walk", ROADS)
    site = res.iloc[[0]]
    poly = reach_outline(g, site["lat"], site["lon"], 10.0)
    assert poly is not None and poly.area > 0
    from shapely.geometry import Point

    # a street band, not a disc: much smaller than the 10-minute straight-line disc
    disc = Point(float(site["lon"].iloc[0]), float(site["lat"].iloc[0])).buffer(
        (10 * 5000 / 60) / 111_195 / np.cos(np.radians(36)))
    assert poly.area < 0.8 * disc.area


def test_cli_gaps_and_site_with_travel(tmp_path, capsys):
    from cli import main

    out = tmp_path / "gaps.csv"
    code = main(["gaps", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--resources",
                 str(DATA_DIR / "sample_resources.csv"), "--travel", "drive", "--roads",
                 str(ROADS), "--no-hotspots", "--out", str(out)])
    assert code == 0
    t = pd.read_csv(out)
    for c in ("travel_min_naloxone", "travel_min_treatment", "travel_min_ssp", "travel_mode"):
        assert c in t.columns
    assert (t["travel_mode"] == "drive").all() and "dist_m_naloxone" in t.columns
    assert "travel_2sfca_treatment" in t.columns and t["travel_2sfca_treatment"].notna().all()
    # no route is blank in the CSV, never inf
    assert not t.astype(str).isin(["inf", "-inf"]).any().any()
    code = main(["gaps", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--resources",
                 str(DATA_DIR / "sample_resources.csv"), "--travel", "drive", "--roads",
                 str(ROADS), "--no-hotspots", "--within-min", "2", "--out", str(out)])
    assert code == 0
    t2 = pd.read_csv(out)
    assert (t2["sites_within_min_naloxone"] <= t["sites_within_min_naloxone"]).all()
    assert (t2["sites_within_min_naloxone"] < t["sites_within_min_naloxone"]).any()
    assert main(["gaps", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--resources",
                 str(DATA_DIR / "sample_resources.csv"), "--within-min", "5", "--out",
                 str(out)]) == 2
    assert "--within-min and --catchment-min need --travel" in capsys.readouterr().err
    assert main(["gaps", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--resources",
                 str(DATA_DIR / "sample_resources.csv"), "--travel", "walk", "--out",
                 str(out)]) == 2
    assert "needs a road network" in capsys.readouterr().err
    sites = tmp_path / "sites.csv"
    code = main(["site", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--resources",
                 str(DATA_DIR / "sample_resources.csv"), "--candidates",
                 str(DATA_DIR / "sample_candidates.csv"), "--k", "3", "--radius-m", "800",
                 "--travel", "walk", "--roads", str(ROADS), "--out", str(sites)])
    assert code == 0
    assert "not within 10 minutes on the streets" in capsys.readouterr().err
    assert (pd.read_csv(sites)["travel_mode"] == "walk").all()
    bad = tmp_path / "points.geojson"
    bad.write_text('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
                   '"geometry":{"type":"Point","coordinates":[0,0]}}]}')
    assert main(["site", "--incidents", str(DATA_DIR / "sample_incidents.csv"), "--k", "3",
                 "--radius-m", "800", "--travel", "walk", "--roads", str(bad), "--out",
                 str(sites)]) == 2
    assert "no usable road lines" in capsys.readouterr().err
