"""Dates with a zone in an odd spelling: the offset is dropped (local wall time kept, as for
``...Z`` and ``...-05:00``); a zone that cannot be read rejects its row with its line, never the
whole file (pandas refuses a column that mixes zone-aware and naive values)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import cli
from geo.store import IncidentStore
from geo.validate import parse_datetimes


def test_zone_spellings_keep_the_wall_time():
    text = pd.Series(["2024-01-05T10:20:00Z", "2024-01-05T10:20:00 Z", "2024-01-05 10:20 -0500",
                      "2024-01-05 10:20:00 +05:30", "2024-01-05 10:20 +05",
                      "2024-01-05 11:20:00 UTC", "2024-01-06 11:00", ""], dtype="string")
    ts, has_time, blank = parse_datetimes(text)
    want = (["2024-01-05T10:20:00"] * 5) + ["NaT", "2024-01-06T11:00:00", "NaT"]
    np.testing.assert_array_equal(ts.to_numpy(), np.array(want, dtype="datetime64[us]"))
    assert blank.tolist() == [False] * 7 + [True]
    assert has_time[:7].all()


def test_a_file_with_a_blank_before_its_zone_is_ingested_and_an_unreadable_zone_rejected(
        tmp_path, capsys):
    src = tmp_path / "export.csv"
    src.write_text("incident_id,occurred_at,lat,lon,outcome,source\n"
                   "A1,2024-01-05T10:20:00Z,39.29,-76.61,nonfatal,EMS\n"
                   "A2,2024-01-05T12:20:00 Z,39.31,-76.60,nonfatal,EMS\n"
                   "A3,2024-01-05T14:20:00 UTC,39.29,-76.61,nonfatal,EMS\n"
                   "A4,2024-01-06 12:00 +05,39.30,-76.62,fatal,EMS\n")
    store = tmp_path / "s.duckdb"
    assert cli.main(["ingest", str(src), "--store", str(store)]) == 0
    got = IncidentStore(store).load().set_index("incident_id")["occurred_at"]
    assert got.sort_index().astype(str).to_dict() == {
        "A1": "2024-01-05 10:20:00", "A2": "2024-01-05 12:20:00", "A4": "2024-01-06 12:00:00"}
    rejects = pd.read_csv(tmp_path / "export.rejects.csv")
    assert rejects[["line", "incident_id"]].values.tolist() == [[4, "A3"]]
    assert "unparsable date" in rejects["reason"].iloc[0]
