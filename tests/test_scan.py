"""Space-time permutation scan: worked LLR, naive equivalence, planted signal, null, seeds."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from clustering.scan import radius_to_k, scan_counts, scan_llr, scan_zones, space_time_scan
from geo.cells import cells_to_latlng, cells_to_str, disk_pairs, latlng_to_cells
from geo.grid import index_incidents

END = pd.Timestamp("2024-06-30")


def _frame(lat, lon, day_offsets, hour=12):
    """Incidents at given points on END - offset (offset 0 = the end day)."""
    t = END - pd.to_timedelta(np.asarray(day_offsets), unit="D") + pd.Timedelta(hours=hour)
    return index_incidents(pd.DataFrame({"occurred_at": t, "lat": lat, "lon": lon}))


def _background(n, seed, days=30, spread=0.06):
    rng = np.random.default_rng(seed)
    return _frame(36.07 + rng.uniform(-spread, spread, n), -79.79 + rng.uniform(-spread, spread, n),
                  rng.integers(0, days, n))


# ----------------------------------------------------------------------------- worked case
def test_llr_formula_by_hand():
    # C = 10, c = 5, mu = 2: 5 ln(5/2) + 5 ln(5/8)
    assert scan_llr(5, 2, 10) == pytest.approx(5 * math.log(2.5) + 5 * math.log(5 / 8))
    assert scan_llr(2, 2, 10) == 0 and scan_llr(1, 3, 10) == 0  # only c > mu counts
    assert scan_llr(10, 4, 10) == pytest.approx(10 * math.log(10 / 4))  # (C - c) term vanishes


def test_tiny_worked_case():
    # three far-apart cells, study window of 3 days (offsets 2, 1, 0), clusters up to 2 days
    #   cell A: 1, 0, 3   (C_A = 4)     cell B: 2, 1, 0 (3)     cell C: 1, 1, 1 (3)
    #   days: 4, 2, 4  → C = 10
    pts = {"A": (36.0, -79.0), "B": (37.0, -80.0), "C": (35.0, -81.0)}
    counts = {"A": (1, 0, 3), "B": (2, 1, 0), "C": (1, 1, 1)}
    lat, lon, off = [], [], []
    for k, per_day in counts.items():
        for o, n in zip((2, 1, 0), per_day, strict=True):
            lat += [pts[k][0]] * n
            lon += [pts[k][1]] * n
            off += [o] * n
    df = _frame(lat, lon, off)
    res = space_time_scan(df, res=8, end=END, days=3, max_days=2, max_radius_m=0,
                          replicates=99, seed=3, min_cases=3)
    top = res.clusters.iloc[0]
    # cylinder (A, last day): c = 3, mu = C_A·C_d / C = 4·4/10 = 1.6
    llr_by_hand = 3 * math.log(3 / 1.6) + 7 * math.log(7 / 8.4)
    assert top["llr"] == pytest.approx(llr_by_hand)
    assert llr_by_hand == pytest.approx(0.609575, abs=1e-6)  # 1.885826 − 1.276251
    assert top["observed"] == 3 and top["expected"] == pytest.approx(1.6)
    assert top["days"] == 1 and top["start"] == END.date() and top["end"] == END.date()
    a_cell = latlng_to_cells([36.0], [-79.0], 8)[0]
    assert list(top["cells"]) == [a_cell] and top["n_cells"] == 1
    # only A reaches min_cases = 3, so it is the only cluster; p = rank / (R + 1)
    assert len(res.clusters) == 1
    rank = 1 + int((res.null_llr >= top["llr"] - 1e-9).sum())
    assert top["p"] == pytest.approx(rank / 100)
    assert top["recurrence_days"] == pytest.approx(100 / rank)
    assert res.params["cases"] == 10


def test_radius_to_k():
    # neighbouring centres are sqrt(3)·edge apart: res 8 ≈ 920 m, res 9 ≈ 348 m, res 7 ≈ 2436 m
    assert radius_to_k(8, 1207) == 1
    assert radius_to_k(9, 1207) == 3
    assert radius_to_k(7, 1207) == 0
    assert radius_to_k(9, 0) == 0


def test_zones_dedupe_and_nesting():
    a = latlng_to_cells([36.07], [-79.79], 9)
    i, j = disk_pairs(np.r_[a, latlng_to_cells([36.2], [-79.5], 9)], 1)
    lat, lon = cells_to_latlng(a)
    near = latlng_to_cells(lat + 0.0031, lon, 9)  # the next cell north
    far = latlng_to_cells([36.2], [-79.5], 9)
    cells = np.sort(np.unique(np.r_[a, near, far]))
    assert cells.size == 3
    members, centre, k = scan_zones(cells, 2)
    sets = {tuple(cells[members.indices[members.indptr[z]:members.indptr[z + 1]]])
            for z in range(members.shape[0])}
    pair = tuple(sorted((a[0], near[0])))
    # zones: {a}, {near}, {far}, {a, near} — the pair only once, bigger k adds nothing
    assert len(sets) == members.shape[0] == 4
    assert pair in sets and (far[0],) in sets


# ----------------------------------------------------------------------------- equivalence
def _naive_max(cells, ci, di, days, W, k_max, min_cases):
    """Loop over every zone and window (no sparse algebra, no grouping)."""
    C = ci.size
    zones = []
    for k in range(k_max + 1):
        i, j = disk_pairs(cells, k)
        for c in range(cells.size):
            zones.append(np.isin(ci, j[i == c]))
    best = 0.0
    for in_zone in zones:
        cz = in_zone.sum()
        for w in range(1, W + 1):
            in_win = di >= days - w
            c = int((in_zone & in_win).sum())
            mu = cz * in_win.sum() / C
            if c > mu and c >= min_cases:
                best = max(best, c * math.log(c / mu)
                           + ((C - c) * math.log((C - c) / (C - mu)) if C > c else 0.0))
    return best


def test_fast_scan_equals_naive_loops():
    df = _background(150, seed=5, days=10, spread=0.01)
    kw = dict(res=9, end=END, days=10, max_days=4, max_radius_m=700, min_cases=2)
    res = space_time_scan(df, replicates=8, seed=11, **kw)
    cells, ci, di, lo, hi = scan_counts(df, 9, END, 10)
    k = radius_to_k(9, 700)
    assert k == 2
    assert res.clusters.iloc[0]["llr"] == pytest.approx(_naive_max(cells, ci, di, 10, 4, k, 2))
    # replicate maxima: the same day shuffles, scored by the naive loops
    rng = np.random.default_rng(11)
    off = 9 - di
    perms = rng.permuted(np.broadcast_to(off, (8, off.size)), axis=1)
    naive = [_naive_max(cells, ci, 9 - p, 10, 4, k, 2) for p in perms]
    np.testing.assert_allclose(res.null_llr, naive, rtol=1e-9)


# ----------------------------------------------------------------------------- behaviour
def _planted(seed=1):
    bg = _background(500, seed)
    centre = (36.05, -79.77)
    rng = np.random.default_rng(seed + 100)
    n = 14
    hot = _frame(centre[0] + rng.normal(0, 0.0008, n), centre[1] + rng.normal(0, 0.0008, n),
                 rng.integers(0, 3, n))
    return pd.concat([bg, hot], ignore_index=True), latlng_to_cells([centre[0]], [centre[1]], 9)[0]


def test_finds_planted_cluster():
    df, centre = _planted()
    res = space_time_scan(df, res=9, end=END, replicates=199, seed=0)
    top = res.clusters.iloc[0]
    assert centre in set(top["cells"].tolist())
    assert top["days"] <= 7 and top["observed"] >= 10
    assert top["p"] == pytest.approx(1 / 200)
    assert top["recurrence_days"] == pytest.approx(200)
    # secondaries never share a cell with an earlier cluster
    seen: set = set()
    for cells in res.clusters["cells"]:
        assert not (set(cells.tolist()) & seen)
        seen |= set(cells.tolist())
    assert (np.diff(res.clusters["llr"].to_numpy()) <= 1e-12).all()


def test_null_p_values_not_small():
    ps = []
    for s in range(12):
        res = space_time_scan(_background(250, seed=1000 + s), res=9, end=END, replicates=99,
                              seed=s)
        ps.append(res.clusters.iloc[0]["p"] if len(res.clusters) else 1.0)
    ps = np.array(ps)
    assert (ps < 0.05).sum() <= 2, ps
    assert ps.mean() > 0.3, ps


def test_deterministic_by_seed_and_input_untouched():
    df, _ = _planted(2)
    before = df.copy()
    a = space_time_scan(df, res=9, end=END, replicates=64, seed=42)
    b = space_time_scan(df, res=9, end=END, replicates=64, seed=42)
    c = space_time_scan(df, res=9, end=END, replicates=64, seed=43)
    np.testing.assert_array_equal(a.null_llr, b.null_llr)
    pd.testing.assert_frame_equal(a.clusters.drop(columns="cells"),
                                  b.clusters.drop(columns="cells"))
    assert not np.array_equal(a.null_llr, c.null_llr)
    # batch size is only a memory knob: same draws per replicate order are not promised,
    # but the observed clusters never depend on it
    d = space_time_scan(df, res=9, end=END, replicates=64, seed=42, batch=5)
    np.testing.assert_allclose(d.clusters["llr"], a.clusters["llr"])
    pd.testing.assert_frame_equal(df, before)


def test_empty_window_gives_no_clusters():
    df = _background(50, seed=1)
    res = space_time_scan(df, res=9, end=END + pd.Timedelta(days=400), replicates=9)
    assert res.clusters.empty and res.params["cases"] == 0


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(max_days=30), "max_days"),
        (dict(days=1), "days"),
        (dict(replicates=0), "replicates"),
        (dict(max_radius_m=-5.0), "max_radius_m"),
        (dict(res=16), "res"),
        (dict(min_cases=0), "min_cases"),
        (dict(replicates=9.5), "replicates must be an integer"),
        (dict(batch=0), "batch"),
    ],
)
def test_bad_parameters_raise(kw, match):
    with pytest.raises(ValueError, match=match):
        space_time_scan(_background(20, seed=1), **kw)


def test_missing_column_raises():
    with pytest.raises(ValueError, match="'h3'"):
        space_time_scan(_background(20, seed=1).drop(columns="h3"))


# ----------------------------------------------------------------------------- sample data
def test_scan_recovers_sample_spike_week():
    from data import get_path
    from geo.ingest import read_incidents

    try:
        truth = json.loads(get_path("ground_truth").read_text())
        path = get_path("incidents")
    except FileNotFoundError:
        pytest.skip("sample data not generated")
    df = read_incidents(path).incidents  # de-duplicated events, as the product sees them
    spike = next(s for s in truth["signals"] if s["type"] == "spike")
    cells = set(spike["cells_res8"])
    start, end = pd.Timestamp(spike["start"]), pd.Timestamp(spike["end"])
    for analysis_day in (start + pd.Timedelta(days=3), end):
        res = space_time_scan(df, res=8, end=analysis_day, replicates=199, seed=1)
        top = res.clusters.iloc[0]
        got = set(cells_to_str(top["cells"]).tolist())
        # reached: all 4 spike cells and nothing else, p = 1/200, start on the spike's first days
        assert len(got & cells) >= 3, (analysis_day, got, cells)
        assert len(got & cells) / len(got) >= 0.75  # precision of the primary's cells
        assert top["p"] <= 0.01
        one, two = pd.Timedelta(days=1), pd.Timedelta(days=2)
        assert start - one <= pd.Timestamp(top["start"]) <= start + two
