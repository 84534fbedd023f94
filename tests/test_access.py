"""Access per cell: nearest / within reach vs brute force, 2SFCA limits, population weights."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cells import cells_to_latlng, cells_to_polygons, haversine_m, latlng_to_cells
from layers.access import (
    DEFAULT_GROUPS,
    AccessGroup,
    cell_access,
    cell_e2sfca,
    distance_table,
    nearest_sites,
    select_sites,
    sites_within,
    two_step_fca,
)
from layers.population import population_to_cells


def brute(lat, lon, slat, slon):
    return haversine_m(lat[:, None], lon[:, None], slat[None, :], slon[None, :])


@pytest.fixture(scope="module")
def pts():
    rng = np.random.default_rng(42)
    lat = 35.8 + rng.random(400) * 0.6
    lon = -80.2 + rng.random(400) * 0.7
    slat = 35.8 + rng.random(60) * 0.6
    slon = -80.2 + rng.random(60) * 0.7
    return lat, lon, slat, slon


def test_nearest_matches_brute_force_haversine(pts):
    lat, lon, slat, slon = pts
    d, idx = nearest_sites(lat, lon, slat, slon)
    D = brute(lat, lon, slat, slon)
    np.testing.assert_allclose(d, D.min(axis=1), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(idx, D.argmin(axis=1))


def test_nearest_far_apart_and_antimeridian():
    # exact great circle even across the antimeridian and at continental distances
    lat, lon = np.array([0.0, 60.0]), np.array([179.9, -120.0])
    slat, slon = np.array([0.0, 40.7]), np.array([-179.9, -74.0])
    d, idx = nearest_sites(lat, lon, slat, slon)
    D = brute(lat, lon, slat, slon)
    np.testing.assert_allclose(d, D.min(axis=1), rtol=1e-9)
    assert idx[0] == 0 and d[0] == pytest.approx(22238.9, rel=1e-3)  # 0.2 degree at the equator


def test_within_reach_matches_brute_force(pts):
    lat, lon, slat, slon = pts
    D = brute(lat, lon, slat, slon)
    for r in (500.0, 5_000.0, 20_000.0):
        np.testing.assert_array_equal(sites_within(lat, lon, slat, slon, r), (D <= r).sum(axis=1))


def test_distance_table_matches_brute_force(pts):
    lat, lon, slat, slon = pts
    t = distance_table(lat, lon, slat, slon, 8_000.0).sort_values(["origin", "destination"])
    D = brute(lat, lon, slat, slon)
    i, j = np.nonzero(D <= 8_000.0)
    assert list(zip(t["origin"], t["destination"], strict=True)) == list(zip(i, j, strict=True))
    np.testing.assert_allclose(t["distance_m"], D[i, j], rtol=1e-9, atol=1e-6)


def test_distance_table_keeps_zero_distances():
    t = distance_table([36.0, 36.1], [-79.0, -79.0], [36.0], [-79.0], 100.0)
    assert t["origin"].tolist() == [0] and t["distance_m"].tolist() == [0.0]


def test_empty_sites_give_inf_and_zero():
    d, idx = nearest_sites([36.0], [-79.0], [], [])
    assert np.isinf(d[0]) and idx[0] == -1
    assert sites_within([36.0], [-79.0], [], [], 100.0).tolist() == [0]


# ------------------------------------------------------------------ 2SFCA
@pytest.fixture(scope="module")
def grid():
    """A 10 x 10 patch of res-8 cells with one site at some centres."""
    lat = np.repeat(np.linspace(36.0, 36.09, 10), 10)
    lon = np.tile(np.linspace(-79.9, -79.79, 10), 10)
    cells = np.unique(latlng_to_cells(lat, lon, 8))
    clat, clon = cells_to_latlng(cells)
    rng = np.random.default_rng(7)
    demand = rng.integers(1, 500, cells.size).astype(float)
    at = rng.choice(cells.size, 12, replace=False)
    supply = rng.integers(1, 5, at.size).astype(float)
    return cells, clat, clon, demand, at, supply


def test_2sfca_huge_catchment_is_total_supply_over_total_demand(grid):
    cells, clat, clon, demand, at, supply = grid
    t = distance_table(clat, clon, clat[at], clon[at], 1e6)
    A = two_step_fca(demand, supply, t, catchment_m=1e7)  # every pair in the first band
    np.testing.assert_allclose(A, supply.sum() / demand.sum(), rtol=1e-12)


def test_2sfca_tiny_catchment_is_local_ratio(grid):
    cells, clat, clon, demand, at, supply = grid
    t = distance_table(clat, clon, clat[at], clon[at], 1e4)
    A = two_step_fca(demand, supply, t, catchment_m=10.0)  # far below the ~900 m spacing
    expect = np.zeros(cells.size)
    expect[at] = supply / demand[at]
    np.testing.assert_allclose(A, expect, rtol=1e-12)


def test_e2sfca_hand_computed_bands():
    # origins at 0 m, 400 m, 800 m from one site; catchment 900 m → bands 0-300-600-900
    table = pd.DataFrame({"origin": [0, 1, 2], "destination": [0, 0, 0],
                          "distance_m": [0.0, 400.0, 800.0]})
    P = np.array([100.0, 200.0, 300.0])
    A, R = two_step_fca(P, [10.0], table, 900.0, return_ratios=True)
    denom = 100 * 1.0 + 200 * 0.68 + 300 * 0.22
    assert R[0] == pytest.approx(10 / denom)
    np.testing.assert_allclose(A, [10 / denom, 0.68 * 10 / denom, 0.22 * 10 / denom])
    # classic 2SFCA: one band of weight 1
    A1 = two_step_fca(P, [10.0], table, 900.0, weights=(1.0,))
    np.testing.assert_allclose(A1, 10 / 600)
    # supply is conserved: sum of demand-weighted access equals supply when all demand is reached
    assert (A1 * P).sum() == pytest.approx(10.0)


def test_2sfca_zero_demand_site_gives_no_inf():
    table = pd.DataFrame({"origin": [0], "destination": [0], "distance_m": [0.0]})
    A = two_step_fca([0.0], [3.0], table, 100.0)
    assert A.tolist() == [0.0]


def test_2sfca_bad_inputs():
    table = pd.DataFrame({"origin": [0], "destination": [0], "distance_m": [0.0]})
    with pytest.raises(ValueError, match="demand must be finite and non-negative"):
        two_step_fca([-1.0], [1.0], table, 100.0)
    with pytest.raises(ValueError, match="catchment_m must be a positive"):
        two_step_fca([1.0], [1.0], table, 0.0)
    with pytest.raises(ValueError, match="table needs column 'distance_m'"):
        two_step_fca([1.0], [1.0], table.drop(columns="distance_m"), 100.0)
    with pytest.raises(ValueError, match="outside demand/supply"):
        two_step_fca([1.0], [1.0], table.assign(destination=[3]), 100.0)


# ------------------------------------------------------------------ per cell
def make_sites(clat, clon):
    n = 6
    return pd.DataFrame({
        "site_id": [f"S{i}" for i in range(n)],
        "kind": ["naloxone", "naloxone", "ssp", "treatment", "treatment", "naloxone"],
        "lat": clat[[0, 15, 30, 45, 60, 99]] + 0.001,
        "lon": clon[[0, 15, 30, 45, 60, 99]],
        "naloxone_distribution": pd.array([True, True, True, False, False, True], "boolean"),
        "open_24_7": pd.array([True, False, None, False, False, False], "boolean"),
        "buprenorphine": pd.array([None, None, None, True, True, None], "boolean"),
        "medicaid": pd.array([None, None, None, False, True, None], "boolean"),
        "hours": ["24/7", "Mo-Fr 09:00-17:00", None, None, None, "Sa-Su 10:00-12:00"],
        "capacity": pd.array([4, None, None, 100, 50, None], "Float64"),
    })


def test_cell_access_equals_per_group_brute_force(grid):
    cells, clat, clon, *_ = grid
    sites = make_sites(clat, clon)
    out = cell_access(cells, sites)
    assert out["h3"].tolist() == cells.tolist() and len(out) == cells.size
    D = brute(clat, clon, sites["lat"].to_numpy(), sites["lon"].to_numpy())
    masks = {"naloxone": [0, 1, 2, 5], "naloxone_24_7": [0], "ssp": [2],
             "treatment": [3, 4], "medicaid_buprenorphine": [4]}
    for g in DEFAULT_GROUPS:
        cols = masks[g.name]
        np.testing.assert_array_equal(np.flatnonzero(select_sites(sites, g.where)), cols)
        np.testing.assert_allclose(out[f"dist_m_{g.name}"], D[:, cols].min(axis=1), rtol=1e-9)
        np.testing.assert_array_equal(out[f"sites_within_{g.name}"],
                                      (D[:, cols] <= g.reach_m).sum(axis=1))


def test_cell_access_open_at_and_custom_group(grid):
    cells, clat, clon, *_ = grid
    sites = make_sites(clat, clon)
    sunday_11 = pd.Timestamp("2026-11-29 11:00")
    g = (AccessGroup("nal", {"kind": "naloxone"}, 500.0, "naloxone"),)
    out = cell_access(cells, sites, g, open_at=sunday_11)  # S0 (24/7) and S5 (weekends) open
    D = brute(clat, clon, sites["lat"].to_numpy(), sites["lon"].to_numpy())
    np.testing.assert_allclose(out["dist_m_nal"], D[:, [0, 5]].min(axis=1), rtol=1e-9)
    none = cell_access(cells, sites, (AccessGroup("x", {"kind": "ssp", "open_24_7": True}, 1.0),))
    assert np.isinf(none["dist_m_x"]).all() and (none["sites_within_x"] == 0).all()


def test_cell_e2sfca_capacity_supply_huge_catchment(grid):
    cells, clat, clon, demand, *_ = grid
    sites = make_sites(clat, clon)
    A = cell_e2sfca(cells, sites, demand, where={"kind": "treatment"}, catchment_m=1e7)
    np.testing.assert_allclose(A, 150.0 / demand.sum(), rtol=1e-12)
    A1 = cell_e2sfca(cells, sites, demand, where={"kind": "ssp"}, catchment_m=1e7)
    np.testing.assert_allclose(A1, 1.0 / demand.sum(), rtol=1e-12)  # no capacity → 1


def test_access_bad_inputs(grid):
    cells, clat, clon, *_ = grid
    sites = make_sites(clat, clon)
    with pytest.raises(ValueError, match="cannot filter sites on 'walkin'"):
        cell_access(cells, sites, (AccessGroup("w", {"walkin": True}, 100.0),))
    with pytest.raises(ValueError, match="reach_m must be > 0"):
        AccessGroup("w", {}, 0.0)
    with pytest.raises(ValueError, match="group names must be unique"):
        cell_access(cells, sites, (DEFAULT_GROUPS[0], DEFAULT_GROUPS[0]))
    with pytest.raises(ValueError, match="sites are missing column 'lat'"):
        cell_access(cells, sites.drop(columns="lat"))
    with pytest.raises(ValueError, match="NaN"):
        nearest_sites([np.nan], [0.0], [1.0], [1.0])
    with pytest.raises(ValueError, match="demand has 1 values"):
        cell_e2sfca(cells, sites, [1.0])


# ------------------------------------------------------------------ population
def test_population_conserved_and_hand_split():
    cells = np.unique(latlng_to_cells(np.array([36.0, 36.01, 36.02]),
                                      np.array([-79.9, -79.9, -79.9]), 8))
    polys = cells_to_polygons(cells)
    two = shapely.union(polys[0], polys[1])
    areas = gpd.GeoDataFrame({"population": [1000.0, 30.0]},
                             geometry=[two, polys[-1]], crs=4326)
    before = areas.copy()
    pop, lost = population_to_cells(areas, cells, return_unassigned=True)
    pd.testing.assert_frame_equal(areas, before)
    assert pop.sum() == pytest.approx(1030.0) and abs(lost) < 1e-6
    eq = gpd.GeoSeries(list(polys[:2]), crs=4326).to_crs("EPSG:6933").area.to_numpy()
    np.testing.assert_allclose(pop[:2], 1000.0 * eq / eq.sum(), rtol=1e-6)
    assert pop[-1] == pytest.approx(30.0)


def test_population_partial_coverage_reports_unassigned():
    cells = latlng_to_cells(np.array([36.0]), np.array([-79.9]), 8)
    big = shapely.box(-80.0, 35.9, -79.8, 36.1)
    areas = gpd.GeoDataFrame({"pop": [10_000.0]}, geometry=[big], crs=4326)
    pop, lost = population_to_cells(areas, cells, "pop", return_unassigned=True)
    assert 0 < pop[0] < 10_000 and pop[0] + lost == pytest.approx(10_000.0)


def test_population_bad_inputs():
    cells = latlng_to_cells(np.array([36.0]), np.array([-79.9]), 8)
    g = gpd.GeoDataFrame({"people": [1.0]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(ValueError, match=r"no column 'population'; found \['people'\]"):
        population_to_cells(g, cells)
    with pytest.raises(ValueError, match="no CRS"):
        population_to_cells(gpd.GeoDataFrame({"population": [1.0]},
                                             geometry=[shapely.box(0, 0, 1, 1)]), cells)
    with pytest.raises(ValueError, match="non-negative"):
        population_to_cells(g.rename(columns={"people": "population"}).assign(population=-1.0),
                            cells)


# ------------------------------------------------------------------ property
coords = st.tuples(st.floats(-89.9, 89.9), st.floats(-180.0, 180.0))


@settings(max_examples=40, deadline=None)
@given(st.lists(coords, min_size=1, max_size=30), st.lists(coords, min_size=1, max_size=30),
       st.floats(1.0, 5e6))
def test_property_nearest_and_reach_equal_brute_force_anywhere(origins, sites, reach):
    lat, lon = (np.array(v) for v in zip(*origins, strict=True))
    slat, slon = (np.array(v) for v in zip(*sites, strict=True))
    D = brute(lat, lon, slat, slon)
    d, _ = nearest_sites(lat, lon, slat, slon)
    np.testing.assert_allclose(d, D.min(axis=1), rtol=1e-7, atol=1e-3)
    got = sites_within(lat, lon, slat, slon, reach)
    # counts agree except for pairs within rounding of the reach itself
    edge = np.abs(D - reach) < 1e-3
    lo, hi = ((D <= reach) & ~edge).sum(axis=1), ((D <= reach) | edge).sum(axis=1)
    assert ((got >= lo) & (got <= hi)).all()
