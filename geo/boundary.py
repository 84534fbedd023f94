"""The study-area boundary as one WGS84 shapely geometry.

Every door that takes a study area — ingest (points outside are flagged), the analysis grid,
the briefing map, the dashboard's outline — accepts a GeoJSON / shapefile path, a
GeoDataFrame or GeoSeries with a CRS, or a shapely geometry already in WGS84 (lng, lat).
:func:`boundary_geometry` turns any of them into one (Multi)Polygon so that all doors clip
and draw the same area.
"""

from __future__ import annotations

from pathlib import Path

import shapely

__all__ = ["boundary_geometry"]

_POLYGONAL = ("Polygon", "MultiPolygon")


def _read(path: Path):
    import geopandas as gpd

    if not path.exists():
        raise FileNotFoundError(f"boundary file {path} does not exist")
    try:
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio/fiona raise their own DataSourceError types
        raise ValueError(
            f"boundary file {path} could not be read as a vector file (GeoJSON, GeoPackage, "
            f"shapefile): {exc}"
        ) from exc


def _polygonal(geom, what: str):
    """The polygon parts of ``geom`` (a GeometryCollection keeps only its polygons)."""
    if getattr(geom, "geom_type", None) == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in _POLYGONAL]
        geom = shapely.union_all(parts) if parts else None
    if geom is None or geom.is_empty or geom.geom_type not in _POLYGONAL:
        got = "nothing" if geom is None or geom.is_empty else f"a {geom.geom_type}"
        raise ValueError(
            f"{what} has no polygons (got {got}); give the study area as a Polygon or MultiPolygon"
        )
    return geom


def boundary_geometry(boundary):
    """A study area as one shapely (Multi)Polygon in WGS84 (lng, lat), or None.

    Parameters
    ----------
    boundary : str, pathlib.Path, GeoDataFrame, GeoSeries, shapely geometry or None
        A vector file (read with geopandas), a GeoDataFrame/GeoSeries with a CRS (reprojected
        to EPSG:4326 and unioned), or a shapely geometry taken to be in WGS84 already.
        ``None`` gives ``None`` (no study area).

    Returns
    -------
    shapely.Polygon, shapely.MultiPolygon or None

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        The file cannot be read, the frame has no CRS, or there are no polygons in it.
    TypeError
        Any other kind of object.
    """
    if boundary is None:
        return None
    what = "study-area boundary"
    if isinstance(boundary, str | Path):
        what = f"boundary file {boundary}"
        boundary = _read(Path(boundary))
    if hasattr(boundary, "to_crs"):
        if boundary.crs is None:
            raise ValueError(f"{what} has no CRS; set it (e.g. EPSG:4326) first")
        if len(boundary) == 0:
            raise ValueError(f"{what} has no polygons (no features); give the study area")
        boundary = boundary.to_crs(4326).union_all()
    elif not isinstance(boundary, shapely.Geometry):
        raise TypeError(
            "boundary must be a file path, a GeoDataFrame/GeoSeries or a shapely geometry, got "
            f"{type(boundary).__name__}"
        )
    return _polygonal(boundary, what)
