"""geo.boundary.boundary_geometry: every boundary form gives one WGS84 (Multi)Polygon."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, box

from data import get_path
from geo.boundary import boundary_geometry
from geo.ingest import load_boundary
from report.maps import boundary_geometry as maps_boundary_geometry

SQUARE = box(-112.0, 33.3, -111.9, 33.4)


def test_none_is_no_study_area():
    assert boundary_geometry(None) is None


def test_shapely_polygon_is_returned_as_is():
    assert boundary_geometry(SQUARE) is SQUARE


def test_frame_is_reprojected_and_unioned():
    # two halves of the square, given in Web Mercator: one polygon back in WGS84
    halves = gpd.GeoDataFrame(
        geometry=[box(-112.0, 33.3, -111.95, 33.4), box(-111.95, 33.3, -111.9, 33.4)], crs=4326
    ).to_crs(3857)
    geom = boundary_geometry(halves)
    assert geom.geom_type == "Polygon"
    assert geom.symmetric_difference(SQUARE).area < 1e-12
    assert boundary_geometry(halves.geometry).equals(geom)  # GeoSeries: same answer


def test_path_equals_frame_equals_geometry():
    path = get_path("boundary")
    from_path = boundary_geometry(path)
    from_frame = boundary_geometry(gpd.read_file(path))
    assert from_path.geom_type in ("Polygon", "MultiPolygon")
    assert from_path.equals(from_frame)
    assert boundary_geometry(str(path)).equals(from_path)
    assert boundary_geometry(from_path) is from_path


def test_collection_keeps_only_its_polygons():
    coll = shapely.GeometryCollection([SQUARE, LineString([(0, 0), (1, 1)]), Point(5, 5)])
    assert boundary_geometry(coll).equals(SQUARE)
    two = MultiPolygon([SQUARE, box(0, 0, 1, 1)])
    assert boundary_geometry(two) is two


def test_old_names_are_the_same_function():
    assert load_boundary is boundary_geometry
    assert maps_boundary_geometry is boundary_geometry


def test_bad_boundaries_raise(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        boundary_geometry(tmp_path / "missing.geojson")
    junk = tmp_path / "junk.geojson"
    junk.write_text("not json at all")
    with pytest.raises(ValueError, match="could not be read"):
        boundary_geometry(junk)
    with pytest.raises(ValueError, match="no CRS"):
        boundary_geometry(gpd.GeoDataFrame(geometry=[SQUARE]))
    with pytest.raises(ValueError, match="no polygons"):
        boundary_geometry(gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=4326))
    with pytest.raises(ValueError, match="no polygons"):
        boundary_geometry(gpd.GeoDataFrame(geometry=[], crs=4326))
    with pytest.raises(ValueError, match="no polygons"):
        boundary_geometry(LineString([(0, 0), (1, 1)]))
    with pytest.raises(ValueError, match="no polygons"):
        boundary_geometry(shapely.Polygon())
    with pytest.raises(TypeError, match="file path, a GeoDataFrame"):
        boundary_geometry(42)
