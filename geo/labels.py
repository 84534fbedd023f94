"""Labels a person can use for H3 cells: the named areas a cell lies in and the nearest place.

``8848eba403fffff`` means nothing to a coalition; "Northgate Downtown · ZIP 00011 (near
Northgate)" does. :func:`cell_labels` names each cell by the area of every configured layer
that holds the cell's centre (point-in-polygon, :func:`geo.areas.points_to_areas`) and the
nearest named place (great-circle nearest neighbour on the unit sphere). Labels carry names
only — no counts — so they pass any tier's gate unchanged.

Configuration (every door reads the same): ``GAPMAP_AREAS`` lists area layers as
``FILE|NAME_COLUMN|KIND`` separated by ``;`` and ``GAPMAP_PLACES`` a point file of named
places (``name`` column); with neither set, the bundled sample's neighbourhoods, ZIP-like
areas and places are used when the data are the sample (:func:`configured_geography`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from geo.areas import AreaLayer, load_areas, points_to_areas
from geo.cells import cells_to_latlng, chord_to_arc_m, latlon_to_xyz

__all__ = ["load_places", "cell_labels", "point_labels", "configured_geography",
           "sample_geography", "AREAS_ENV", "PLACES_ENV"]

AREAS_ENV = "GAPMAP_AREAS"
PLACES_ENV = "GAPMAP_PLACES"
#: A place farther than this from a cell centre is not named ("near …" would mislead).
MAX_PLACE_M = 8000.0


def load_places(path, name_column: str = "name") -> pd.DataFrame:
    """Named places from a point file (GeoJSON / GeoPackage / CSV with lat, lon).

    Returns
    -------
    DataFrame
        ``name``, ``kind`` (empty when absent), ``lat``, ``lon``.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"places file {p} does not exist")
    if p.suffix.lower() == ".csv":
        df = pd.read_csv(p)
        lat, lon = df.get("lat"), df.get("lon")
        if lat is None or lon is None:
            raise ValueError(f"places file {p} needs 'lat' and 'lon' columns")
    else:
        import geopandas as gpd

        df = gpd.read_file(p)
        df = df.to_crs(4326) if df.crs is not None else df
        pts = df.geometry.representative_point()
        lat, lon = pts.y, pts.x
    if name_column not in df.columns:
        raise ValueError(f"places file {p} has no column {name_column!r}; found "
                         f"{[c for c in df.columns if c != 'geometry']}")
    kind = df["kind"].astype(str) if "kind" in df.columns else ""
    return pd.DataFrame({"name": df[name_column].astype(str).to_numpy(), "kind": kind,
                         "lat": np.asarray(lat, float), "lon": np.asarray(lon, float)})


def point_labels(lat, lon, areas=(), places: pd.DataFrame | None = None,
                 settlements_only: bool = True) -> np.ndarray:
    """Label of each point: area names joined by `` · `` and ``(near PLACE)``."""
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    parts = [np.full(lat.size, "", dtype=object)]
    names = []
    for layer in areas or ():
        idx = points_to_areas(lat, lon, layer)
        nm = np.where(idx >= 0, layer.names[np.maximum(idx, 0)] if layer.n else "", "")
        names.append(nm.astype(object))
    label = np.array([" · ".join(x for x in row if x) for row in zip(*names, strict=True)],
                     dtype=object) if names else parts[0]
    if places is not None and len(places):
        pl = places
        if settlements_only and "kind" in pl.columns and (pl["kind"] != "hospital").any():
            pl = pl.loc[pl["kind"] != "hospital"]
        from scipy.spatial import cKDTree

        tree = cKDTree(latlon_to_xyz(pl["lat"].to_numpy(float), pl["lon"].to_numpy(float)))
        d, j = tree.query(latlon_to_xyz(lat, lon))
        near = chord_to_arc_m(d) <= MAX_PLACE_M
        pname = pl["name"].to_numpy(object)[j]
        out = []
        for lab, ok, pn in zip(label, near, pname, strict=True):
            if ok and pn not in lab:
                lab = f"{lab} (near {pn})" if lab else f"near {pn}"
            out.append(lab)
        label = np.array(out, dtype=object)
    return label


def cell_labels(cells, areas=(), places: pd.DataFrame | None = None) -> pd.Series:
    """Human label of each H3 cell (by its centre), indexed like ``cells``.

    Parameters
    ----------
    cells : array-like of uint64 or Series
        H3 cells (any resolution).
    areas : sequence of AreaLayer
        Layers to name the cell by, in order ("Northgate Downtown · ZIP 00011").
    places : DataFrame, optional
        Named places (:func:`load_places`): the nearest within 8 km is added as "(near …)".

    Returns
    -------
    Series of str
        "" for a cell outside every area and far from every place.
    """
    index = cells.index if isinstance(cells, pd.Series) else None
    arr = np.asarray(cells)
    if arr.dtype != np.uint64:
        from geo.cells import str_to_cells

        arr = str_to_cells(arr.astype(str)) if arr.dtype.kind in "OUS" else arr.astype(np.uint64)
    if arr.size == 0:
        return pd.Series([], dtype=object, index=index)
    lat, lon = cells_to_latlng(arr)
    return pd.Series(point_labels(lat, lon, areas, places), index=index, dtype=object)


def sample_geography() -> tuple[list[AreaLayer], pd.DataFrame | None]:
    """The bundled sample's neighbourhoods, ZIP-like areas and places."""
    from data import get_path

    layers = [load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood",
                         population_column="population"),
              load_areas(get_path("zips"), "name", kind="ZIP", population_column="population")]
    return layers, load_places(get_path("places"))


def configured_geography(sample: bool = True, *, areas_spec: str | None = None,
                         places_path: str | None = None
                         ) -> tuple[list[AreaLayer], pd.DataFrame | None]:
    """Area layers and places from ``GAPMAP_AREAS`` / ``GAPMAP_PLACES`` (or the sample's).

    Parameters
    ----------
    sample : bool
        Fall back to the bundled sample's geography when nothing is configured (use when the
        incidents are the sample).
    areas_spec, places_path : str, optional
        Use these instead of the environment variables (same formats).
    """
    spec = (os.environ.get(AREAS_ENV, "") if areas_spec is None else areas_spec).strip()
    places_path = (os.environ.get(PLACES_ENV, "") if places_path is None
                   else places_path).strip()
    if not spec and not places_path:
        return sample_geography() if sample else ([], None)
    layers = []
    for item in filter(None, (s.strip() for s in spec.split(";"))):
        bits = item.split("|")
        if len(bits) < 2:
            raise ValueError(f"{AREAS_ENV} items are FILE|NAME_COLUMN[|KIND], got {item!r}")
        layers.append(load_areas(bits[0], bits[1], kind=bits[2] if len(bits) > 2 else None))
    places = load_places(places_path) if places_path else None
    return layers, places
