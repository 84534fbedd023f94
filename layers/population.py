"""Population onto H3 cells by areal weighting (demand for 2SFCA, denominators for rates).

Each source area (e.g. a census block group) gives each cell the share of its population equal
to the share of its *area* that the cell covers: ``pop_c = Σ_a P_a · |a ∩ c| / |a|``. Areas are
measured in an equal-area projection (EPSG:6933, WGS 84 / NSIDC EASE-Grid 2.0 Global), so
shares are true area shares. This assumes people are spread evenly within each source area —
the usual assumption of areal interpolation, and the reason to prefer small source areas.

Population is conserved when the cells cover the areas completely; the share of an area outside
every cell is not assigned (it is reported by :func:`population_to_cells` with
``return_unassigned=True``).

References
----------
Goodchild, M. F. & Lam, N. S.-N. (1980). Areal interpolation: a variant of the traditional
spatial problem. Geo-Processing 1, 297–312. (tobler ``area_interpolate`` does the same.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.cells import cells_to_polygons

__all__ = ["EQUAL_AREA_CRS", "load_population", "population_to_cells"]

EQUAL_AREA_CRS = "EPSG:6933"


def load_population(path, column: str = "population"):
    """Read population areas (GeoJSON or any vector file geopandas reads) in WGS84.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file; missing or non-numeric ``column`` (the message lists the columns found);
        no CRS.
    """
    import geopandas as gpd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"population file {p} does not exist")
    gdf = gpd.read_file(p)
    _check(gdf, column)
    return gdf.to_crs(4326)


def _check(areas, column: str) -> None:
    if not hasattr(areas, "geometry") or not hasattr(areas, "crs"):
        raise TypeError("areas must be a GeoDataFrame with polygons and a population column")
    if areas.crs is None:
        raise ValueError("population areas have no CRS; set it (e.g. EPSG:4326) first")
    if column not in areas.columns:
        raise ValueError(
            f"population column {column!r} missing: population areas have no column "
            f"{column!r}; found "
            f"{[c for c in areas.columns if c != areas.geometry.name]}. Pass column=..."
        )
    vals = pd.to_numeric(areas[column], errors="coerce")
    if vals.isna().any() or (vals < 0).any():
        bad = areas.index[vals.isna() | (vals < 0)][:5].tolist()
        raise ValueError(f"population column {column!r} must be non-negative numbers; "
                         f"bad rows {bad}")


def population_to_cells(areas, cells, column: str = "population", *,
                        return_unassigned: bool = False):
    """Area-weighted population of each cell.

    Parameters
    ----------
    areas : GeoDataFrame
        Polygons with a population column and a CRS. Not mutated.
    cells : array-like of uint64
        Target H3 cells.
    column : str
        Population column.
    return_unassigned : bool
        Also return the population falling outside every cell.

    Returns
    -------
    ndarray of float, aligned with ``cells`` (and the unassigned total if asked).

    References
    ----------
    Goodchild & Lam (1980), areal weighting.
    """
    _check(areas, column)
    cells = np.asarray(cells, dtype=np.uint64)
    import geopandas as gpd

    pop = pd.to_numeric(areas[column]).to_numpy(float)
    src = areas.geometry.to_crs(EQUAL_AREA_CRS).to_numpy()
    cell_geoms = gpd.GeoSeries(list(cells_to_polygons(cells)), crs=4326)
    tgt = cell_geoms.to_crs(EQUAL_AREA_CRS).to_numpy()
    out = np.zeros(cells.size, dtype=float)
    src_area = shapely.area(src)
    if cells.size and len(src):
        a_idx, c_idx = shapely.STRtree(tgt).query(src, predicate="intersects")
        inter = shapely.area(shapely.intersection(src[a_idx], tgt[c_idx]))
        share = np.divide(inter, src_area[a_idx], out=np.zeros_like(inter),
                          where=src_area[a_idx] > 0)
        out = np.bincount(c_idx, weights=pop[a_idx] * share, minlength=cells.size)
    if return_unassigned:
        return out, float(pop.sum() - out.sum())
    return out
