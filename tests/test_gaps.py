"""Gap score: burden windows, hand-checked toy scores and reasons, public wording, sensitivity."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from geo.cells import cells_to_latlng, latlng_to_cells
from geo.schema import BASE_RES
from layers.gaps import (
    DEFAULT_WEIGHTS,
    build_gap_table,
    burden_table,
    explain_gaps,
    gap_scores,
    sensitivity,
)

INF = np.inf


@pytest.fixture()
def toy():
    """Four cells: A busy and far from naloxone, B busy but close, C empty, D small."""
    return pd.DataFrame({
        "h3": np.array([1, 2, 3, 4], dtype=np.uint64),
        "count_12m": [38, 12, 0, 6],
        "trend_ratio": [2.0, 1.0, 1.0, 0.5],
        "trend": ["rising", "stable", "none", "falling"],
        "dist_m_naloxone": [1900.0, 100.0, 9000.0, 800.0],
        "dist_m_naloxone_24_7": [5000.0, 600.0, INF, 950.0],
        "dist_m_ssp": [2300.0, 250.0, 12000.0, 4000.0],
        "dist_m_treatment": [3000.0, 900.0, 15000.0, 2000.0],
        "dist_m_medicaid_buprenorphine": [6400.0, 900.0, INF, 2500.0],
    }, index=["A", "B", "C", "D"])


def test_reason_text_hand_made(toy):
    r = explain_gaps(toy)
    assert r["A"] == ("38 overdoses in the last 12 months, rising; nearest naloxone 1.9 km; "
                      "no 24/7 naloxone within 1 km; nearest syringe services 2.3 km; "
                      "nearest MOUD 3 km; nearest Medicaid buprenorphine 6.4 km")
    assert r["B"].startswith("12 overdoses in the last 12 months, stable; nearest naloxone 100 m; "
                             "24/7 naloxone 600 m away")
    assert r["C"].startswith("no overdoses in the last 12 months; nearest naloxone 9 km; "
                             "no 24/7 naloxone within 1 km")
    assert "no Medicaid buprenorphine site in the data" in r["C"]
    assert r.index.tolist() == ["A", "B", "C", "D"]


def test_public_reason_hides_small_counts(toy):
    r = explain_gaps(toy, suppress_below=10)
    assert r["D"].startswith("fewer than 10 overdoses in the last 12 months, falling;")
    assert "6 overdoses" not in r["D"]
    assert r["B"].startswith("12 overdoses")  # 12 ≥ k is published
    assert explain_gaps(toy.assign(count_12m=[38, 12, 0, 1]))["D"].startswith("1 overdose in")


def test_toy_scores_by_hand(toy):
    w = {"burden": 1.0, "naloxone": 1.0}
    out = gap_scores(toy, w)
    # burden = share of the busiest cell's count: 38/38, 12/38, 0, 6/38.
    np.testing.assert_allclose(out["score_burden"], [1.0, 12 / 38, 0.0, 6 / 38])
    # distance percentile among all cells: B .25, D .5, A .75, C 1.
    np.testing.assert_allclose(out["score_naloxone"], [0.75, 0.25, 1.0, 0.5])
    np.testing.assert_allclose(out["gap_score"], [0.75, 3 / 38, 0.0, 3 / 38])
    # B and D tie exactly at 3/38: the recent count breaks the tie.
    assert out["gap_rank"].tolist() == [1, 2, 4, 3]
    assert out.index.tolist() == ["A", "B", "C", "D"]


def test_weights_within_indices_and_product(toy):
    w = {"burden": 2.0, "trend": 1.0, "naloxone": 1.0, "ssp": 3.0}
    out = gap_scores(toy, w)
    pb = np.array([1.0, 12 / 38, 0.0, 6 / 38])
    pt = pb * np.array([1.0, 0.5, 0.0, 0.0])  # share x trend word (rising, stable, none, falling)
    pn = np.array([0.75, 0.25, 1.0, 0.5])
    ps = np.array([0.5, 0.25, 1.0, 0.75])
    b = (2 * pb + 1 * pt) / 3
    a = (1 * pn + 3 * ps) / 4
    np.testing.assert_allclose(out["burden_index"], b)
    np.testing.assert_allclose(out["access_index"], a)
    np.testing.assert_allclose(out["gap_score"], b * a)
    assert (out.loc["C", "gap_score"] == 0.0)  # no burden, no gap however remote


def test_hotspot_component(toy):
    t = toy.assign(gi_class=["not significant", "hot 99%", "cold 95%", None])
    out = gap_scores(t, {"hotspot": 1.0, "naloxone": 1.0}, hot_column="gi_class")
    assert out["score_hotspot"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert out.loc["B", "gap_rank"] == 1
    assert "Gi* hot spot" in out.loc["B", "reason"]


def test_public_score_does_not_depend_on_suppressed_values(toy):
    a = gap_scores(toy, suppress_below=10)
    b = gap_scores(toy.assign(count_12m=[38, 12, 0, 2], trend_ratio=[2.0, 1.0, 1.0, 0.7]),
                   suppress_below=10)
    pd.testing.assert_series_equal(a["gap_score"], b["gap_score"])
    pd.testing.assert_series_equal(a["gap_rank"], b["gap_rank"])
    c = gap_scores(toy.assign(count_12m=[38, 12, 0, 20]))  # unsuppressed: it does move
    assert not np.allclose(a["gap_score"], c["gap_score"])


def test_input_not_mutated(toy):
    before = toy.copy()
    gap_scores(toy)
    sensitivity(toy)
    pd.testing.assert_frame_equal(toy, before)


def test_sensitivity_reference(toy):
    w = {"burden": 1.0, "naloxone": 1.0, "ssp": 1.0}
    s = sensitivity(toy, w, factors=(0.0, 1.0, 3.0), top_n=2)
    assert set(s["component"]) == {"burden", "naloxone", "ssp"} and len(s) == 9
    same = s[s["factor"] == 1.0]
    assert (same["spearman"] == 1.0).all() and (same["top_overlap"] == 1.0).all()
    assert (same["entered"] == 0).all()
    # reference: ssp x3 by hand
    base = gap_scores(toy, w)["gap_score"].to_numpy()
    pert = gap_scores(toy, {**w, "ssp": 3.0})["gap_score"].to_numpy()
    live = (base > 0) | (pert > 0)
    row = s[(s["component"] == "ssp") & (s["factor"] == 3.0)].iloc[0]
    assert row["weight"] == 3.0
    assert row["spearman"] == pytest.approx(spearmanr(base[live], pert[live]).statistic)
    top = lambda x: set(np.argsort(-x, kind="stable")[:2])  # noqa: E731
    assert row["top_overlap"] == len(top(base) & top(pert)) / 2


def test_sensitivity_planted_swing():
    # Two busy cells: X far from naloxone but next to an SSP, Y the reverse.
    t = pd.DataFrame({"count_12m": [50, 50, 0], "trend_ratio": [1.0, 1.0, 1.0],
                      "trend": ["stable", "stable", "none"],
                      "dist_m_naloxone": [5000.0, 100.0, 50.0],
                      "dist_m_ssp": [100.0, 5000.0, 50.0]})
    w = {"burden": 1.0, "naloxone": 2.0, "ssp": 1.0}
    assert gap_scores(t, w)["gap_rank"].tolist()[:2] == [1, 2]
    s = sensitivity(t, w, factors=(0.0,), top_n=1).set_index("component")
    assert s.loc["naloxone", "top_overlap"] == 0.0 and s.loc["naloxone", "entered"] == 1
    assert s.loc["ssp", "top_overlap"] == 1.0


def test_bad_arguments(toy):
    with pytest.raises(ValueError, match="weight 'burden' must be a non-negative"):
        gap_scores(toy, {"burden": -1.0})
    with pytest.raises(ValueError, match="weights are all zero"):
        gap_scores(toy, {"burden": 0.0})
    with pytest.raises(ValueError, match=r"needs column\(s\) \['dist_m_bus'\]"):
        gap_scores(toy, {"burden": 1.0, "bus": 1.0})
    with pytest.raises(ValueError, match="suppress_below must be a positive integer"):
        gap_scores(toy, suppress_below=0)
    with pytest.raises(ValueError, match="top_n must be a positive integer"):
        sensitivity(toy, top_n=0)
    with pytest.raises(ValueError, match="factors must be non-negative"):
        sensitivity(toy, factors=(-1.0,))


# ------------------------------------------------------------------ burden windows
def incidents_at(points):
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    return pd.DataFrame({"occurred_at": pd.to_datetime([p[2] for p in points], format="ISO8601"),
                         "lat": lat, "lon": lon, "h3": latlng_to_cells(lat, lon, BASE_RES)})


def test_burden_windows_and_trend_by_hand():
    X, Y, OUT = (36.0, -79.9), (36.1, -79.9), (40.0, -75.0)
    as_of = pd.Timestamp("2026-06-30 23:59")
    inc = incidents_at([
        (*X, "2026-06-30 23:59"),  # at as_of: recent
        (*X, "2026-01-01"), (*X, "2025-07-01 00:00"),  # recent
        (*X, "2025-06-30 23:59"),  # exactly one window back: prior
        (*X, "2023-01-01"),  # older
        (*Y, "2025-01-01"), (*Y, "2024-08-01"),  # prior only
        (*OUT, "2026-01-01"),  # outside the analysis cells
        (*X, "2026-07-02"),  # after as_of: not counted
    ])
    cells = latlng_to_cells(np.array([X[0], Y[0], 36.2]), np.array([X[1], Y[1], -79.9]), 8)
    bt = burden_table(inc, cells, 8, as_of=as_of)
    assert bt["h3"].tolist() == cells.tolist()
    assert bt["count_total"].tolist() == [5, 2, 0]
    assert bt["count_12m"].tolist() == [3, 0, 0]
    assert bt["count_prior_12m"].tolist() == [1, 2, 0]
    np.testing.assert_allclose(bt["trend_ratio"], [2.0, 1 / 3, 1.0])
    assert bt["trend"].tolist() == ["rising", "falling", "none"]


def test_burden_default_as_of_and_errors():
    inc = incidents_at([(36.0, -79.9, "2026-01-01"), (36.0, -79.9, "2025-01-01")])
    cells = latlng_to_cells(np.array([36.0]), np.array([-79.9]), 8)
    bt = burden_table(inc, cells, 8)  # as_of = latest incident
    assert bt["count_12m"].tolist() == [1] and bt["count_prior_12m"].tolist() == [1]
    with pytest.raises(ValueError, match="missing column 'h3'"):
        burden_table(inc.drop(columns="h3"), cells, 8)
    with pytest.raises(ValueError, match="window_days must be positive"):
        burden_table(inc, cells, 8, window_days=0)


def test_build_gap_table_end_to_end_invariants():
    rng = np.random.default_rng(11)
    n = 300
    lat = 36.0 + rng.normal(0, 0.02, n)
    lon = -79.9 + rng.normal(0, 0.02, n)
    days = rng.integers(0, 700, n)
    inc = pd.DataFrame({"occurred_at": pd.Timestamp("2026-06-30") - pd.to_timedelta(days, "D"),
                        "lat": lat, "lon": lon, "h3": latlng_to_cells(lat, lon, BASE_RES)})
    # every point's own res-8 hexagon (point-in-hexagon, not a parent of its res-11 cell)
    cells = np.unique(latlng_to_cells(lat, lon, 8))
    clat, clon = cells_to_latlng(cells)
    sites = pd.DataFrame({"kind": ["naloxone", "ssp", "treatment"], "lat": clat[:3],
                          "lon": clon[:3], "naloxone_distribution": [True, False, False],
                          "open_24_7": [False, False, False], "buprenorphine": [False, False, True],
                          "medicaid": [False, False, True], "capacity": [None, None, 40.0]})
    out = build_gap_table(inc, sites, cells, 8, population=np.full(cells.size, 100.0))
    assert out["h3"].tolist() == cells.tolist()
    assert sorted(out["gap_rank"]) == list(range(1, cells.size + 1))
    assert out["count_total"].sum() == n  # every incident lands in one of its own cells
    assert (out.loc[out["count_12m"] == 0, "gap_score"] == 0).all()
    assert (out["dist_m_naloxone"].iloc[0] == 0.0)
    comps = {c[6:] for c in out.columns if c.startswith("score_")}
    assert set(DEFAULT_WEIGHTS) - {"hotspot"} <= comps
    # e2SFCA with a catchment covering everything: capacity / total population
    far = build_gap_table(inc, sites, cells, 8, population=np.full(cells.size, 100.0),
                          catchment_m=1e7)
    np.testing.assert_allclose(far["e2sfca_treatment"], 40.0 / (100.0 * cells.size))
    hs = pd.DataFrame({"h3": cells[:2], "class": ["hot 99%", "cold 95%"]})
    with_hot = build_gap_table(inc, sites, cells, 8, hotspots=hs)
    assert with_hot["gi_class"].tolist()[:3] == ["hot 99%", "cold 95%", "not significant"]
    with pytest.raises(ValueError, match="population has 1 values"):
        build_gap_table(inc, sites, cells, 8, population=[1.0])


def test_planted_underserved_hotspots_rank_first():
    """Bundled sample: the generator's underserved hotspots must top the gap ranking."""
    import json

    import geopandas as gpd

    from data import get_path
    from geo.cells import str_to_cells
    from geo.grid import analysis_grid, index_incidents
    from layers.sites import load_resources

    try:
        paths = {k: get_path(k) for k in ("incidents", "resources", "boundary", "ground_truth")}
    except FileNotFoundError:
        pytest.skip("bundled sample not generated")
    raw = pd.read_csv(paths["incidents"])  # records as exported (no cross-source dedup)
    inc = index_incidents(raw.assign(occurred_at=pd.to_datetime(raw["occurred_at"],
                                                                 format="ISO8601")))
    sites = load_resources(paths["resources"]).sites
    cells = analysis_grid(gpd.read_file(paths["boundary"]), 8)
    signals = [s for s in json.loads(paths["ground_truth"].read_text())["signals"]
               if s["type"] in ("persistent_hotspot", "emerging_hotspot")]
    under = str_to_cells([s["centre_cell_res8"] for s in signals if s["underserved"]])
    served = str_to_cells([s["centre_cell_res8"] for s in signals if not s["underserved"]])
    assert under.size >= 2 and served.size >= 1
    for k in (None, 10):
        g = build_gap_table(inc, sites, cells, 8, suppress_below=k).set_index("h3")
        ru, rs = g.loc[under, "gap_rank"], g.loc[served, "gap_rank"]
        assert set(ru) == set(range(1, under.size + 1)), ru.tolist()
        assert ru.max() < rs.min()
        assert (g.loc[served, "count_12m"] > g.loc[under, "count_12m"].min()).any()
