"""Incremental store de-duplication = a rebuild over the whole store; events read, not rebuilt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.grid import ANALYSIS_RES, add_cells
from geo.ingest import read_incidents, to_canonical
from geo.store import IncidentStore

M_PER_DEG_LAT = 111_195.0


def planted(n_events=400, seed=0, start="2024-01-01"):
    """Events reported 1-4 times (EMS/police/hospital, same-source repeats make conflicting
    chains), some date-only, with outcomes and naloxone to combine."""
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 5, n_events)
    ev = np.repeat(np.arange(n_events), k)
    t0 = np.datetime64(f"{start}T00:00") + rng.integers(0, 60 * 1440, n_events).astype(
        "timedelta64[m]")
    t = (t0[ev] + rng.integers(0, 50, ev.size).astype("timedelta64[m]")).astype("datetime64[s]")
    when = t.astype(str)
    date_only = rng.random(ev.size) < 0.05
    when[date_only] = t[date_only].astype("datetime64[D]").astype(str)
    return pd.DataFrame({
        "incident_id": [f"X{seed}-{i}" for i in range(ev.size)],
        "occurred_at": when,
        "lat": np.round(rng.uniform(36.0, 36.08, n_events)[ev]
                        + rng.uniform(0, 200, ev.size) / M_PER_DEG_LAT, 6),
        "lon": -79.8,
        "source": rng.choice(["ems", "police", "hospital"], ev.size),
        "outcome": rng.choice(["nonfatal", "fatal", ""], ev.size, p=[0.8, 0.1, 0.1]),
        "naloxone": rng.choice(["yes", "no", ""], ev.size),
    })


def chain():
    """EMS 0', police 50', hospital 100', EMS 150', police 200' (one chain, conflicting)."""
    t0 = pd.Timestamp("2024-03-01 08:00")
    rows = [("ems", 0), ("police", 50), ("hospital", 100), ("ems", 150), ("police", 200)]
    return pd.DataFrame({
        "incident_id": [f"C{k}" for k in range(len(rows))],
        "occurred_at": [str(t0 + pd.Timedelta(minutes=m)) for _, m in rows],
        "lat": [36.5 + 20 * k / M_PER_DEG_LAT for k in range(len(rows))], "lon": -79.8,
        "source": [s for s, _ in rows], "outcome": "", "naloxone": "",
    })


def ingest_parts(tmp_path, name, parts):
    store = IncidentStore(tmp_path / f"{name}.duckdb")
    for k, part in enumerate(parts):
        path = tmp_path / f"{name}_{k}.csv"
        part.to_csv(path, index=False)
        store.ingest(path)
    return store


def test_incremental_equals_full_rebuild(tmp_path):
    df = pd.concat([planted(seed=0), planted(seed=1, start="2024-02-15"), chain()],
                   ignore_index=True)
    rng = np.random.default_rng(5)
    # by source, then by time (later months first), then random slices: every order merges
    by_source = [df[df["source"] == s] for s in ("police", "ems", "hospital")]
    t = pd.to_datetime(df["occurred_at"], format="ISO8601")
    by_time = [df[t >= "2024-03-01"], df[(t >= "2024-02-01") & (t < "2024-03-01")],
               df[t < "2024-02-01"]]
    shuffled = df.iloc[rng.permutation(len(df))]
    random_parts = [shuffled.iloc[k::5] for k in range(5)]
    full = ingest_parts(tmp_path, "full", [df]).load()
    assert (full["n_sources"] > 1).sum() > 100  # plenty merged
    for name, parts in (("src", by_source), ("time", by_time), ("rand", random_parts)):
        inc = ingest_parts(tmp_path, name, parts).load()
        pd.testing.assert_frame_equal(inc, full, obj=name)


def test_chain_reaching_beyond_the_window_is_rebuilt(tmp_path):
    c = chain()
    # the last police report arrives last; its component reaches 200' back (> 60' window)
    inc = ingest_parts(tmp_path, "inc", [c.iloc[:4], c.iloc[4:]]).load()
    full = ingest_parts(tmp_path, "full", [c]).load()
    pd.testing.assert_frame_equal(inc, full)
    assert inc["n_sources"].sum() == 5 and len(inc) < 5  # merged, one record per source


def test_store_events_equal_file_read_and_dtypes(tmp_path):
    df = pd.concat([planted(seed=3), chain()], ignore_index=True)
    path = tmp_path / "all.csv"
    df.to_csv(path, index=False)
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(path)
    loaded = store.load()
    direct = read_incidents(path).incidents.sort_values("occurred_at", kind="stable")
    canon = to_canonical(loaded)
    cols = ["event_id", "occurred_at", "lat", "lon", "outcome", "naloxone", "naloxone_doses",
            "sources", "n_sources", "h3"]
    pd.testing.assert_frame_equal(
        canon[cols].sort_values(["occurred_at", "event_id"]).reset_index(drop=True),
        to_canonical(direct)[cols].sort_values(["occurred_at", "event_id"]).reset_index(drop=True))
    # canonical columns and dtypes, then the stored cells = point-in-hexagon recomputed
    assert list(loaded.columns[:len(canon.columns)]) == list(canon.columns)
    assert (loaded.dtypes.iloc[:len(canon.columns)] == canon.dtypes).all()
    pd.testing.assert_frame_equal(loaded, add_cells(canon, ANALYSIS_RES))
    # other resolutions on request, canonical only with ()
    assert list(store.load(cell_res=(5, 8)).columns[-2:]) == ["h3_r5", "h3_r8"]
    pd.testing.assert_frame_equal(store.load(cell_res=(5, 8)),
                                  add_cells(canon, (5, 8)))
    assert list(store.load(cell_res=()).columns) == list(canon.columns)
    # a window selects events by their (earliest) time, [start, end)
    part = store.load(start="2024-01-20", end="2024-02-10")
    t = loaded["occurred_at"]
    expect = loaded[(t >= "2024-01-20") & (t < "2024-02-10")].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, expect)


def test_changed_rule_rebuilds_and_old_layout_still_loads(tmp_path):
    import duckdb

    df = planted(seed=4)
    path, other = tmp_path / "a.csv", tmp_path / "b.csv"
    df.iloc[: len(df) // 2].to_csv(path, index=False)
    df.iloc[len(df) // 2:].to_csv(other, index=False)
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(path, window_min=30, radius_m=100)
    narrow = store.load()
    store.ingest(other)  # default rule: the whole store is rebuilt under it
    ref = IncidentStore(tmp_path / "r.duckdb")
    df.to_csv(tmp_path / "all.csv", index=False)
    ref.ingest(tmp_path / "all.csv")
    pd.testing.assert_frame_equal(store.load(), ref.load())
    assert len(narrow) > (len(df) // 2) * len(ref.load()) / len(df)  # narrower: fewer merges
    # a store written before the events table existed: loaded by building events in memory
    con = duckdb.connect(str(ref.path))
    con.execute("DROP TABLE incidents")
    con.execute("DELETE FROM meta WHERE key = 'layout'")
    con.close()
    pd.testing.assert_frame_equal(ref.load(), store.load())


@pytest.mark.parametrize("n_new", [1, 50])
def test_append_small_file_to_store(tmp_path, n_new):
    base = planted(seed=6)
    extra = planted(n_events=n_new, seed=7, start="2024-01-20")
    inc = ingest_parts(tmp_path, f"inc{n_new}", [base, extra]).load()
    full = ingest_parts(tmp_path, f"full{n_new}", [pd.concat([base, extra])]).load()
    pd.testing.assert_frame_equal(inc, full)


def test_parquet_and_csv_give_the_same_store(tmp_path):
    df = pd.concat([planted(seed=8), chain()], ignore_index=True)
    timed = df[df["occurred_at"].str.len() > 10]  # typed timestamps (date-only rows stay CSV)
    pq = timed.assign(occurred_at=pd.to_datetime(timed["occurred_at"], format="ISO8601")
                      .astype("datetime64[us]"),
                      lat=timed["lat"].astype(float))
    pq = pq[pq["occurred_at"] != pq["occurred_at"].dt.normalize()]  # midnight: issue 9's case
    csv = ingest_parts(tmp_path, "csv", [timed.loc[pq.index]]).load()
    store = IncidentStore(tmp_path / "pq.duckdb")
    pq.to_parquet(tmp_path / "x.parquet", index=False)
    store.ingest(tmp_path / "x.parquet")
    pd.testing.assert_frame_equal(store.load(), csv)
    assert (csv["n_sources"] > 1).sum() > 50
