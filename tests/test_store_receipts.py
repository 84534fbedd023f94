"""Per-record receipt time in the incident store, and data timeliness computed from it."""

from __future__ import annotations

import duckdb
import pandas as pd

from cases import evaluation as ev
from geo.store import IncidentStore

T0 = pd.Timestamp("2024-05-01 12:00")
D = pd.Timedelta(days=1)


def write(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def rows(prefix, days, minutes=0, lat0=36.0):
    return [{"incident_id": f"{prefix}{k}", "occurred_at": str(T0 + d * D
                                                               + pd.Timedelta(minutes=minutes)),
             "lat": lat0 + 0.05 * k, "lon": -79.8, "outcome": "nonfatal"}
            for k, d in enumerate(days)]


def two_ingests(tmp_path):
    """Police (days 0, 1, 2) received at T0 + 3 d; EMS (days 0, 1, 10; the first two the same
    events as the police ones) received at T0 + 40 d."""
    store = IncidentStore(tmp_path / "s.duckdb")
    store.ingest(write(tmp_path / "p.csv", rows("P", [0, 1, 2], minutes=10)), source="police",
                 received_at=T0 + 3 * D)
    store.ingest(write(tmp_path / "e.csv", rows("E", [0, 1, 10])), source="ems",
                 received_at=T0 + 40 * D)
    return store


def test_two_ingests_give_per_record_receipt_times_and_lags(tmp_path):
    store = two_ingests(tmp_path)
    r = store.receipts().sort_values(["source", "occurred_at"]).reset_index(drop=True)
    assert len(r) == 6 and len(store.load()) == 4  # two EMS records merged into police events
    lag_d = (r["received_at"] - r["occurred_at"]) / D
    ems, pol = lag_d[r["source"] == "ems"].tolist(), lag_d[r["source"] == "police"].tolist()
    assert ems == [40, 39, 30]
    m10 = 10 / 1440
    assert [round(x, 6) for x in pol] == [round(3 - m10, 6), round(2 - m10, 6),
                                          round(1 - m10, 6)]
    assert store.status()["files"][1]["ingested_at"] == str(T0 + 40 * D)

    t = ev.timeliness_table(r, "restricted").set_index("source")
    assert t.loc["ems", "n_records"] == 3 and t.loc["police", "n_records"] == 3
    assert t.loc["ems", "median_lag_days"] == 39.0
    assert t.loc["ems", "p90_lag_days"] == 39.8  # 39 + 0.8 · (40 − 39)
    assert t.loc["ems", "n_lag_over_30_days"] == 2 and t.loc["ems", "n_lag_7_30_days"] == 1
    assert t.loc["police", "median_lag_days"] == 2.0  # 2 − 10 min, one decimal
    assert t.loc["police", "n_lag_1_3_days"] == 2  # 2.99, 1.99 days
    assert t.loc["police", "n_lag_under_1_day"] == 1  # 0.99 days

    tr = ev.timeliness_trend(r, "restricted").set_index(["source", "month"])
    assert tr.loc[("ems", "2024-05"), "n_records"] == 3
    assert tr.loc[("ems", "2024-05"), "median_lag_days"] == 39.0
    assert tr.loc[("police", "2024-05"), "median_lag_days"] == 2.0


def test_an_old_store_falls_back_to_the_files_ingest_time(tmp_path):
    store = two_ingests(tmp_path)
    with duckdb.connect(str(store.path)) as con:  # as written before receipt times existed
        con.execute("UPDATE records SET received_at = NULL WHERE source = 'police'")
        con.execute("UPDATE files SET ingested_at = ? WHERE file_id = 1",
                    [(T0 + 5 * D).to_pydatetime()])
    r = store.receipts()
    pol = r[r["source"] == "police"]
    assert (pol["received_at"] == T0 + 5 * D).all()
    assert (r.loc[r["source"] == "ems", "received_at"] == T0 + 40 * D).all()
    with duckdb.connect(str(store.path)) as con:  # no column at all
        con.execute("ALTER TABLE records DROP COLUMN received_at")
    r = store.receipts(start=T0 + 5 * D)
    assert r["received_at"].tolist() == [T0 + 40 * D]
    assert len(store.load()) == 4
    # the next ingest adds the column back and keeps the old records' fallback
    store.ingest(write(tmp_path / "h.csv", rows("H", [20], lat0=37.0)), source="hospital",
                 received_at=T0 + 21 * D)
    r = store.receipts().set_index("source")
    assert r.loc["hospital", "received_at"] == T0 + 21 * D
    assert (r.loc["police", "received_at"] == T0 + 5 * D).all()


def test_public_timeliness_from_the_store_suppresses_small_counts(tmp_path):
    store = two_ingests(tmp_path)
    pub = ev.timeliness_table(store.receipts(), "public")
    counts = [c for c in pub.columns if c.startswith("n_")]
    for c in counts:
        v = pd.to_numeric(pub[c], errors="coerce").dropna()
        assert not v.between(1, 9).any()
    assert pub["median_lag_days"].isna().all()  # hidden with its count
