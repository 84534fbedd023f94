"""Maximal covering siting: coverage matrix, heuristics, exact HiGHS MIP, DataFrame adapter.

Reference checks: brute-force enumeration of every k-subset on small instances, dense
haversine for the coverage matrix, spopt's MCLP (CBC) on a small instance.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from geo.cells import cells_to_latlng, haversine_m, latlng_to_cells
from layers.coverage import coverage_matrix, covered_by_any, pairs_within
from layers.siting import coverage_value, make_problem, solve_mclp
from layers.siting_exact import reduce_problem, solve_lp_bound
from layers.siting_plan import plan_sites

LAT0, LON0 = 36.07, -79.79


def _points(rng, n, spread=0.02):
    return LAT0 + rng.uniform(-spread, spread, n), LON0 + rng.uniform(-spread, spread, n)


def _random_instance(seed, n=24, m=8, density=0.25, k=3, p_existing=0.15, n_conflicts=0):
    rng = np.random.default_rng(seed)
    cov = sp.csr_matrix((rng.random((n, m)) < density).astype(np.int8))
    w = rng.integers(0, 12, n).astype(float)
    existing = rng.random(n) < p_existing
    allowed = rng.random(m) < 0.85
    allowed[:k] = True
    pairs = rng.choice(m, size=(n_conflicts, 2)) if n_conflicts else np.empty((0, 2), int)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return w, cov, k, existing, allowed, (pairs[:, 0], pairs[:, 1])


def _brute_force(w, cov, k, existing, allowed, conflicts):
    prob = make_problem(w, cov, k, existing=existing, allowed=allowed, conflicts=conflicts)
    bad = (
        set(zip(*(np.asarray(c).tolist() for c in conflicts), strict=True)) if conflicts else set()
    )
    bad |= {(b, a) for a, b in bad}
    best = -1.0
    for subset in itertools.combinations(np.flatnonzero(allowed).tolist(), k):
        if any((a, b) in bad for a, b in itertools.combinations(subset, 2)):
            continue
        best = max(best, coverage_value(prob, subset))
    return best


# ------------------------------------------------------------------ coverage matrix
def test_coverage_matrix_equals_dense_haversine():
    rng = np.random.default_rng(0)
    dlat, dlon = _points(rng, 300)
    slat, slon = _points(rng, 40)
    cov = coverage_matrix(dlat, dlon, slat, slon, 900.0)
    dense = haversine_m(dlat[:, None], dlon[:, None], slat[None, :], slon[None, :]) <= 900.0
    assert cov.shape == (300, 40)
    assert np.array_equal(cov.toarray().astype(bool), dense)
    assert 0 < cov.nnz < dense.size  # the radius is contested, not trivial


def test_coverage_point_exactly_at_radius_is_covered():
    d = float(haversine_m(LAT0, LON0, LAT0 + 0.01, LON0))
    cov = coverage_matrix([LAT0], [LON0], [LAT0 + 0.01], [LON0], d)
    assert cov.nnz == 1
    assert coverage_matrix([LAT0], [LON0], [LAT0 + 0.01], [LON0], d - 0.01).nnz == 0


def test_covered_by_any_and_empty_sites():
    rng = np.random.default_rng(1)
    dlat, dlon = _points(rng, 100)
    mask = covered_by_any(dlat, dlon, [LAT0], [LON0], 1000.0)
    assert np.array_equal(mask, haversine_m(dlat, dlon, LAT0, LON0) <= 1000.0)
    assert not covered_by_any(dlat, dlon, [], [], 1000.0).any()


def test_pairs_within_equals_brute_force():
    rng = np.random.default_rng(2)
    lat, lon = _points(rng, 60)
    a, b = pairs_within(lat, lon, 700.0)
    want = [
        (i, j)
        for i in range(60)
        for j in range(i + 1, 60)
        if haversine_m(lat[i], lon[i], lat[j], lon[j]) < 700.0
    ]
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == want
    assert len(want) > 0
    assert pairs_within(lat, lon, 0.0)[0].size == 0


def test_coverage_bad_inputs():
    with pytest.raises(ValueError, match="radius_m must be a non-negative"):
        coverage_matrix([LAT0], [LON0], [LAT0], [LON0], -5)
    with pytest.raises(ValueError, match="demand points: coordinate at position 1"):
        coverage_matrix([LAT0, np.nan], [LON0, LON0], [LAT0], [LON0], 5)
    with pytest.raises(ValueError, match="sites: latitudes must be within"):
        coverage_matrix([LAT0], [LON0], [95.0], [LON0], 5)


# ------------------------------------------------------------------ array core vs brute force
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_mclp_against_brute_force(seed, k):
    w, cov, _, ex, al, _ = _random_instance(seed, k=k)
    opt = _brute_force(w, cov, k, ex, al, None)
    res = {
        m: solve_mclp(w, cov, k, existing=ex, allowed=al, method=m)
        for m in ("greedy", "heuristic", "exact")
    }
    assert res["exact"].objective == pytest.approx(opt)
    assert res["exact"].status == "optimal"
    assert res["exact"].gap == pytest.approx(0.0, abs=1e-9)
    assert res["greedy"].objective <= res["heuristic"].objective + 1e-9
    assert res["heuristic"].objective <= opt + 1e-9
    for r in res.values():
        assert r.upper_bound >= opt - 1e-9
        assert r.chosen.size == k and al[r.chosen].all()
        assert r.objective == pytest.approx(
            coverage_value(make_problem(w, cov, k, existing=ex), r.chosen)
        )


@pytest.mark.parametrize("seed", range(6))
def test_mclp_with_spacing_conflicts_against_brute_force(seed):
    w, cov, k, ex, al, conf = _random_instance(seed, m=9, n_conflicts=8, k=3)
    opt = _brute_force(w, cov, k, ex, al, conf)
    assert opt >= 0  # a feasible 3-subset exists
    bad = {frozenset(p) for p in zip(*(c.tolist() for c in conf), strict=True)}
    for method in ("greedy", "heuristic", "exact"):
        r = solve_mclp(w, cov, k, existing=ex, allowed=al, conflicts=conf, method=method)
        assert not any(frozenset(p) in bad for p in itertools.combinations(r.chosen.tolist(), 2))
        assert r.objective <= opt + 1e-9
        assert r.upper_bound >= opt - 1e-9
        if method == "exact":
            assert r.objective == pytest.approx(opt)


def test_hand_checkable_toy():
    # 4 demand points, 3 candidates: A covers {0,1}, B covers {1,2}, C covers {3}.
    cov = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]]))
    w = np.array([5.0, 1.0, 4.0, 3.0])
    r = solve_mclp(w, cov, 2, method="exact")
    # {A, B} covers 10, {A, C} 9, {B, C} 8 → A then B (greedy order: A=6 first, then B adds 4).
    assert r.chosen.tolist() == [0, 1]
    assert r.marginal.tolist() == [6.0, 4.0]
    assert (r.objective, r.covered_before, r.covered_after, r.total_burden) == (10, 0, 10, 13)
    # Point 0 already covered by an existing site: A is worth 1 only → B then C.
    r2 = solve_mclp(w, cov, 2, existing=[True, False, False, False], method="exact")
    assert sorted(r2.chosen.tolist()) == [1, 2]
    assert (r2.covered_before, r2.objective, r2.covered_after) == (5, 8, 13)
    assert r2.coverage_pct_after == pytest.approx(100.0)


def test_result_invariants_and_inputs_untouched():
    w, cov, k, ex, al, _ = _random_instance(11, n=80, m=20, k=5)
    copies = (w.copy(), cov.copy(), ex.copy(), al.copy())
    r = solve_mclp(w, cov, k, existing=ex, allowed=al, method="heuristic")
    assert np.array_equal(w, copies[0]) and (cov != copies[1]).nnz == 0
    assert np.array_equal(ex, copies[2]) and np.array_equal(al, copies[3])
    assert r.marginal.sum() == pytest.approx(r.objective)
    assert r.covered_after == pytest.approx(r.covered_before + r.objective)
    assert r.covered_before == pytest.approx(w[ex].sum())
    assert np.all(np.diff(r.marginal) <= 1e-9)  # greedy presentation order: non-increasing
    assert r.gap == pytest.approx((r.upper_bound - r.objective) / r.upper_bound)


def _geo_instance(seed, n=900, m=160, radius=700.0):
    rng = np.random.default_rng(seed)
    cells = np.unique(latlng_to_cells(*_points(rng, 6000, 0.04), 9))[:n]
    lat, lon = cells_to_latlng(cells)
    hubs = rng.integers(0, lat.size, 5)
    mu = 0.3 + sum(
        rng.uniform(5, 20) * np.exp(-0.5 * (haversine_m(lat, lon, lat[h], lon[h]) / 600) ** 2)
        for h in hubs
    )
    w = rng.poisson(mu).astype(float)
    clat, clon = _points(rng, m, 0.04)
    return w, coverage_matrix(lat, lon, clat, clon, radius), clat, clon


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_vs_heuristic_medium(seed):
    w, cov, _, _ = _geo_instance(seed)
    k = 8
    exact = solve_mclp(w, cov, k, method="exact", time_limit=30)
    heur = solve_mclp(w, cov, k, method="heuristic", lp_bound=True)
    greedy = solve_mclp(w, cov, k, method="greedy")
    assert exact.status == "optimal" and exact.gap < 1e-6
    assert greedy.objective <= heur.objective <= exact.objective + 1e-9
    assert heur.upper_bound >= exact.objective - 1e-6
    assert heur.gap == pytest.approx((heur.upper_bound - heur.objective) / heur.upper_bound)
    assert heur.objective >= 0.9 * exact.objective  # sanity: far above the 1 - 1/e guarantee
    lp = solve_lp_bound(make_problem(w, cov, k))
    assert exact.objective - 1e-6 <= lp


def test_reduction_preserves_optimum():
    w, cov, _, _ = _geo_instance(3, n=400, m=60)
    prob = make_problem(w, cov, 4)
    rw, rcov, cols = reduce_problem(prob)
    assert rcov.shape[0] < (w > 0).sum()  # merged or dropped rows
    assert rw.sum() == pytest.approx(w[np.diff(cov.indptr) > 0].sum())
    # objective of any set is the same on the reduced instance
    rng = np.random.default_rng(0)
    for _ in range(5):
        s = rng.choice(cols.size, 4, replace=False)
        hit = np.zeros(rcov.shape[0], bool)
        hit[rcov.tocsc()[:, s].indices] = True
        assert rw[hit].sum() == pytest.approx(coverage_value(prob, cols[s]))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 4.0 notices from spopt
def test_spopt_reference_equals_exact():
    pulp = pytest.importorskip("pulp")
    spopt_locate = pytest.importorskip("spopt.locate")
    rng = np.random.default_rng(5)
    dlat, dlon = _points(rng, 120)
    clat, clon = _points(rng, 25)
    w = rng.integers(0, 20, 120).astype(float)
    dist = haversine_m(dlat[:, None], dlon[:, None], clat[None, :], clon[None, :])
    model = spopt_locate.MCLP.from_cost_matrix(dist, w, 800.0, p_facilities=4)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    ref = float(pulp.value(model.problem.objective))
    ours = solve_mclp(w, coverage_matrix(dlat, dlon, clat, clon, 800.0), 4, method="exact")
    assert ours.objective == pytest.approx(ref)


def test_core_bad_inputs():
    cov = sp.csr_matrix(np.eye(3))
    w = np.ones(3)
    with pytest.raises(ValueError, match="k = 4 exceeds the 3 allowed candidate"):
        solve_mclp(w, cov, 4)
    with pytest.raises(ValueError, match="k = 2 exceeds the 1 allowed"):
        solve_mclp(w, cov, 2, allowed=[True, False, False])
    with pytest.raises(ValueError, match="no candidate sites"):
        solve_mclp(w, sp.csr_matrix((3, 0)), 1)
    with pytest.raises(ValueError, match="weights must be finite and non-negative"):
        solve_mclp([1, -1, 1], cov, 1)
    with pytest.raises(ValueError, match="weights has 2 entries but coverage has 3 rows"):
        solve_mclp([1, 1], cov, 1)
    with pytest.raises(ValueError, match="k .* must be a positive integer"):
        solve_mclp(w, cov, 0)
    with pytest.raises(ValueError, match="method must be one of"):
        solve_mclp(w, cov, 1, method="annealing")
    with pytest.raises(ValueError, match="time_limit must be a positive"):
        solve_mclp(w, cov, 1, method="exact", time_limit=0)
    with pytest.raises(ValueError, match="conflicts must be two equal-length"):
        solve_mclp(w, cov, 1, conflicts=([0], [7]))


# ------------------------------------------------------------------ DataFrame adapter
def _frames(seed=0, n_cand=40):
    rng = np.random.default_rng(seed)
    cells = np.unique(latlng_to_cells(*_points(rng, 3000, 0.02), 9))
    demand = pd.DataFrame({"h3": cells, "count": rng.poisson(2.0, cells.size)})
    clat, clon = _points(rng, n_cand, 0.02)
    cand = pd.DataFrame(
        {
            "site_id": [f"c{i}" for i in range(n_cand)],
            "name": [f"site {i}" for i in range(n_cand)],
            "subtype": rng.choice(
                ["library", "fire_station", "transit_stop", "convenience_store"], n_cand
            ),
            "lat": clat,
            "lon": clon,
            "open_24_7": rng.random(n_cand) < 0.4,
        }
    )
    return demand, cand


def _covered_weight(demand, lat, lon, radius):
    dlat, dlon = cells_to_latlng(demand["h3"].to_numpy(np.uint64))
    hit = np.zeros(len(demand), bool)
    for a, b in zip(lat, lon, strict=True):
        hit |= haversine_m(dlat, dlon, a, b) <= radius
    return float(demand["count"].to_numpy(float)[hit].sum())


def test_plan_existing_sites_cover_their_cells():
    demand, cand = _frames(1)
    existing = pd.DataFrame({"lat": [LAT0, LAT0 + 0.01], "lon": [LON0, LON0 - 0.01]})
    plan = plan_sites(demand, cand, 5, 600.0, existing=existing, method="exact")
    s = plan.summary
    assert s["covered_before"] == pytest.approx(
        _covered_weight(demand, existing.lat, existing.lon, 600.0)
    )
    assert s["covered_before"] > 0
    allsites = pd.concat([existing, plan.sites[["lat", "lon"]]])
    assert s["covered_after"] == pytest.approx(
        _covered_weight(demand, allsites.lat, allsites.lon, 600.0)
    )
    assert plan.sites["order"].tolist() == [1, 2, 3, 4, 5]
    assert plan.sites["marginal_covered"].sum() == pytest.approx(s["objective"])
    assert s["coverage_pct_after"] == pytest.approx(100 * s["covered_after"] / s["total_burden"])


def test_plan_type_and_24_7_filters():
    demand, cand = _frames(2)
    plan = plan_sites(demand, cand, 4, 500.0, types=["library", "fire_station"], only_24_7=True)
    chosen = cand.set_index("site_id").loc[plan.sites["site_id"]]
    assert chosen["subtype"].isin(["library", "fire_station"]).all()
    assert chosen["open_24_7"].all()
    free = plan_sites(demand, cand, 4, 500.0)
    assert free.summary["objective"] >= plan.summary["objective"]
    with pytest.raises(ValueError, match=r"types \['hospital'\] match no candidate"):
        plan_sites(demand, cand, 4, 500.0, types=["hospital"])


def test_plan_min_spacing_respected_and_binding():
    demand, cand = _frames(3, n_cand=60)
    free = plan_sites(demand, cand, 6, 500.0, method="exact")
    spaced = plan_sites(demand, cand, 6, 500.0, min_spacing_m=1500.0, method="exact")
    lat, lon = spaced.sites["lat"].to_numpy(), spaced.sites["lon"].to_numpy()
    d = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    assert d[np.triu_indices(len(lat), 1)].min() >= 1500.0
    flat, flon = free.sites["lat"].to_numpy(), free.sites["lon"].to_numpy()
    dfree = haversine_m(flat[:, None], flon[:, None], flat[None, :], flon[None, :])
    assert dfree[np.triu_indices(len(flat), 1)].min() < 1500.0  # the rule binds here
    assert spaced.summary["objective"] <= free.summary["objective"]


def test_plan_from_cell_centres():
    demand, _ = _frames(4)
    plan = plan_sites(demand, None, 3, 400.0)
    assert "h3" in plan.sites.columns
    assert set(plan.sites["h3"].tolist()) <= set(demand["h3"].tolist())
    assert plan.summary["n_candidates"] == len(demand)


def test_plan_bad_inputs():
    demand, cand = _frames(5)
    with pytest.raises(ValueError, match="k = 41 exceeds the 40 allowed"):
        plan_sites(demand, cand, 41, 500.0)
    with pytest.raises(ValueError, match="radius_m must be a non-negative"):
        plan_sites(demand, cand, 3, -1.0)
    with pytest.raises(ValueError, match="candidates is empty"):
        plan_sites(demand, cand.iloc[:0], 3, 500.0)
    with pytest.raises(ValueError, match="demand table needs column 'count'"):
        plan_sites(demand.drop(columns="count"), cand, 3, 500.0)
    with pytest.raises(ValueError, match="candidates need columns 'lat' and 'lon'"):
        plan_sites(demand, cand.drop(columns="lat"), 3, 500.0)


def test_exact_time_limit_returns_best_solution_and_bound():
    w, cov, _, _ = _geo_instance(4, n=900, m=200, radius=900.0)
    seen = []
    heur = solve_mclp(w, cov, 12, method="heuristic")
    r = solve_mclp(w, cov, 12, method="exact", time_limit=0.01, progress=seen.append)
    assert r.status in ("time_limit", "optimal")
    assert r.objective >= heur.objective  # warm-started: never worse than the heuristic
    assert r.upper_bound >= r.objective
    assert r.gap == pytest.approx((r.upper_bound - r.objective) / r.upper_bound)
    assert all({"time", "objective", "bound", "gap"} <= set(d) for d in seen)


def test_exact_returns_k_distinct_sites_when_candidates_duplicate():
    # Columns 0-2 identical, 3 covers one other point: the MIP drops duplicates; k are still given.
    cov = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]))
    w = np.array([2.0, 3.0, 4.0, 9.0])
    for method in ("greedy", "heuristic", "exact"):
        r = solve_mclp(w, cov, 3, method=method)
        assert r.chosen.size == 3 and np.unique(r.chosen).size == 3
        assert r.objective == 9.0 and r.marginal.tolist() == [5.0, 4.0, 0.0]


def test_siting_modules_import_without_a_cycle():
    # each solver module imports on its own, and the problem module needs no solver
    code = (
        "import sys, importlib\n"
        "for name in ('layers.siting_exact', 'layers.siting_lagrange', 'layers.siting_heuristic',"
        " 'layers.siting_problem'):\n"
        "    importlib.import_module(name)\n"
        "    assert 'layers.siting' not in sys.modules, name\n"
        "from layers.siting import MCLPProblem\n"
        "from layers.siting_problem import MCLPProblem as P\n"
        "assert MCLPProblem is P\n"
        "print('ok')\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
