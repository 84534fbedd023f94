"""Named areas as a second analysis unit: loading area layers and assigning incidents to them.

An *area layer* is a set of named polygons people know — neighbourhoods, ZIP codes, tracts,
towns, police districts, council wards — read from a GeoJSON, GeoPackage or zipped Shapefile
with a column holding the name (:func:`load_areas`). Several layers can be used at once; each is
an immutable :class:`AreaLayer` value.

Incidents are assigned to areas point-in-polygon (:func:`points_to_areas`: points sorted by
longitude, each area tests its bounding-box candidates against its prepared polygon; a point
on a shared edge goes to the first area in file order). Records located only to an
area — ``location_precision == "centroid"`` (a geocoder's town or ZIP centroid) or an ``area``
column naming the area — are counted in their area and **left out of cell-level maps and
statistics** (:func:`area_located`; :func:`geo.grid.cells_at` gives them no cell), because
all of a town's records would land in one hexagon while its people live in many.

:func:`shared_coordinates` finds one coordinate shared by many records (a geocoder's
placeholder for "unknown"); ingest calls :func:`shared_coordinate_warnings` to name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# shapely is imported where used: counting stored cells (cells_at → area_located) needs none

__all__ = [
    "AreaLayer",
    "load_areas",
    "areas_from_frame",
    "points_to_areas",
    "incident_areas",
    "area_located",
    "area_located_note",
    "area_located_sentence",
    "shared_coordinates",
    "shared_coordinate_warnings",
]

_POLYGONAL = ("Polygon", "MultiPolygon")
_CENTROID = ("centroid", "Centroid", "CENTROID", " centroid", "centroid ")


@dataclass(frozen=True, eq=False)
class AreaLayer:
    """One layer of named areas (immutable value).

    Attributes
    ----------
    kind : str
        What the areas are, in words used in notes and labels ("neighbourhood", "ZIP").
    names : numpy.ndarray of str
        Unique area names, in file order (row ``i`` ↔ ``geometry[i]``).
    geometry : numpy.ndarray of shapely geometries
        WGS84 ``(lng, lat)`` (Multi)Polygons.
    population : numpy.ndarray of float or None
        Residents per area (NaN where unknown); ``None`` when the layer has no population.
    """

    kind: str
    names: np.ndarray
    geometry: np.ndarray
    population: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Number of areas."""
        return int(self.names.size)

    def to_geodataframe(self):
        """The layer as a GeoDataFrame (``area``, [``population``], ``geometry``; EPSG:4326)."""
        import geopandas as gpd

        cols = {"area": self.names}
        if self.population is not None:
            cols["population"] = self.population
        return gpd.GeoDataFrame(cols, geometry=list(self.geometry), crs="EPSG:4326")


def _read(path: Path):
    import geopandas as gpd

    if not path.exists():
        raise FileNotFoundError(f"area file {path} does not exist")
    try:
        return gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError types
        raise ValueError(f"area file {path} could not be read as GeoJSON, GeoPackage or zipped "
                         f"Shapefile: {exc}") from exc


def areas_from_frame(gdf, name_column: str, *, kind: str = "area",
                     population_column: str | None = None, what: str = "area layer"
                     ) -> AreaLayer:
    """An :class:`AreaLayer` from a GeoDataFrame with a name column.

    Parameters
    ----------
    gdf : GeoDataFrame
        Polygons with a CRS (reprojected to WGS84); without a CRS, coordinates must already
        be longitude/latitude degrees. Never mutated.
    name_column : str
        Column holding each area's name (or code). Rows sharing a name are merged into one
        area (a ZIP code in several pieces).
    kind : str
        What the areas are ("neighbourhood", "ZIP", "town" …), used in notes and labels.
    population_column : str, optional
        Residents per area; summed over merged rows.
    what : str
        How to name the input in error messages (e.g. the file path).

    Raises
    ------
    ValueError
        Missing name/population column, empty names, no polygons, or coordinates that are not
        degrees without a CRS.
    """
    import shapely

    if name_column not in gdf.columns:
        raise ValueError(f"{what} has no column {name_column!r} for area names; its columns are "
                         f"{[c for c in gdf.columns if c != 'geometry']} (use --area-name)")
    if population_column is not None and population_column not in gdf.columns:
        raise ValueError(f"{what} has no population column {population_column!r}; its columns "
                         f"are {[c for c in gdf.columns if c != 'geometry']}")
    if gdf.crs is not None:
        gdf = gdf.to_crs(4326)
    elif len(gdf):
        minx, miny, maxx, maxy = gdf.total_bounds
        if min(minx, maxx) < -180 or max(minx, maxx) > 180 or min(miny, maxy) < -90 or max(
                miny, maxy) > 90:
            raise ValueError(f"{what} has no CRS and its coordinates are not degrees; save it "
                             "with a CRS (e.g. EPSG:4326)")
    geom = shapely.make_valid(np.asarray(gdf.geometry.values, dtype=object))
    poly = np.array([g is not None and not g.is_empty and g.geom_type in _POLYGONAL
                     or (g is not None and g.geom_type == "GeometryCollection") for g in geom])
    names = gdf[name_column].astype("string").str.strip()
    bad = names.isna() | (names == "")
    if bad.any():
        raise ValueError(f"{what}: {int(bad.sum())} area(s) have an empty {name_column!r} "
                         f"(first at row {int(np.flatnonzero(bad.to_numpy())[0]) + 1})")
    keep = poly & ~bad.to_numpy()
    if not keep.any():
        raise ValueError(f"{what} has no polygons: area layers need (Multi)Polygon geometry")
    names = names.to_numpy(dtype=object)[keep].astype(str)
    geom = geom[keep]
    pop = None
    if population_column is not None:
        pop = pd.to_numeric(gdf[population_column], errors="coerce").to_numpy(float)[keep]
    uniq, first, inv = np.unique(names, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # file order of first appearance
    out_names, out_geom, out_pop = [], [], []
    for u in order:
        rows = np.flatnonzero(inv == u)
        parts = [_polygonal(g) for g in geom[rows]]
        out_geom.append(parts[0] if len(parts) == 1 else shapely.union_all(parts))
        out_names.append(uniq[u])
        if pop is not None:
            out_pop.append(np.nan if np.isnan(pop[rows]).all() else float(np.nansum(pop[rows])))
    return AreaLayer(kind=str(kind), names=np.array(out_names, dtype=object),
                     geometry=np.array(out_geom, dtype=object),
                     population=None if pop is None else np.array(out_pop, dtype=float))


def _polygonal(g):
    import shapely

    if g.geom_type == "GeometryCollection":
        return shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in _POLYGONAL])
    return g


def load_areas(path, name_column: str, *, kind: str | None = None,
               population_column: str | None = None) -> AreaLayer:
    """Read an area layer (GeoJSON, GeoPackage or zipped Shapefile) with a name column.

    Parameters
    ----------
    path : str or Path
        The file. A ``.zip`` holding a Shapefile is read directly.
    name_column : str
        Column with each area's name or code.
    kind : str, optional
        What the areas are ("neighbourhood", "ZIP" …); default: the file's stem.
    population_column : str, optional
        Residents per area, for rates per 100,000.

    Returns
    -------
    AreaLayer
    """
    p = Path(path)
    return areas_from_frame(_read(p), name_column, kind=kind or p.stem,
                            population_column=population_column, what=f"area file {p}")


def points_to_areas(lat, lon, layer: AreaLayer) -> np.ndarray:
    """Index of the area containing each point (``-1``: in none or no location).

    Points are sorted by longitude once; each area then tests only the points inside its
    bounding box (two binary searches and a latitude mask) against its prepared polygon
    (``shapely.intersects_xy``), so the cost is ~``n log n`` plus the candidates, not
    ``n × areas``. A point on an edge shared by two areas goes to the first in file order.
    """
    import shapely

    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    out = np.full(lat.size, -1, dtype=np.int64)
    ok = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    if ok.size == 0 or layer.n == 0:
        return out
    order = ok[np.argsort(lon[ok])]
    xs, ys = lon[order], lat[order]
    owner = np.full(order.size, -1, dtype=np.int64)  # in sorted order: contiguous slices
    bounds = shapely.bounds(layer.geometry)
    for i, geom in enumerate(layer.geometry):
        minx, miny, maxx, maxy = bounds[i]
        lo, hi = np.searchsorted(xs, minx, "left"), np.searchsorted(xs, maxx, "right")
        if hi <= lo:
            continue
        y = ys[lo:hi]
        cand = np.flatnonzero((y >= miny) & (y <= maxy) & (owner[lo:hi] < 0)) + lo
        if cand.size == 0:
            continue
        shapely.prepare(geom)  # a cached index on the geometry; its shape is unchanged
        owner[cand[shapely.intersects_xy(geom, xs[cand], ys[cand])]] = i
    out[order] = owner
    return out


def area_located(incidents: pd.DataFrame) -> np.ndarray:
    """Boolean mask: records located only to an area (centroid precision or ``area`` named).

    These are counted by area and never placed in an H3 cell.
    """
    mask = np.zeros(len(incidents), dtype=bool)
    if "location_precision" in incidents.columns:
        lp = incidents["location_precision"]
        mask |= lp.isin(_CENTROID).to_numpy(dtype=bool)  # hash lookup: ~20 ms per million
    if "area" in incidents.columns:
        a = incidents["area"].astype("string").str.strip()
        mask |= (a.notna() & (a != "")).to_numpy(dtype=bool)
    return mask


def incident_areas(incidents: pd.DataFrame, layer: AreaLayer) -> np.ndarray:
    """Area index of each incident in ``layer`` (``-1``: outside every area).

    An ``area`` value that names an area of the layer (case-insensitive) wins; other records
    are placed point-in-polygon (a centroid lies in its area).
    """
    for c in ("lat", "lon"):
        if c not in incidents.columns:
            raise ValueError(f"incidents have no {c!r} column; load them through geo.ingest")
    lat = pd.to_numeric(incidents["lat"], errors="coerce").to_numpy(float, na_value=np.nan)
    lon = pd.to_numeric(incidents["lon"], errors="coerce").to_numpy(float, na_value=np.nan)
    out = points_to_areas(lat, lon, layer)
    if "area" in incidents.columns:
        lookup = {str(n).strip().lower(): i for i, n in enumerate(layer.names)}
        named = incidents["area"].astype("string").str.strip().str.lower()
        idx = named.map(lookup).to_numpy(dtype=float, na_value=np.nan)
        hit = np.isfinite(idx)
        out[hit] = idx[hit].astype(np.int64)
    return out


def area_located_note(incidents: pd.DataFrame, kind: str = "area") -> str | None:
    """The visible note for area-located records, or ``None`` when there are none.

    E.g. "214 records located only to a town are counted by town and left out of cell maps".
    """
    return area_located_sentence(int(area_located(incidents).sum()), kind)


def area_located_sentence(n: int, kind: str = "area") -> str | None:
    """:func:`area_located_note` for ``n`` area-located records."""
    if n == 0:
        return None
    article = "an" if str(kind)[:1].lower() in "aeiou" else "a"
    rec = "record" if n == 1 else "records"
    return (f"{n:,} {rec} located only to {article} {kind} (centroid or area name) are counted "
            f"by {kind} and left out of cell maps and cell statistics")


def shared_coordinates(incidents: pd.DataFrame, *, min_count: int = 20,
                       min_share: float = 0.01) -> pd.DataFrame:
    """Coordinates shared by many records (placeholders for "unknown"), most frequent first.

    Parameters
    ----------
    incidents : DataFrame
        With ``lat``/``lon``. Area-located records are ignored (sharing a centroid is
        expected of them).
    min_count, min_share : int, float
        A coordinate is reported when at least ``min_count`` records and ``min_share`` of all
        located records sit on it (rounded to 1e-6°).

    Returns
    -------
    DataFrame
        ``lat``, ``lon``, ``records``, ``share``.
    """
    lat = pd.to_numeric(incidents.get("lat"), errors="coerce")
    lon = pd.to_numeric(incidents.get("lon"), errors="coerce")
    empty = pd.DataFrame({"lat": [], "lon": [], "records": [], "share": []})
    if lat is None or lon is None or len(incidents) == 0:
        return empty
    ok = (lat.notna() & lon.notna()).to_numpy() & ~area_located(incidents)
    if not ok.any():
        return empty
    key = pd.DataFrame({"lat": lat[ok].round(6).to_numpy(), "lon": lon[ok].round(6).to_numpy()})
    counts = key.value_counts().rename("records").reset_index()
    counts["share"] = counts["records"] / int(ok.sum())
    hit = (counts["records"] >= min_count) & (counts["share"] >= min_share)
    return counts.loc[hit].reset_index(drop=True)


def shared_coordinate_warnings(incidents: pd.DataFrame, **kwargs) -> list[str]:
    """One warning sentence per coordinate shared by many records (for ingest reports)."""
    out = []
    for r in shared_coordinates(incidents, **kwargs).itertuples():
        out.append(f"{r.records:,} records ({r.share:.1%}) share the coordinate "
                   f"{r.lat:.6f}, {r.lon:.6f} — probably a geocoder's placeholder for an unknown "
                   "location; set their location_precision to 'centroid' or fix them")
    return out
