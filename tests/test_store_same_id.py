"""An incident id names one incident of a source: the store's events join records by id too.

A corrected re-export (the same ``source`` and ``incident_id``, moved a metre) is the same
event, and so is a reused id months apart: the store groups matched events by their
representative's ``source:incident_id`` (:mod:`geo.store_collapse`). These cases cross
files, so an append must find stored events by id, not only by the pairs it matched:
checked against the whole-window reference (``tests/ingest_reference.py``) and by hand.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from test_ingest_stream import _store_tables
from test_store_incremental import ingest_parts

from geo.store import IncidentStore

T0 = "2024-01-05T10:00:00"
LATER = "2024-06-05T10:00:00"


def _rows(*rows):
    return pd.DataFrame(rows, columns=["incident_id", "occurred_at", "lat", "lon", "outcome",
                                       "source"])


#: files ingested in order; each case's hand-checked (event_id, n_sources) of the events
CASES = {
    # a stored event and its corrected re-export (same id, moved a metre) in the next file
    "re-export": ([_rows(("X1", T0, 36.0, -79.8, "nonfatal", "ems")),
                   _rows(("X1", T0, 36.00001, -79.8, "fatal", "ems"))],
                  [("ems:X1", 2)]),
    # a reused police id; then EMS reports the first incident: the EMS id now names that
    # event, and the later police report stays an event of its own under its id
    "id moves away": ([_rows(("P1", T0, 36.0, -79.8, "nonfatal", "police"),
                             ("P1", LATER, 36.2, -79.9, "fatal", "police")),
                       _rows(("E1", T0, 36.0005, -79.8, "nonfatal", "ems"))],
                      [("ems:E1", 2), ("police:P1", 1)]),
    # a new record matched to nothing stored, but with a stored event's id: it joins it
    "id joins": ([_rows(("E9", T0, 36.0, -79.8, "nonfatal", "ems")),
                  _rows(("E9", LATER, 36.3, -79.7, "fatal", "ems"),
                        ("Q2", LATER, 36.3005, -79.7, "fatal", "police"))],
                 [("ems:E9", 3)]),
}


def _events(store):
    return _store_tables(store.path)[::-1]  # (incidents, events)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("order", ["as listed", "reversed", "one file"])
@pytest.mark.parametrize("slab", [1, None])
def test_events_joined_by_id_across_files(tmp_path, monkeypatch, case, order, slab):
    """Same-id events equal the whole-window reference, also when every hour of records is
    its own time slab (ids and components spanning slabs)."""
    from ingest_reference import update_events_whole

    import geo.store_events as se

    if slab:
        monkeypatch.setattr(se, "SLAB_RECORDS", slab)
    files, want = CASES[case]
    files = {"as listed": files, "reversed": files[::-1],
             "one file": [pd.concat(files, ignore_index=True)]}[order]
    got = ingest_parts(tmp_path, "new", files)
    monkeypatch.setattr(se, "update_events", update_events_whole)
    ref = ingest_parts(tmp_path, "ref", files)
    for a, b in zip(_events(got), _events(ref), strict=True):
        pd.testing.assert_frame_equal(a, b)
    inc = got.load()
    assert sorted(zip(inc["event_id"], inc["n_sources"], strict=True)) == sorted(want)
    assert inc["n_sources"].sum() == sum(len(f) for f in files)  # every record counted once


@pytest.mark.parametrize("case", ["id moves away", "id joins", "re-export"])
@pytest.mark.parametrize("how", ["store from before", "another DuckDB hash"])
def test_id_hashes_are_filled_before_they_are_used(tmp_path, how, case):
    """A store written before ``id_hash`` existed, or by a DuckDB whose ``hash`` differs: the
    next ingest fills the hashes first, so its same-id lookups still find the stored events."""
    files, want = CASES[case]
    old = ingest_parts(tmp_path, "old", files[:1])
    con = duckdb.connect(str(old.path))
    try:
        if how == "store from before":
            for table in ("events", "incidents"):
                con.execute(f"ALTER TABLE {table} DROP COLUMN id_hash")
            con.execute("DELETE FROM meta WHERE key = 'id_hash'")
        else:
            for table in ("events", "incidents"):
                con.execute(f"UPDATE {table} SET id_hash = id_hash + 1")
            con.execute("UPDATE meta SET value = '1' WHERE key = 'id_hash'")
    finally:
        con.close()
    path = tmp_path / "second.csv"
    files[1].to_csv(path, index=False)
    old.ingest(path)
    fresh = ingest_parts(tmp_path, "fresh", files)
    for a, b in zip(_events(old), _events(fresh), strict=True):
        pd.testing.assert_frame_equal(a, b)
    inc = old.load()
    assert sorted(zip(inc["event_id"], inc["n_sources"], strict=True)) == sorted(want)


def test_an_id_naming_reports_months_apart_is_reported(tmp_path):
    """Joining reports months apart by their id is the rule, but the data manager is told (an
    agency may reuse incident numbers); a corrected re-export at the same time is not."""
    from geo.ingest import read_incidents

    reused, _ = CASES["id moves away"]  # police P1 in January and in June
    store = IncidentStore(tmp_path / "a.duckdb")
    path = tmp_path / "reused.csv"
    reused[0].to_csv(path, index=False)
    out = store.ingest(path)
    assert any("1 incident id(s) name reports of one source more than 60 minutes apart" in w
               for w in out["warnings"]), out["warnings"]
    files, _ = CASES["re-export"]
    for k, df in enumerate(files):
        df.to_csv(tmp_path / f"r{k}.csv", index=False)
        out = IncidentStore(tmp_path / "b.duckdb").ingest(tmp_path / f"r{k}.csv")
        assert not any("incident id" in w for w in out["warnings"]), out["warnings"]
    # an already-read file (IngestResult) takes the same path to the warning
    res = read_incidents(path, dedup=False)
    out = IncidentStore(tmp_path / "c.duckdb").ingest(res, window_min=30)
    assert any("more than 30 minutes apart" in w for w in out["warnings"]), out["warnings"]


@pytest.mark.parametrize("slab", [1, None])
def test_reused_ids_are_counted_once_across_time_slabs(tmp_path, monkeypatch, slab):
    """An id reused three times (three slabs when every hour is a slab) is one id in the
    warning, and so is each other reused id: 2 here, however the file is sliced."""
    import geo.store_events as se

    if slab:
        monkeypatch.setattr(se, "SLAB_RECORDS", slab)
    df = _rows(("P1", T0, 36.0, -79.8, "nonfatal", "police"),
               ("P1", "2024-03-05T10:00:00", 36.1, -79.8, "fatal", "police"),
               ("P1", LATER, 36.2, -79.9, "fatal", "police"),
               ("P2", T0, 36.3, -79.8, "nonfatal", "police"),
               ("P2", LATER, 36.4, -79.9, "nonfatal", "police"),
               ("E1", T0, 36.0005, -79.8, "nonfatal", "ems"))
    df.to_csv(tmp_path / "a.csv", index=False)
    out = IncidentStore(tmp_path / "a.duckdb").ingest(tmp_path / "a.csv")
    assert [w for w in out["warnings"] if "incident id" in w][0].startswith(
        "2 incident id(s) name reports"), out["warnings"]
    inc = IncidentStore(tmp_path / "a.duckdb").load()
    # E1 matched P1's January report and names that event; P1's later reports stay one event
    assert sorted(zip(inc["event_id"], inc["n_sources"], strict=True)) == [
        ("ems:E1", 2), ("police:P1", 2), ("police:P2", 2)]
