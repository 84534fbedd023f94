"""Road networks and travel times: networkx reference, toy graphs, one-way rules, bad input."""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from data import DATA_DIR
from data._model import xy_to_latlon
from data._roads import ROADS_FILE, river_x
from layers.roads import load_roads, read_roads, roads_from_lines
from layers.travel import (
    WALK_KMH,
    coverage_within,
    minutes_matrix,
    nearest_minutes,
    snap_points,
    travel_2sfca,
    travel_graph,
)

WALK = WALK_KMH * 1000 / 60  # metres per minute
M_PER_DEG = 111_195.0


def _lines(rows, crs="EPSG:4326"):
    """rows: (coords in metres east/north of (0, 0) on the equator, props)."""
    geoms = [LineString([(x / M_PER_DEG, y / M_PER_DEG) for x, y in c]) for c, _ in rows]
    props = [p for _, p in rows]
    return gpd.GeoDataFrame(props, geometry=geoms, crs=crs)


def _pt(x, y):
    return y / M_PER_DEG, x / M_PER_DEG  # lat, lon


@pytest.fixture(scope="module")
def sample_net():
    return read_roads(DATA_DIR / ROADS_FILE)


# ---------------------------------------------------------------- reference: networkx

def _nx_reference(graph, plat, plon, slat, slon):
    """Independent construction: split segments at the snapped points, add walk connectors,
    and run networkx Dijkstra from every point (time from the point to each site)."""
    net = graph.net
    ps = snap_points(graph, plat, plon)
    ss = snap_points(graph, slat, slon)
    G = nx.DiGraph()

    def add(a, b, w):
        if G.has_edge(a, b):
            w = min(w, G[a][b]["weight"])
        G.add_edge(a, b, weight=w)

    on_edge = {}
    for kind, s in (("p", ps), ("s", ss)):
        for i, (e, f) in enumerate(zip(s.edge, s.frac, strict=True)):
            on_edge.setdefault(int(e), []).append((float(f), (kind, i)))
    for k, e in enumerate(graph.edges):
        u, v, t = int(net.u[e]), int(net.v[e]), float(graph.minutes[k])
        chain = [(0.0, u)] + sorted(on_edge.get(k, []), key=lambda z: z[0]) + [(1.0, v)]
        for (fa, a), (fb, b) in zip(chain[:-1], chain[1:], strict=True):
            w = (fb - fa) * t
            if graph.fwd[k]:
                add(a, b, w)
            if graph.bwd[k]:
                add(b, a, w)
    for i, d in enumerate(ps.dist_m):
        add(("P", i), ("p", i), d / WALK)
    for j, d in enumerate(ss.dist_m):
        add(("s", j), ("S", j), d / WALK)
    out = np.full((len(plat), len(slat)), np.nan)
    for i in range(len(plat)):
        dist = nx.single_source_dijkstra_path_length(G, ("P", i), weight="weight")
        for j in range(len(slat)):
            out[i, j] = dist.get(("S", j), np.nan)
    return out


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_times_equal_networkx_on_sample_network(sample_net, mode):
    rng = np.random.default_rng(11)
    g = travel_graph(sample_net, mode)
    plat, plon = xy_to_latlon(rng.uniform(-12, 12, 25), rng.uniform(-10, 10, 25))
    slat, slon = xy_to_latlon(rng.uniform(-12, 12, 8), rng.uniform(-10, 10, 8))
    ref = _nx_reference(g, plat, plon, slat, slon)
    full = minutes_matrix(g, plat, plon, slat, slon).toarray()
    full[full == 0] = np.nan
    np.testing.assert_allclose(full, ref, rtol=1e-9, atol=1e-6)
    near, which = nearest_minutes(g, plat, plon, slat, slon)
    np.testing.assert_allclose(near, np.nanmin(ref, axis=1), rtol=1e-9, atol=1e-6)
    assert (which == np.nanargmin(ref, axis=1)).all()
    cov = coverage_within(g, plat, plon, slat, slon, 30.0).toarray()
    assert ((cov == 1) == (np.nan_to_num(ref, nan=np.inf) <= 30.0)).all()


def test_river_forces_a_detour(sample_net):
    # two points 600 m apart on either bank, away from the bridges
    y = 3.0
    xr = float(river_x(y))
    lat, lon = xy_to_latlon(np.array([xr - 0.3]), np.array([y]))
    slat, slon = xy_to_latlon(np.array([xr + 0.3]), np.array([y]))
    g = travel_graph(sample_net, "walk")
    t, _ = nearest_minutes(g, lat, lon, slat, slon)
    assert t[0] > 2 * 600 / WALK  # straight line would be ~7 minutes' walk


# ---------------------------------------------------------------- toy graphs, by hand

def test_snap_distance_is_walked_and_fraction_counts():
    # one 1000 m street along x; a point 50 m north of x=200 and a site 30 m south of x=700
    net = roads_from_lines(_lines([([(0, 0), (1000, 0)], {"highway": "residential"})]))
    g = travel_graph(net, "walk")
    s = snap_points(g, *_pt(200, 50))
    assert s.dist_m[0] == pytest.approx(50, abs=0.5)
    assert s.frac[0] == pytest.approx(0.2, abs=1e-3)
    t, w = nearest_minutes(g, *_pt(200, 50), *_pt(700, -30))
    assert t[0] == pytest.approx((50 + 500 + 30) / WALK, rel=2e-3)
    assert w[0] == 0


def test_one_way_street_for_cars_not_walkers():
    # square 0-1-2-3 (500 m sides); the bottom side 0→1 is one-way eastbound
    sq = [(0, 0), (500, 0), (500, 500), (0, 500)]
    rows = [([sq[0], sq[1]], {"highway": "residential", "oneway": "yes", "maxspeed": 30}),
            ([sq[1], sq[2]], {"highway": "residential", "oneway": "no", "maxspeed": 30}),
            ([sq[2], sq[3]], {"highway": "residential", "oneway": "no", "maxspeed": 30}),
            ([sq[3], sq[0]], {"highway": "residential", "oneway": "no", "maxspeed": 30})]
    net = roads_from_lines(_lines(rows))
    drive = travel_graph(net, "drive")
    walk = travel_graph(net, "walk")
    car = 30_000 / 60  # metres per minute
    # from (500,0) to (0,0): against the one-way → around three sides by car
    t_drive, _ = nearest_minutes(drive, *_pt(499, 0), *_pt(1, 0))
    assert t_drive[0] == pytest.approx((1 + 1500 + 1) / car, rel=1e-3)
    # with the one-way: direct
    t_with, _ = nearest_minutes(drive, *_pt(1, 0), *_pt(499, 0))
    assert t_with[0] == pytest.approx(498 / car, rel=1e-3)
    t_walk, _ = nearest_minutes(walk, *_pt(499, 0), *_pt(1, 0))
    assert t_walk[0] == pytest.approx(498 / WALK, rel=1e-3)


def test_oneway_minus_one_reverses_and_motorway_not_walkable():
    rows = [([(0, 0), (1000, 0)], {"highway": "primary", "oneway": "-1"}),
            ([(0, 0), (0, 1000), (1000, 1000), (1000, 0)], {"highway": "motorway",
                                                               "oneway": "no"})]
    net = roads_from_lines(_lines(rows))
    drive = travel_graph(net, "drive")
    # -1: traffic flows 1000 → 0; going 0 → 1000 takes the motorway around (3 km at 100 km/h)
    t, _ = nearest_minutes(drive, *_pt(0, 0), *_pt(1000, 0))
    assert t[0] == pytest.approx(3000 / (100_000 / 60), rel=1e-3)
    t, _ = nearest_minutes(drive, *_pt(1000, 0), *_pt(0, 0))
    assert t[0] == pytest.approx(1000 / (60_000 / 60), rel=1e-3)
    walk = travel_graph(net, "walk")
    assert walk.edges.size == 1  # the motorway's 3 segments are not walkable


def test_unreachable_is_nan_not_infinity():
    # two separate streets; the site is on the small one (an island)
    rows = [([(0, 0), (1000, 0)], {"highway": "residential"}),
            ([(0, 5000), (100, 5000)], {"highway": "residential"})]
    g = travel_graph(roads_from_lines(_lines(rows)), "walk")
    plat, plon = _pt(500, 10)
    slat = np.array([_pt(50, 5000)[0], _pt(900, 0)[0]])
    slon = np.array([_pt(50, 5000)[1], _pt(900, 0)[1]])
    t, w = nearest_minutes(g, np.r_[plat, _pt(60, 5001)[0]], np.r_[plon, _pt(60, 5001)[1]],
                           slat[:1], slon[:1])
    assert np.isnan(t[0]) and w[0] == -1 and np.isfinite(t[1])
    m = minutes_matrix(g, plat, plon, slat[:1], slon[:1])
    assert m.nnz == 0


def test_sites_all_on_an_island_is_a_clear_error():
    rows = [([(i * 100, 0), (i * 100 + 100, 0)], {"highway": "residential"}) for i in range(200)]
    rows.append(([(0, 5000), (100, 5000)], {"highway": "residential"}))
    g = travel_graph(roads_from_lines(_lines(rows)), "walk")
    with pytest.raises(ValueError, match="island"):
        nearest_minutes(g, *_pt(500, 10), *_pt(50, 5000))


def test_some_sites_on_an_island_get_one_sentence():
    from layers.travel import island_note, island_sites

    rows = [([(i * 100, 0), (i * 100 + 100, 0)], {"highway": "residential"}) for i in range(200)]
    rows.append(([(0, 5000), (100, 5000)], {"highway": "residential"}))
    g = travel_graph(roads_from_lines(_lines(rows)), "walk")
    slat, slon = _pt(np.array([50.0, 500, 900]), np.array([5000.0, 0, 0]))
    np.testing.assert_array_equal(island_sites(g, slat, slon), [True, False, False])
    note = island_note(g, slat, slon, "naloxone sites")
    assert note.startswith("1 of the 3 naloxone sites lies on a small piece of the road network")
    assert note.count(". ") == 0 and note.endswith(".")
    assert island_note(g, slat[1:], slon[1:]) is None


def test_2sfca_limit_case_huge_catchment():
    net = roads_from_lines(_lines([([(0, 0), (3000, 0)], {"highway": "residential"})]))
    g = travel_graph(net, "walk")
    lat, lon = _pt(np.array([100.0, 1500, 2900]), np.zeros(3))
    slat, slon = _pt(np.array([500.0, 2500]), np.zeros(2))
    a = travel_2sfca(g, lat, lon, [10, 20, 30], slat, slon, 1e6, supply=[2, 4])
    np.testing.assert_allclose(a, 6 / 60)  # total supply / total demand


def test_2sfca_hand_computed_catchment():
    # one straight street, walked at 5 km/h (83.3 m/min); 15 minutes = 1250 m
    net = roads_from_lines(_lines([([(0, 0), (3000, 0)], {"highway": "residential"})]))
    g = travel_graph(net, "walk")
    lat, lon = _pt(np.array([100.0, 1500, 2900]), np.zeros(3))
    slat, slon = _pt(np.array([500.0, 2500]), np.zeros(2))
    a = travel_2sfca(g, lat, lon, [10, 20, 30], slat, slon, 15.0, supply=[2, 4])
    # site 500 m reaches cells 100 and 1500 (400 m, 1000 m): R = 2 / 30
    # site 2500 m reaches cells 1500 and 2900 (1000 m, 400 m): R = 4 / 50
    np.testing.assert_allclose(a, [2 / 30, 2 / 30 + 4 / 50, 4 / 50])
    # a catchment shorter than every trip: no access anywhere
    np.testing.assert_allclose(travel_2sfca(g, lat, lon, [10, 20, 30], slat, slon, 1.0), 0.0)


# ---------------------------------------------------------------- bad input, files, cache

def test_no_usable_lines(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(0, 0)], crs=4326)
    with pytest.raises(ValueError, match="no usable road lines"):
        roads_from_lines(gdf)
    p = tmp_path / "empty.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(ValueError, match="no usable road lines|no features"):
        read_roads(p)


def test_wrong_crs_is_explained():
    gdf = _lines([([(0, 0), (1000, 0)], {"highway": "residential"})])
    metres = gdf.set_geometry(gdf.geometry.scale(M_PER_DEG * 100, M_PER_DEG * 100,
                                                 origin=(0, 0)), crs=None)
    with pytest.raises(ValueError, match="not longitude/latitude"):
        roads_from_lines(metres)
    # right CRS declared: transformed
    utm = gdf.to_crs(32631)
    net = roads_from_lines(utm)
    assert net.length_m.sum() == pytest.approx(1000, rel=1e-3)


def test_roads_far_from_the_points_is_explained():
    g = travel_graph(roads_from_lines(_lines([([(0, 0), (1000, 0)], {})])), "walk")
    with pytest.raises(ValueError, match="does not cover this area"):
        nearest_minutes(g, [36.0], [-79.0], [36.0], [-79.0])


def test_cache_reused(tmp_path):
    import layers.roads as roads

    src = DATA_DIR / ROADS_FILE
    roads._MEMO.clear()  # an earlier test in the session may have built this network in memory
    a = load_roads(src, cache_dir=tmp_path)
    files = list(tmp_path.glob("roads-*.npz"))
    assert len(files) == 1
    roads._MEMO.clear()
    b = load_roads(src, cache_dir=tmp_path)
    assert np.array_equal(a.u, b.u) and np.array_equal(a.speed_kmh, b.speed_kmh)


def test_osm_extract_reader(tmp_path):
    osmium = pytest.importorskip("osmium")
    path = tmp_path / "toy.osm.pbf"
    with osmium.SimpleWriter(str(path)) as w:
        for i, (lat, lon) in enumerate([(0, 0), (0, 0.009), (0.009, 0.009)], start=1):
            w.add_node(osmium.osm.mutable.Node(id=i, location=(lon, lat), version=1))
        w.add_way(osmium.osm.mutable.Way(id=10, nodes=[1, 2], version=1,
                                         tags={"highway": "residential", "oneway": "yes"}))
        w.add_way(osmium.osm.mutable.Way(id=11, nodes=[2, 3], version=1,
                                         tags={"highway": "motorway", "maxspeed": "60 mph"}))
        w.add_way(osmium.osm.mutable.Way(id=12, nodes=[1, 3], version=1,
                                         tags={"building": "yes"}))
    net = read_roads(path)
    assert net.n_nodes == 3 and net.n_edges == 2
    res = np.flatnonzero(net.walk)
    assert res.size == 1 and net.drive_fwd[res[0]] and not net.drive_bwd[res[0]]
    mot = np.flatnonzero(~net.walk)[0]
    assert net.speed_kmh[mot] == pytest.approx(60 * 1.609344)
    assert net.drive_fwd[mot] and not net.drive_bwd[mot]  # motorway: implied one-way


def test_sample_roads_file_is_a_fresh_generation(tmp_path):
    from data._roads import write_roads

    assert write_roads(tmp_path).read_bytes() == (DATA_DIR / ROADS_FILE).read_bytes()


def test_cache_lives_next_to_the_store(tmp_path, monkeypatch):
    import argparse

    import layers.roads as roads
    from commands._travel import travel_from_args

    # recorded first, so the value travel_from_args sets is undone after the test
    monkeypatch.setenv("GAPMAP_CACHE_DIR", "recorded")
    monkeypatch.delenv("GAPMAP_CACHE_DIR")
    monkeypatch.setenv("GAPMAP_STORE_DIR", str(tmp_path / "stores"))
    assert roads.roads_cache_dir() == tmp_path / "stores" / "cache"
    monkeypatch.delenv("GAPMAP_STORE_DIR")
    args = argparse.Namespace(travel="walk", roads=str(DATA_DIR / ROADS_FILE),
                              store=str(tmp_path / "county" / "s.duckdb"))
    travel_from_args(args)
    assert roads.roads_cache_dir() == (tmp_path / "county" / "cache").resolve()
