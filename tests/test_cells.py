"""geo.cells: reference values and equivalence with h3-py (the one owner of H3 conversions)."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from geo.cells import (
    arc_m_to_chord,
    cells_resolution,
    cells_to_parent,
    cells_to_str,
    chord_to_arc_m,
    haversine_m,
    latlng_to_cells,
    str_to_cells,
)


def test_reference_cell():
    c = latlng_to_cells([37.3615593], [-122.0553238], 5)
    assert cells_to_str(c).tolist() == ["85283473fffffff"]
    assert cells_resolution(c).tolist() == [5]


@pytest.mark.parametrize("res", [0, 5, 8, 11, 15])
def test_latlng_to_cells_equals_h3py(res):
    rng = np.random.default_rng(res)
    n = 3000
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))  # uniform on the sphere, poles included
    lon = rng.uniform(-180, 180, n)
    got = latlng_to_cells(lat, lon, res)
    expect = [h3.api.basic_int.latlng_to_cell(a, b, res) for a, b in zip(lat, lon, strict=True)]
    assert got.dtype == np.uint64 and got.tolist() == expect


def test_latlng_to_cells_nan_and_errors():
    got = latlng_to_cells([np.nan, 36.0], [-79.8, -79.8], 9)
    assert got[0] == 0 and got[1] == h3.api.basic_int.latlng_to_cell(36.0, -79.8, 9)
    assert latlng_to_cells([], [], 9).size == 0
    with pytest.raises(ValueError, match="between 0 and 15"):
        latlng_to_cells([1.0], [1.0], 16)
    with pytest.raises(ValueError, match="differ in shape"):
        latlng_to_cells([1.0, 2.0], [1.0], 5)


def test_parent_equals_h3py():
    rng = np.random.default_rng(1)
    cells = latlng_to_cells(rng.uniform(-60, 60, 500), rng.uniform(-180, 180, 500), 11)
    for res in (5, 8, 10, 11):
        got = cells_to_parent(cells, res)
        assert got.tolist() == [h3.api.basic_int.cell_to_parent(int(c), res) for c in cells]
    with pytest.raises(ValueError, match="coarser"):
        cells_to_parent(cells_to_parent(cells, 5), 8)


def test_str_roundtrip_and_bad_string():
    cells = latlng_to_cells([36.0, -33.9], [-79.8, 151.2], 8)
    assert (str_to_cells(cells_to_str(cells)) == cells).all()
    with pytest.raises(ValueError, match="not an H3 cell id"):
        str_to_cells(["zzz"])


def test_chord_arc_roundtrip_and_haversine():
    m = np.array([0.0, 300.0, 10_000.0, 1e6])
    assert np.allclose(chord_to_arc_m(arc_m_to_chord(m)), m)
    # one degree of latitude is R * pi / 180
    assert haversine_m(0, 0, 1, 0) == pytest.approx(6_371_008.8 * np.pi / 180)
