"""Emerging hot spots: space-time Gi* against esda and a dense reference, every category on
constructed series, planted-signal recovery, the 10-slice rule and bad parameters."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import shapely

from clustering.emerging import (
    CATEGORIES,
    classify_emerging,
    emerging_from_cube,
    emerging_hotspots,
    incidents_to_cube,
    space_time_gi_z,
)
from clustering.gistar import gi_star_z
from clustering.neighbours import build_neighbourhood
from geo.cells import cells_to_latlng, latlng_to_cells, polygon_to_cells


@pytest.fixture(scope="module")
def nbhd():
    cells = polygon_to_cells(shapely.box(-80.0, 35.95, -79.9, 36.02), 8)
    return build_neighbourhood(cells, 1)


def space_time_matrix(nbhd, T, window):
    """Dense-free reference: the (N·T)² space-time weights, bin (i, t) → row i·T + t."""
    lag = sp.csr_matrix(np.tril(np.triu(np.ones((T, T)), -window), 0))  # s in t-window..t
    return sp.kron(nbhd.W, lag, format="csr")


@pytest.mark.parametrize("window", [0, 1, 2])
def test_space_time_z_equals_esda_on_the_space_time_graph(nbhd, window):
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    T = 6
    rng = np.random.default_rng(window)
    x = rng.poisson(1.0, (nbhd.n, T)).astype(float)
    x[:8, 3:] += 4
    z = space_time_gi_z(x, nbhd, window)
    W = space_time_matrix(nbhd, T, window).tolil()
    W.setdiag(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lg = G_Local(x.ravel(), Graph.from_sparse(W.tocsr()), transform="B", star=True,
                     permutations=0)
    np.testing.assert_allclose(z.ravel(), lg.Zs, atol=1e-9, rtol=0)
    assert np.abs(z).max() > 2


def test_single_slice_equals_spatial_gi(nbhd):
    y = np.random.default_rng(1).poisson(2.0, nbhd.n).astype(float)
    np.testing.assert_allclose(space_time_gi_z(y[:, None], nbhd, 1)[:, 0], gi_star_z(y, nbhd))


def _cls(hot_rows, cold_rows=None, trend=None):
    hot = np.array(hot_rows, dtype=bool)
    cold = np.zeros_like(hot) if cold_rows is None else np.array(cold_rows, dtype=bool)
    trend = np.zeros(len(hot)) if trend is None else np.asarray(trend, float)
    tz = trend * 3.0
    tp = np.where(trend != 0, 0.001, 0.6)
    return list(classify_emerging(hot, cold, tz, tp))


def row(ones, T=10):
    r = np.zeros(T, dtype=bool)
    r[list(ones)] = True
    return r


ALL = range(10)
CASES = [  # (hot slices, cold slices, MK trend sign, expected)
    ([9], [], 0, "new"),
    ([7, 8, 9], [], 0, "consecutive"),
    ([2, 3, 4, 5, 6, 7, 8, 9], [], 0, "consecutive"),  # 80 % hot, one run, never before
    (ALL, [], 1, "intensifying"),
    (ALL, [], 0, "persistent"),
    ([0, 1, 2, 4, 5, 6, 7, 8, 9], [], 0, "persistent"),  # 90 % with a gap still counts
    (ALL, [], -1, "diminishing"),
    ([0, 2, 5, 9], [], 0, "sporadic"),
    ([1, 3, 4, 8, 9], [], 1, "sporadic"),  # < 90 %: trend does not matter
    ([0, 3], [], 0, "sporadic"),  # on and off, not hot at the end, never cold
    ([4, 9], [1], 0, "oscillating"),
    (range(9), [], 0, "historical"),
]


@pytest.mark.parametrize("hot,cold,trend,kind", CASES)
def test_categories_hot_and_cold_mirror(hot, cold, trend, kind):
    h, c = row(hot), row(cold)
    assert _cls([h], [c], [trend]) == [f"{kind}_hot"]
    assert _cls([c], [h], [-trend]) == [f"{kind}_cold"]  # mirror: z falls for a cold spot


def test_no_pattern():
    assert _cls([row([])]) == ["no_pattern"]
    assert _cls([row([2])], [row([5])]) == ["no_pattern"]  # hot and cold, neither at the end


def test_every_category_is_reachable():
    got = set()
    for hot, cold, trend, _ in CASES:
        got.update(_cls([row(hot)], [row(cold)], [trend]))
        got.update(_cls([row(cold)], [row(hot)], [-trend]))
    got.update(_cls([row([])]))
    assert got == set(CATEGORIES)


def synthetic_incidents(seed=0):
    """Background + one persistent hotspot (all year) + one emerging from week 45."""
    rng = np.random.default_rng(seed)
    days = 52 * 7
    start = pd.Timestamp("2024-01-01")  # a Monday

    def pts(n, lat, lon, sd, d0, d1):
        return pd.DataFrame({
            "lat": lat + rng.normal(0, sd, n), "lon": lon + rng.normal(0, sd, n),
            "occurred_at": start + pd.to_timedelta(rng.uniform(d0, d1, n), unit="D")})

    df = pd.concat([
        pts(3000, 36.0, -79.8, 0.06, 0, days),
        pts(1000, 36.03, -79.85, 0.0015, 0, days),  # persistent
        pts(400, 35.95, -79.72, 0.0015, 44 * 7, days),  # emerging (weeks 45-52)
    ], ignore_index=True)
    df["h3"] = latlng_to_cells(df["lat"], df["lon"], 11)
    return df


@pytest.mark.parametrize("fdr", ["cube", "slice"])
def test_planted_persistent_and_emerging_recovered(fdr):
    df = synthetic_incidents()
    out = emerging_hotspots(df, 8, slice="week", fdr=fdr)
    cat = out.set_index("h3")["category"]
    pers = latlng_to_cells([36.03], [-79.85], 8)[0]
    emer = latlng_to_cells([35.95], [-79.72], 8)[0]
    assert cat[pers] in ("persistent_hot", "intensifying_hot", "diminishing_hot")
    assert cat[emer] in ("new_hot", "consecutive_hot")
    assert out["count"].sum() == len(df)  # counts conserved in the cube


def test_cube_counts_and_slices():
    df = synthetic_incidents(1)
    cells = np.unique(latlng_to_cells(df["lat"], df["lon"], 8))  # point-in-hexagon
    cube = incidents_to_cube(df, cells, 8, "week")
    assert cube.shape == (cells.size, 52)
    assert cube.to_numpy().sum() == len(df)
    assert cube.columns[0] == pd.Timestamp("2024-01-01")
    monthly = incidents_to_cube(df, cells, 8, "month", start="2024-03-01", end="2024-07-01")
    assert monthly.shape[1] == 4
    t = pd.to_datetime(df["occurred_at"])
    assert monthly.to_numpy().sum() == ((t >= "2024-03-01") & (t < "2024-07-01")).sum()


def test_fewer_than_ten_slices_refused():
    df = synthetic_incidents()
    with pytest.raises(ValueError, match="at least 10 time slices"):
        emerging_hotspots(df, 8, slice="month", start="2024-01-01", end="2024-07-01")
    with pytest.raises(ValueError, match="at least 10 time slices"):
        classify_emerging(np.zeros((2, 9), bool), np.zeros((2, 9), bool), [0, 0], [1, 1])


def test_bad_parameters(nbhd):
    df = synthetic_incidents()
    with pytest.raises(ValueError, match="slice must be one of"):
        emerging_hotspots(df, 8, slice="day")
    with pytest.raises(ValueError, match="window must be a non-negative integer"):
        space_time_gi_z(np.ones((nbhd.n, 10)), nbhd, -1)
    with pytest.raises(ValueError, match="cube must be"):
        space_time_gi_z(np.ones((3, 10)), nbhd, 1)
    with pytest.raises(ValueError, match="alpha must be in"):
        emerging_from_cube(pd.DataFrame(np.ones((nbhd.n, 10)), index=nbhd.cells), nbhd,
                           alpha=0)
    with pytest.raises(ValueError, match="fdr must be 'cube'"):
        emerging_from_cube(pd.DataFrame(np.ones((nbhd.n, 10)), index=nbhd.cells), nbhd,
                           fdr="cell")
    with pytest.raises(ValueError, match="both hot and cold"):
        classify_emerging(np.ones((1, 10), bool), np.ones((1, 10), bool), [0], [1])


def test_input_not_mutated_and_constant_cube():
    df = synthetic_incidents()
    before = df.copy()
    emerging_hotspots(df, 8)
    pd.testing.assert_frame_equal(df, before)
    lat, lon = cells_to_latlng(np.unique(df["h3"].to_numpy(np.uint64))[:1])
    nb = build_neighbourhood(latlng_to_cells(lat, lon, 8), 0)
    assert (space_time_gi_z(np.ones((1, 12)), nb, 1) == 0).all()
