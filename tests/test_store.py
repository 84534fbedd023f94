"""The DuckDB incident store: append, idempotent, transactional, cross-file dedup, load/status."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.ingest import read_incidents, read_incidents_frame
from geo.store import IncidentStore

T0 = pd.Timestamp("2024-05-01 12:00")


def write(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def ems_rows(n=6):
    return [{"incident_id": f"E{k}", "occurred_at": str(T0 + pd.Timedelta(days=k)),
             "lat": 36.0 + 0.01 * k, "lon": -79.8, "outcome": "nonfatal", "naloxone": "yes"}
            for k in range(n)]


def police_rows(n=3):
    # the same events as the first n EMS records, 20 min later and ~110 m north
    return [{"incident_id": f"P{k}", "occurred_at": str(T0 + pd.Timedelta(days=k, minutes=20)),
             "lat": 36.001 + 0.01 * k, "lon": -79.8, "outcome": "fatal" if k == 0 else ""}
            for k in range(n)]


@pytest.fixture
def files(tmp_path):
    return (write(tmp_path / "ems.csv", ems_rows()), write(tmp_path / "police.csv", police_rows()))


def test_separate_files_merge_in_store(tmp_path, files):
    store = IncidentStore(tmp_path / "s.duckdb")
    s1 = store.ingest(files[0], source="ems")
    assert (s1["added"], s1["merged"], s1["events"]) == (6, 0, 6)
    s2 = store.ingest(files[1], source="police")
    assert (s2["read"], s2["accepted"], s2["added"]) == (3, 3, 3)
    assert s2["merged"] == 3 and s2["records"] == 9 and s2["events"] == 6
    ev = store.load()
    assert len(ev) == 6
    assert ev["sources"].tolist() == ["ems+police"] * 3 + ["ems"] * 3
    assert ev["outcome"].iloc[0] == "fatal"  # the police report of a death carries over
    assert ev["h3"].dtype == np.uint64 and (ev["h3"] > 0).all()


def test_reingest_same_file_adds_nothing(tmp_path, files):
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(files[0], source="ems")
    before = store.load()
    again = store.ingest(files[0], source="ems")
    assert again["skipped"] is True and again["added"] == 0
    pd.testing.assert_frame_equal(store.load(), before)
    assert store.status()["files_ingested"] == 1


def test_overlapping_export_adds_only_new_rows(tmp_path):
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(write(tmp_path / "a.csv", ems_rows(4)), source="ems")
    s = store.ingest(write(tmp_path / "b.csv", ems_rows(6)), source="ems")  # rows 0-3 again
    assert (s["added"], s["already_stored"], s["records"]) == (2, 4, 6)


def test_failure_part_way_leaves_store_unchanged(tmp_path, files, monkeypatch):
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(files[0], source="ems")
    before_status, before = store.status(), store.load()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(IncidentStore, "_update_events", boom)  # after the records insert
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest(files[1], source="police")
    monkeypatch.undo()
    after = store.status()
    assert (after["rows"], after["events"], after["files_ingested"]) == (
        before_status["rows"], before_status["events"], before_status["files_ingested"])
    pd.testing.assert_frame_equal(store.load(), before)
    assert store.ingest(files[1], source="police")["added"] == 3  # and the retry works


def test_load_window_and_equivalence_with_file_read(tmp_path, files):
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(files[0], source="ems")
    store.ingest(files[1], source="police")
    part = store.load(start="2024-05-02", end="2024-05-04")
    assert part["occurred_at"].tolist() == [T0 + pd.Timedelta(days=1), T0 + pd.Timedelta(days=2)]
    assert part["sources"].tolist() == ["ems+police", "ems+police"]
    # same events as reading both files at once
    both = pd.concat([pd.read_csv(files[0]).assign(source="ems"),
                      pd.read_csv(files[1]).assign(source="police")]).astype(str)
    both = both.replace("nan", "")
    direct = read_incidents_frame(both).incidents.sort_values("occurred_at")
    loaded = store.load()
    cols = ["event_id", "occurred_at", "lat", "lon", "outcome", "naloxone", "sources", "h3"]
    pd.testing.assert_frame_equal(loaded[cols].reset_index(drop=True),
                                  direct[cols].reset_index(drop=True))


def test_status_and_missing_store(tmp_path, files):
    store = IncidentStore(tmp_path / "s.duckdb")
    with pytest.raises(FileNotFoundError, match="gapmap ingest"):
        store.load()
    store.ingest(files[0], source="ems")
    store.ingest(files[1], source="police")
    st = store.status()
    assert st["rows"] == 9 and st["events"] == 6
    assert st["sources"] == {"ems": 6, "police": 3}
    assert st["first"].startswith("2024-05-01 12:00") and st["last"].startswith("2024-05-06")
    assert st["files_ingested"] == 2 and st["files"][1]["added"] == 3
    assert st["window_min"] == 60 and st["radius_m"] == 300 and st["last_ingest"]


def test_ingest_result_and_rejects_file(tmp_path):
    rows = ems_rows(3) + [{"incident_id": "bad", "occurred_at": "never", "lat": 36.0,
                           "lon": -79.8}]
    path = write(tmp_path / "x.csv", rows)
    result = read_incidents(path, source="ems", dedup=False)
    store = IncidentStore(tmp_path / "s.duckdb")
    s = store.ingest(result)
    assert (s["read"], s["accepted"], s["rejected"], s["added"]) == (4, 3, 1, 3)
    assert store.ingest(result)["skipped"]  # same rows again: nothing added
    s2 = IncidentStore(tmp_path / "t.duckdb").ingest(path, source="ems",
                                                      rejects_path=tmp_path / "rej.csv")
    rej = pd.read_csv(s2["rejects_path"])
    assert rej[["line", "reason"]].values.tolist() == [[5, "unparsable date 'never'"]]


def test_store_connections_never_draw_duckdb_progress_bars(tmp_path, files):
    """DuckDB draws a progress bar on stdout for queries over 2 s (a big ingest's sort); the
    CLI prints its own progress, so every store connection turns DuckDB's off."""
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(files[0])
    for read_only in (False, True):
        con = store._connect(read_only=read_only)
        try:
            assert con.execute("SELECT current_setting('enable_progress_bar')").fetchall() == [
                (False,)]
        finally:
            con.close()


def test_failure_in_a_later_time_slab_leaves_store_unchanged(tmp_path, files, monkeypatch):
    """An ingest whose de-duplication fails after some time slabs were written (and the slabs'
    temporary table made) rolls back whole; the retry gives the events of an ingest that never
    failed."""
    import geo.store_events as se

    monkeypatch.setattr(se, "SLAB_RECORDS", 1)  # every hour of records its own slab
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(files[0], source="ems")
    before = store.load()
    real, calls = se._write_events, []

    def fails_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(se, "_write_events", fails_third)
    with pytest.raises(RuntimeError, match="disk full"):
        store.ingest(files[1], source="police")
    monkeypatch.setattr(se, "_write_events", real)
    pd.testing.assert_frame_equal(store.load(), before)
    assert store.ingest(files[1], source="police")["added"] == 3
    whole = IncidentStore(tmp_path / "w.duckdb")
    whole.ingest(files[0], source="ems")
    whole.ingest(files[1], source="police")
    pd.testing.assert_frame_equal(store.load(), whole.load())
    assert (store.load()["n_sources"] == 2).sum() == 3
