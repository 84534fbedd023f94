"""Named areas and places of Sample County: neighbourhoods, ZIP-like areas, place points.

All SYNTHETIC and deterministic (no random draws: built from the block groups of
:mod:`data._geography`, so the other sample files do not change). Each neighbourhood and each
ZIP-like area is the union of the block groups whose seed is nearest to its named centre, so
the areas tile the county exactly and their populations are exact sums of block groups.
ZIP-like codes start with ``000`` (no real US ZIP code does).
"""

from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import mapping

from data._geography import PRECISION
from data._model import CITIES, HOSPITALS, TOWNS, xy_to_latlon

__all__ = ["NEIGHBOURHOODS", "ZIPS", "VILLAGES", "make_areas", "make_places", "areas_geojson",
           "places_geojson"]

#: Neighbourhood centres (name, x km, y km).
NEIGHBOURHOODS = (
    ("Northgate Downtown", 1.5, 0.8), ("Eastside", 5.6, -0.4), ("College Hill", -2.5, 2.0),
    ("Lakeview", 2.5, 6.0), ("Northridge", 0.0, 9.5), ("Westover", -5.5, 0.5),
    ("Southpark", -1.5, -4.0), ("Mill Creek", 4.5, -5.0), ("Fairview Heights", 6.5, 4.5),
    ("Elm Grove", -3.0, 6.0), ("Highmoor Centre", -15.0, -10.0),
    ("Highmoor North", -15.5, -6.5), ("Furniture Row", -12.0, -12.5),
    ("Highmoor South", -17.0, -14.0), ("Westfield", -19.5, -9.5), ("Oak Summit", -8.5, 12.0),
    ("Jamesford", -10.5, -6.0), ("Gibbs Mill", 16.0, 4.0), ("Northwest Farms", -16.0, 10.0),
    ("North County", 8.0, 14.0), ("Eastern Highway", 13.0, -7.0),
    ("Southeast Hills", 8.0, -15.0), ("South County", -4.0, -15.0), ("West County", -19.0, 1.0),
    ("Far East", 19.0, -1.0), ("Brandt Lake", 0.0, 15.5),
)
#: ZIP-like areas (code, x km, y km).
ZIPS = (
    ("00011", 1.0, 1.0), ("00012", 5.0, 6.0), ("00013", -4.0, 4.0), ("00014", 2.0, -5.0),
    ("00015", -15.0, -10.0), ("00016", -12.0, -17.0), ("00017", -9.0, 11.0),
    ("00018", 14.0, 2.0), ("00019", 8.0, -13.0), ("00020", -18.0, 2.0), ("00021", 3.0, 14.0),
)
#: Villages and crossroads (name, x km, y km) besides the cities and towns.
VILLAGES = (
    ("Brightwater", -18.0, 6.0), ("Pine Hollow", 10.0, 12.0), ("Sumner Crossroads", 6.0, -12.0),
    ("Kerr Junction", 18.0, -8.0), ("Rock Creek", -5.0, -12.0), ("Alamo Corner", -2.0, 16.0),
    ("Whitsett Ford", 12.5, -6.8), ("Millbrook", -6.0, -3.5),
)


def _group(block_groups: list[dict], centres) -> list[tuple[str, object, int]]:
    """Union of the block groups nearest to each centre: ``(name, geometry, population)``."""
    seeds = np.array([(g["x"], g["y"]) for g in block_groups])
    cxy = np.array([(x, y) for _, x, y in centres])
    owner = np.argmin(((seeds[:, None, :] - cxy[None, :, :]) ** 2).sum(axis=2), axis=1)
    out = []
    for j, (name, _, _) in enumerate(centres):
        rows = np.flatnonzero(owner == j)
        if rows.size == 0:
            continue
        geom = shapely.union_all([block_groups[i]["geometry"] for i in rows], grid_size=PRECISION)
        pop = int(sum(block_groups[i]["population"] for i in rows))
        out.append((name, geom, pop))
    return out


def make_areas(block_groups: list[dict]) -> dict[str, list[dict]]:
    """Neighbourhoods and ZIP-like areas as feature property dicts with ``geometry``."""
    nb = [{"name": n, "population": p, "geometry": g}
          for n, g, p in _group(block_groups, NEIGHBOURHOODS)]
    zp = [{"zip": c, "name": f"ZIP {c}", "population": p, "geometry": g}
          for c, g, p in _group(block_groups, ZIPS)]
    return {"neighbourhoods": nb, "zips": zp}


def make_places() -> list[dict]:
    """Named places: cities, towns, villages and hospitals (``name``, ``kind``, lat, lon)."""
    rows = [(p.name, "city", p.x, p.y) for p in CITIES]
    rows += [(p.name, "town", p.x, p.y) for p in TOWNS]
    rows += [(n, "village", x, y) for n, x, y in VILLAGES]
    rows += [(p.name, "hospital", p.x, p.y) for p in HOSPITALS]
    out = []
    for name, kind, x, y in rows:
        lat, lon = xy_to_latlon(x, y)
        out.append({"name": name, "kind": kind, "lat": round(float(lat), 6),
                    "lon": round(float(lon), 6)})
    return out


def _rounded(coords):
    if isinstance(coords, tuple | list) and coords and isinstance(coords[0], float | int):
        return [round(float(coords[0]), 6), round(float(coords[1]), 6)]
    return [_rounded(c) for c in coords]


def areas_geojson(name: str, features: list[dict]) -> str:
    """A FeatureCollection (one feature a line) of (Multi)Polygon features."""
    lines = []
    for f in features:
        props = {k: v for k, v in f.items() if k != "geometry"}
        gm = mapping(f["geometry"])
        geom = {"type": gm["type"], "coordinates": _rounded(gm["coordinates"])}
        lines.append(json.dumps({"type": "Feature", "properties": props, "geometry": geom},
                                separators=(",", ":")))
    return ('{"type":"FeatureCollection","name":"' + name + '",\n"features":[\n'
            + ",\n".join(lines) + "\n]}\n")


def places_geojson(places: list[dict]) -> str:
    """A FeatureCollection of named points."""
    lines = [json.dumps({"type": "Feature", "properties": {"name": p["name"], "kind": p["kind"]},
                         "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]}},
                        separators=(",", ":")) for p in places]
    return ('{"type":"FeatureCollection","name":"sample_places",\n"features":[\n'
            + ",\n".join(lines) + "\n]}\n")
