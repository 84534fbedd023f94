"""Synthetic road network of the sample county (SYNTHETIC — no real street is described).

A 400 m street lattice in the two cities and three towns, a 1.6 km lattice of country roads
elsewhere (every other one a ``secondary`` road), clipped to the study area, and two barriers
that force detours:

* the **Haw Creek river** (fictional), a meandering north–south line east of Northgate's centre:
  streets end at its banks except for road bridges on the ``secondary`` rows (every 3.2 km) and
  two foot bridges (``footway``: walking only) in Northgate;
* the **I-99 motorway** (fictional), south-west to north-east through Highmoor and south of
  Northgate: 100 km/h, no walking, joined to the streets only at interchanges
  (``motorway_link``) every ~8 km; streets pass under it.

Downtown Northgate has alternating one-way streets. Properties: ``highway`` (OSM class),
``name``, ``oneway`` (``yes`` along the line, ``-1`` against it, ``no``), ``maxspeed`` (km/h,
only on the motorway and its links). Written by :func:`write_roads` to
``data/sample_roads.geojson`` (``python -m data._roads``); deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape

from data._model import CITIES, TOWNS, latlon_to_xy, xy_to_latlon

__all__ = ["road_features", "write_roads", "ROADS_FILE", "river_x"]

ROADS_FILE = "sample_roads.geojson"
_STEP = 0.4  # km
_COARSE = 4  # every 4th lattice line is a country road (1.6 km)
_X0, _Y0, _NX, _NY = -26.0, -23.0, 131, 116


def river_x(y_km):
    """East coordinate (km) of the river at northing ``y_km``."""
    return 4.0 + 2.5 * np.sin(np.asarray(y_km, float) / 6.0)


def _dense(x, y) -> np.ndarray:
    out = np.zeros(np.broadcast(x, y).shape, bool)
    for p in (*CITIES, *TOWNS):
        out |= np.hypot(x - p.x, y - p.y) <= 2.0 * p.sigma
    return out


def _boundary_km(boundary: str | Path | None = None):
    from data import get_path

    path = Path(boundary) if boundary is not None else get_path("boundary")
    feat = json.loads(path.read_text())["features"][0]
    poly = shape(feat["geometry"])
    return shapely.transform(poly, lambda c: np.c_[latlon_to_xy(c[:, 1], c[:, 0])])


def _feature(xs, ys, props) -> dict:
    lat, lon = xy_to_latlon(np.asarray(xs), np.asarray(ys))
    coords = [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat, strict=True)]
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": coords}}


def _lattice(area) -> list[dict]:
    feats = []
    inside = shapely.buffer(area, 0.5)
    for axis in ("row", "col"):
        lines, steps = (_NY, _NX) if axis == "row" else (_NX, _NY)
        for k in range(lines):
            t = np.arange(steps) * _STEP + (_X0 if axis == "row" else _Y0)
            c = k * _STEP + (_Y0 if axis == "row" else _X0)
            x, y = (t, np.full(steps, c)) if axis == "row" else (np.full(steps, c), t)
            mx, my = (x[:-1] + x[1:]) / 2, (y[:-1] + y[1:]) / 2
            coarse = k % _COARSE == 0
            keep = (coarse | _dense(mx, my)) & shapely.contains_xy(inside, mx, my)
            side = np.sign(x - river_x(y))
            crosses = side[:-1] != side[1:]
            cls = np.full(steps - 1, "residential" if not coarse else
                          ("secondary" if k % (2 * _COARSE) == 0 else "tertiary"), object)
            downtown = np.hypot(mx - CITIES[0].x, my - CITIES[0].y) <= 2.5
            oneway = np.full(steps - 1, "no", object)
            if axis == "row" and not coarse and k % 2 == 1:
                oneway[downtown] = "yes" if k % 4 == 1 else "-1"
            bridge = crosses & (cls == "secondary")
            foot = crosses & (axis == "row") & (k in (62, 66)) & _dense(mx, my)
            cls[foot] = "footway"
            oneway[foot] = "no"
            keep &= ~crosses | bridge | foot
            name = (f"{'Row' if axis == 'row' else 'Column'} {k} "
                    f"{'Road' if coarse else 'Street'} (fictional)")
            # runs of consecutive kept segments with the same attributes → one LineString
            i = 0
            while i < steps - 1:
                if not keep[i]:
                    i += 1
                    continue
                j = i
                while j + 1 < steps - 1 and keep[j + 1] and cls[j + 1] == cls[i] \
                        and oneway[j + 1] == oneway[i]:
                    j += 1
                props = {"highway": str(cls[i]), "name": name, "oneway": str(oneway[i])}
                if cls[i] == "footway":
                    props["name"] = f"Haw Creek foot bridge {k} (fictional)"
                feats.append(_feature(x[i:j + 2], y[i:j + 2], props))
                i = j + 1
    return feats


def _motorway(area) -> list[dict]:
    x = np.arange(-26.0, 26.0, 0.5) + 0.13
    y = 0.423 * x - 3.0 + 0.07
    ok = shapely.contains_xy(shapely.buffer(area, 0.3), x, y)
    x, y = x[ok], y[ok]
    props = {"highway": "motorway", "name": "I-99 (fictional)", "oneway": "no", "maxspeed": 100}
    feats = [_feature(x, y, props)]
    for k in range(4, x.size - 2, 16):  # an interchange every ~8 km
        gx = _X0 + _STEP * _COARSE * np.round((x[k] - _X0) / (_STEP * _COARSE))
        gy = _Y0 + _STEP * np.round((y[k] - _Y0) / _STEP)
        feats.append(_feature([x[k], gx], [y[k], gy],
                              {"highway": "motorway_link", "name": f"I-99 exit {k // 16 + 1} "
                               "(fictional)", "oneway": "no", "maxspeed": 60}))
    return feats


def road_features(boundary: str | Path | None = None) -> dict:
    """The sample road network as a GeoJSON FeatureCollection (dict), clipped to the sample
    boundary file ``boundary`` (default: the bundled one)."""
    area = _boundary_km(boundary)
    feats = _lattice(area) + _motorway(area)
    return {"type": "FeatureCollection", "name": "sample_roads (SYNTHETIC)",
            "features": feats}


def write_roads(out_dir: str | Path | None = None, boundary: str | Path | None = None) -> Path:
    """Write :data:`ROADS_FILE` (compact JSON, one feature per line) and return its path.

    ``boundary``: the sample boundary GeoJSON to clip to (default: ``out_dir``'s
    ``sample_boundary.geojson`` when it exists, else the bundled one) — deterministic, so
    :func:`data.generate.write_sample` writes the committed file byte for byte.
    """
    from data import DATA_DIR, SAMPLE_FILES

    out = Path(out_dir) if out_dir is not None else DATA_DIR
    out.mkdir(parents=True, exist_ok=True)
    if boundary is None and (out / SAMPLE_FILES["boundary"]).exists():
        boundary = out / SAMPLE_FILES["boundary"]
    fc = road_features(boundary)
    lines = ['{"type":"FeatureCollection","name":"sample_roads (SYNTHETIC)","features":[']
    lines.append(",\n".join(json.dumps(f, separators=(",", ":")) for f in fc["features"]))
    lines.append("]}")
    path = out / ROADS_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_roads())
