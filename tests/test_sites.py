"""Canonical resource loading: CSV / GeoJSON, validation, rejects with line and reason."""

import json

import numpy as np
import pandas as pd
import pytest

from layers.sites import (
    RESOURCE_COLUMNS,
    SUBTYPES,
    load_resources,
    validate_resources,
)

HEADER = "site_id,name,kind,subtype,lat,lon,medicaid,open_24_7,hours,capacity\n"
ROWS = [
    "A1,Box one,naloxone,naloxone_box,36.07,-79.79,,true,,4\n",          # line 2 ok
    "A2,Clinic,treatment,buprenorphine,36.08,-79.80,yes,,Mo-Fr 08:00-17:00,\n",  # 3 ok
    "A3,Nowhere,naloxone,pharmacy,0,0,,,,\n",                              # 4 bad coords
    "A4,Odd kind,library,,36.1,-79.8,,,,\n",                               # 5 unknown kind
    "A5,Odd sub,ssp,vending_machine,36.1,-79.8,,,,\n",                     # 6 subtype/kind
    "A6,Bad hours,ssp,ssp_fixed,36.1,-79.8,,,whenever,\n",                 # 7 bad hours
    "A7,Bad flag,treatment,otp,36.1,-79.8,maybe,,,\n",                     # 8 bad flag
    "A2,Dup,naloxone,pharmacy,36.1,-79.8,,,,\n",                           # 9 duplicate id
    "A9,Neg cap,naloxone,naloxone_box,36.1,-79.8,,,,-3\n",                 # 10 bad capacity
    "A10,Far,naloxone,naloxone_box,95,-79.8,,,,\n",                        # 11 lat > 90
    "A11,24-7 by hours,naloxone,vending_machine,36.2,-79.9,,,24/7,\n",     # 12 ok, derived 24/7
]


@pytest.fixture()
def csv_path(tmp_path):
    p = tmp_path / "res.csv"
    p.write_text(HEADER + "".join(ROWS))
    return p


def test_valid_rows_and_canonical_schema(csv_path):
    res = load_resources(csv_path)
    assert list(res.sites.columns) == list(RESOURCE_COLUMNS)
    assert res.sites["site_id"].tolist() == ["A1", "A2", "A11"]
    assert res.sites.dtypes.astype(str).to_dict() == {
        k: ("float64" if v == "float64" else v) for k, v in RESOURCE_COLUMNS.items()}
    s = res.sites.set_index("site_id")
    assert bool(s.loc["A1", "open_24_7"]) and s.loc["A1", "capacity"] == 4
    assert bool(s.loc["A2", "medicaid"]) and pd.isna(s.loc["A1", "medicaid"])
    assert bool(s.loc["A11", "open_24_7"])  # derived from hours "24/7"
    assert not bool(s.loc["A2", "open_24_7"])  # derived: weekday hours are not 24/7
    assert set(res.sites["source"]) == {"res"}  # file stem when no source column


def test_rejects_have_line_and_reason_nothing_dropped(csv_path):
    res = load_resources(csv_path)
    assert len(res.sites) + len(res.rejects) == len(ROWS)
    assert res.summary["read"] == len(ROWS) and res.summary["rejected"] == 8
    why = dict(zip(res.rejects["line"], res.rejects["reason"], strict=True))
    assert "bad coordinates" in why[4]
    assert "unknown kind 'library'" in why[5]
    assert "unknown subtype 'vending_machine' for kind 'ssp'" in why[6]
    assert "bad hours text" in why[7] and "whenever" in why[7]
    assert "medicaid: 'maybe' is not yes/no" in why[8]
    assert "duplicate site_id 'A2'" in why[9]
    assert "capacity" in why[10]
    assert "latitude/longitude look swapped (lat=95" in why[11]
    assert set(res.rejects["file"]) == {str(csv_path)}


def test_geojson_points_axis_order_and_non_points(tmp_path):
    feats = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-79.79, 36.07]},
         "properties": {"site_id": "G1", "kind": "ssp", "subtype": "ssp_mobile"}},
        {"type": "Feature", "geometry": {"type": "LineString",
                                         "coordinates": [[-79.7, 36.0], [-79.8, 36.1]]},
         "properties": {"site_id": "G2", "kind": "ssp"}},
    ]
    p = tmp_path / "r.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    res = load_resources(p, source="county")
    assert res.sites.loc[0, "lat"] == 36.07 and res.sites.loc[0, "lon"] == -79.79
    assert res.sites.loc[0, "source"] == "county"
    assert res.rejects["line"].tolist() == [2]
    assert "geometry must be a Point" in res.rejects.loc[0, "reason"]


def test_several_files_and_cross_file_duplicates(tmp_path, csv_path):
    other = tmp_path / "other.csv"
    other.write_text("site_id,kind,latitude,longitude\nA1,ssp,36.0,-79.0\nB1,ssp,36.0,-79.1\n")
    res = load_resources([csv_path, other])
    assert res.sites["site_id"].tolist() == ["A1", "A2", "A11", "B1"]
    dup = res.rejects[res.rejects["file"] == str(other)]
    assert dup["line"].tolist() == [2] and "earlier file" in dup["reason"].iloc[0]
    assert res.summary["read"] == len(ROWS) + 2


def test_auto_site_id_and_aliases():
    raw = pd.DataFrame({"Kind": ["Naloxone", "ssp"], "Latitude": ["36.1", "36.2"],
                        "LNG": ["-79.1", "-79.2"]})
    before = raw.copy()
    res = validate_resources(raw, origin="x.csv")
    pd.testing.assert_frame_equal(raw, before)  # input not mutated
    assert res.sites["site_id"].tolist() == ["x-1", "x-2"]
    assert res.sites["kind"].tolist() == ["naloxone", "ssp"]
    assert np.allclose(res.sites["lon"], [-79.1, -79.2])


def test_missing_columns_listed(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("name,lat\nX,36\n")
    msg = r"missing column\(s\) \['kind', 'lon'\]; found \['name', 'lat'\]"
    with pytest.raises(ValueError, match=msg):
        load_resources(p)


def test_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_resources(tmp_path / "none.csv")
    bad = tmp_path / "r.docx"
    bad.write_text("x")
    with pytest.raises(ValueError, match="must be .csv, .xlsx or .geojson"):
        load_resources(bad)
    bad = tmp_path / "r.xlsx"
    bad.write_text("x")
    with pytest.raises(ValueError, match="cannot read r.xlsx as an Excel workbook"):
        load_resources(bad)
    with pytest.raises(ValueError, match="path_or_paths is empty"):
        load_resources([])
    gj = tmp_path / "bad.geojson"
    gj.write_text("{}")
    with pytest.raises(ValueError, match="FeatureCollection"):
        load_resources(gj)


def test_bundled_sample_loads_cleanly():
    from data import get_path

    try:
        path = get_path("resources")
    except FileNotFoundError:
        pytest.skip("sample resources not generated")
    res = load_resources(path)
    assert res.summary["rejected"] == 0 and len(res.sites) > 0
    for kind, subs in SUBTYPES.items():
        got = set(res.sites.loc[res.sites["kind"] == kind, "subtype"].dropna())
        assert got <= set(subs)


def test_blank_lines_keep_line_numbers(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("kind,lat,lon\nssp,36.0,-79.0\n\n\nssp,north,-79.0\n")
    res = load_resources(p)
    assert len(res.sites) == 1 and res.rejects["line"].tolist() == [5]
    assert res.summary["read"] == 2


# ------------------------------------------------------------------ swapped sites, candidates
AREA = __import__("shapely").box(-80.0, 35.9, -79.6, 36.3)  # (lng, lat)


def test_swapped_site_coordinates_rejected(tmp_path):
    p = tmp_path / "national.csv"
    # Latitude holds the longitudes and Longitude the latitudes (both within ±90)
    p.write_text("site_id,name,kind,Latitude,Longitude\n"
                 "S1,Right,treatment,36.10,-79.80\n"
                 "S2,Swapped,treatment,-79.75,36.15\n"
                 "S3,Also right,naloxone,36.2,-79.7\n")
    plain = load_resources(p)  # no study area: Antarctica is implausible
    assert plain.sites["site_id"].tolist() == ["S1", "S3"]
    assert plain.rejects["line"].tolist() == [3]
    assert "south of 60°S" in plain.rejects["reason"].iloc[0]
    assert "swapped" in plain.rejects["reason"].iloc[0]
    # with a study area a swap is caught even where it does not land in Antarctica
    q = tmp_path / "europe.csv"
    q.write_text("site_id,kind,lat,lon\nE1,treatment,-79.8,36.0\nE2,treatment,36.0,-79.8\n"
                 "E3,treatment,52.5,13.4\n")
    res = load_resources(q, boundary=AREA)
    assert res.sites["site_id"].tolist() == ["E2", "E3"]  # E3 is far but not swapped
    assert res.rejects["reason"].str.contains("swapped").all()


def test_resource_file_encodings_ragged_lines_and_no_internal_columns(tmp_path):
    p = tmp_path / "r.csv"
    p.write_bytes(("site_id;kind;lat;lon;name\nA;naloxone;36,1;-79,8;x\n"
                   "B;naloxone;36.1;-79.8;Café\nC;naloxone;36.1\n").encode("utf-16"))
    res = load_resources(p)
    assert res.sites["site_id"].tolist() == ["B"] and res.sites["name"].tolist() == ["Café"]
    assert res.rejects["line"].tolist() == [2, 4]
    assert "ragged line" in res.rejects["reason"].iloc[1]
    q = tmp_path / "nokind.csv"
    q.write_text("lat,lon\n36,-79\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['kind'\]") as exc:
        load_resources(q)
    assert "_line" not in str(exc.value)


def test_candidates_accept_resource_column_names(tmp_path):
    from layers.site_files import load_candidates

    p = tmp_path / "cand.csv"
    p.write_text("ID,Name,Latitude,Longitude,Open_24_7\n"
                 "c1,Library,36.1,-79.8,Yes\n"
                 ",Church,36.2,-79.7,no\n"
                 "c3,Swapped,-79.7,36.2,\n"
                 "c4,Nowhere,,,\n")
    cand, rejects = load_candidates(p)
    assert cand["site_id"].tolist() == ["c1", "candidate_3"]
    assert cand["lat"].tolist() == [36.1, 36.2] and cand["lon"].tolist() == [-79.8, -79.7]
    assert cand["open_24_7"].tolist() == [True, False]
    assert rejects["line"].tolist() == [4, 5]
    assert "swapped" in rejects["reason"].iloc[0]
    q = tmp_path / "nolat.csv"
    q.write_text("name,x\na,1\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['lat', 'lon'\]") as exc:
        load_candidates(q)
    assert "_line" not in str(exc.value)
