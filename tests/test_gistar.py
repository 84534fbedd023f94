"""Gi*: esda equality, a hand-computed toy grid, degenerate cases, permutation inference, errors."""

import math
import warnings

import h3.api.basic_int as h3
import numpy as np
import pandas as pd
import pytest
import shapely

from clustering.gistar import classify_hotspots, gi_star, gi_star_permutation, gi_star_z
from clustering.neighbours import build_neighbourhood
from geo.cells import polygon_to_cells

CENTRE = int("88283082a3fffff", 16)  # a res-8 cell


@pytest.fixture(scope="module")
def grid():
    cells = polygon_to_cells(shapely.box(-80.0, 35.95, -79.8, 36.1), 8)
    return cells, build_neighbourhood(cells, 1)


def esda_z(y, nbhd):
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    w = nbhd.W.copy().tolil()
    w.setdiag(0)
    g = Graph.from_sparse(w.tocsr())  # the same pairs, self-weight added by esda (star=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return G_Local(y, g, transform="B", star=True, permutations=0)


@pytest.mark.parametrize("k", [1, 2])
def test_equals_esda(grid, k):
    cells, _ = grid
    nbhd = build_neighbourhood(cells, k)
    rng = np.random.default_rng(11)
    y = rng.poisson(1.5, nbhd.n).astype(float)
    y[:40] += 6  # some structure
    lg = esda_z(y, nbhd)
    z = gi_star_z(y, nbhd)
    np.testing.assert_allclose(z, lg.Zs, atol=1e-9, rtol=0)
    assert np.abs(z).max() > 2  # not a trivial all-zero comparison


def test_hand_computed_seven_cell_disk():
    # Centre with 6 neighbours, k = 1. Centre neighbours all 7 cells; each ring cell touches
    # itself, the centre and its 2 ring neighbours (W_i = 4). y = 7 at the centre, 0 elsewhere:
    # n = 7, mean 1, population sd √6. Ring cell: (0 + 7 + 0 + 0 − 1·4) / (√6·√((7·4 − 16)/6))
    # = 3/√12 = √3/2. Centre: numerator 7 − 7 = 0 and n·S1 − W² = 49 − 49 = 0 → z = 0.
    cells = np.array(sorted(h3.grid_disk(CENTRE, 1)), dtype=np.uint64)
    nbhd = build_neighbourhood(cells, 1)
    y = np.where(cells == CENTRE, 7.0, 0.0)
    np.testing.assert_array_equal(nbhd.W_i, np.where(cells == CENTRE, 7.0, 4.0))
    z = gi_star_z(y, nbhd)
    np.testing.assert_allclose(z[cells != CENTRE], math.sqrt(3) / 2, rtol=1e-12)
    assert z[cells == CENTRE][0] == 0.0


def test_constant_values_give_zero_without_warnings(grid):
    _, nbhd = grid
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        z = gi_star_z(np.full(nbhd.n, 3.0), nbhd)
        res = gi_star(pd.Series(np.full(nbhd.n, 3.0), index=nbhd.cells), nbhd)
    assert np.all(z == 0)
    assert (res["p"] == 1).all() and (res["class"] == "not_significant").all()


def test_table_indexed_like_input_and_not_mutated(grid):
    cells, nbhd = grid
    rng = np.random.default_rng(2)
    counts = rng.poisson(1.0, cells.size)
    counts[np.isin(cells, cells[100:110])] += 12  # a planted cluster (contiguous ids nearby)
    table = pd.DataFrame({"h3": cells, "count": counts}, index=np.arange(cells.size) + 1000)
    shuffled = table.sample(frac=1.0, random_state=4)
    before = shuffled.copy()
    res = gi_star(shuffled, nbhd)
    pd.testing.assert_frame_equal(shuffled, before)
    assert res.index.equals(shuffled.index)
    z_direct = gi_star_z(table["count"].to_numpy(float), nbhd)
    np.testing.assert_allclose(res.loc[table.index, "z"].to_numpy(), z_direct)
    assert list(res.columns) == ["z", "p", "q", "class", "neighbours"]
    assert (res.loc[res["class"].str.startswith("hot"), "z"] > 0).all()


def test_planted_cluster_recovered(grid):
    cells, _ = grid
    centre = cells[cells.size // 2]
    nbhd = build_neighbourhood(cells, 1)
    rng = np.random.default_rng(5)
    counts = rng.poisson(1.0, cells.size).astype(float)
    hot = np.isin(cells, np.array(list(h3.grid_disk(int(centre), 1)), dtype=np.uint64))
    counts[hot] += 8
    res = gi_star(pd.Series(counts, index=cells), nbhd)
    assert res.loc[centre, "class"] == "hot_99"
    assert (res["class"].str.startswith("hot") & ~pd.Series(
        np.isin(cells, np.array(list(h3.grid_disk(int(centre), 2)), dtype=np.uint64)),
        index=cells)).sum() == 0  # no hot cell farther than 2 steps from the plant


def test_classify_thresholds():
    z = np.array([3, 2, 1, 1, -1, -2, -3, 2.0])
    q = np.array([0.005, 0.03, 0.08, 0.2, 0.09, 0.05, 0.01, np.nan])
    assert list(classify_hotspots(z, q)) == [
        "hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99",
        "not_significant"]


def test_permutation_close_to_esda_and_seeded(grid):
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    cells, nbhd = grid
    sub = cells[:300]
    nb = build_neighbourhood(sub, 1)
    rng = np.random.default_rng(8)
    y = rng.gamma(2.0, 1.0, nb.n)  # continuous: no ties, so esda's folding is ours
    y[:15] += 3
    p1 = gi_star_permutation(y, nb, 999, seed=1)
    np.testing.assert_array_equal(p1, gi_star_permutation(y, nb, 999, seed=1))
    assert not np.array_equal(p1, gi_star_permutation(y, nb, 999, seed=2))
    w = nb.W.copy().tolil()
    w.setdiag(0)
    with warnings.catch_warnings():  # esda's own deprecation/zero-division warnings
        warnings.simplefilter("ignore")
        lg = G_Local(y, Graph.from_sparse(w.tocsr()), transform="B", star=True,
                     permutations=999, seed=1)
    # Same null distribution, different random streams: Monte Carlo error only. A cell with
    # no neighbour cannot be tested: ours says p = 1, esda 1/(R+1).
    alone = nb.W_i == 1
    assert alone.any() and (p1[alone] == 1).all()
    assert np.abs(p1 - lg.p_sim)[~alone].max() < 0.08
    assert np.corrcoef(p1[~alone], lg.p_sim[~alone])[0, 1] > 0.98


def test_permutation_ties_counted_on_both_sides(grid):
    # Sparse counts: a cell with an all-zero neighbourhood, where nearly every draw is 0 too,
    # is not significant (esda's one-sided tie rule gives it 1/(R+1)), and under a
    # homogeneous null few cells are called hot or cold.
    cells, nbhd = grid
    y = np.zeros(nbhd.n)
    y[:3] = 1.0
    p = gi_star_permutation(y, nbhd, 199, seed=0)
    quiet = (nbhd.W @ y) == 0
    assert quiet.sum() > 100 and (p[quiet] > 0.9).all()
    for lam in (0.05, 0.5):
        called = []
        for s in range(3):
            yy = pd.Series(np.random.default_rng(s).poisson(lam, nbhd.n), index=nbhd.cells)
            called.append((gi_star(yy, nbhd, permutations=499, seed=s)["class"]
                           != "not_significant").mean())
        assert np.mean(called) < 0.02, lam


@pytest.mark.parametrize("ring", [1, 2])
def test_permutation_matches_exact_conditional_null_on_small_grid(ring):
    # Tiny grids (7 and 19 cells; m = 3, 4, 6 other neighbours): compare with the exact
    # conditional distribution by full enumeration of the neighbour subsets.
    from itertools import combinations

    cells = np.array(sorted(h3.grid_disk(CENTRE, ring)), dtype=np.uint64)
    nb = build_neighbourhood(cells, 1)
    y = np.random.default_rng(ring).integers(0, 6, cells.size).astype(float)
    y[0] = 9.0
    p = gi_star_permutation(y, nb, 20000, seed=0)
    obs = nb.W @ y
    n = cells.size
    for i in range(n):
        m = int(nb.W_i[i]) - 1
        others = np.delete(y, i)
        sums = np.array([y[i] + others[list(c)].sum() for c in combinations(range(n - 1), m)])
        exact = min(np.mean(sums >= obs[i]), np.mean(sums <= obs[i]))  # ties on both sides
        assert p[i] == pytest.approx(exact, abs=0.015), i


def test_gi_star_with_permutations_adds_p_sim(grid):
    cells, nbhd = grid
    y = pd.Series(np.random.default_rng(1).poisson(1, cells.size), index=cells)
    res = gi_star(y, nbhd, permutations=99, seed=3)
    assert "p_sim" in res.columns
    np.testing.assert_allclose(res["p"], np.minimum(1, 2 * res["p_sim"]))


def test_bad_arguments(grid):
    cells, nbhd = grid
    with pytest.raises(ValueError, match="one value per neighbourhood cell"):
        gi_star_z(np.ones(5), nbhd)
    y = np.ones(nbhd.n)
    y[3] = np.nan
    with pytest.raises(ValueError, match="missing/infinite"):
        gi_star_z(y, nbhd)
    with pytest.raises(ValueError, match="column 'count' missing"):
        gi_star(pd.DataFrame({"h3": cells, "n": 1}), nbhd)
    with pytest.raises(ValueError, match="one row per neighbourhood cell"):
        gi_star(pd.DataFrame({"h3": cells[:-1], "count": 1}), nbhd)
    with pytest.raises(ValueError, match="permutations must be a positive integer"):
        gi_star_permutation(np.ones(nbhd.n), nbhd, 0)
    with pytest.raises(ValueError, match="k .* non-negative integer"):
        build_neighbourhood(cells, -1)
    with pytest.raises(ValueError, match="unique"):
        build_neighbourhood(np.r_[cells, cells[:1]], 1)


def test_neighbourhood_is_immutable(grid):
    _, nbhd = grid
    with pytest.raises(ValueError):
        nbhd.W.data[0] = 5.0
    with pytest.raises(ValueError):
        nbhd.W_i[0] = 0.0
    with pytest.raises(AttributeError):
        nbhd.k = 3


# ---------------------------------------------------------------- rates (clustering.rates)
def test_population_to_cells_conserves_and_hand_case():
    import geopandas as gpd

    from clustering.rates import population_to_cells
    from geo.cells import cells_to_polygons

    area = shapely.box(-79.9, 35.98, -79.85, 36.02)
    cells = polygon_to_cells(area, 8)  # overlap mode: the cells cover the polygon
    gdf = gpd.GeoDataFrame({"population": [1000.0]}, geometry=[area], crs=4326)
    pop = population_to_cells(gdf, cells)
    assert pop.sum() == pytest.approx(1000.0, rel=1e-9)
    assert pop.shape == cells.shape  # aligned with cells (layers.population's contract)
    # One cell split into two halves with 100 and 300 people: the cell gets 400, its
    # neighbours (sharing only edges) get 0.
    one = cells[len(cells) // 2]
    poly = cells_to_polygons(np.array([one], dtype=np.uint64))[0]
    c = poly.centroid
    left = poly.intersection(shapely.box(-180, -90, c.x, 90))
    right = poly.intersection(shapely.box(c.x, -90, 180, 90))
    halves = gpd.GeoDataFrame({"population": [100, 300]}, geometry=[left, right], crs=4326)
    ring = np.array(sorted(h3.grid_disk(int(one), 1)), dtype=np.uint64)
    got = pd.Series(population_to_cells(halves, ring), index=ring)
    assert got[one] == pytest.approx(400, rel=1e-6)
    assert got.drop(index=one).abs().max() < 1e-3  # shared edges: numerical slivers only
    with pytest.raises(ValueError, match="no CRS"):
        population_to_cells(gpd.GeoDataFrame({"population": [1]}, geometry=[area]), cells)
    with pytest.raises(ValueError, match="population column 'pop' missing"):
        population_to_cells(gdf, cells, column="pop")


def test_crude_and_eb_rates_hand_values():
    from clustering.rates import crude_rates, eb_rates

    np.testing.assert_allclose(crude_rates([1, 0, 5], [1000, 0, 5000]), [10, np.nan, 10])
    # b = 10/2000, r = (0.002, 0.008), s² = 9e-6, a = 9e-6 − 0.005/1000 = 4e-6,
    # C = 4e-6 / (4e-6 + 5e-6) = 4/9, θ = 0.005 ∓ (4/9)·0.003 → ×10,000
    np.testing.assert_allclose(eb_rates([2, 8], [1000, 1000]), [36.6666666667, 63.3333333333])
    # Little spread (a < 0 → 0): every cell shrinks fully to the global rate.
    np.testing.assert_allclose(eb_rates([5, 6, 0], [1000, 1000, 0]), [55, 55, np.nan])
    # A huge population keeps its crude rate.
    eb = eb_rates([2, 8000, 10], [1000, 1_000_000, 1000])
    assert eb[1] == pytest.approx(80, rel=1e-3)
    with pytest.raises(ValueError, match="differ in shape"):
        eb_rates([1, 2], [1])
    with pytest.raises(ValueError, match="population must be non-negative"):
        crude_rates([1], [-5])


def test_rate_table_and_gi_on_rates(grid):
    from clustering.rates import rate_table

    cells, _ = grid
    rng = np.random.default_rng(4)
    pop = pd.Series(rng.integers(200, 3000, cells.size).astype(float), index=cells)
    pop.iloc[:25] = 0.0  # unpopulated cells
    table = pd.DataFrame({"h3": cells, "count": rng.poisson(2, cells.size)})
    rt = rate_table(table, pop, method="eb")
    assert rt.index.equals(table.index) and "rate" not in table.columns
    assert rt["rate"].isna().sum() == 25 and (~rt["has_population"]).sum() == 25
    pop_cells = rt.loc[rt["has_population"]]
    nb = build_neighbourhood(pop_cells["h3"].to_numpy(np.uint64), 1)
    res = gi_star(pop_cells, nb, column="rate")
    assert res.index.equals(pop_cells.index) and np.isfinite(res["z"]).all()
    with pytest.raises(ValueError, match="missing/infinite"):
        gi_star(rt, build_neighbourhood(cells, 1), column="rate")
    with pytest.raises(ValueError, match="rate method must be"):
        rate_table(table, pop, method="smr")
    # an array aligned with the rows (layers.population.population_to_cells) = the Series
    aligned = rate_table(table, pop.to_numpy(), method="eb")
    pd.testing.assert_frame_equal(aligned, rt)
    with pytest.raises(ValueError, match="population has 3 values for"):
        rate_table(table, [1.0, 2.0, 3.0])


def test_rates_population_to_cells_is_the_layers_one():
    import clustering.rates
    import layers.population

    assert clustering.rates.population_to_cells is layers.population.population_to_cells


@pytest.mark.parametrize("k", [0, 1, 2])
def test_neighbourhood_equals_geo_disk_matrix_incl_pentagon(grid, k):
    from geo.cells import disk_matrix

    cells, _ = grid
    pent = min(h3.get_pentagons(8))
    near_pent = np.array(sorted(h3.grid_disk(pent, 3)), dtype=np.uint64)
    for cs in (cells, near_pent):
        nb = build_neighbourhood(cs[::-1].copy(), k)  # any input order
        ref = disk_matrix(np.sort(cs), k)
        assert (nb.W != ref).nnz == 0
        np.testing.assert_array_equal(nb.W_i, np.asarray(ref.sum(axis=1)).ravel())
    assert nb.W_i[np.searchsorted(nb.cells, np.uint64(pent))] == (1 + 5 * k * (k + 1) // 2
                                                                     if k else 1)


def test_z_invariant_to_affine_rescaling_and_flips_sign(grid):
    # Gi* z is scale- and shift-free: z(a·y + b) = sign(a)·z(y) (a rate per 10,000 and a rate
    # per person give the same map).
    from hypothesis import given, settings
    from hypothesis import strategies as st

    _, nbhd = grid
    y = np.random.default_rng(9).gamma(1.5, 2.0, nbhd.n)
    z = gi_star_z(y, nbhd)

    @settings(max_examples=30, deadline=None)
    @given(st.floats(0.01, 1e4), st.floats(-1e3, 1e3), st.sampled_from([1, -1]))
    def check(a, b, sign):
        np.testing.assert_allclose(gi_star_z(sign * a * y + b, nbhd), sign * z, atol=1e-8)

    check()
