"""The grid sweep of :mod:`geo.dedup_match` and the faster :func:`geo.dedup.assign_events` give
exactly the pairs, scores and labels of the KD-tree version they replaced (kept below as the
reference), on planted duplicates, edge cases and the sample data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo.cells import EARTH_RADIUS_M, haversine_m, latlon_to_xyz
from geo.dedup import _find, _first_order, _source_codes, assign_events, candidate_pairs
from geo.schema import SOURCES


def _reference_pairs(occurred_at, lat, lon, source, mergeable=None, *, window_min=60,
                     radius_m=300):
    """The KD-tree candidate_pairs of 258e6c0, verbatim."""
    t = np.asarray(pd.to_datetime(np.asarray(occurred_at)).astype("datetime64[us]"))
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    codes = _source_codes(source)
    n = lat.size
    ok = np.ones(n, bool) if mergeable is None else np.asarray(mergeable, bool).copy()
    ok &= np.isfinite(lat) & np.isfinite(lon) & ~np.isnat(t)
    idx = np.flatnonzero(ok)
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if idx.size < 2 or np.unique(codes[idx]).size < 2:
        return empty
    minutes = (t[idx] - t[idx].min()).astype("timedelta64[us]").astype(np.float64) / 6e7
    scale = radius_m / window_min if window_min > 0 else radius_m * 1e9
    pts = np.column_stack([latlon_to_xyz(lat[idx], lon[idx]) * EARTH_RADIUS_M, minutes * scale])
    pairs = cKDTree(pts).query_pairs(r=radius_m * (1 + 1e-9), p=np.inf, output_type="ndarray")
    if pairs.size == 0:
        return empty
    a, b = idx[pairs[:, 0]], idx[pairs[:, 1]]
    dt = np.abs(t[a] - t[b]).astype("timedelta64[us]").astype(np.float64) / 6e7
    d = haversine_m(lat[a], lon[a], lat[b], lon[b])
    keep = (codes[a] != codes[b]) & (dt <= window_min) & (d <= radius_m)
    a, b, dt, d = a[keep], b[keep], dt[keep], d[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    score = (dt / window_min if window_min > 0 else 0.0) + d / radius_m
    order = np.lexsort((hi, lo))
    return lo[order], hi[order], score[order]


def _reference_assign(n, i, j, score, source):
    """The assign_events of 258e6c0, verbatim."""
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    score = np.asarray(score, float)
    codes = _source_codes(source)
    if i.size == 0:
        return np.arange(n, dtype=np.int64)
    g = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    key = comp.astype(np.int64) * len(SOURCES) + codes
    sizes = np.bincount(comp)
    distinct = np.bincount(np.unique(key) // len(SOURCES), minlength=sizes.size)
    conflicted = sizes > distinct
    if conflicted.any():
        bad_pair = conflicted[comp[i]]
        bi, bj, bs = i[bad_pair], j[bad_pair], score[bad_pair]
        order = np.lexsort((bj, bi, bs))
        members = np.flatnonzero(conflicted[comp])
        parent = list(range(members.size))
        mask = [1 << c for c in codes[members].tolist()]
        ci, cj = np.searchsorted(members, bi[order]), np.searchsorted(members, bj[order])
        for a, b in zip(ci.tolist(), cj.tolist(), strict=True):
            ra, rb = _find(parent, a), _find(parent, b)
            if ra == rb or mask[ra] & mask[rb]:
                continue
            parent[rb] = ra
            mask[ra] |= mask[rb]
        sub_root = np.fromiter((_find(parent, x) for x in range(members.size)), np.int64,
                               count=members.size)
        comp = comp.astype(np.int64)
        comp[members] = comp.max() + 1 + sub_root
    _, first, inv = np.unique(comp, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv]


def _brute_pairs(t, lat, lon, codes, ok, window_min, radius_m):
    """Every pair by the rule, O(n²) (small inputs)."""
    t = np.asarray(t).astype("datetime64[us]")
    ii, jj = np.triu_indices(t.size, 1)
    good = ok[ii] & ok[jj] & (codes[ii] != codes[jj])
    ii, jj = ii[good], jj[good]
    dt = np.abs(t[ii] - t[jj]).astype("timedelta64[us]").astype(np.float64) / 6e7
    d = haversine_m(lat[ii], lon[ii], lat[jj], lon[jj])
    keep = (dt <= window_min) & (d <= radius_m)
    return ii[keep], jj[keep]


def _pairset(i, j):
    return set(zip(i.tolist(), j.tolist(), strict=True))


def same(got, ref):
    """Pairs equal, scores bit for bit."""
    assert got[0].dtype == np.int64 and got[1].dtype == np.int64
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[2].view(np.int64), ref[2].view(np.int64))


def check(t, lat, lon, src, ok=None, *, window_min=60, radius_m=300, brute=False):
    """candidate_pairs and assign_events (with and without ``comp``) equal the reference."""
    ref = _reference_pairs(t, lat, lon, src, ok, window_min=window_min, radius_m=radius_m)
    before = [np.array(x, copy=True) for x in (t, lat, lon)]
    got = candidate_pairs(t, lat, lon, src, ok, window_min=window_min, radius_m=radius_m)
    same(got, ref)
    for x, y in zip(before, (t, lat, lon), strict=True):  # inputs untouched
        np.testing.assert_array_equal(x, np.asarray(y))
    if brute:
        codes = _source_codes(src)
        okb = np.ones(codes.size, bool) if ok is None else np.asarray(ok, bool)
        tt = np.asarray(pd.to_datetime(np.asarray(t)).astype("datetime64[us]"))
        okb = okb & np.isfinite(lat) & np.isfinite(lon) & ~np.isnat(tt)
        bi, bj = _brute_pairs(tt, np.asarray(lat, float), np.asarray(lon, float), codes, okb,
                              window_min, radius_m)
        assert _pairset(bi, bj) == _pairset(got[0], got[1])
    n = len(lat)
    lab = _reference_assign(n, *ref, src)
    np.testing.assert_array_equal(assign_events(n, *got, src), lab)
    comp = connected_components(sp.coo_matrix((np.ones(got[0].size), (got[0], got[1])),
                                              shape=(n, n)), directed=False)[1]
    np.testing.assert_array_equal(assign_events(n, *got, src, comp=comp), lab)
    perm = np.random.default_rng(n).permutation(n)  # any numbering of the same components
    np.testing.assert_array_equal(assign_events(n, *got, src, comp=perm[comp] * 2 + 5), lab)
    return got


def planted(seed, n_events=400, *, lat0=36.0, lon0=-79.8, spread_m=20_000, days=10,
            sort=True, jitter_m=400, jitter_min=80):
    """Events reported by 1-4 sources (some twice by one source) with jitter around the
    window and radius, plus nothing else; time-sorted unless ``sort`` is False."""
    rng = np.random.default_rng(seed)
    ev_lat = lat0 + rng.uniform(-1, 1, n_events) * spread_m / 111_195
    ev_lon = lon0 + rng.uniform(-1, 1, n_events) * spread_m / 111_195 / max(
        np.cos(np.radians(lat0)), 1e-3)
    ev_t = rng.integers(0, days * 1440 * 60, n_events)  # seconds
    k = rng.integers(1, 5, n_events)
    e = np.repeat(np.arange(n_events), k)
    m = e.size
    ang = rng.uniform(0, 2 * np.pi, m)
    dist = rng.uniform(0, jitter_m, m)
    lat = ev_lat[e] + dist * np.cos(ang) / 111_195
    lon = ev_lon[e] + dist * np.sin(ang) / 111_195 / np.maximum(np.cos(np.radians(lat)), 1e-6)
    lon = (lon + 180) % 360 - 180
    lat = np.clip(lat, -90, 90)
    sec = ev_t[e] + rng.integers(0, int(jitter_min * 60) + 1, m)
    tie = rng.random(m) < 0.2
    sec[tie] = ev_t[e][tie]  # at the event's time exactly
    edge = rng.random(m) < 0.1
    sec[edge] = ev_t[e][edge] + 3600  # an hour after it exactly
    t = np.datetime64("2024-03-01T00:00:00") + sec.astype("timedelta64[s]")
    src = np.asarray(SOURCES, object)[rng.integers(0, len(SOURCES), m)]
    ok = rng.random(m) > 0.05
    if sort:
        o = np.argsort(t, kind="stable")
        t, lat, lon, src, ok = t[o], lat[o], lon[o], src[o], ok[o]
    return t, lat, lon, src, ok


@pytest.mark.parametrize("seed", range(6))
def test_planted_duplicates_equal_reference(seed):
    t, lat, lon, src, ok = planted(seed)
    got = check(t, lat, lon, src, ok, brute=seed < 2)
    assert got[0].size > 300  # the test has pairs to compare
    assert len(set(assign_events(len(lat), *got, src).tolist())) < len(lat)


@pytest.mark.parametrize("window_min, radius_m", [(0, 300), (1, 5), (60, 1), (15, 2000),
                                                  (600, 50_000), (1e-6, 300), (60, 3e7),
                                                  (60, 1e-3)])
def test_other_windows_and_radii(window_min, radius_m):
    t, lat, lon, src, ok = planted(7, 300)
    check(t, lat, lon, src, ok, window_min=window_min, radius_m=radius_m, brute=True)


def test_unsorted_times_and_codes():
    t, lat, lon, src, ok = planted(8, sort=False)
    check(t, lat, lon, src, ok, brute=True)
    codes = _source_codes(src)  # integer codes are taken as such
    same(candidate_pairs(t, lat, lon, codes, ok), _reference_pairs(t, lat, lon, src, ok))


@pytest.mark.parametrize("lat0, lon0", [(0.0, 179.999), (0.0, -180.0), (60.0, 180.0),
                                        (89.99, 0.0), (-89.999, 120.0), (90.0, 0.0),
                                        (-85.0, -179.99), (75.0, 10.0)])
def test_dateline_and_poles(lat0, lon0):
    t, lat, lon, src, ok = planted(9, 300, lat0=lat0, lon0=lon0, spread_m=2_000)
    got = check(t, lat, lon, src, ok, brute=True)
    assert got[0].size > 50


def test_exact_edges():
    """A pair exactly at the window (to the microsecond) and exactly at the radius (the
    radius set to the pair's own haversine distance) is kept; a hair beyond is not."""
    t0 = np.datetime64("2024-05-01T12:00:00.000000")
    lat = np.array([36.0, 36.0027, 36.0, 36.0, 36.001, 36.001])
    lon = np.array([-79.8, -79.8, -79.8, -79.80001, -79.9, -79.9])
    r = float(haversine_m(lat[0], lon[0], lat[1], lon[1]))
    t = t0 + np.array([0, 0, 3_600_000_000, 3_600_000_001, 5, 5], "timedelta64[us]")
    src = np.array(["ems", "police", "hospital", "ems", "odmap", "other"], object)
    got = check(t, lat, lon, src, window_min=60, radius_m=r, brute=True)
    pairs = _pairset(got[0], got[1])
    assert (0, 1) in pairs and (0, 2) in pairs and (0, 3) not in pairs and (4, 5) in pairs
    got = check(t, lat, lon, src, window_min=60, radius_m=np.nextafter(r, 0), brute=True)
    assert (0, 1) not in _pairset(got[0], got[1])


def test_nan_nat_day_only_one_source_and_tiny_inputs():
    t, lat, lon, src, ok = planted(10, 200)
    lat[::7] = np.nan
    lon[3::11] = np.inf
    t = t.astype("datetime64[us]")
    t[5::13] = np.datetime64("NaT")
    check(t, lat, lon, src, ok, brute=True)
    one = np.full(len(lat), "ems", object)
    assert candidate_pairs(t, lat, lon, one)[0].size == 0
    check(t, lat, lon, one)
    assert candidate_pairs(t, lat, lon, src, np.zeros(len(lat), bool))[0].size == 0
    for k in (0, 1, 2):
        check(t[:k], lat[:k], lon[:k], src[:k])
    assert np.array_equal(assign_events(4, [], [], [], src[:4]), np.arange(4))


def test_time_inputs_of_other_types():
    t, lat, lon, src, ok = planted(11, 200)
    ref = _reference_pairs(t, lat, lon, src, ok)
    for tt in (t.astype("datetime64[ns]"), t.astype("datetime64[s]"),
               pd.Series(t).astype(str).to_numpy(object), pd.DatetimeIndex(t)):
        same(candidate_pairs(tt, lat, lon, src, ok), ref)


def test_invalid_latitudes_match_like_the_sphere():
    """Latitudes beyond ±90 are points on the sphere to haversine_m (and the KD-tree)."""
    t, lat, lon, src, ok = planted(12, 200, lat0=89.99, spread_m=1_000)
    flip = np.arange(lat.size) % 3 == 0
    lat = np.where(flip, 180.0 - lat, lat)
    lon = np.where(flip, lon - 180.0, lon)
    got = check(t, lat, lon, src, ok, brute=True)
    assert got[0].size > 20


def test_dense_same_time_and_place():
    """Many reports at one instant and point: every cross-source pair."""
    n = 150
    t = np.full(n, np.datetime64("2024-01-01T00:00"))
    src = np.asarray(SOURCES, object)[np.arange(n) % len(SOURCES)]
    got = check(t, np.full(n, 10.0), np.full(n, 20.0), src, brute=True)
    assert got[0].size == n * (n - 1) // 2 - sum(
        k * (k - 1) // 2 for k in np.bincount(np.arange(n) % len(SOURCES)))


def test_first_order():
    comp = np.array([3, 3, 0, 7, 0, 3, 5])
    lab, first = _first_order(comp)
    np.testing.assert_array_equal(lab, [0, 0, 1, 2, 1, 0, 3])
    np.testing.assert_array_equal(first, [0, 2, 3, 6])
    lab2, first2 = _first_order(lab)
    assert lab2 is lab and np.array_equal(first2, first)
    np.testing.assert_array_equal(_first_order(np.array([-1, 0, -1]))[0], [0, 1, 0])


def test_sample_data_equal_reference():
    from geo.ingest import read_incidents

    res = read_incidents("data/sample_incidents.csv", dedup=False)
    rec = res.incidents.sort_values("occurred_at", kind="stable")
    day = (rec["time_precision"].astype("string") == "day").fillna(False).to_numpy(bool)
    args = (rec["occurred_at"].to_numpy(), rec["lat"].to_numpy(float),
            rec["lon"].to_numpy(float), rec["source"].to_numpy(object), ~day)
    got = check(*args)
    assert got[0].size > 100
    for w, r in ((30, 150), (120, 1000)):
        check(*args, window_min=w, radius_m=r)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from([0, 1, 60, 240]),
       st.sampled_from([1.0, 300.0, 3000.0]),
       st.sampled_from([(36.0, -79.8), (0.0, 180.0), (89.9, 0.0), (-60.0, -179.9)]),
       st.booleans())
def test_random_equal_reference(seed, window_min, radius_m, where, sort):
    t, lat, lon, src, ok = planted(seed, 60, lat0=where[0], lon0=where[1], spread_m=3_000,
                                   days=1, sort=sort, jitter_m=radius_m * 1.3,
                                   jitter_min=window_min * 1.3 + 1)
    check(t, lat, lon, src, ok, window_min=window_min, radius_m=radius_m, brute=True)


@pytest.mark.parametrize("lat0", [0.0, 36.0, -60.0, 80.0, 86.0, 88.5, 89.7, -89.9])
def test_pairs_just_inside_the_radius_across_cell_edges(lat0):
    """Pairs 0.2 m inside the radius in 8 directions, at 400 longitudes and latitudes a
    band apart: many straddle a cell or band edge; every one is found."""
    rng = np.random.default_rng(int(abs(lat0) * 10))
    r = 300.0
    lon = np.linspace(-180, 180, 400, endpoint=False) + rng.uniform(0, 0.5, 400)
    lat = np.clip(lat0 + rng.uniform(-0.05, 0.05, 400), -89.999, 89.999)
    ang = np.repeat(np.arange(8) * np.pi / 4, 50)[rng.permutation(400)] + rng.normal(0, 1e-3, 400)
    # destination point at distance r - 0.2 m (spherical direct problem)
    dlt = (r - 0.2) / EARTH_RADIUS_M
    p1, l1 = np.radians(lat), np.radians(lon)
    p2 = np.arcsin(np.sin(p1) * np.cos(dlt) + np.cos(p1) * np.sin(dlt) * np.cos(ang))
    l2 = l1 + np.arctan2(np.sin(ang) * np.sin(dlt) * np.cos(p1),
                         np.cos(dlt) - np.sin(p1) * np.sin(p2))
    lat2, lon2 = np.degrees(p2), (np.degrees(l2) + 180) % 360 - 180
    assert np.all(np.abs(haversine_m(lat, lon, lat2, lon2) - (r - 0.2)) < 1e-3)
    t = np.datetime64("2024-01-01T00:00") + np.arange(400).astype("timedelta64[h]") * 3
    tt = np.concatenate([t, t + np.timedelta64(59, "m")])
    o = np.argsort(tt, kind="stable")
    src = np.array(["ems"] * 400 + ["police"] * 400, object)[o]
    got = check(tt[o], np.r_[lat, lat2][o], np.r_[lon, lon2][o], src, radius_m=r, brute=True)
    assert got[0].size >= 400


def _destination(lat, lon, bearing, dist_m):
    """Point ``dist_m`` from (lat, lon) on ``bearing`` (radians) on the sphere (degrees)."""
    dlt = dist_m / EARTH_RADIUS_M
    p1, l1 = np.radians(lat), np.radians(lon)
    p2 = np.arcsin(np.sin(p1) * np.cos(dlt) + np.cos(p1) * np.sin(dlt) * np.cos(bearing))
    l2 = l1 + np.arctan2(np.sin(bearing) * np.sin(dlt) * np.cos(p1),
                         np.cos(dlt) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), (np.degrees(l2) + 180) % 360 - 180


@pytest.mark.parametrize("lat0", [0.0, 36.0, -45.0, 70.0, 89.5, -89.975, -89.968])
def test_pairs_placed_just_across_grid_edges(lat0):
    """Partners 0.2 m inside the radius placed just across a band edge (north), a cell edge
    (east, including the last cell's: the dateline), the first cell's edge (west, across
    the dateline) and, near the south pole, at any bearing: found as by brute force."""
    from geo.dedup_match import CELL_RADII, _band_cells

    r, n = 300.0, 120
    d = r - 0.2
    rng = np.random.default_rng(int(abs(lat0) * 1000))
    reach = r / EARTH_RADIUS_M * (1 + 1e-6) + 1e-9
    H = CELL_RADII * reach
    k = int(np.floor((np.radians(lat0) + np.pi / 2) / H))
    nc = int(_band_cells(np.array([k]), H, reach)[0])
    w = 2 * np.pi / nc
    top = np.degrees((k + 1) * H - np.pi / 2)
    f = np.r_[rng.uniform(0.97, 1.0, n // 2), rng.uniform(0.9993, 1.0, n - n // 2)]
    lats, lons = [], []
    # north across the band's top edge
    a_lat = top - f * np.degrees(d / EARTH_RADIUS_M)
    a_lon = rng.uniform(-180, 180, n)
    lats.append((a_lat, _destination(a_lat, a_lon, 0.0, d)[0]))
    lons.append((a_lon, a_lon))
    # east across a cell's right edge (the last cell's is the dateline), west across the first
    for bearing, cells in ((np.pi / 2, rng.integers(0, nc, n)), (-np.pi / 2, np.zeros(n, int))):
        a_lat = np.degrees((k + rng.uniform(0.01, 0.99, n)) * H - np.pi / 2)
        b_lat, b_lon = _destination(a_lat, np.zeros(n), bearing, d)
        edge = (cells + (bearing > 0)) * w  # radians from -180°
        a_lon = np.degrees(edge - np.sign(bearing) * f * np.radians(np.abs(b_lon)))
        a_lon = (a_lon + 360) % 360 - 180  # cells start at longitude -180
        lats.append((a_lat, b_lat))
        lons.append((a_lon, _destination(a_lat, a_lon, bearing, d)[1]))
    if lat0 < -89:  # any bearing, close to the pole
        a_lat = np.degrees((k + rng.uniform(0, 1, n)) * H - np.pi / 2)
        a_lon = rng.uniform(-180, 180, n)
        b_lat, b_lon = _destination(a_lat, a_lon, rng.uniform(0, 2 * np.pi, n), d)
        lats.append((a_lat, b_lat))
        lons.append((a_lon, b_lon))
    lat = np.concatenate([np.r_[a, b] for a, b in lats])
    lon = np.concatenate([np.r_[a, b] for a, b in lons])
    src = np.concatenate([np.repeat(["ems", "police"], a.size) for a, _ in lats]).astype(object)
    t = np.datetime64("2024-01-01T00:00") + rng.integers(0, 3, lat.size).astype(
        "timedelta64[h]")
    o = np.argsort(t, kind="stable")
    got = check(t[o], lat[o], lon[o], src[o], radius_m=r, brute=True)
    assert got[0].size >= lat.size // 2
