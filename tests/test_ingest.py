"""Incident ingest: presets, mapping, validation reasons, ids, formats, indexing."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.ingest import read_incidents, read_incidents_frame
from geo.presets import detect_preset, resolve_columns
from geo.schema import BASE_RES, INCIDENT_COLUMNS
from geo.validate import parse_bool

NOW = pd.Timestamp("2026-01-01 12:00")
AREA = shapely.box(-80.0, 35.9, -79.6, 36.3)  # (lng, lat) box around a fictional county


def frame(rows, columns=("occurred_at", "lat", "lon")):
    return pd.DataFrame([dict(zip(columns, r, strict=True)) for r in rows]).astype(str)


def ingest(df, **kw):
    kw.setdefault("now", NOW)
    return read_incidents_frame(df, **kw)


# ------------------------------------------------------------------ presets and mapping
@pytest.mark.parametrize(
    "cols, expected",
    [
        (["incident_id", "occurred_at", "lat", "lon", "outcome"], "canonical"),
        (["ODMAP ID", "Date", "Time", "Latitude", "Longitude", "Fatal/Non-Fatal"], "odmap"),
        (["eRecord.01", "eTimes.03", "eScene.11", "eMedications.03"], "nemsis"),
        (["incident_date", "latitude", "longitude", "narcan_given"], "open_data"),
        (["foo", "bar"], None),
    ],
)
def test_detect_preset(cols, expected):
    assert detect_preset(cols) == expected


def test_missing_columns_error_lists_found_and_map():
    df = pd.DataFrame({"CallDate": ["2024-01-01"], "Y": ["36.0"], "Xcoord": ["-79.8"]})
    with pytest.raises(ValueError, match=r"missing required column\(s\) \['lon'\].*"
                                         r"CallDate.*--map lon=<COLUMN>"):
        ingest(df)
    res = ingest(df, mapping={"lon": "Xcoord"})  # CallDate found by alias, Y as lat
    assert res.summary["accepted"] == 1
    assert res.summary["columns"] == {"occurred_at": "CallDate", "lat": "Y", "lon": "Xcoord"}


def test_map_override_and_errors():
    df = pd.DataFrame({"when": ["2024-03-01 10:00"], "la": ["36.0"], "lo": ["-79.8"]})
    res = ingest(df, mapping={"occurred_at": "when", "lat": "la", "lon": "lo"})
    assert res.incidents["occurred_at"].iloc[0] == pd.Timestamp("2024-03-01 10:00")
    with pytest.raises(ValueError, match="'nope' is not a canonical column"):
        ingest(df, mapping={"nope": "when"})
    with pytest.raises(ValueError, match="column 'missing' is not in the input"):
        ingest(df, mapping={"lat": "missing"})
    with pytest.raises(ValueError, match="unknown preset 'xyz'"):
        ingest(df, preset="xyz")


def test_resolve_columns_case_insensitive():
    name, cols, default = resolve_columns(["LATITUDE", "Longitude", "Incident_Date"])
    assert name == "open_data" and cols["lat"] == "LATITUDE" and default is None


# ------------------------------------------------------------------ values
def test_parse_bool_table():
    # the one yes/no parser (incident flags, resource flags, siting filters): hand table
    table = [
        ("TRUE", "yes"), ("true", "yes"), ("T", "yes"), ("t", "yes"), ("Y", "yes"),
        ("yes", "yes"), ("YES", "yes"), (" Yes ", "yes"), ("1", "yes"), ("1.0", "yes"),
        ("FALSE", "no"), ("false", "no"), ("F", "no"), ("f", "no"), ("N", "no"), ("n", "no"),
        ("no", "no"), ("No", "no"), ("0", "no"), ("0.0", "no"),
        ("NA", "unknown"), ("N/A", "unknown"), ("n/a", "unknown"), ("", "unknown"),
        ("  ", "unknown"), (None, "unknown"), ("unknown", "unknown"),
    ]
    vals = [v for v, _ in table] + ["maybe", "2"]
    out, bad = parse_bool(pd.Series(vals, dtype=object))
    assert out.tolist() == [want for _, want in table] + ["unknown", "unknown"]
    assert bad.tolist() == [False] * len(table) + [True, True]
    # real booleans and nullable booleans read the same way
    out, bad = parse_bool(pd.Series([True, False, pd.NA], dtype="boolean"))
    assert out.tolist() == ["yes", "no", "unknown"] and not bad.any()
    out, bad = parse_bool(pd.Series([1, 0]))
    assert out.tolist() == ["yes", "no"] and not bad.any()


def test_open_data_preset_tempe_like():
    df = pd.DataFrame({
        "incident_date": ["2024-05-01", "2024-05-02", "2024-05-03"],
        "latitude": ["33.42", "33.43", "33.44"], "longitude": ["-111.93", "-111.94", "-111.95"],
        "narcan_given": ["TRUE", "FALSE", "NA"],
    })
    res = ingest(df, source="police")
    inc = res.incidents
    assert res.summary["preset"] == "open_data"
    assert inc["naloxone"].tolist() == ["yes", "no", "unknown"]
    assert (inc["time_precision"] == "day").all()
    assert (inc["source"] == "police").all() and (inc["outcome"] == "unknown").all()


def test_odmap_date_and_time_columns():
    df = pd.DataFrame({
        "Date": ["03/04/2024", "03/05/2024"], "Time": ["13:45", ""],
        "Latitude": ["36.1", "36.2"], "Longitude": ["-79.8", "-79.7"],
        "Fatal/Non-Fatal": ["Fatal", "Non-Fatal"], "Naloxone Administered": ["Y", "N"],
        "Naloxone Doses": ["2", ""],
    })
    inc = ingest(df).incidents
    assert inc["occurred_at"].tolist() == [pd.Timestamp("2024-03-04 13:45"),
                                           pd.Timestamp("2024-03-05")]
    assert inc["time_precision"].tolist() == ["minute", "day"]
    assert inc["outcome"].tolist() == ["fatal", "nonfatal"]
    assert inc["naloxone_doses"].tolist() == [2, pd.NA]
    assert (inc["source"] == "odmap").all()


def test_nemsis_preset():
    df = pd.DataFrame({
        "eRecord.01": ["R1", "R2", "R3"],
        "eTimes.03": ["2024-06-01T08:15:00-04:00", "2024-06-02T09:00:00Z", "2024-06-03T10:30:00"],
        "eScene.11": ["36.05,-79.80", "36.06, -79.81", "36.07,-79.82"],
        "eMedications.03": ["7242", "1191|4337", ""],
        "eDisposition.12": ["4212015", "4212033", ""],
    })
    inc = ingest(df).incidents
    assert inc["source"].tolist() == ["ems"] * 3
    # the UTC offset is dropped: local wall-clock time is kept
    assert inc["occurred_at"].iloc[0] == pd.Timestamp("2024-06-01 08:15")
    assert inc["lat"].tolist() == [36.05, 36.06, 36.07]
    assert inc["lon"].tolist() == [-79.80, -79.81, -79.82]
    assert inc["naloxone"].tolist() == ["yes", "no", "unknown"]
    assert inc["outcome"].tolist() == ["fatal", "unknown", "unknown"]
    assert inc["incident_id"].tolist() == ["R1", "R2", "R3"]


def test_date_formats_and_precision():
    df = frame([("2024-01-02", "36.0", "-79.8"), ("01/03/2024 5:30 PM", "36.0", "-79.7"),
                ("2024/01/04 06:07", "36.0", "-79.6"), ("2024-01-05T07:08:09", "36.0", "-79.5")])
    inc = ingest(df, dedup=False).incidents
    assert inc["occurred_at"].tolist() == [pd.Timestamp(x) for x in (
        "2024-01-02", "2024-01-03 17:30", "2024-01-04 06:07", "2024-01-05 07:08:09")]
    assert inc["time_precision"].tolist() == ["day", "minute", "minute", "minute"]


def test_all_midnight_file_is_date_only():
    df = frame([("2024-01-02 00:00:00", "36.0", "-79.8"), ("2024-01-03 00:00", "36.1", "-79.8")])
    assert (ingest(df).incidents["time_precision"] == "day").all()


def test_exact_age_becomes_band():
    df = frame([("2024-01-02", "36.0", "-79.8", "29"), ("2024-01-03", "36.1", "-79.8", "70"),
                ("2024-01-04", "36.2", "-79.8", "35-44")],
               ("occurred_at", "lat", "lon", "age_band"))
    assert ingest(df).incidents["age_band"].tolist() == ["25-34", "65+", "35-44"]


# ------------------------------------------------------------------ bad input, one per class
BAD = [
    (("not a date", "36.0", "-79.8"), "unparsable date 'not a date'"),
    (("", "36.0", "-79.8"), "missing date"),
    (("2026-02-01 10:00", "36.0", "-79.8"), "future date 2026-02-01 10:00:00"),
    (("1850-01-01", "36.0", "-79.8"), "date before 1900"),
    (("2024-01-01", "", "-79.8"), "missing latitude"),
    (("2024-01-01", "abc", "-79.8"), "latitude is not a number: 'abc'"),
    (("2024-01-01", "36.0", "-190.5"), "longitude out of range [-180, 180]: -190.5"),
    (("2024-01-01", "-95.0", "-179.0"), "latitude out of range [-90, 90]: -95.0"),
    (("2024-01-01", "0", "0"), "location is (0, 0)"),
    (("2024-01-01", "-118.2", "34.05"), "latitude/longitude look swapped"),
]


@pytest.mark.parametrize("row, reason", BAD)
def test_bad_rows_rejected_with_reason_and_line(row, reason):
    df = frame([("2024-01-01 10:00", "36.0", "-79.8"), row, ("2024-01-02 10:00", "36.1", "-79.7")])
    res = ingest(df)
    assert res.summary["read"] == 3 and res.summary["accepted"] == 2
    assert res.summary["rejected"] == 1
    rej = res.rejects
    assert rej["line"].tolist() == [3]  # header = line 1, first row = line 2
    assert reason in rej["reason"].iloc[0]
    assert rej[["occurred_at", "lat", "lon"]].iloc[0].tolist() == list(row)  # raw values kept


def test_several_reasons_joined():
    res = ingest(frame([("garbage", "95", "200")]))
    reason = res.rejects["reason"].iloc[0]
    assert "unparsable date" in reason and "latitude out of range" in reason
    assert "longitude out of range" in reason


def test_swapped_detected_by_study_area():
    # both pairs are valid coordinates; only the swapped one falls inside the study area
    df = frame([("2024-01-01", "36.1", "-79.8"), ("2024-01-01", "-79.8", "36.1")])
    assert ingest(df).summary["rejected"] == 0  # (-79.8, 36.1) is a valid place on Earth
    res = ingest(df, boundary=AREA)  # ... but its swap is in the study area and it is not
    assert res.rejects["line"].tolist() == [3]
    assert "swapped" in res.rejects["reason"].iloc[0]


def test_outside_area_flagged_or_dropped():
    df = frame([("2024-01-01", "36.1", "-79.8"), ("2024-01-02", "40.0", "-75.0")])
    res = ingest(df, boundary=AREA)
    assert res.summary["accepted"] == 2 and res.summary["outside_area"] == 1
    assert res.incidents["in_study_area"].tolist() == [True, False]
    res2 = ingest(df, boundary=AREA, drop_outside=True)
    assert res2.summary["rejected"] == 1 and res2.summary["outside_area"] == 1
    assert res2.rejects["reason"].tolist() == ["outside the study area"]
    assert res2.rejects["line"].tolist() == [3]


def test_nothing_silently_dropped_mixed_file():
    rows = [("2024-01-01 10:00", "36.0", "-79.8")] + [r for r, _ in BAD] * 3
    res = ingest(frame(rows))
    s = res.summary
    assert s["read"] == len(rows) == s["accepted"] + s["rejected"]
    assert s["accepted"] == s["events"] + s["merged"]
    assert sorted(res.rejects["line"]) == list(range(3, len(rows) + 2))


# ------------------------------------------------------------------ sources and ids
def test_source_column_wins_and_flag_fills_blanks():
    df = frame([("2024-01-01", "36.0", "-79.8", "Police"), ("2024-01-01", "36.1", "-79.8", ""),
                ("2024-01-01", "36.2", "-79.8", "Fire/EMS"), ("2024-01-01", "36.3", "-79.8", "ED")],
               ("occurred_at", "lat", "lon", "source"))
    inc = ingest(df, source="hospital", dedup=False).incidents
    assert inc["source"].tolist() == ["police", "hospital", "ems", "hospital"]
    with pytest.raises(ValueError, match="source must be one of"):
        ingest(df, source="fire")


def test_generated_ids_stable_and_distinct():
    df = frame([("2024-01-01 10:00", "36.0", "-79.8"), ("2024-01-01 10:00", "36.0", "-79.9")])
    a = ingest(df, source="ems").incidents["incident_id"].tolist()
    b = ingest(df.copy(), source="ems").incidents["incident_id"].tolist()
    assert a == b and len(set(a)) == 2 and all(x.startswith("ems-") for x in a)


def test_exact_repeat_with_id_rejected_as_duplicate():
    cols = ("incident_id", "occurred_at", "lat", "lon")
    row = ("A1", "2024-01-01 10:00", "36.0", "-79.8")
    res = ingest(frame([row, ("A2", "2024-01-02", "36.1", "-79.8"), row], cols))
    assert res.summary["accepted"] == 2
    assert res.rejects["reason"].tolist() == ["duplicate of line 2"]
    assert res.rejects["line"].tolist() == [4]


def test_identical_rows_without_id_are_separate_incidents():
    row = ("2024-01-01 10:00", "36.0", "-79.8")
    df = frame([row, ("2024-01-02", "36.1", "-79.8"), row, row])
    res = ingest(df, source="ems")
    s = res.summary
    assert (s["read"], s["accepted"], s["rejected"], s["identical"]) == (4, 4, 0, 2)
    assert len(res.incidents) == 4 and res.incidents["incident_id"].nunique() == 4
    assert res.records["fingerprint"].nunique() == 4  # the store keeps all three
    again = ingest(df.copy(), source="ems")  # stable: re-ingest gives the same ids
    assert sorted(again.incidents["incident_id"]) == sorted(res.incidents["incident_id"])
    dropped = ingest(df, source="ems", drop_identical=True)
    d = dropped.summary
    assert (d["accepted"], d["dropped_identical"], d["rejected"]) == (2, 2, 0)
    assert d["read"] == d["accepted"] + d["rejected"] + d["dropped_identical"]
    assert dropped.rejects["line"].tolist() == [4, 5]
    assert dropped.rejects["reason"].str.startswith("identical to line 2").all()


def test_input_not_mutated():
    df = frame([("2024-01-01", "36.0", "-79.8"), ("bad", "1", "2")])
    before = df.copy()
    ingest(df)
    pd.testing.assert_frame_equal(df, before)


# ------------------------------------------------------------------ output contract
def test_canonical_columns_dtypes_and_h3_reference():
    rng = np.random.default_rng(7)
    n = 200
    lat, lon = rng.uniform(35.9, 36.3, n), rng.uniform(-80.0, -79.6, n)
    times = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="min")
    df = pd.DataFrame({"occurred_at": times.astype(str), "lat": lat.astype(str),
                       "lon": lon.astype(str)})
    inc = ingest(df, source="ems").incidents
    assert list(inc.columns) == list(INCIDENT_COLUMNS)
    assert {c: str(t) for c, t in inc.dtypes.items()} == INCIDENT_COLUMNS
    expect = [h3.api.basic_int.latlng_to_cell(a, b, BASE_RES)
              for a, b in zip(inc["lat"], inc["lon"], strict=True)]
    assert inc["h3"].tolist() == expect
    assert (inc["n_sources"] == 1).all()  # one source: nothing merges


def test_formats_csv_parquet_geojson_equivalent(tmp_path):
    import geopandas as gpd

    df = pd.DataFrame({
        "incident_id": ["a", "b", "c"],
        "occurred_at": ["2024-01-01 10:00", "2024-01-02 11:00", "2024-01-03"],
        "lat": [36.0, 36.1, 36.2], "lon": [-79.8, -79.7, -79.6],
        "outcome": ["fatal", "nonfatal", ""], "source": ["ems", "police", "hospital"],
    })
    df.to_csv(tmp_path / "x.csv", index=False)
    df.to_parquet(tmp_path / "x.parquet", index=False)
    gdf = gpd.GeoDataFrame(df.drop(columns=["lat", "lon"]),
                           geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    (tmp_path / "x.geojson").write_text(gdf.to_json())
    outs = {ext: read_incidents(tmp_path / f"x.{ext}") for ext in ("csv", "parquet", "geojson")}
    ref = outs["csv"].incidents
    assert len(ref) == 3 and outs["csv"].summary["format"] == "csv"
    for ext in ("parquet", "geojson"):
        got = outs[ext].incidents
        pd.testing.assert_frame_equal(got.drop(columns=["location_precision"]),
                                      ref.drop(columns=["location_precision"]))


def test_geojson_areas_give_centroids(tmp_path):
    import geopandas as gpd

    square = shapely.box(-79.81, 35.99, -79.79, 36.01)
    gdf = gpd.GeoDataFrame({"occurred_at": ["2024-01-01 10:00", "2024-01-02 10:00", "2024-01-03"]},
                           geometry=[square, shapely.Point(-79.7, 36.1), None], crs=4326)
    (tmp_path / "a.geojson").write_text(gdf.to_json())
    res = read_incidents(tmp_path / "a.geojson", source="police")
    inc = res.incidents
    assert inc["lat"].tolist() == pytest.approx([36.0, 36.1])
    assert inc["lon"].tolist() == pytest.approx([-79.8, -79.7])
    assert inc["location_precision"].tolist() == ["centroid", pd.NA]
    assert res.rejects["line"].tolist() == [4]  # no geometry: no location
    assert "missing latitude" in res.rejects["reason"].iloc[0]


def test_read_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_incidents(tmp_path / "nope.csv")
    (tmp_path / "x.docx").write_text("x")
    with pytest.raises(ValueError, match=r"use a \.csv, .*\.xlsx, \.parquet or \.geojson"):
        read_incidents(tmp_path / "x.docx")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(ValueError, match=r"cannot read x.xlsx as an Excel workbook"):
        read_incidents(tmp_path / "x.xlsx")


def test_progress_callback(tmp_path):
    frame([("2024-01-01", "36.0", "-79.8")]).to_csv(tmp_path / "x.csv", index=False)
    seen = []
    read_incidents(tmp_path / "x.csv", progress=lambda stage, done, total: seen.append(stage))
    assert seen == ["read", "validate", "index", "dedup"]


def test_summary_reasons_are_whole_reasons(tmp_path):
    """A reason never contains the '; ' that joins several reasons of one row."""
    from geo.ingest import read_incidents

    p = tmp_path / "x.csv"
    p.write_text("incident_date,latitude,longitude\n2024-01-01,95,-79.8\nnot a date,0,0\n")
    res = read_incidents(p, source="ems")
    assert res.summary["rejected"] == 2
    reasons = res.summary["reasons"]
    assert any(k.startswith("latitude/longitude look swapped") for k in reasons)
    assert all(not k.startswith("fix the export") for k in reasons), reasons
    assert sum(reasons.values()) == 3  # row 3 has two reasons: unparsable date and (0, 0)


# ------------------------------------------------------------------ same-source rule
def _near_reference(rec, lines, window_min, radius_m):
    """Brute force: rows in (time, line) order; dropped if an earlier kept row of the same
    source and agency is within the window and radius."""
    from geo.cells import haversine_m

    t = rec["occurred_at"].to_numpy("datetime64[us]").astype(np.int64) / 6e7
    timed = (rec["time_precision"] != "day").to_numpy()
    key = (rec["source"].astype(str) + "|" + rec["agency"].fillna("").astype(str)).to_numpy()
    order = sorted(range(len(rec)), key=lambda i: (t[i], lines[i]))
    kept, out = [], np.zeros(len(rec), np.int64)
    for i in order:
        hit = None
        if timed[i]:
            for j in kept:
                if (timed[j] and key[j] == key[i] and abs(t[i] - t[j]) <= window_min
                        and haversine_m(rec["lat"].iloc[i], rec["lon"].iloc[i],
                                        rec["lat"].iloc[j], rec["lon"].iloc[j]) <= radius_m):
                    hit = j
                    break
        if hit is None:
            kept.append(i)
        else:
            out[i] = lines[hit]
    return out


@pytest.mark.parametrize("seed", range(5))
def test_near_duplicates_match_brute_force(seed):
    from geo.rowrules import near_duplicates

    rng = np.random.default_rng(seed)
    n = 120
    t = pd.Timestamp("2024-05-01") + pd.to_timedelta(rng.integers(0, 600, n), "min")
    rec = pd.DataFrame({
        "occurred_at": t.astype("datetime64[us]"),
        "time_precision": np.where(rng.random(n) < 0.1, "day", "minute"),
        "lat": 36.0 + rng.random(n) * 0.01, "lon": -79.8 + rng.random(n) * 0.01,
        "source": rng.choice(["ems", "police"], n),
        "agency": pd.array(rng.choice(["A", "B", None], n), dtype="string"),
    })
    lines = np.arange(2, n + 2)
    got = near_duplicates(rec, lines, window_min=45, radius_m=400)
    ref = _near_reference(rec, lines, 45, 400)
    assert got.tolist() == ref.tolist()  # same rows dropped, each pointing at the same line
    assert (got > 0).sum() > 10  # the toy has plenty of near-duplicates
    with pytest.raises(ValueError, match="radius must be > 0"):
        near_duplicates(rec, lines, window_min=10, radius_m=0)
