"""Daily series per area, the alert table (re-alert and neighbour rules) and spike-week recovery."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from clustering.alerts import ALERT_COLUMNS, alert_table, detect
from clustering.series import (
    area_labels,
    area_neighbours,
    incidents_to_daily,
    incidents_to_rolling_24h,
)
from geo.cells import cells_to_latlng, cells_to_parent, cells_to_str, disk_pairs, latlng_to_cells
from geo.grid import incidents_to_cells, index_incidents


def _incidents(n=400, seed=0, days=40):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "occurred_at": pd.Timestamp("2024-05-01")
        + pd.to_timedelta(rng.uniform(0, days, n), unit="D"),
        "lat": 36.07 + rng.normal(0, 0.03, n),
        "lon": -79.79 + rng.normal(0, 0.03, n),
    })
    return index_incidents(df)


# ----------------------------------------------------------------------------- series
def test_series_zero_filled_and_conserves_counts():
    df = _incidents()
    before = df.copy()
    s = incidents_to_daily(df, area="h3", res=8)
    assert s.index.freq is None or s.index.freqstr == "D"
    assert (np.diff(s.index.values) == np.timedelta64(1, "D")).all()
    assert int(s.to_numpy().sum()) == len(df)
    # per-cell totals equal the grid roll-up
    cells = incidents_to_cells(df, 8, breakdown=False)
    tot = s.sum(axis=0)
    np.testing.assert_array_equal(tot.index.to_numpy(np.uint64), cells["h3"].to_numpy())
    np.testing.assert_array_equal(tot.to_numpy(), cells["count"].to_numpy())
    # jurisdiction series = row sums; per day = a hand count
    j = incidents_to_daily(df)
    np.testing.assert_array_equal(j["jurisdiction"].to_numpy(), s.sum(axis=1).to_numpy())
    day = pd.Timestamp("2024-05-10")
    by_hand = ((df["occurred_at"] >= day) & (df["occurred_at"] < day + pd.Timedelta(days=1))).sum()
    assert j.loc[day, "jurisdiction"] == by_hand
    pd.testing.assert_frame_equal(df, before)


def test_series_window_and_extra_cells():
    df = _incidents()
    s = incidents_to_daily(df, start="2024-05-05", end="2024-05-09")
    assert len(s) == 5
    t = df["occurred_at"]
    assert s["jurisdiction"].sum() == ((t >= "2024-05-05") & (t < "2024-05-10")).sum()
    occupied = incidents_to_daily(df, area="h3", res=8).columns.to_numpy(np.uint64)
    far = latlng_to_cells([40.0], [-100.0], 8)
    s2 = incidents_to_daily(df, area="h3", res=8, cells=far)
    assert far[0] in set(s2.columns.to_numpy(np.uint64).tolist())
    assert s2[far[0]].sum() == 0 and s2.shape[1] == occupied.size + 1


def test_series_polygons_point_in_polygon():
    # two touching squares and one far away; ids from a column
    sq = [shapely.box(-79.85, 36.0, -79.79, 36.07), shapely.box(-79.79, 36.0, -79.73, 36.07),
          shapely.box(-70.0, 40.0, -69.9, 40.1)]
    polys = gpd.GeoDataFrame({"name": ["west", "east", "far"]}, geometry=sq, crs=4326)
    df = _incidents(600)
    s = incidents_to_daily(df, area="polygon", polygons=polys, id_column="name")
    assert list(s.columns) == ["west", "east", "far"]
    lon, lat = df["lon"].to_numpy(), df["lat"].to_numpy()
    west = ((lon >= -79.85) & (lon <= -79.79) & (lat >= 36.0) & (lat <= 36.07)).sum()
    east = ((lon >= -79.79) & (lon <= -79.73) & (lat >= 36.0) & (lat <= 36.07)).sum()
    assert s["west"].sum() == west and s["east"].sum() == east and s["far"].sum() == 0
    nb = area_neighbours(s.columns, polygons=polys, id_column="name")
    pairs = set(zip(nb["area"], nb["neighbour"], strict=True))
    assert pairs == {("west", "east"), ("east", "west")}


def test_h3_neighbours_are_edge_neighbours():
    centre = latlng_to_cells([36.07], [-79.79], 8)
    i, j = disk_pairs(np.r_[centre, latlng_to_cells([36.2], [-79.5], 8)], 0)
    assert i.size == 2
    lat, lon = cells_to_latlng(centre)
    ring = np.unique(latlng_to_cells(lat + np.linspace(-0.02, 0.02, 41)[:, None].ravel(),
                                     np.repeat(lon, 41), 8))
    nb = area_neighbours(ring)
    assert (nb["area"] != nb["neighbour"]).all()
    a, b = disk_pairs(ring, 1)
    assert len(nb) == int((a != b).sum())


def test_rolling_24h_hand_case():
    times = ["2024-05-01 22:00", "2024-05-01 23:00", "2024-05-02 01:00", "2024-05-02 02:00",
             "2024-05-02 23:30", "2024-05-04 12:00"]
    df = pd.DataFrame({"occurred_at": pd.to_datetime(times)})
    roll = incidents_to_rolling_24h(df)
    daily = incidents_to_daily(df)
    # 05-01: 22:00 → 1, 23:00 → 2; 05-02: 01:00 → 3, 02:00 → 4, 23:30 → 3 (01:00, 02:00, 23:30)
    assert roll["jurisdiction"].tolist() == [2, 4, 0, 1]
    assert daily["jurisdiction"].tolist() == [2, 3, 0, 1]
    # the evening before the window still counts in its first day's 24 hours
    assert incidents_to_rolling_24h(df, start="2024-05-02")["jurisdiction"].tolist() == [4, 0, 1]
    # a window exactly 24 h long excludes its left end: (t − 24 h, t]
    two = pd.DataFrame({"occurred_at": pd.to_datetime(["2024-05-01 10:00", "2024-05-02 10:00"])})
    assert incidents_to_rolling_24h(two)["jurisdiction"].tolist() == [1, 1]


def _naive_rolling(df, res):
    cells = latlng_to_cells(df["lat"], df["lon"], res)  # point-in-hexagon
    t = pd.to_datetime(df["occurred_at"])
    out = {}
    for i in range(len(df)):
        same = cells == cells[i]
        n = int((same & (t > t.iloc[i] - pd.Timedelta(hours=24)) & (t <= t.iloc[i])).sum())
        key = (t.iloc[i].floor("D"), cells[i])
        out[key] = max(out.get(key, 0), n)
    return out


def test_rolling_24h_equals_naive_and_brackets_daily():
    df = _incidents(300, seed=4, days=12)
    roll = incidents_to_rolling_24h(df, area="h3", res=7)
    daily = incidents_to_daily(df, area="h3", res=7)
    ref = _naive_rolling(df, 7)
    for (day, cell), n in ref.items():
        assert roll.loc[day, cell] == n
    assert int((roll > 0).to_numpy().sum()) == len(ref)
    r, dly = roll.to_numpy(), daily.to_numpy()
    assert (r >= dly).all()  # the 24 h ending at a day's last incident hold the whole day
    prev = np.vstack([np.zeros((1, dly.shape[1]), int), dly[:-1]])
    assert (r <= dly + prev).all()


def test_series_bad_parameters():
    df = _incidents(20)
    with pytest.raises(ValueError, match="area must be one of"):
        incidents_to_daily(df, area="county")
    with pytest.raises(ValueError, match="integer res"):
        incidents_to_daily(df, area="h3")
    with pytest.raises(ValueError, match="polygons="):
        incidents_to_daily(df, area="polygon")
    with pytest.raises(ValueError, match="occurred_at"):
        incidents_to_daily(df.drop(columns="occurred_at"))
    with pytest.raises(ValueError, match="before start"):
        incidents_to_daily(df, start="2024-06-01", end="2024-05-01")


# ----------------------------------------------------------------------------- alert table
def _results(rows):
    """A detector-shaped table from (day, area, observed, flagged) tuples."""
    return pd.DataFrame({
        "date": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=d) for d, *_ in rows],
        "area": [a for _, a, *_ in rows],
        "observed": [o for *_, o, _ in rows],
        "expected": 1.0,
        "sd": 0.5,
        "statistic": 9.0,
        "threshold": 2.5,
        "method": "C2",
        "severity": pd.array(["alert" if f else None for *_, f in rows], dtype="string"),
    })


def test_realert_only_when_cluster_grows():
    rows = [(d, "a", o, True) for d, o in zip(range(5), [5, 4, 6, 6, 8], strict=True)]
    rows += [(5, "a", 1, False), (6, "a", 3, True)]  # gap → new run, alerted again
    rows += [(2, "b", 2, False)]
    out = alert_table(_results(rows))
    assert list(out.columns) == ALERT_COLUMNS
    got = [(d.day - 1, o, r)
           for d, o, r in zip(out["date"], out["observed"], out["run_day"], strict=True)]
    assert got == [(0, 5, 1), (2, 6, 3), (4, 8, 5), (6, 3, 1)]
    assert (out["method"] == "C2").all() and (out["severity"] == "alert").all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 20)), min_size=1, max_size=40))
def test_realert_rule_property(days):
    """Against a direct walk over the days: first day of a run, then only new maxima."""
    rows = [(d, "a", o, f) for d, (f, o) in enumerate(days)]
    out = alert_table(_results(rows))
    expect, best = [], None
    for d, (f, o) in enumerate(days):
        if not f:
            best = None
            continue
        if best is None or o > best:
            expect.append((d, o))
        best = o if best is None else max(best, o)
    got = [((t - pd.Timestamp("2024-01-01")).days, int(o))
           for t, o in zip(out["date"], out["observed"], strict=True)]
    assert got == expect


def test_window_keeps_ongoing_runs_quiet():
    rows = [(d, "a", o, True) for d, o in zip(range(4), [5, 4, 4, 7], strict=True)]
    out = alert_table(_results(rows), start="2024-01-02")
    # day 1 and 2 continue the run that began on day 0 (not growing); day 3 grew
    assert [d.day - 1 for d in out["date"]] == [3]


def test_neighbour_early_warning_on_h3():
    centre = latlng_to_cells([36.07], [-79.79], 8)
    lat, lon = cells_to_latlng(centre)
    pts = np.linspace(-0.012, 0.012, 25)
    cand = latlng_to_cells(np.repeat(lat + pts, 25), np.tile(lon + pts, 25), 8)
    cells = np.unique(cand)
    i, j = disk_pairs(cells, 1)
    c_pos = int(np.flatnonzero(cells == centre[0])[0])
    ring = cells[j[(i == c_pos) & (j != c_pos)]]
    assert ring.size == 6
    days = pd.date_range("2024-01-01", periods=3, name="date")
    series = pd.DataFrame(0, index=days, columns=pd.Index(cells, name="area"))
    series.loc[days[2], centre[0]] = 7
    series.loc[days[2], ring[0]] = 4
    res = pd.DataFrame({
        "date": [days[2], days[2]], "area": [centre[0], ring[0]], "observed": [7, 4],
        "expected": [0.0, 0.0], "sd": 0.5, "statistic": [14.0, 8.0], "threshold": 1.5,
        "method": "C1", "severity": pd.array(["alert", "alert"], dtype="string"),
    })
    nb = area_neighbours(series.columns)
    out = alert_table(res, series=series, neighbours=nb)
    warn = out[out["method"] == "neighbour"]
    # the flagged neighbour is not warned again; the others are, triggered by the bigger alert
    assert set(warn["area"].tolist()) == (set(ring.tolist()) | set(
        cells[j[(i == int(np.flatnonzero(cells == ring[0])[0])) & (j != i)]].tolist()
    )) - {centre[0], ring[0]}
    assert (warn["severity"] == "warning").all()
    assert (warn.loc[warn["area"].isin(ring[1:]), "trigger_area"] == centre[0]).all()
    assert (warn["observed"] == 0).all()
    assert out.iloc[0]["severity"] == "alert"  # alerts listed before warnings
    assert list(area_labels(np.array([centre[0]], np.uint64))) == list(cells_to_str(centre))


def test_alert_table_bad_input():
    with pytest.raises(ValueError, match="results lack column"):
        alert_table(pd.DataFrame({"date": []}))
    with pytest.raises(ValueError, match="'area' and 'neighbour'"):
        alert_table(_results([(0, "a", 3, True)]), neighbours=pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="method must be one of"):
        detect(pd.DataFrame(), "CUSUM")
    with pytest.raises(ValueError, match="needs threshold="):
        detect(pd.DataFrame(), "threshold")


# ----------------------------------------------------------------------------- sample data
@pytest.fixture(scope="module")
def sample():
    """The bundled sample through the real ingest path (de-duplicated events) + its spike."""
    from data import get_path
    from geo.ingest import read_incidents

    try:
        truth = json.loads(get_path("ground_truth").read_text())
        path = get_path("incidents")
    except FileNotFoundError:
        pytest.skip("sample data not generated")
    spike = next(s for s in truth["signals"] if s["type"] == "spike")
    return read_incidents(path).incidents, spike


def test_ears_recovers_sample_spike_week(sample):
    df, spike = sample
    start, end = pd.Timestamp(spike["start"]), pd.Timestamp(spike["end"])
    cells = set(spike["cells_res8"])
    series = incidents_to_daily(df, area="h3", res=8, start=start - pd.Timedelta(days=60),
                                end=end)
    for method in ("C1", "C2", "C3", "EWMA"):
        out = alert_table(detect(series, method), series=series, start=start, end=end)
        alerts = out[out["severity"] == "alert"]
        hexes = cells_to_str(alerts["area"].to_numpy(np.uint64))
        hit = {h for h in hexes if h in cells}
        # recall over the spike's cells and precision over the week's alerts
        # (reached: 3 of 4 cells, precision 1.0 for every detector)
        assert len(hit) >= 2, f"{method} flagged only {hit} of the spike cells {cells}"
        assert np.mean([h in cells for h in hexes]) >= 0.75, (method, list(hexes))
    # coarser areas: the res-7 parent of the spike centre alerts in the week
    parent = cells_to_parent(latlng_to_cells([spike["centre"]["lat"]], [spike["centre"]["lon"]],
                                             8), 7)[0]
    s7 = incidents_to_daily(df, area="h3", res=7, start=start - pd.Timedelta(days=60), end=end)
    a7 = alert_table(detect(s7, "C2"), start=start, end=end)
    assert parent in set(a7.loc[a7["severity"] == "alert", "area"].tolist())
