"""Ingest of area-located records (``area`` column) and of placeholder coordinates (issue 10)."""

from __future__ import annotations

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from cli import main
from geo.areas import areas_from_frame
from geo.ingest import read_incidents
from geo.store import IncidentStore
from products.areas import area_table
from products.hotspots import cell_table
from products.query import Query


def _layer():
    """Three squares in a row (0.1° wide): West, Mid, East."""
    gdf = gpd.GeoDataFrame({"nm": ["West", "Mid", "East"]},
                           geometry=[box(0, 0, .1, .1), box(.1, 0, .2, .1), box(.2, 0, .3, .1)],
                           crs=4326)
    return areas_from_frame(gdf, "nm", kind="town")


def _csv(path, area_header="area"):
    """12 rows: 3 in West, 7 in Mid, 2 in East; row 4 (Mid) names ' West ', row 11 (East)
    names 'mid', row 5 has a blank area (→ missing)."""
    lon = np.r_[np.full(3, .05), np.full(7, .15), np.full(2, .25)]
    area = [""] * lon.size
    area[4], area[11], area[5] = " West ", "mid", "   "
    df = pd.DataFrame({"incident_id": [f"i{i}" for i in range(lon.size)],
                       "occurred_at": [f"2026-01-{1 + i:02d} 10:00" for i in range(lon.size)],
                       "lat": 0.05, "lon": lon, "outcome": "nonfatal", "naloxone": "yes",
                       "source": "ems", area_header: area})
    df.to_csv(path, index=False)
    return path


def _check(inc):
    inc = inc.sort_values("incident_id", key=lambda s: s.str[1:].astype(int))
    assert inc["area"].tolist()[:6] == [pd.NA] * 4 + ["West", pd.NA]
    assert inc["area"].iloc[11] == "mid"
    assert int(inc["area"].notna().sum()) == 2
    cells = cell_table(inc, Query(res=8), "restricted")
    assert int(cells["count"].sum()) == 10  # the two area-located records have no cell
    t = area_table(inc, _layer(), Query(), "restricted", gi=False)
    assert t["area"].tolist() == ["West", "Mid", "East"]
    assert t["count"].tolist() == [4, 7, 1]  # counted by their named area
    assert t["n_area_located"].tolist() == [1, 1, 0]


def test_area_column_kept_by_ingest_and_store(tmp_path):
    f = _csv(tmp_path / "inc.csv")
    res = read_incidents(f)
    assert res.summary["columns"]["area"] == "area"
    _check(res.incidents)
    store = IncidentStore(tmp_path / "s.duckdb")
    s = store.ingest(f)
    assert s["added"] == 12
    _check(store.load())


def test_map_area_from_another_column(tmp_path):
    f = _csv(tmp_path / "inc.csv", area_header="Town")
    plain = read_incidents(f).incidents
    assert plain["area"].isna().all()  # an unmapped "Town" column is not an area
    _check(read_incidents(f, mapping={"area": "Town"}).incidents)
    code = main(["ingest", str(f), "--store", str(tmp_path / "s.duckdb"), "--map", "area=Town"])
    assert code == 0
    _check(IncidentStore(tmp_path / "s.duckdb").load())


def test_store_without_area_column_loads_it_as_missing_then_takes_it(tmp_path):
    path = tmp_path / "old.duckdb"
    g = tmp_path / "a.csv"
    pd.DataFrame({"occurred_at": ["2026-02-01 10:00", "2026-02-02 10:00"], "lat": [.05, .05],
                  "lon": [.05, .15], "source": "ems"}).to_csv(g, index=False)
    IncidentStore(path).ingest(g)
    con = duckdb.connect(str(path))  # an older store: no area column anywhere
    con.execute("ALTER TABLE incidents DROP COLUMN area")
    con.execute("ALTER TABLE records DROP COLUMN area")
    con.close()
    old = IncidentStore(path).load()
    assert len(old) == 2 and old["area"].isna().all() and str(old["area"].dtype) == "string"
    IncidentStore(path).ingest(_csv(tmp_path / "inc.csv"))
    inc = IncidentStore(path).load()
    assert len(inc) == 14
    _check(inc[inc["incident_id"].str.startswith("i")])


def _placeholder_csv(path):
    """30 records at one point (a geocoder's "unknown") and 20 scattered ones."""
    rng = np.random.default_rng(3)
    lat = np.r_[np.full(30, 36.1), rng.uniform(36.0, 36.2, 20)]
    lon = np.r_[np.full(30, -79.9), rng.uniform(-80.0, -79.8, 20)]
    pd.DataFrame({"occurred_at": [f"2026-03-{1 + i % 28:02d} {i % 24:02d}:00"
                                  for i in range(50)],
                  "lat": lat, "lon": lon, "source": "ems"}).to_csv(path, index=False)
    return path


def test_shared_coordinate_warned_and_named(tmp_path, capsys):
    f = _placeholder_csv(tmp_path / "p.csv")
    res = read_incidents(f)
    (w,) = res.summary["warnings"]
    assert w.startswith("30 records (60.0%) share the coordinate 36.100000, -79.900000")
    assert read_incidents(_csv(tmp_path / "inc.csv")).summary["warnings"] == []
    code = main(["ingest", str(f), "--store", str(tmp_path / "s.duckdb")])
    err = capsys.readouterr().err
    assert code == 0
    assert f"warning: {w}" in err.splitlines()


def test_data_page_warns_of_shared_coordinate(tmp_path, monkeypatch):
    from app_helpers import app_inputs, run_page  # noqa: F401  (fixture used below)

    monkeypatch.setenv("GAPMAP_STORE_DIR", str(tmp_path / "stores"))
    rows = pd.read_csv(_sample_incidents()).head(50)
    rows.loc[:29, "lat"], rows.loc[:29, "lon"] = 36.12345, -79.87654
    rows["incident_id"] = [f"p{i}" for i in range(len(rows))]
    at = run_page("data", session={"tier": "restricted"})
    at.file_uploader(key="inc_upload").upload("p.csv", rows.to_csv(index=False).encode(),
                                              "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    warns = [str(w.value) for w in at.warning]
    assert any(w.startswith("30 records (60.0%) share the coordinate 36.123450, -79.876540")
               for w in warns), warns


def _sample_incidents():
    from data import get_path

    return get_path("incidents")


def test_merged_event_takes_the_first_known_area():
    """An EMS report with no area and a police report of the same event naming its town merge
    into one event that is counted by the town (first non-empty value, as other fields)."""
    import pandas as pd

    from geo.ingest import read_incidents_frame

    df = pd.DataFrame({
        "occurred_at": ["2026-03-01 10:00", "2026-03-01 10:20"],
        "lat": [36.05, 36.0502], "lon": [-79.8, -79.8002],
        "source": ["ems", "police"], "outcome": ["nonfatal", "nonfatal"],
        "area": ["", "Northgate"], "incident_id": ["a1", "p1"],
    })
    recs = read_incidents_frame(df).incidents
    assert len(recs) == 1 and recs["area"].iloc[0] == "Northgate"
