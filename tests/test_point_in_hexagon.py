"""Incident counts are point-in-hexagon at every resolution, never a parent roll-up.

The reference is h3-py's own per-point ``latlng_to_cell(lat, lon, res)``. H3 cells do not nest
exactly, so the res-``r`` parent of a point's res-11 cell is a neighbour of the hexagon holding
the point for a few percent of points; every count below must follow the point.
"""

from __future__ import annotations

from collections import Counter

import h3.api.basic_int as h3int
import numpy as np
import pandas as pd
import pytest

import data
from clustering.emerging import incidents_to_cube
from clustering.scan import scan_counts
from clustering.series import incidents_to_daily
from geo import grid
from geo.cells import cells_to_parent, latlng_to_cells
from geo.grid import add_cells, cells_at, incidents_to_cell_periods, incidents_to_cells
from geo.ingest import read_incidents
from geo.schema import BASE_RES
from layers.outreach import recent_nonfatal
from report.events import event_arrays

RES = (6, 7, 8, 9, 10)


def _reference(lat, lon, res) -> Counter:
    return Counter(h3int.latlng_to_cell(float(a), float(o), res)
                   for a, o in zip(lat, lon, strict=True) if np.isfinite(a) and np.isfinite(o))


def _as_dict(counts: pd.DataFrame) -> dict:
    return {int(c): int(n) for c, n in zip(counts["h3"], counts["count"], strict=True)}


@pytest.fixture(scope="module")
def random_points():
    rng = np.random.default_rng(11)
    n = 4000
    df = pd.DataFrame({
        "occurred_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 200, n), "D"),
        "lat": np.r_[rng.uniform(35.9, 36.3, n - 500), rng.uniform(-60, 60, 500)],
        "lon": np.r_[rng.uniform(-80.0, -79.6, n - 500), rng.uniform(-180, 180, 500)],
        "outcome": rng.choice(["fatal", "nonfatal", "unknown"], n),
    })
    df["h3"] = latlng_to_cells(df["lat"], df["lon"], BASE_RES)
    return df


@pytest.fixture(scope="module")
def sample():
    return read_incidents(data.get_path("incidents")).incidents


@pytest.mark.parametrize("res", RES)
def test_random_points_counts_equal_per_point_h3(random_points, res):
    df = random_points
    got = incidents_to_cells(df, res, breakdown=False)
    assert _as_dict(got) == dict(_reference(df["lat"], df["lon"], res))
    assert got["count"].sum() == len(df)
    # and the roll-up would not have been: some points sit across a hexagon edge
    rolled = cells_to_parent(df["h3"].to_numpy(np.uint64), res)
    assert (rolled != cells_at(df, res)).mean() > 0.01


@pytest.mark.parametrize("res", RES)
def test_bundled_sample_counts_equal_per_point_h3(sample, res):
    ref = _reference(sample["lat"], sample["lon"], res)
    got = incidents_to_cells(sample, res)
    assert _as_dict(got) == dict(ref)
    assert got["count"].sum() == len(sample) == sum(ref.values())
    # the same through the event arrays of the KPIs / briefing, and a precomputed column
    ev = event_arrays(sample)
    assert _as_dict(ev.cell_counts(np.ones(len(ev), bool), res)) == dict(ref)
    pre = add_cells(sample, [res])
    assert pre[f"h3_r{res}"].tolist() == cells_at(sample, res).tolist()
    assert _as_dict(incidents_to_cells(pre, res)) == dict(ref)


def _edge_point(res: int = 7) -> tuple[float, float]:
    """A point whose res-11 cell's res-``res`` parent is not the res-``res`` cell holding it."""
    rng = np.random.default_rng(0)
    lat, lon = rng.uniform(36.0, 36.2, 20000), rng.uniform(-79.9, -79.7, 20000)
    own = latlng_to_cells(lat, lon, res)
    rolled = cells_to_parent(latlng_to_cells(lat, lon, BASE_RES), res)
    k = int(np.flatnonzero(own != rolled)[0])
    return float(lat[k]), float(lon[k])


def test_planted_edge_point_counted_in_its_own_hexagon():
    lat, lon = _edge_point(7)
    own = h3int.latlng_to_cell(lat, lon, 7)
    rolled = h3int.cell_to_parent(h3int.latlng_to_cell(lat, lon, BASE_RES), 7)
    assert own != rolled  # the planted point straddles: roll-up would misplace it
    df = pd.DataFrame({
        "occurred_at": pd.to_datetime(["2026-03-02 10:00", "2026-03-02 11:00", "2026-03-03 00:00"]),
        "lat": [lat, 36.5, np.nan], "lon": [lon, -79.0, np.nan],
        "outcome": ["nonfatal", "nonfatal", "nonfatal"],
    })
    df["h3"] = latlng_to_cells(df["lat"], df["lon"], BASE_RES)
    counts = incidents_to_cells(df, 7).set_index("h3")["count"]
    assert counts.get(np.uint64(own)) == 1 and np.uint64(rolled) not in counts.index
    assert counts.sum() == 2  # the row without a location is not counted (cell 0)
    assert cells_at(df, 7)[2] == 0
    # every counting path agrees
    per = incidents_to_cell_periods(df, 7, "D")
    assert own in per["h3"].tolist() and rolled not in per["h3"].tolist()
    ev = event_arrays(df)
    assert _as_dict(ev.cell_counts(np.ones(len(ev), bool), 7)).get(own) == 1
    daily = incidents_to_daily(df, area="h3", res=7)
    assert own in daily.columns and rolled not in daily.columns
    cells, *_ = scan_counts(df, 7, end="2026-03-03", days=5)
    assert own in cells.tolist() and rolled not in cells.tolist()
    cube = incidents_to_cube(df, np.array([own, rolled], np.uint64), 7, "week")
    assert cube.loc[own].sum() == 1 and cube.loc[rolled].sum() == 0
    out = recent_nonfatal(df, res=7, as_of=pd.Timestamp("2026-03-02 12:00"))
    assert own in out["h3"].tolist() and rolled not in out["h3"].tolist()


def test_h3_column_used_only_at_its_own_resolution(random_points):
    df = random_points
    assert cells_at(df, BASE_RES).tolist() == df["h3"].tolist()
    fine = df.assign(h3=latlng_to_cells(df["lat"], df["lon"], 12))
    assert cells_at(fine, 8).tolist() == latlng_to_cells(df["lat"], df["lon"], 8).tolist()
    # a frame stripped of coordinates can only roll its cells up (documented fallback)
    only = df[["h3"]]
    assert cells_at(only, 8).tolist() == cells_to_parent(df["h3"], 8).tolist()
    with pytest.raises(ValueError, match="lat"):
        cells_at(df[["occurred_at"]], 8)


def test_cache_follows_content_and_is_read_only(random_points):
    df = random_points
    grid._clear_cache()
    a = cells_at(df, 8)
    assert cells_at(df.copy(), 8) is a  # same coordinates: served from the cache
    assert not a.flags.writeable
    moved = df.assign(lat=df["lat"] + 0.05)  # edited coordinates are indexed afresh
    assert cells_at(moved, 8).tolist() == latlng_to_cells(moved["lat"], moved["lon"], 8).tolist()
    sub = df.iloc[::3]
    assert cells_at(sub, 8).tolist() == a[::3].tolist()
    assert not cells_at(add_cells(df, [8]), 8).flags.writeable  # no writable view of a column


def test_store_load_precomputes_point_in_hexagon_columns(tmp_path):
    from geo.store import IncidentStore

    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(data.get_path("incidents"))
    ev = store.load()
    for r in RES:
        ref = [h3int.latlng_to_cell(a, o, r) for a, o in zip(ev["lat"], ev["lon"], strict=True)]
        assert ev[f"h3_r{r}"].tolist() == ref
    assert "h3_r8" not in store.load(cell_res=())
    # the event arrays take the precomputed cells (also through a subset) and agree
    arr = event_arrays(ev)
    assert set(arr._cells) == set(RES)
    m = np.arange(len(arr)) % 2 == 0
    sub = arr.subset(m)
    assert sub.cells(8).tolist() == ev["h3_r8"].to_numpy()[m].tolist()
    assert _as_dict(sub.cell_counts(np.ones(len(sub), bool), 8)) == dict(
        _reference(ev["lat"][m], ev["lon"][m], 8))
