"""Named areas: loading, point-in-polygon counts, rates, polygon Gi*, area-located records."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from cli import main
from data import get_path
from geo.areas import (
    area_located,
    area_located_note,
    areas_from_frame,
    incident_areas,
    load_areas,
    shared_coordinate_warnings,
    shared_coordinates,
)
from geo.grid import cells_at
from geo.ingest import read_incidents
from products.areas import area_table
from products.hotspots import cell_table
from products.query import Query


@pytest.fixture(scope="module")
def inc():
    return read_incidents(get_path("incidents")).incidents


@pytest.fixture(scope="module")
def nb():
    return load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood",
                      population_column="population")


def _independent_counts(lat, lon, polygons) -> np.ndarray:
    """Reference: one polygon at a time, a point goes to the first polygon covering it."""
    owner = np.full(lat.size, -1)
    for i, poly in enumerate(polygons):
        hit = (owner < 0) & shapely.intersects_xy(poly, lon, lat)
        owner[hit] = i
    return np.bincount(owner[owner >= 0], minlength=len(polygons))


def test_counts_by_area_equal_independent_point_in_polygon(inc, nb):
    t = area_table(inc, nb, Query(), "restricted")
    raw = gpd.read_file(get_path("neighbourhoods"))
    ref = _independent_counts(inc["lat"].to_numpy(float), inc["lon"].to_numpy(float),
                              list(raw.geometry))
    assert t["area"].tolist() == raw["name"].tolist()
    np.testing.assert_array_equal(t["count"].to_numpy(int), ref)
    assert int(t["count"].sum()) == len(inc)  # the neighbourhoods tile the county
    fam = t[["n_fatal", "n_nonfatal", "n_unknown"]].to_numpy(int).sum(axis=1)
    np.testing.assert_array_equal(fam, t["count"].to_numpy(int))


def test_zip_layer_counts_and_window(inc):
    zips = load_areas(get_path("zips"), "name", kind="ZIP")
    q = Query(start="2026-01-05", end="2026-04-06")
    t = area_table(inc, zips, q, "restricted")
    when = pd.to_datetime(inc["occurred_at"])
    sub = inc[(when >= q.start) & (when < q.end)]
    raw = gpd.read_file(get_path("zips"))
    ref = _independent_counts(sub["lat"].to_numpy(float), sub["lon"].to_numpy(float),
                              list(raw.geometry))
    np.testing.assert_array_equal(t["count"].to_numpy(int), ref)
    prior = inc[(when >= q.start - (q.end - q.start)) & (when < q.start)]
    ref_p = _independent_counts(prior["lat"].to_numpy(float), prior["lon"].to_numpy(float),
                                list(raw.geometry))
    np.testing.assert_array_equal(t["count_prior"].to_numpy(int), ref_p)
    assert t["rate_per_100k"].isna().all()  # no population column given
    assert any("population unknown" in s for s in t.attrs["notes"])


def _toy():
    """Three squares in a row (0.1° wide), populations 1000, 2000, unknown."""
    gdf = gpd.GeoDataFrame({"nm": ["West", "Mid", "East"], "pop": [1000, 2000, np.nan]},
                           geometry=[box(0, 0, .1, .1), box(.1, 0, .2, .1), box(.2, 0, .3, .1)],
                           crs=4326)
    lon = np.r_[np.full(3, .05), np.full(7, .15), np.full(2, .25)]
    lat = np.full(lon.size, .05)
    df = pd.DataFrame({"incident_id": [f"i{i}" for i in range(lon.size)],
                       "occurred_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(
                           np.arange(lon.size), unit="h"),
                       "lat": lat, "lon": lon, "outcome": "nonfatal", "naloxone": "yes",
                       "source": "ems"})
    return gdf, df


def test_rates_hand_computed():
    gdf, df = _toy()
    layer = areas_from_frame(gdf, "nm", kind="town", population_column="pop")
    t = area_table(df, layer, Query(), "restricted")
    assert t["count"].tolist() == [3, 7, 2]
    np.testing.assert_allclose(t["rate_per_100k"].to_numpy(float)[:2],
                               [3 / 1000 * 1e5, 7 / 2000 * 1e5])
    assert np.isnan(t["rate_per_100k"].iloc[2])
    assert any("population unknown for 1" in s for s in t.attrs["notes"])
    # a population mapping instead of the layer's column
    t2 = area_table(df, layer, Query(), "restricted", {"West": 500, "Mid": 700, "East": 100})
    np.testing.assert_allclose(t2["rate_per_100k"], [600.0, 1000.0, 2000.0])


def test_polygon_gistar_equals_esda_on_libpysal_contiguity(inc, nb):
    esda = pytest.importorskip("esda")
    from libpysal.graph import Graph

    t = area_table(inc, nb, Query(), "restricted", population=None, gi=True)
    raw = gpd.read_file(get_path("neighbourhoods"))
    y = t["count"].to_numpy(float) / raw["population"].to_numpy(float) * 1e5
    g = Graph.build_contiguity(raw.geometry, rook=False)
    ref = esda.G_Local(y, g, star=True, transform="B", permutations=0)
    np.testing.assert_allclose(t["z"].to_numpy(float), ref.Zs, atol=1e-10)
    card = g.cardinalities.to_numpy()
    np.testing.assert_array_equal(t["neighbours"].to_numpy(int), card + 1)


def test_centroid_records_never_in_cell_maps_and_counted_by_area():
    gdf, df = _toy()
    df = df.copy()
    df["location_precision"] = ""
    df.loc[[0, 1, 3], "location_precision"] = "centroid"
    df["area"] = pd.array([None] * len(df), dtype="string")
    df.loc[11, "area"] = "mid"  # named area wins over its coordinate (East)
    layer = areas_from_frame(gdf, "nm", kind="town", population_column="pop")
    off = area_located(df)
    assert off.tolist() == [True, True, False, True] + [False] * 7 + [True]
    assert (cells_at(df, 8)[off] == 0).all() and (cells_at(df, 8)[~off] != 0).all()
    cells = cell_table(df, Query(res=8), "restricted")
    assert int(cells["count"].sum()) == int((~off).sum())
    t = area_table(df, layer, Query(), "restricted")
    assert t["count"].tolist() == [3, 8, 1]
    assert t["n_area_located"].tolist() == [2, 2, 0]
    assert incident_areas(df, layer)[11] == 1
    note = area_located_note(df, "town")
    assert note.startswith("4 records located only to a town") and "counted by town" in note
    assert any(note == s for s in t.attrs["notes"])


def test_public_area_exports_pass_the_gate(inc, nb, tmp_path):
    pub = area_table(inc, nb, Query(), "public")
    for c in [c for c in pub.columns if c == "count" or c.startswith(("n_", "count_"))]:
        v = pub[c].dropna().to_numpy(float)
        assert not ((v >= 1) & (v <= 9)).any(), c
    hidden = pub["count"].isna()
    assert pub.loc[hidden, "rate_per_100k"].isna().all()
    out = tmp_path / "areas.csv"
    code = main(["areas", "--incidents", str(get_path("incidents")), "--areas",
                 str(get_path("neighbourhoods")), "--area-name", "name", "--area-population",
                 "population", "--out", str(out)])
    assert code == 0
    csv = pd.read_csv(out)
    assert "lat" not in csv.columns and "occurred_at" not in csv.columns
    for c in [c for c in csv.columns if c == "count" or c.startswith(("n_", "count_"))]:
        v = csv[c].dropna().to_numpy(float)
        assert not ((v >= 1) & (v <= 9)).any(), c
    pd.testing.assert_series_equal(csv["count"], pub["count"].astype(float), check_names=False)


def test_cli_geojson_and_several_layers(tmp_path):
    out = tmp_path / "areas.geojson"
    code = main(["areas", "--incidents", str(get_path("incidents")), "--tier", "restricted",
                 "--areas", str(get_path("neighbourhoods")), "--area-name", "name",
                 "--area-kind", "neighbourhood", "--area-population", "population",
                 "--areas", str(get_path("zips")), "--area-name", "zip", "--area-kind", "ZIP",
                 "--area-population", "population", "--out", str(out)])
    assert code == 0
    g = gpd.read_file(out)
    assert set(g["unit"]) == {"neighbourhood", "ZIP"}
    assert g.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    by_unit = g.groupby("unit")["count"].sum()
    assert by_unit["neighbourhood"] == by_unit["ZIP"]  # both layers tile the county


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(ValueError, match="no column 'nme' for area names"):
        load_areas(get_path("neighbourhoods"), "nme")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_areas(tmp_path / "none.geojson", "name")
    g = gpd.GeoDataFrame({"n": ["a"]}, geometry=[box(500000, 4000000, 500100, 4000100)])
    with pytest.raises(ValueError, match="no CRS and its coordinates are not degrees"):
        areas_from_frame(g, "n")
    g = gpd.GeoDataFrame({"n": ["a"]}, geometry=[shapely.Point(0, 0)], crs=4326)
    with pytest.raises(ValueError, match="no polygons"):
        areas_from_frame(g, "n")
    code = main(["areas", "--incidents", str(get_path("incidents")), "--areas",
                 str(get_path("zips")), "--out", str(tmp_path / "x.csv")])
    assert code == 2 and "one --area-name per --areas" in capsys.readouterr().err
    code = main(["areas", "--incidents", str(get_path("incidents")), "--areas",
                 str(get_path("zips")), "--area-name", "zip", "--out", str(tmp_path / "x.txt")])
    assert code == 2


def test_geopackage_and_zipped_shapefile(tmp_path):
    raw = gpd.read_file(get_path("zips"))
    gpkg = tmp_path / "zips.gpkg"
    raw.to_crs(3857).to_file(gpkg, driver="GPKG")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    raw.to_file(shp_dir / "zips.shp")
    zpath = tmp_path / "zips.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    ref = load_areas(get_path("zips"), "zip")
    for path in (gpkg, zpath):
        layer = load_areas(path, "zip", population_column="population")
        assert layer.names.tolist() == ref.names.tolist()
        assert layer.population.sum() == raw["population"].sum()
        for a, b in zip(layer.geometry, ref.geometry, strict=True):
            assert a.symmetric_difference(b).area < 1e-9


def test_duplicate_names_merge_into_one_area():
    g = gpd.GeoDataFrame({"n": ["a", "b", "a"], "p": [1, 2, 3]},
                         geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)], crs=4326)
    layer = areas_from_frame(g, "n", population_column="p")
    assert layer.names.tolist() == ["a", "b"]
    assert layer.population.tolist() == [4.0, 2.0]
    assert layer.geometry[0].geom_type == "MultiPolygon"


def test_shared_coordinate_warning_names_the_coordinate():
    n = 200
    rng = np.random.default_rng(1)
    lat = rng.uniform(36, 36.2, n)
    lon = rng.uniform(-80, -79.8, n)
    lat[:40], lon[:40] = 36.1, -79.9
    df = pd.DataFrame({"lat": lat, "lon": lon})
    s = shared_coordinates(df)
    assert len(s) == 1 and s["records"].iloc[0] == 40
    (w,) = shared_coordinate_warnings(df)
    assert "40 records (20.0%) share the coordinate 36.100000, -79.900000" in w
    df["location_precision"] = "centroid"  # expected of area-located records: no warning
    assert shared_coordinate_warnings(df) == []


def test_sample_areas_tile_county_and_sum_population():
    boundary = gpd.read_file(get_path("boundary")).union_all()
    pop_total = gpd.read_file(get_path("population"))["population"].sum()
    for name in ("neighbourhoods", "zips"):
        g = gpd.read_file(get_path(name))
        assert g["population"].sum() == pop_total
        assert g.union_all().symmetric_difference(boundary).area < 1e-6 * boundary.area
        assert g["name"].is_unique
    places = gpd.read_file(get_path("places"))
    assert (places.geom_type == "Point").all() and {"city", "town", "village"} <= set(
        places["kind"])
    assert shapely.contains_xy(boundary, places.geometry.x, places.geometry.y).all()
