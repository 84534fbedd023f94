"""Road networks from the user's files: OSM extracts (``.osm.pbf``) or road lines, cached.

A :class:`RoadNetwork` is plain arrays: node coordinates (WGS84) and one row per street
*segment* (two consecutive vertices of a way or line) with its length (great-circle metres),
whether people may walk it, whether cars may drive it forward / backward (one-way rules) and
the driving speed. Lines meet where they share a vertex (as in OpenStreetMap); two lines that
cross without a common vertex do not connect (a bridge, an overpass).

Sources
-------
* **OpenStreetMap extract** (``.osm.pbf``, ``.osm``, ``.osm.bz2``) read with pyosmium
  (``osmium``), the Python binding of libosmium maintained by the OSM developers; it reads a
  county extract in seconds with ways' node locations resolved, and ships binary wheels.
  Ways with a ``highway`` tag are used; ``oneway``, ``junction=roundabout``, ``maxspeed``,
  ``foot``/``access`` and ``name`` are read.
* **Road lines** (GeoJSON, GeoPackage, Shapefile … anything pyogrio reads) with optional
  columns: road class (``highway``, ``fclass``, ``class`` or ``road_class``), speed
  (``speed_kmh``, ``maxspeed``, ``speed``; numbers in km/h or ``"30 mph"``), one-way
  (``oneway``: yes/true/1/F = along the line, -1/T/reverse = against it, no/B/blank = both)
  and ``name``. A projected CRS is transformed to WGS84; a file with no CRS must be in degrees.

:func:`load_roads` builds a network once per file content and caches the arrays (``.npz``) in
a cache directory (``$GAPMAP_CACHE_DIR``; else next to the incident stores — the store's folder
from the CLI's ``--store``, or ``$GAPMAP_STORE_DIR/cache`` — else ``~/.cache/gapmap``); later calls
reuse it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.cells import haversine_m

__all__ = ["RoadNetwork", "read_roads", "roads_from_lines", "roads_from_osm", "load_roads",
           "DRIVE_SPEEDS_KMH", "NOT_WALKABLE", "CACHE_VERSION", "roads_cache_dir"]

#: Bumped whenever the arrays or the rules change (old cache files are then ignored).
CACHE_VERSION = 1

#: Default driving speed (km/h) by OSM ``highway`` class when the file gives none.
DRIVE_SPEEDS_KMH = {
    "motorway": 100.0, "motorway_link": 60.0, "trunk": 80.0, "trunk_link": 50.0,
    "primary": 60.0, "primary_link": 45.0, "secondary": 50.0, "secondary_link": 40.0,
    "tertiary": 40.0, "tertiary_link": 35.0, "unclassified": 35.0, "residential": 30.0,
    "living_street": 15.0, "service": 20.0, "road": 30.0,
}
#: Road classes people may not walk on (unless ``foot=yes``).
NOT_WALKABLE = frozenset({"motorway", "motorway_link", "trunk", "trunk_link"})
#: Classes that are not roads at all (ignored).
_IGNORED = frozenset({"proposed", "construction", "abandoned", "platform", "raceway",
                      "bus_guideway", "razed", "disused", "elevator", "escape", "rest_area",
                      "services"})
_NO = {"no", "private", "false", "0"}
_FWD = {"yes", "true", "1", "f"}
_BWD = {"-1", "reverse", "t"}
_DEFAULT_CLASS = "road"


@dataclass(frozen=True)
class RoadNetwork:
    """Street segments as arrays (see the module notes). Build with :func:`read_roads`."""

    node_lat: np.ndarray  # (N,) float64
    node_lon: np.ndarray
    u: np.ndarray  # (E,) int64 segment start node
    v: np.ndarray  # (E,) int64 segment end node
    length_m: np.ndarray  # (E,) float64
    walk: np.ndarray  # (E,) bool
    drive_fwd: np.ndarray  # (E,) bool: cars may go u → v
    drive_bwd: np.ndarray  # (E,) bool: cars may go v → u
    speed_kmh: np.ndarray  # (E,) float64 driving speed
    source: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def n_nodes(self) -> int:
        return int(self.node_lat.size)

    @property
    def n_edges(self) -> int:
        return int(self.u.size)


def _speed(value) -> float:
    """``"50"``, ``"30 mph"``, ``45`` → km/h; anything else → NaN."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return float("nan")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value) if value > 0 else float("nan")
    m = re.match(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(mph|km/h|kmh|kph)?", str(value).lower())
    if not m:
        return float("nan")
    v = float(m.group(1))
    return v * 1.609344 if m.group(2) == "mph" else (v if v > 0 else float("nan"))


def _oneway(value, cls: str, roundabout: bool = False) -> int:
    """+1 along the geometry, -1 against it, 0 both ways."""
    s = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    s = s.strip().lower()
    if s in _BWD:
        return -1
    if s in _FWD:
        return 1
    if s in ("no", "false", "0", "b"):
        return 0
    return 1 if (roundabout or cls == "motorway") else 0


def _assemble(seg_lat0, seg_lon0, seg_lat1, seg_lon1, cls, speed, oneway, walk_ok,
              source: str, notes: list[str]) -> RoadNetwork:
    """Segments (endpoints + attributes per segment) → nodes by shared coordinate."""
    if seg_lat0.size == 0:
        raise ValueError(f"{source}: no usable road lines (need LineString/MultiLineString "
                         "features or OSM ways with a highway tag)")
    key = np.round(np.c_[np.r_[seg_lat0, seg_lat1], np.r_[seg_lon0, seg_lon1]] * 1e7)
    uniq, inv = np.unique(key.astype(np.int64), axis=0, return_inverse=True)
    inv = inv.ravel()
    e = seg_lat0.size
    u, v = inv[:e].astype(np.int64), inv[e:].astype(np.int64)
    keep = u != v  # zero-length segments (duplicated vertices)
    length = haversine_m(seg_lat0, seg_lon0, seg_lat1, seg_lon1)
    cls = np.asarray(cls, dtype=object)
    default = np.array([DRIVE_SPEEDS_KMH.get(c, np.nan) for c in cls])
    sp_ = np.where(np.isfinite(speed), speed, default)
    drivable = np.isfinite(sp_) & (sp_ > 0)
    fwd = drivable & (oneway >= 0)
    bwd = drivable & (oneway <= 0)
    sp_ = np.where(drivable, sp_, 0.0)
    return RoadNetwork(uniq[:, 0] / 1e7, uniq[:, 1] / 1e7, u[keep], v[keep], length[keep],
                       np.asarray(walk_ok, bool)[keep], fwd[keep], bwd[keep], sp_[keep],
                       source=source, notes=tuple(notes))


def _first_column(df: pd.DataFrame, names) -> str | None:
    lower = {str(c).lower(): c for c in df.columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def roads_from_lines(gdf, source: str = "road lines") -> RoadNetwork:
    """A :class:`RoadNetwork` from a GeoDataFrame of road lines (see the module notes)."""
    import shapely

    if gdf is None or len(gdf) == 0:
        raise ValueError(f"{source}: no usable road lines (the file has no features)")
    crs = gdf.crs
    if crs is not None and not crs.is_geographic:
        gdf = gdf.to_crs(4326)
    elif crs is not None and crs.to_epsg() not in (4326, None):
        gdf = gdf.to_crs(4326)
    geoms = gdf.geometry.to_numpy()
    gtype = shapely.get_type_id(geoms)
    ok = np.isin(gtype, (1, 5)) & ~shapely.is_empty(geoms)  # LineString, MultiLineString
    notes = []
    if (~ok).any():
        bad = np.flatnonzero(~ok)
        notes.append(f"{bad.size} feature(s) skipped: not a line (first: feature "
                     f"{int(bad[0]) + 1})")
    if not ok.any():
        raise ValueError(f"{source}: no usable road lines (need LineString/MultiLineString "
                         f"features; found {sorted(set(shapely.get_type_id(geoms).tolist()))} "
                         "geometry type ids)")
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    parts, owner = shapely.get_parts(geoms[ok], return_index=True)
    rows = np.flatnonzero(ok)[owner]
    coords, cidx = shapely.get_coordinates(parts, return_index=True)
    if coords.size and (np.abs(coords[:, 0]).max() > 180 or np.abs(coords[:, 1]).max() > 90):
        raise ValueError(f"{source}: coordinates are not longitude/latitude degrees (values up "
                         f"to {np.abs(coords).max():.0f}); the file has "
                         f"{'no CRS' if crs is None else 'CRS ' + str(crs.to_string())}: "
                         "save it with its real CRS (e.g. EPSG:4326 or the UTM zone)")
    same = cidx[1:] == cidx[:-1]
    a = np.flatnonzero(same)
    prow = rows[cidx[a]]
    ccol = _first_column(df, ("highway", "fclass", "class", "road_class", "type"))
    scol = _first_column(df, ("speed_kmh", "maxspeed", "speed", "max_speed"))
    ocol = _first_column(df, ("oneway", "one_way"))
    cls_row = (df[ccol].astype("string").str.lower().fillna(_DEFAULT_CLASS).to_numpy(object)
               if ccol else np.full(len(df), _DEFAULT_CLASS, object))
    spd_row = (np.array([_speed(x) for x in df[scol].to_numpy(object)]) if scol
               else np.full(len(df), np.nan))
    ones = df[ocol].to_numpy(object) if ocol else np.full(len(df), None, object)
    one_row = np.array([_oneway(x, c) for x, c in zip(ones, cls_row, strict=True)], int)
    ignored = np.isin(cls_row, list(_IGNORED))
    keep = ~ignored[prow]
    a, prow = a[keep], prow[keep]
    cls = cls_row[prow]
    spd = spd_row[prow]
    if ccol is None and scol is None:
        spd = np.where(np.isfinite(spd), spd, DRIVE_SPEEDS_KMH["road"])
    walk = ~np.isin(cls, list(NOT_WALKABLE))
    return _assemble(coords[a, 1], coords[a, 0], coords[a + 1, 1], coords[a + 1, 0], cls, spd,
                     one_row[prow], walk, source, notes)


def roads_from_osm(path: str | os.PathLike) -> RoadNetwork:
    """A :class:`RoadNetwork` from an OpenStreetMap extract (``.osm.pbf`` …) via pyosmium."""
    import osmium

    lat0, lon0, lat1, lon1, cls, spd, one, walk = [], [], [], [], [], [], [], []
    skipped = 0
    fp = (osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
          .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
          .with_filter(osmium.filter.KeyFilter("highway")))
    for way in fp:
        tags = way.tags
        hw = tags.get("highway")
        if hw is None or hw in _IGNORED:
            continue
        access = tags.get("access", "")
        foot = tags.get("foot", "")
        try:
            pts = [(n.lat, n.lon) for n in way.nodes]
        except osmium.InvalidLocationError:
            skipped += 1
            continue
        if len(pts) < 2:
            continue
        speed = _speed(tags.get("maxspeed"))
        car_ok = access not in _NO and tags.get("motor_vehicle", "") not in _NO
        if not car_ok:
            speed = float("nan")
            c = "_no_car"
        else:
            c = hw
        w_ok = (hw not in NOT_WALKABLE and foot not in _NO and access not in ("no", "private")
                ) or foot in ("yes", "designated", "permissive")
        o = _oneway(tags.get("oneway"), hw, tags.get("junction") == "roundabout")
        arr = np.asarray(pts, float)
        k = len(arr) - 1
        lat0.append(arr[:-1, 0])
        lon0.append(arr[:-1, 1])
        lat1.append(arr[1:, 0])
        lon1.append(arr[1:, 1])
        cls.extend([c] * k)
        spd.append(np.full(k, speed))
        one.append(np.full(k, o))
        walk.append(np.full(k, w_ok))
    notes = ([f"{skipped} way(s) skipped: node locations missing from the extract"]
             if skipped else [])
    cat = (lambda xs, dt=float: np.concatenate(xs) if xs else np.empty(0, dt))  # noqa: E731
    return _assemble(cat(lat0), cat(lon0), cat(lat1), cat(lon1), np.asarray(cls, object),
                     cat(spd), cat(one, int), cat(walk, bool), str(path), notes)


def _is_osm(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz", ".o5m"))


def read_roads(path: str | os.PathLike) -> RoadNetwork:
    """Read a roads file (OSM extract or road lines) into a :class:`RoadNetwork` (no cache).

    Raises
    ------
    ValueError
        Missing file, unreadable file, no usable lines, coordinates not in degrees.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"roads file {p} does not exist")
    if _is_osm(p):
        try:
            return roads_from_osm(p)
        except ValueError:
            raise
        except Exception as exc:  # noqa: BLE001 - libosmium errors → one sentence
            raise ValueError(f"{p.name}: not a readable OpenStreetMap extract ({exc})") from None
    import geopandas as gpd

    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{p.name}: not a readable road-lines file ({exc})") from None
    return roads_from_lines(gdf, source=p.name)


def roads_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache directory: the argument, else ``$GAPMAP_CACHE_DIR``, else ``cache/`` next to
    the incident stores (``$GAPMAP_STORE_DIR``), else ``~/.cache/gapmap``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("GAPMAP_CACHE_DIR")
    if env:
        return Path(env)
    stores = os.environ.get("GAPMAP_STORE_DIR", "").strip()
    return Path(stores) / "cache" if stores else Path.home() / ".cache" / "gapmap"


_FIELDS = ("node_lat", "node_lon", "u", "v", "length_m", "walk", "drive_fwd", "drive_bwd",
           "speed_kmh")
_MEMO: dict[str, RoadNetwork] = {}


def load_roads(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None
               ) -> RoadNetwork:
    """:func:`read_roads` with a cache keyed on the file's content (built once, then reused).

    The arrays are saved as ``roads-<sha256 prefix>-v<CACHE_VERSION>.npz`` in
    :func:`roads_cache_dir`; an unwritable cache directory only costs the rebuild.
    """
    p = Path(path)
    if not p.exists():
        raise ValueError(f"roads file {p} does not exist")
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    key = f"roads-{h.hexdigest()[:24]}-v{CACHE_VERSION}"
    if key in _MEMO:
        return _MEMO[key]
    target = roads_cache_dir(cache_dir) / f"{key}.npz"
    net = None
    if target.exists():
        try:
            with np.load(target, allow_pickle=False) as z:
                net = RoadNetwork(*(z[f] for f in _FIELDS), source=str(z["source"]),
                                  notes=tuple(str(x) for x in z["notes"]))
        except Exception:  # noqa: BLE001 - a broken cache file is rebuilt
            net = None
    if net is None:
        net = read_roads(p)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **{f: getattr(net, f) for f in _FIELDS}, source=np.str_(net.source),
                     notes=np.array(net.notes, dtype=str))
            os.replace(tmp, target)
        except OSError:
            pass
    _MEMO[key] = net
    return net
