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
    y = rng.poisson(2.0, nb.n).astype(float)
    y[:15] += 5
    p1 = gi_star_permutation(y, nb, 999, seed=1)
    np.testing.assert_array_equal(p1, gi_star_permutation(y, nb, 999, seed=1))
    assert not np.array_equal(p1, gi_star_permutation(y, nb, 999, seed=2))
    w = nb.W.copy().tolil()
    w.setdiag(0)
    lg = G_Local(y, Graph.from_sparse(w.tocsr()), transform="B", star=True,
                 permutations=999, seed=1)
    # Same null distribution, different random streams: Monte Carlo error only.
    assert np.abs(p1 - lg.p_sim).max() < 0.08
    assert np.corrcoef(p1, lg.p_sim)[0, 1] > 0.98


def test_permutation_matches_exact_conditional_null_on_small_grid():
    # Tiny grid: compare with the exact conditional distribution by full enumeration.
    from itertools import combinations

    cells = np.array(sorted(h3.grid_disk(CENTRE, 1)), dtype=np.uint64)
    nb = build_neighbourhood(cells, 1)
    y = np.array([5.0, 0, 1, 2, 0, 3, 1])
    p = gi_star_permutation(y, nb, 20000, seed=0)
    obs = nb.W @ y
    for i in range(7):
        m = int(nb.W_i[i]) - 1
        others = np.delete(y, i)
        sums = np.array([y[i] + others[list(c)].sum() for c in combinations(range(6), m)])
        frac = np.mean(sums >= obs[i])
        exact = min(frac, 1 - frac)
        assert p[i] == pytest.approx(exact, abs=0.015)


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
