"""Streaming ingest (geo.ingest_stream) = the whole-file path: records, rejects, events, summary.

The reference is the whole-file reader (``read_incidents`` then ``IncidentStore.ingest`` of the
result), which the streaming path replaced for CSV and Parquet. Small chunks put exact
repeats, identical rows, ragged and multi-line records, and cross-source pairs across chunk
boundaries.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from geo.ingest import read_incidents
from geo.ingest_stream import _Seen, iter_chunks
from geo.store import IncidentStore
from geo.textfiles import read_text

M_PER_DEG_LAT = 111_195.0
SUMMARY_KEYS = ("read", "accepted", "rejected", "outside_area", "added", "already_stored",
                "merged", "records", "events", "reasons", "preset")


def export(n_events=300, seed=0):
    """Events reported 1-3 times by different sources, exact repeats (same id), identical rows
    without an id, bad rows of several kinds, cancelled calls; rows in shuffled order."""
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 4, n_events)
    ev = np.repeat(np.arange(n_events), k)
    t0 = np.datetime64("2024-01-01T00:00") + rng.integers(0, 40 * 1440, n_events).astype(
        "timedelta64[m]")
    t = (t0[ev] + rng.integers(0, 50, ev.size).astype("timedelta64[m]")).astype("datetime64[s]")
    when = t.astype(str)
    date_only = rng.random(ev.size) < 0.05
    when[date_only] = t[date_only].astype("datetime64[D]").astype(str)
    df = pd.DataFrame({
        "incident_id": [f"X{i}" for i in range(ev.size)],
        "occurred_at": when,
        "lat": np.round(rng.uniform(36.0, 36.08, n_events)[ev]
                        + rng.uniform(0, 200, ev.size) / M_PER_DEG_LAT, 6).astype(str),
        "lon": "-79.8",
        "source": rng.choice(["ems", "police", "hospital"], ev.size),
        "outcome": rng.choice(["nonfatal", "fatal", ""], ev.size, p=[0.8, 0.1, 0.1]),
        "naloxone": rng.choice(["yes", "no", "", "maybe"], ev.size),
        "disposition": rng.choice(["transported", "cancelled", "refused"], ev.size,
                                  p=[0.8, 0.05, 0.15]),
        "notes": rng.choice(["", "seen twice", "line one\nline two"], ev.size,
                            p=[0.8, 0.1, 0.1]),
    })
    bad = df.sample(40, random_state=seed).assign(incident_id=lambda d: "B" + d["incident_id"])
    bad["occurred_at"] = np.resize(["not a date", "", "2099-01-01 10:00", "1850-01-01",
                                    "2024-01-05 10:00"], len(bad))
    bad.loc[bad.index[4::5], "lat"] = np.resize(["", "abc", "0", "-79.8", "95"], len(bad) // 5)
    bad.loc[bad.index[4::5], "lon"] = np.resize(["-79.8", "-79.8", "0", "36.0", "-79.8"],
                                                len(bad) // 5)
    repeats = df.sample(25, random_state=seed + 1)  # the same record exported twice
    anon = df.sample(15, random_state=seed + 2).assign(incident_id="")
    # the same id and source, moved a metre: another record whose event has the same id
    moved = df.sample(10, random_state=seed + 3)
    moved["lat"] = (moved["lat"].astype(float) + 1e-5).round(6).astype(str)
    out = pd.concat([df, bad, repeats, anon, anon.iloc[:5], moved], ignore_index=True)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def write_csv(df, path, ragged=()):
    """CSV with a few ragged lines and blank lines spliced in (after data rows ``ragged``)."""
    text = df.to_csv(index=False, lineterminator="\n")
    lines = text.split("\n")  # multi-line fields are quoted: splitting inside them is harmless
    out, rows = [], 0
    for ln in lines:
        out.append(ln)
        if ln.count('"') % 2 == 0 and ln:
            rows += 1
            if rows in ragged:
                out.append("1,2,3")
                out.append("")
    path.write_text("\n".join(out))
    return path


def whole(path, store, rejects, **kw):
    """The whole-file reference: read everything, then store the result."""
    res = read_incidents(path, dedup=False, **{k: v for k, v in kw.items()
                                               if k not in ("chunk_rows",)})
    s = IncidentStore(store).ingest(res, rejects_path=rejects)
    return s, res


def tables(store):
    con = duckdb.connect(str(store), read_only=True)
    try:
        rec = con.sql("SELECT * EXCLUDE (file_id, received_at) FROM records "
                      "ORDER BY fingerprint").df()
        ev = con.sql("SELECT * FROM events ORDER BY fingerprint").df()
    finally:
        con.close()
    return rec, ev


def assert_same(tmp_path, path, chunk_rows, **kw):
    ref, res = whole(path, tmp_path / "ref.duckdb", tmp_path / "ref.rejects.csv", **kw)
    got = IncidentStore(tmp_path / "new.duckdb").ingest(
        path, rejects_path=tmp_path / "new.rejects.csv", chunk_rows=chunk_rows, **kw)
    for k in SUMMARY_KEYS:
        assert got[k] == ref[k], k
    assert list(got["reasons"].items()) == list(ref["reasons"].items())  # order as printed
    for k in ("excluded", "identical", "dropped_identical", "warnings", "unrecognised"):
        assert got[k] == res.summary[k], k
    if ref["rejects_path"]:
        assert (tmp_path / "new.rejects.csv").read_text() == \
            (tmp_path / "ref.rejects.csv").read_text()
    else:
        assert got["rejects_path"] is None
    for a, b in zip(tables(tmp_path / "ref.duckdb"), tables(tmp_path / "new.duckdb"),
                    strict=True):
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(IncidentStore(tmp_path / "new.duckdb").load(),
                                  IncidentStore(tmp_path / "ref.duckdb").load())
    return got


@pytest.mark.parametrize("chunk_rows", [7, 64, 100_000])
def test_csv_stream_equals_whole_file(tmp_path, chunk_rows):
    df = export()
    path = write_csv(df, tmp_path / "x.csv", ragged=(3, 40, 41, 300))
    got = assert_same(tmp_path, path, chunk_rows, exclude=["disposition=cancelled"])
    assert got["merged"] > 100 and got["excluded"] > 10 and got["identical"] >= 5
    assert got["reasons"]["ragged line"] == 4 and got["reasons"]["duplicate of line"] >= 20
    assert {"unparsable date", "missing date", "future date", "date before 1900",
            "location is (0, 0)"} <= set(got["reasons"])
    rej = pd.read_csv(tmp_path / "new.rejects.csv", keep_default_na=False)
    assert rej["line"].is_monotonic_increasing
    # the true line of a repeat's first occurrence, across chunks and multi-line fields
    table = read_text(path)
    dup = rej[rej["reason"].str.startswith("duplicate of line")].iloc[0]
    first = int(dup["reason"].rsplit(" ", 1)[1])
    row = table.frame.loc[np.flatnonzero(table.lines == first)[0]]
    assert row["incident_id"] == dup["incident_id"]


def test_drop_identical_and_boundary_across_chunks(tmp_path):
    df = export(seed=3)
    path = write_csv(df, tmp_path / "x.csv")
    got = assert_same(tmp_path, path, 50, drop_identical=True, source="ems")
    assert got["dropped_identical"] == got["identical"] >= 5


def test_parquet_stream_equals_whole_file(tmp_path):
    df = export(seed=1).drop(columns="notes")
    typed = df.assign(lat=pd.to_numeric(df["lat"], errors="coerce"))
    path = tmp_path / "x.parquet"
    typed.to_parquet(path, index=False, row_group_size=100)
    got = assert_same(tmp_path, path, 33)
    assert got["format"] == "parquet" and got["merged"] > 100


def test_csv_and_parquet_of_the_same_rows_give_the_same_events(tmp_path):
    df = export(seed=2).drop(columns="notes")
    t = pd.to_datetime(df["occurred_at"], format="ISO8601", errors="coerce")
    good = (t.notna() & (t < "2030-01-01") & (t > "1900-01-01")
            & (df["occurred_at"].str.len() > 10)
            & pd.to_numeric(df["lat"], errors="coerce").between(30, 40))
    df = df[good].copy()
    ts = pd.to_datetime(df["occurred_at"], format="ISO8601").astype("datetime64[us]")
    ts.iloc[::7] = ts.iloc[::7].dt.normalize()  # typed timestamps at exact midnight
    df["occurred_at"] = ts.dt.strftime("%Y-%m-%d %H:%M:%S")
    df.to_csv(tmp_path / "x.csv", index=False)
    df.assign(occurred_at=ts, lat=df["lat"].astype(float)).to_parquet(tmp_path / "x.parquet")
    a = IncidentStore(tmp_path / "a.duckdb")
    b = IncidentStore(tmp_path / "b.duckdb")
    sa = a.ingest(tmp_path / "x.csv", chunk_rows=40)
    sb = b.ingest(tmp_path / "x.parquet", chunk_rows=40)
    assert (sa["events"], sa["merged"]) == (sb["events"], sb["merged"])
    assert sa["merged"] > 100
    pd.testing.assert_frame_equal(a.load(), b.load())


def test_all_midnight_text_file_is_date_only_across_chunks(tmp_path):
    days = pd.date_range("2024-01-01", periods=30, freq="D")
    df = pd.DataFrame({"occurred_at": days.strftime("%Y-%m-%d 00:00"), "lat": 36.0,
                       "lon": -79.8, "source": "ems"})
    df.to_csv(tmp_path / "mid.csv", index=False)
    s = IncidentStore(tmp_path / "m.duckdb")
    s.ingest(tmp_path / "mid.csv", chunk_rows=4)
    assert s.load()["time_precision"].eq("day").all()
    # a time off midnight in the last chunk: every row keeps its time of day (as read whole)
    df.loc[29, "occurred_at"] = "2024-01-30 10:15"
    df.to_csv(tmp_path / "late.csv", index=False)
    assert_same(tmp_path, tmp_path / "late.csv", 4)
    assert IncidentStore(tmp_path / "new.duckdb").load()["time_precision"].eq("minute").all()


def test_files_that_are_not_streamed_are_read_whole(tmp_path):
    df = export(seed=4).drop(columns="notes")
    df.to_csv(tmp_path / "u16.csv", index=False, encoding="utf-16")
    with pytest.raises(Exception, match="UTF-16"):
        iter_chunks(tmp_path / "u16.csv")
    assert_same(tmp_path, tmp_path / "u16.csv", 20)
    # the same-source rule needs the whole file in time order
    df.to_csv(tmp_path / "x.csv", index=False)
    for p in tmp_path.glob("*.duckdb"):
        p.unlink()
    got = assert_same(tmp_path, tmp_path / "x.csv", 20, same_source_window_min=60,
                      same_source_radius_m=300)
    assert got["near_duplicates"] > 0


def test_seen_counts_repeats_across_chunks():
    seen = _Seen()
    fp = np.array([5, 3, 5, 9], np.uint64)
    k, first = seen.repeats(fp, np.array([2, 3, 4, 5]))
    assert k.tolist() == [0, 0, 1, 0] and first.tolist() == [2, 3, 2, 5]
    k, first = seen.repeats(np.array([9, 1, 5], np.uint64), np.array([6, 7, 8]))
    assert k.tolist() == [1, 0, 2] and first.tolist() == [5, 7, 2]
    assert seen.fp.tolist() == [1, 3, 5, 9] and seen.count.tolist() == [1, 1, 3, 2]


def test_chunk_rows_must_be_positive(tmp_path):
    (tmp_path / "x.csv").write_text("occurred_at,lat,lon\n2024-01-01 10:00,36,-79.8\n")
    with pytest.raises(ValueError, match="chunk_rows"):
        IncidentStore(tmp_path / "s.duckdb").ingest(tmp_path / "x.csv", chunk_rows=0)
    assert not (tmp_path / "s.duckdb").exists()


def test_excel_date_cells_are_date_only_and_date_times_keep_midnight(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    import datetime as dt

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Date", "When", "Latitude", "Longitude"])
    for d in range(3):
        ws.append([dt.date(2024, 3, 1 + d), dt.datetime(2024, 3, 1 + d, 0 if d else 9, 0),
                   36.0, -79.8])
    wb.save(tmp_path / "x.xlsx")
    res = read_incidents(tmp_path / "x.xlsx", mapping={"occurred_at": "Date"}, source="ems")
    assert res.records["time_precision"].eq("day").all()
    res = read_incidents(tmp_path / "x.xlsx", mapping={"occurred_at": "When"}, source="ems")
    assert res.records["time_precision"].eq("minute").all()


# ------------------------------------------------------------------ de-duplication in blocks
def _store_tables(store):
    con = duckdb.connect(str(store), read_only=True)
    try:
        ev = con.sql("SELECT * FROM events ORDER BY fingerprint").df()
        inc = con.sql("SELECT * FROM incidents ORDER BY occurred_at, first_fp").df()
    finally:
        con.close()
    return ev, inc


@pytest.mark.parametrize("block", [5, 1_000_000])
def test_block_dedup_equals_the_whole_window_reference(tmp_path, monkeypatch, block):
    """update_events (matching columns only, events collapsed in SQL by blocks) gives the
    events and incidents tables of the old whole-window pandas version, first ingest and
    appends in any order (chains, date-only rows, conflicting same-source repeats)."""
    from ingest_reference import update_events_whole

    import geo.store_events as se
    import geo.store_window as store_window

    df = export(n_events=400, seed=6)
    t = pd.to_datetime(df["occurred_at"], format="ISO8601", errors="coerce")
    parts = [df[t < "2024-01-20"], df[t >= "2024-01-20"], df[t.isna()]]
    parts = [parts[1], parts[0], parts[2]]  # later records first, then the earlier ones
    monkeypatch.setattr(se, "BLOCK_RECORDS", block)
    monkeypatch.setattr(store_window, "PAIR_BLOCK", block)
    monkeypatch.setattr(se, "SLAB_RECORDS", block)  # time slabs of ~5 records: many
    stores = {}
    for name in ("new", "ref"):
        if name == "ref":
            monkeypatch.setattr(se, "update_events", update_events_whole)
        store = IncidentStore(tmp_path / f"{name}.duckdb")
        for k, part in enumerate(parts):
            path = tmp_path / f"{name}{k}.csv"
            part.to_csv(path, index=False)
            store.ingest(path, chunk_rows=50)
        stores[name] = store
    for a, b in zip(_store_tables(stores["new"].path), _store_tables(stores["ref"].path),
                    strict=True):
        pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(stores["new"].load(), stores["ref"].load())
    assert (stores["new"].load()["n_sources"] > 1).sum() > 100


def test_crlf_quoted_and_bom_csv_stream_equals_whole_file(tmp_path):
    """CRLF line ends and quoted fields (polars parses clean chunks), a BOM (pandas does)."""
    df = export(seed=8)
    text = df.to_csv(index=False, lineterminator="\r\n", quoting=1)  # every field quoted
    (tmp_path / "crlf.csv").write_bytes(text.encode())
    assert_same(tmp_path, tmp_path / "crlf.csv", 64)
    for p in tmp_path.glob("*.duckdb"):
        p.unlink()
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + df.to_csv(index=False).encode())
    assert_same(tmp_path, tmp_path / "bom.csv", 64)


@pytest.mark.parametrize("block", [1, 17, 250])
def test_pairs_by_time_block_equal_one_search(block):
    from geo.dedup import candidate_pairs
    from geo.schema import SOURCES
    from geo.store_window import pairs_by_block

    rng = np.random.default_rng(block)
    n = 1200
    t = np.sort(np.datetime64("2024-01-01T00:00") + rng.integers(0, 3 * 1440, n).astype(
        "timedelta64[m]")).astype("datetime64[us]")
    t[::50] = t[::50] + np.timedelta64(60, "m") - np.timedelta64(1, "us")  # window edges
    t = np.sort(t)
    lat = 36.0 + rng.uniform(0, 0.01, n)
    lon = -79.8 + rng.uniform(0, 0.01, n)
    src = rng.integers(0, 3, n)
    ok = rng.random(n) > 0.05
    ref = candidate_pairs(t, lat, lon, np.asarray(SOURCES, object)[src], ok)
    got = pairs_by_block(t, lat, lon, src, ok, 60, 300, block)
    assert ref[0].size > 1000
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)


def test_cli_chunk_rows(tmp_path, capsys):
    from cli import main

    df = export(seed=9)
    path = write_csv(df, tmp_path / "x.csv", ragged=(5,))
    outs = []
    for k, extra in enumerate(([], ["--chunk-rows", "13"])):
        code = main(["ingest", str(path), "--store", str(tmp_path / f"{'ab'[k]}.duckdb"),
                     "--exclude", "disposition=cancelled", *extra])
        out = capsys.readouterr().out
        assert code == 0
        outs.append(out)
    assert outs[0] == outs[1] and "excluded" in outs[0] and "ragged line 1" in outs[0]
    code = main(["ingest", str(path), "--store", str(tmp_path / "s9.duckdb"),
                 "--chunk-rows", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "at least 1 row" in err and "Traceback" not in err
