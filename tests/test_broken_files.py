"""Files agencies really send, broken or odd, through `gapmap ingest` and geo.ingest.

Every fixture is written here (tmp_path). Each case asserts the exit status, that an error is
one sentence on stderr without a traceback, and that every row read is accounted for:
read = accepted + rejected + excluded + dropped (identical, near-duplicate).

The fast and exact text readers giving one answer: tests/test_readers_agree.py.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from cli import main
from geo.ingest import read_incidents

HEADER = "incident_id,occurred_at,lat,lon,source,agency"
ROWS = ["a1,2024-03-01 10:00,36.00,-79.80,ems,Médic", "a2,2024-03-02 11:30,36.10,-79.70,ems,Médic",
        "a3,2024-03-03 12:45,36.20,-79.60,police,PD"]
TEXT = HEADER + "\n" + "\n".join(ROWS) + "\n"


def accounted(s: dict) -> bool:
    return s["read"] == (s["accepted"] + s["rejected"] + s.get("excluded", 0)
                         + s.get("dropped_identical", 0) + s.get("near_duplicates", 0))


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def ingest_cli(capsys, tmp_path, path, *extra):
    return cli(capsys, "ingest", path, "--store", tmp_path / "s.duckdb", *extra)


def assert_one_sentence_error(code: int, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gapmap ingest: error: ")
    for n in needles:
        assert n in lines[0], lines[0]


def assert_ingested(code, out, err, read, accepted, rejected):
    assert code == 0 and "Traceback" not in err
    assert f"read {read} · accepted {accepted} · rejected {rejected}" in out


# ------------------------------------------------------------------ encodings and delimiters
@pytest.mark.parametrize("encoding, bom", [
    ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-8", b"\xef\xbb\xbf"),
    ("latin-1", b""), ("utf-16-le", b""),
])
def test_encodings(tmp_path, capsys, encoding, bom):
    path = tmp_path / "x.csv"
    path.write_bytes(bom + TEXT.replace("\n", "\r\n").encode(encoding))
    res = read_incidents(path)
    assert (res.summary["read"], res.summary["accepted"], res.summary["rejected"]) == (3, 3, 0)
    assert res.incidents["agency"].tolist() == ["Médic", "Médic", "PD"]
    assert res.incidents["lat"].tolist() == [36.0, 36.1, 36.2]
    assert_ingested(*ingest_cli(capsys, tmp_path, path), read=3, accepted=3, rejected=0)


@pytest.mark.parametrize("sep, name", [(";", "x.csv"), ("\t", "x.txt"), ("\t", "x.tsv"),
                                       ("|", "x.csv")])
def test_delimiters_sniffed(tmp_path, sep, name):
    path = tmp_path / name
    text = TEXT.replace(",", sep).replace("36.00", "36.00")
    if sep == ";":  # European decimals stay inside their field
        text = text.replace("Médic", "Médic, Nord")
    path.write_text(text, encoding="utf-8")
    res = read_incidents(path)
    assert res.summary["delimiter"] == sep and res.summary["accepted"] == 3
    if sep == ";":
        assert res.incidents["agency"].iloc[0] == "Médic, Nord"


# ------------------------------------------------------------------ line numbers
def test_ragged_lines_are_rejects_with_their_line(tmp_path, capsys):
    path = tmp_path / "ragged.csv"
    path.write_text(HEADER + "\n" + ROWS[0] + "\n" + ROWS[1] + ",extra\n"
                    + "a9,2024-03-04\n" + ROWS[2] + "\n")
    res = read_incidents(path)
    s = res.summary
    assert (s["read"], s["accepted"], s["rejected"]) == (4, 2, 2) and accounted(s)
    assert res.rejects["line"].tolist() == [3, 4]
    assert res.rejects["reason"].tolist() == ["ragged line: 7 field(s) where the header has 6",
                                              "ragged line: 2 field(s) where the header has 6"]
    assert s["reasons"] == {"ragged line": 2}
    assert_ingested(*ingest_cli(capsys, tmp_path, path), read=4, accepted=2, rejected=2)
    rejects = pd.read_csv(tmp_path / "ragged.rejects.csv")
    assert rejects["line"].tolist() == [3, 4]


def test_line_numbers_after_multiline_fields_and_blank_lines(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text(
        "incident_id,occurred_at,lat,lon,note\n"          # 1
        'b1,2024-03-01 10:00,36.0,-79.8,"two\nlines"\n'   # 2-3
        "\n"                                              # 4 (blank)
        "b2,not a date,36.1,-79.7,x\n"                    # 5
        'b3,2024-03-02 10:00,36.1,-79.7,"a\n\nb"\n'       # 6-8
        "b4,2024-03-03 10:00,NA,-79.7,y\n"                # 9
    )
    res = read_incidents(path, source="ems")
    assert res.rejects["line"].tolist() == [5, 9]
    assert res.rejects["reason"].tolist() == ["unparsable date 'not a date'", "missing latitude"]
    assert res.incidents["incident_id"].tolist() == ["b1", "b3"]
    assert accounted(res.summary) and res.summary["read"] == 4


def test_na_coordinates_are_missing_not_not_a_number(tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("occurred_at,lat,lon\n2024-03-01,NA,N/A\n2024-03-01,null,-79.8\n"
                    "2024-03-01,abc,-79.8\n")
    res = read_incidents(path)
    assert res.rejects["reason"].tolist() == [
        "missing latitude; missing longitude", "missing latitude",
        "latitude is not a number: 'abc'"]


# ------------------------------------------------------------------ formats
def test_excel_xlsx(tmp_path, capsys):
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Incident Number", "Incident Date", "Latitude", "Longitude", "Narcan Given"])
    ws.append([1001, dt.datetime(2024, 3, 1, 10, 15), 36.0, -79.8, "Yes"])
    ws.append([1002, dt.datetime(2024, 3, 2, 0, 0), 36.1, -79.7, "No"])
    ws.append([1003, "not a date", 36.2, -79.6, "Yes"])
    path = tmp_path / "export.xlsx"
    wb.save(path)
    res = read_incidents(path, source="ems")
    s = res.summary
    assert s["format"] == "excel" and (s["read"], s["accepted"], s["rejected"]) == (3, 2, 1)
    assert res.incidents["incident_id"].tolist() == ["1001", "1002"]  # not "1001.0"
    # a typed timestamp at exact midnight keeps its time of day
    assert res.incidents["time_precision"].tolist() == ["minute", "minute"]
    assert res.rejects["line"].tolist() == [4]  # the sheet's row number
    assert_ingested(*ingest_cli(capsys, tmp_path, path, "--source", "ems"),
                    read=3, accepted=2, rejected=1)


def test_parquet_typed_midnight_is_not_date_only(tmp_path):
    ts = pd.to_datetime(["2024-03-01 00:00", "2024-03-01 00:20", "2024-03-02 09:00"])
    df = pd.DataFrame({"occurred_at": ts, "lat": [36.0, 36.0, 36.1], "lon": [-79.8] * 3,
                       "source": ["ems", "police", "ems"]})
    df.to_parquet(tmp_path / "t.parquet", index=False)
    df.astype({"occurred_at": str}).to_csv(tmp_path / "t.csv", index=False)
    pq = read_incidents(tmp_path / "t.parquet")
    csv = read_incidents(tmp_path / "t.csv")
    assert pq.records["time_precision"].tolist() == ["minute"] * 3
    assert len(pq.incidents) == len(csv.incidents) == 2  # midnight EMS + 00:20 police merge
    # typed timestamps are never date-only, even at midnight throughout (issue 13); a date
    # column (Parquet date32) is
    only = df.assign(occurred_at=pd.to_datetime(["2024-03-01", "2024-03-01", "2024-03-02"]))
    only.to_parquet(tmp_path / "d.parquet", index=False)
    assert read_incidents(tmp_path / "d.parquet").records["time_precision"].eq("minute").all()
    only.assign(occurred_at=only["occurred_at"].dt.date).to_parquet(tmp_path / "e.parquet")
    assert read_incidents(tmp_path / "e.parquet").records["time_precision"].eq("day").all()


def test_latlon_pair_in_one_column_for_any_preset(tmp_path):
    path = tmp_path / "pair.csv"
    path.write_text('Date,Time,GPS\n2024-03-01,10:00,"36.0, -79.8"\n'
                    '2024-03-02,11:00,"36.1,-79.7"\n')
    res = read_incidents(path, preset="odmap", mapping={"lat": "GPS", "lon": "GPS"})
    assert res.incidents["lat"].tolist() == [36.0, 36.1]
    assert res.incidents["lon"].tolist() == [-79.8, -79.7]


# ------------------------------------------------------------------ duplicates and exclusions
def test_identical_rows_without_id_kept_and_reported(tmp_path, capsys):
    path = tmp_path / "noid.csv"
    row = "2024-03-01,36.0012,-79.8012"
    path.write_text("occurred_at,lat,lon\n" + "\n".join([row, row, row, "2024-03-02,36.1,-79.7"])
                    + "\n")
    code, out, err = ingest_cli(capsys, tmp_path, path, "--source", "ems")
    assert_ingested(code, out, err, read=4, accepted=4, rejected=0)
    assert "2 row(s) identical to an earlier row: kept as separate incidents" in out
    assert "store now 4 records, 4 events" in out
    code, out, _ = ingest_cli(capsys, tmp_path, path, "--source", "ems")  # same file again
    assert code == 0 and "already ingested" in out and "4 records" in out
    from geo.store import IncidentStore

    assert IncidentStore(tmp_path / "s.duckdb").status()["files"][0]["path"] == str(path)
    code, out, _ = cli(capsys, "ingest", path, "--store", tmp_path / "d.duckdb", "--source", "ems",
                       "--drop-identical")
    assert code == 0 and "read 4 · accepted 2 · rejected 0" in out
    res = read_incidents(path, source="ems", drop_identical=True)
    assert accounted(res.summary) and res.summary["dropped_identical"] == 2


def test_exclude_by_column_value(tmp_path, capsys):
    path = tmp_path / "cad.csv"
    path.write_text("occurred_at,lat,lon,Disposition\n"
                    "2024-03-01 10:00,36.0,-79.8,Transported\n"
                    "2024-03-01 11:00,36.0,-79.8,CANCELLED \n"
                    "2024-03-01 12:00,36.0,-79.8,False Alarm\n"
                    "bad,36.0,-79.8,cancelled\n")
    res = read_incidents(path, exclude=["Disposition=Cancelled", "Disposition=false alarm"])
    s = res.summary
    assert (s["read"], s["accepted"], s["rejected"], s["excluded"]) == (4, 1, 0, 3)
    assert accounted(s)
    assert res.rejects["reason"].tolist() == ["excluded by Disposition=Cancelled",
                                              "excluded by Disposition=false alarm",
                                              "excluded by Disposition=Cancelled"]
    code, out, _ = ingest_cli(capsys, tmp_path, path, "--exclude", "Disposition=Cancelled")
    assert code == 0 and "excluded 2 row(s) by --exclude" in out
    code, _, err = ingest_cli(capsys, tmp_path, path, "--exclude", "Status=Cancelled")
    assert_one_sentence_error(code, err, "column 'Status' is not in the input")
    code, _, err = ingest_cli(capsys, tmp_path, path, "--exclude", "Cancelled")
    assert_one_sentence_error(code, err, "COLUMN=VALUE")


def test_same_source_near_duplicates_off_by_default(tmp_path):
    path = tmp_path / "cad.csv"
    # three responses to one scene within 25 min / ~100 m, one 2 h later, one of another agency
    path.write_text(
        "occurred_at,lat,lon,source,agency\n"
        "2024-03-01 10:00,36.0000,-79.8000,ems,A\n"
        "2024-03-01 10:20,36.0005,-79.8005,ems,A\n"
        "2024-03-01 10:25,36.0009,-79.8000,ems,A\n"
        "2024-03-01 12:00,36.0000,-79.8000,ems,A\n"
        "2024-03-01 10:05,36.0000,-79.8000,ems,B\n"
    )
    off = read_incidents(path)
    assert off.summary["accepted"] == 5 and off.summary["near_duplicates"] == 0
    on = read_incidents(path, same_source_window_min=30, same_source_radius_m=300)
    s = on.summary
    assert (s["accepted"], s["near_duplicates"]) == (3, 2) and accounted(s)
    assert on.rejects["line"].tolist() == [3, 4]
    assert on.rejects["reason"].str.startswith("near-duplicate of line 2").all()
    # greedy, not chained: 10:25 is within 30 min of 10:00 too; a 20 min rule keeps it apart
    tight = read_incidents(path, same_source_window_min=20, same_source_radius_m=300)
    assert tight.summary["near_duplicates"] == 1  # only 10:20; 10:25 is 25 min after 10:00


# ------------------------------------------------------------------ no tracebacks
def test_invalid_geojson_and_json(tmp_path, capsys):
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [')
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, bad)[::2],
                              "bad.geojson is not valid JSON")
    notgeo = tmp_path / "list.json"
    notgeo.write_text(json.dumps([{"a": 1}]))
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, notgeo)[::2], "not GeoJSON")
    broken = tmp_path / "broken.geojson"
    broken.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": "x"}, "properties": {}}]}))
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, broken)[::2], "broken.geojson")


def test_directory_empty_and_corrupt_files(tmp_path, capsys):
    from geo.readers import read_table

    with pytest.raises(ValueError, match="is a folder, not a file"):
        read_table(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    # a folder is read as a partitioned Parquet dataset (issue 13); without one: one sentence
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, folder)[::2], "folder")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, empty)[::2], "empty.csv is empty")
    for name in ("junk.parquet", "junk.xlsx"):
        p = tmp_path / name
        p.write_bytes(np.random.default_rng(0).bytes(300))
        assert_one_sentence_error(*ingest_cli(capsys, tmp_path, p)[::2], f"cannot read {name}")
    odd = tmp_path / "x.docx"
    odd.write_text("x")
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, odd)[::2], "use a .csv")
    assert not (tmp_path / "s.duckdb").exists()  # nothing was created by a bad file


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path, capsys):
    p = tmp_path / "locked.csv"
    p.write_text(TEXT)
    p.chmod(0)
    assert_one_sentence_error(*ingest_cli(capsys, tmp_path, p)[::2], "cannot read")


def test_header_only_file_reads_zero_rows(tmp_path, capsys):
    p = tmp_path / "head.csv"
    p.write_text(HEADER + "\n")
    res = read_incidents(p)
    assert res.summary["read"] == 0 and accounted(res.summary)


# ------------------------------------------------------------------ formats, continued
def test_excel_blank_rows_and_header_below_the_top(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A3"], ws["B3"], ws["C3"] = "date", "lat", "lon"      # header on sheet row 3
    ws.append(["2024-03-01", 36.0, -79.8])                  # row 4
    ws.append([None, None, None])                           # row 5: blank, skipped
    ws.append(["2024-03-02", "NA", -79.8])                  # row 6: missing latitude
    ws.append(["2024-03-03", 36.1, -79.7])                  # row 7
    path = tmp_path / "sheet.xlsx"
    wb.save(path)
    res = read_incidents(path, source="ems")
    s = res.summary
    assert (s["read"], s["accepted"], s["rejected"]) == (3, 2, 1) and accounted(s)
    assert res.rejects["line"].tolist() == [6]
    assert res.rejects["reason"].tolist() == ["missing latitude"]
    assert res.incidents["time_precision"].tolist() == ["day", "day"]


def test_exclude_numeric_column_in_parquet(tmp_path):
    df = pd.DataFrame({"occurred_at": ["2024-03-01", "2024-03-02", "2024-03-03"],
                       "lat": [36.0, 36.1, 36.2], "lon": [-79.8, -79.7, -79.6],
                       "disposition_code": [3.0, 7.0, 3.0]})
    df.to_parquet(tmp_path / "x.parquet", index=False)
    res = read_incidents(tmp_path / "x.parquet", exclude={"disposition_code": ["3"]})
    assert (res.summary["excluded"], res.summary["accepted"]) == (2, 1) and accounted(res.summary)
    assert res.rejects["line"].tolist() == [2, 4]
