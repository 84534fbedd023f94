"""Travel modes as the products use them: per-cell minutes, network coverage, reach outlines.

One entry point per need, all taking ``travel`` (``"straight"``, ``"walk"``, ``"drive"``) and
``roads`` (a path to a roads file or a :class:`layers.roads.RoadNetwork`):

* :func:`travel_profile` — the cached :class:`layers.travel.TravelGraph` (``None`` for
  straight line);
* :func:`cell_travel_minutes` — ``travel_min_<group>`` per cell for the access groups
  (naloxone, treatment, ssp by default), ``NaN`` = no route;
* :func:`network_coverage` — the ``coverage`` function for :func:`layers.siting_plan.plan_sites`;
* :func:`reach_outline` — the area reachable within ``M`` minutes of a set of sites: the
  reachable street segments (whole, or the reachable part of the last one) buffered by
  :data:`OUTLINE_BUFFER_M`, as a shapely (Multi)Polygon in WGS84 — it follows the streets.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from layers.roads import RoadNetwork, load_roads
from layers.travel import (
    TravelGraph,
    _site_graph,
    coverage_within,
    nearest_minutes,
    snap_points,
    travel_graph,
)

__all__ = ["TRAVEL_MODES", "TRAVEL_GROUPS", "check_travel", "travel_profile",
           "cell_travel_minutes", "network_coverage", "reach_outline", "OUTLINE_BUFFER_M",
           "format_minutes", "straight_vs_network", "WITHIN_MIN"]

TRAVEL_MODES = ("straight", "walk", "drive")
#: Access groups measured in minutes (names of :data:`layers.access.DEFAULT_GROUPS`).
TRAVEL_GROUPS = ("naloxone", "treatment", "ssp")
#: "Sites within M minutes" in the gap table.
WITHIN_MIN = 10.0
#: Half-width of the street band drawn as a reach outline (metres).
OUTLINE_BUFFER_M = 60.0
_GRAPHS: dict[tuple[int, str], tuple[RoadNetwork, TravelGraph]] = {}


def check_travel(travel: str | None, roads) -> str:
    """Normalise the mode; a network mode needs a roads file (one clear sentence if not)."""
    mode = "straight" if travel in (None, "") else str(travel).lower()
    if mode not in TRAVEL_MODES:
        raise ValueError(f"travel mode must be one of {', '.join(TRAVEL_MODES)}; got {travel!r}")
    if mode != "straight" and roads is None:
        raise ValueError(f"--travel {mode} needs a road network: give --roads FILE (an "
                         ".osm.pbf extract or road lines in GeoJSON/GeoPackage)")
    return mode


def travel_profile(travel: str | None, roads) -> TravelGraph | None:
    """The travel graph of ``roads`` for the mode (built once per network and mode)."""
    mode = check_travel(travel, roads)
    if mode == "straight":
        return None
    net = roads if isinstance(roads, RoadNetwork) else load_roads(os.fspath(roads))
    key = (id(net), mode)
    hit = _GRAPHS.get(key)
    if hit is None or hit[0] is not net:
        hit = (net, travel_graph(net, mode))
        _GRAPHS[key] = hit
    return hit[1]


def format_minutes(value) -> str:
    """``"12 min"`` or ``"no route"`` (never infinity)."""
    v = float(value) if value is not None and not pd.isna(value) else float("nan")
    return "no route" if not np.isfinite(v) else f"{v:.0f} min"


def cell_travel_minutes(lat, lon, resources: pd.DataFrame, graph: TravelGraph,
                        groups=TRAVEL_GROUPS, within_min: float | None = WITHIN_MIN
                        ) -> pd.DataFrame:
    """``travel_min_<group>`` per point: minutes to the nearest site of each access group, and
    ``sites_within_min_<group>``: how many of the group's sites are within ``within_min``
    minutes (left out when ``within_min`` is None).

    Groups are looked up in :data:`layers.access.DEFAULT_GROUPS` by name; ``NaN`` where the
    group has no site or no site can be reached.
    """
    from layers.access import DEFAULT_GROUPS, select_sites

    by_name = {g.name: g for g in DEFAULT_GROUPS}
    out = {}
    for name in groups:
        if name not in by_name:
            raise ValueError(f"unknown access group {name!r}; choose from {sorted(by_name)}")
        mask = select_sites(resources, by_name[name].where)
        sub = resources[mask]
        t, _ = nearest_minutes(graph, lat, lon, sub["lat"].to_numpy(float),
                               sub["lon"].to_numpy(float))
        out[f"travel_min_{name}"] = t
    if within_min is not None:
        for name in groups:
            sub = resources[select_sites(resources, by_name[name].where)]
            cov = coverage_within(graph, lat, lon, sub["lat"].to_numpy(float),
                                  sub["lon"].to_numpy(float), within_min)
            out[f"sites_within_min_{name}"] = np.diff(cov.indptr).astype(np.int64)
    return pd.DataFrame(out)


def network_coverage(graph: TravelGraph, minutes: float):
    """``coverage(dlat, dlon, slat, slon)`` within ``minutes`` on ``graph`` (for plan_sites)."""
    def cover(dlat, dlon, slat, slon):
        return coverage_within(graph, dlat, dlon, slat, slon, minutes)

    return cover


def reach_outline(graph: TravelGraph, site_lat, site_lon, minutes: float):
    """Area within ``minutes`` of any of the sites along the streets (WGS84 shapely geometry).

    A segment is drawn in full when both ends are reached within the budget; otherwise the part
    reachable from a reached end. Times run *to* the site, as in the coverage (for driving with
    one-way streets: the places from which the site is reached within ``minutes``; walking is
    the same both ways). ``None`` when no site is given.
    """
    import shapely
    from scipy.sparse.csgraph import dijkstra

    slat = np.asarray(site_lat, float).ravel()
    slon = np.asarray(site_lon, float).ravel()
    if slat.size == 0:
        return None
    sites = snap_points(graph, slat, slon, "sites")
    g = _site_graph(graph, sites)
    n = graph.reverse.shape[0]
    d = dijkstra(g, directed=True, indices=n + np.arange(slat.size), min_only=True,
                 limit=float(minutes))[:n]
    net = graph.net
    u, v = net.u[graph.edges], net.v[graph.edges]
    t = graph.minutes
    left_u = float(minutes) - d[u]
    left_v = float(minutes) - d[v]
    # reach along the segment from each end (the way out from a site; walking is symmetric)
    a_frac = np.clip(np.where(np.isfinite(left_u), left_u / t, 0.0), 0.0, 1.0)
    b_frac = np.clip(np.where(np.isfinite(left_v), left_v / t, 0.0), 0.0, 1.0)
    x0, y0 = _local(net.node_lat[u], net.node_lon[u], graph.lat0)
    x1, y1 = _local(net.node_lat[v], net.node_lon[v], graph.lat0)
    full = a_frac + b_frac >= 1.0
    parts = []
    if full.any():
        parts.append(shapely.linestrings(np.stack([np.c_[x0[full], y0[full]],
                                                   np.c_[x1[full], y1[full]]], axis=1)))
    for frac, xa, ya, xb, yb in ((a_frac, x0, y0, x1, y1), (b_frac, x1, y1, x0, y0)):
        part = ~full & (frac > 0)
        if part.any():
            xe = xa[part] + frac[part] * (xb[part] - xa[part])
            ye = ya[part] + frac[part] * (yb[part] - ya[part])
            parts.append(shapely.linestrings(np.stack([np.c_[xa[part], ya[part]],
                                                       np.c_[xe, ye]], axis=1)))
    sx, sy = _local(slat, slon, graph.lat0)
    pts = shapely.points(sx, sy)
    geoms = [shapely.buffer(pts, OUTLINE_BUFFER_M)]
    if parts:
        geoms.append(shapely.buffer(np.concatenate(parts), OUTLINE_BUFFER_M, quad_segs=2))
    area = shapely.union_all(np.concatenate(geoms)).simplify(10.0)
    return shapely.transform(area, lambda c: np.c_[_unlocal(c[:, 0], c[:, 1], graph.lat0)])


_R = 6_371_008.8


def _local(lat, lon, lat0):
    return np.radians(lon) * _R * np.cos(np.radians(lat0)), np.radians(lat) * _R


def _unlocal(x, y, lat0):
    return np.degrees(x / (_R * np.cos(np.radians(lat0)))), np.degrees(y / _R)


def straight_vs_network(dlat, dlon, weights, site_lat, site_lon, radius_m: float,
                        graph: TravelGraph, minutes: float) -> dict:
    """Burden within ``radius_m`` straight-line of the sites but not within ``minutes`` on the
    network (and the reverse), as sums of ``weights``."""
    from layers.coverage import covered_by_any

    w = np.asarray(weights, float)
    straight = covered_by_any(dlat, dlon, site_lat, site_lon, radius_m)
    if np.asarray(site_lat).size:
        cov = coverage_within(graph, dlat, dlon, site_lat, site_lon, minutes)
        network = np.diff(cov.indptr) > 0
    else:
        network = np.zeros(w.size, bool)
    return {"straight": float(w[straight].sum()), "network": float(w[network].sum()),
            "straight_not_network": float(w[straight & ~network].sum()),
            "network_not_straight": float(w[network & ~straight].sum())}

