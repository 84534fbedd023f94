"""geo.cells.latlng_to_cells (h3ronpy, chunked over threads) = h3-py's cells, point for point."""

from __future__ import annotations

import h3.api.basic_int as h3int
import numpy as np
import pytest

from geo import cells as gc


def _h3py(lat, lon, res):
    out = np.zeros(lat.size, dtype=np.uint64)
    f = h3int.latlng_to_cell
    for i, (a, b) in enumerate(zip(lat.tolist(), lon.tolist(), strict=True)):
        out[i] = f(a, b, res)
    return out


def _edge_points():
    """Poles, the antimeridian from both sides, the equator, ±0, wrapped longitudes."""
    eps = 1e-9
    lat = [90, -90, 90 - eps, -90 + eps, 0, -0.0, 0, 0, 0, 0, 45, -45, 89.99, -89.99, 10, 10]
    lon = [0, 0, 179.9, -179.9, 180, 180, -180, 180 - eps, -180 + eps, -0.0, 200, -200, 180,
           -180, 540, -359.5]
    return np.array(lat, float), np.array(lon, float)


def test_one_million_random_points_identical_to_h3py():
    rng = np.random.default_rng(2026)
    n = 1_000_000
    lat = rng.uniform(-90, 90, n)
    lon = rng.uniform(-180, 180, n)
    elat, elon = _edge_points()
    lat[: elat.size], lon[: elon.size] = elat, elon
    # a band straddling the antimeridian and a polar cap, densely
    lat[100:20_000] = rng.uniform(-60, 60, 19_900)
    lon[100:20_000] = rng.choice([-1, 1], 19_900) * rng.uniform(179.0, 180.0, 19_900)
    lat[20_000:40_000] = rng.uniform(85, 90, 20_000) * rng.choice([-1, 1], 20_000)
    got = gc.latlng_to_cells(lat, lon, 11)  # 1M points: several threads
    assert got.dtype == np.uint64
    np.testing.assert_array_equal(got, _h3py(lat, lon, 11))


@pytest.mark.parametrize("res", range(0, 16))
def test_edges_every_resolution(res):
    lat, lon = _edge_points()
    np.testing.assert_array_equal(gc.latlng_to_cells(lat, lon, res), _h3py(lat, lon, res))


def test_threads_and_chunks_do_not_change_cells(monkeypatch):
    rng = np.random.default_rng(5)
    lat = rng.uniform(35, 37, 10_001)
    lon = rng.uniform(-80, -78, 10_001)
    one = gc.latlng_to_cells(lat, lon, 9)
    monkeypatch.setattr(gc, "_CHUNK_MIN", 1000)  # chunks of ~1.4k rows in 7 threads
    monkeypatch.setattr(gc.os, "cpu_count", lambda: 7)
    np.testing.assert_array_equal(gc.latlng_to_cells(lat, lon, 9), one)
    np.testing.assert_array_equal(one, _h3py(lat, lon, 9))


def test_non_finite_give_zero_and_views_work():
    lat = np.array([np.nan, 36.0, np.inf, 36.1, -np.inf, 36.2])
    lon = np.array([-79.8, np.nan, -79.8, -np.inf, -79.8, -79.9])
    got = gc.latlng_to_cells(lat, lon, 9)
    assert got[:5].tolist() == [0, 0, 0, 0, 0]
    assert got[5] == h3int.latlng_to_cell(36.2, -79.9, 9)
    grid = np.array([[36.0, -79.8], [36.5, -79.1], [37.0, -78.4]])
    got = gc.latlng_to_cells(grid[:, 0], grid[:, 1], 8)  # strided column views
    assert got.tolist() == [h3int.latlng_to_cell(a, b, 8) for a, b in grid]
    square = gc.latlng_to_cells(grid[:2, :], grid[:2, :], 4)  # 2-D keeps its shape
    assert square.shape == (2, 2)
    assert square[1, 0] == h3int.latlng_to_cell(36.5, 36.5, 4)
