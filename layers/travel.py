"""Travel time on a road network: nearest-site minutes, sites within N minutes, 2SFCA, reach.

A :class:`TravelGraph` is one profile of a :class:`layers.roads.RoadNetwork`:

* ``"walk"`` — walkable segments, both directions, at :data:`WALK_KMH` (5 km/h);
* ``"drive"`` — drivable segments at their speed, one-way rules respected.

Points (cell centres, sites) **snap to the nearest usable segment** (walkable for walking,
drivable for driving; exact point-to-segment distance with a shapely STRtree in local metres)
and the snap distance is **walked** at 5 km/h. A trip from a cell to a site is: walk to the
road, travel along it (a fraction of the first and last segment, in an allowed direction), walk
to the site; two points on one segment may also go straight along it.

Times are computed with ``scipy.sparse.csgraph.dijkstra`` on the *reversed* graph from the
sites (time from every node *to* a site — the direction a person travels to get help), with
each site a virtual node joined to the ends of its segment: one multi-source run
(``min_only=True``) for the nearest site, and batched runs with ``limit`` for sites within
``M`` minutes. Unreachable is ``NaN`` (never infinity); say "no route" in text.

References
----------
Luo, W. and Wang, F. (2003). Measures of spatial accessibility to health care in a GIS
environment. *Environment and Planning B* 30, 865–884 (2SFCA).
Dijkstra, E. W. (1959). A note on two problems in connexion with graphs. *Numerische
Mathematik* 1, 269–271.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from layers.roads import RoadNetwork

__all__ = ["TravelGraph", "Snap", "travel_graph", "snap_points", "nearest_minutes",
           "minutes_matrix", "coverage_within", "travel_2sfca", "WALK_KMH", "MODES",
           "MAX_SNAP_M", "mode_words", "island_sites", "island_note", "ISLAND_SHARE"]

#: Walking speed on streets and for the snap distance.
WALK_KMH = 5.0
MODES = ("walk", "drive")
#: Points farther than this from every usable road make the roads file suspect (wrong area/CRS).
MAX_SNAP_M = 5_000.0
_WALK_M_PER_MIN = WALK_KMH * 1000.0 / 60.0
_R = 6_371_008.8
_BATCH = 128


def mode_words(mode: str | None) -> str:
    """``"walking time on streets"``, ``"driving time on streets"`` or
    ``"straight-line distance"``."""
    return {"walk": "walking time on streets", "drive": "driving time on streets"}.get(
        mode or "straight", "straight-line distance")


@dataclass(frozen=True)
class TravelGraph:
    """One travel profile of a road network (build with :func:`travel_graph`)."""

    mode: str
    net: RoadNetwork
    edges: np.ndarray  # (E',) usable segment indices into net
    minutes: np.ndarray  # (E',) minutes to traverse
    fwd: np.ndarray  # (E',) bool u→v allowed
    bwd: np.ndarray  # (E',) bool v→u allowed
    reverse: sp.csr_matrix  # (N, N) reverse[b, a] = minutes a → b
    lat0: float
    tree: object  # shapely.STRtree over segments in local metres
    components: np.ndarray  # (N,) weakly connected component label


def _xy(lat, lon, lat0: float) -> tuple[np.ndarray, np.ndarray]:
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    return (np.radians(lon) * _R * np.cos(np.radians(lat0)), np.radians(lat) * _R)


def travel_graph(net: RoadNetwork, mode: str) -> TravelGraph:
    """The ``"walk"`` or ``"drive"`` profile of ``net`` (see the module notes)."""
    import shapely
    from scipy.sparse.csgraph import connected_components

    if mode not in MODES:
        raise ValueError(f"travel mode must be one of {MODES} (or 'straight'), got {mode!r}")
    if mode == "walk":
        sel = np.flatnonzero(net.walk)
        fwd = bwd = np.ones(sel.size, bool)
        minutes = net.length_m[sel] / _WALK_M_PER_MIN
    else:
        sel = np.flatnonzero(net.drive_fwd | net.drive_bwd)
        fwd, bwd = net.drive_fwd[sel], net.drive_bwd[sel]
        minutes = net.length_m[sel] / (net.speed_kmh[sel] * 1000.0 / 60.0)
    if sel.size == 0:
        raise ValueError(f"the roads file has no {'walkable' if mode == 'walk' else 'drivable'} "
                         "streets")
    u, v, n = net.u[sel], net.v[sel], net.n_nodes
    # reversed graph: entry (to, from) = minutes from → to
    rows = np.r_[v[fwd], u[bwd]]
    cols = np.r_[u[fwd], v[bwd]]
    data = np.r_[minutes[fwd], minutes[bwd]]
    # parallel segments between the same two nodes: keep the fastest
    order = np.lexsort((data, cols, rows))
    r, c, d = rows[order], cols[order], data[order]
    first = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])] if r.size else np.empty(0, bool)
    rev = sp.csr_matrix((np.maximum(d[first], 1e-9), (r[first], c[first])), shape=(n, n))
    lat0 = float(np.median(net.node_lat))
    x, y = _xy(net.node_lat, net.node_lon, lat0)
    lines = shapely.linestrings(np.stack([np.c_[x[u], y[u]], np.c_[x[v], y[v]]], axis=1))
    _, comp = connected_components(rev, directed=True, connection="weak")
    return TravelGraph(mode, net, sel, minutes, fwd, bwd, rev, lat0, shapely.STRtree(lines),
                       comp)


@dataclass(frozen=True)
class Snap:
    """Where points meet the network: segment (index into ``graph.edges``), fraction from its
    start, and the snap distance in metres."""

    edge: np.ndarray
    frac: np.ndarray
    dist_m: np.ndarray


def snap_points(graph: TravelGraph, lat, lon, what: str = "points") -> Snap:
    """Snap points to the nearest usable segment (exact distance in local metres)."""
    import shapely

    lat = np.asarray(lat, float).ravel()
    lon = np.asarray(lon, float).ravel()
    if lat.size == 0:
        return Snap(np.empty(0, np.int64), np.empty(0), np.empty(0))
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError(f"{what}: a coordinate is missing; drop it before computing travel times")
    x, y = _xy(lat, lon, graph.lat0)
    pts = shapely.points(x, y)
    idx, dist = graph.tree.query_nearest(pts, return_distance=True, all_matches=False)
    edge = np.empty(lat.size, np.int64)
    d = np.empty(lat.size)
    edge[idx[0]] = idx[1]
    d[idx[0]] = dist
    far = d > MAX_SNAP_M
    if far.mean() > 0.5:
        raise ValueError(f"{what}: {int(far.sum())} of {lat.size} lie more than "
                         f"{MAX_SNAP_M / 1000:.0f} km from every usable road — the roads file "
                         "does not cover this area (wrong file or wrong CRS?)")
    geoms = graph.tree.geometries[edge]
    frac = shapely.line_locate_point(geoms, pts, normalized=True)
    return Snap(edge, np.clip(np.nan_to_num(frac), 0.0, 1.0), d)


def _site_graph(graph: TravelGraph, snap: Snap) -> sp.csr_matrix:
    """Reversed graph + one virtual node per site joined to its segment's ends."""
    n, m = graph.reverse.shape[0], snap.edge.size
    e = snap.edge
    u, v = graph.net.u[graph.edges[e]], graph.net.v[graph.edges[e]]
    t = graph.minutes[e]
    walk = snap.dist_m / _WALK_M_PER_MIN
    ids = n + np.arange(m)
    f, b = graph.fwd[e], graph.bwd[e]
    # arriving at the site from u travels u→v (forward); from v travels v→u (backward)
    rows = np.r_[ids[f], ids[b]]
    cols = np.r_[u[f], v[b]]
    data = np.r_[(snap.frac * t + walk)[f], ((1 - snap.frac) * t + walk)[b]]
    extra = sp.csr_matrix((np.maximum(data, 1e-9), (rows, cols)), shape=(n + m, n + m))
    base = sp.csr_matrix((graph.reverse.data, graph.reverse.indices,
                          np.r_[graph.reverse.indptr, np.full(m, graph.reverse.nnz)]),
                         shape=(n + m, n + m))
    return (base + extra).tocsr()


def _cell_ends(graph: TravelGraph, snap: Snap):
    """For each demand point: its segment's end nodes and the minutes to reach each (inf if
    the direction is not allowed), walk included."""
    e = snap.edge
    u, v = graph.net.u[graph.edges[e]], graph.net.v[graph.edges[e]]
    t = graph.minutes[e]
    walk = snap.dist_m / _WALK_M_PER_MIN
    to_u = np.where(graph.bwd[e], snap.frac * t, np.inf) + walk  # p → u travels v→u
    to_v = np.where(graph.fwd[e], (1 - snap.frac) * t, np.inf) + walk
    return u, v, to_u, to_v


def _same_edge(graph: TravelGraph, cells: Snap, sites: Snap):
    """Direct trips along one segment: (cell i, site j, minutes)."""
    order = np.argsort(sites.edge, kind="stable")
    se = sites.edge[order]
    lo = np.searchsorted(se, cells.edge, side="left")
    hi = np.searchsorted(se, cells.edge, side="right")
    cnt = hi - lo
    i = np.repeat(np.arange(cells.edge.size), cnt)
    offs = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    j = order[np.repeat(lo, cnt) + offs].astype(np.int64)
    e = cells.edge[i]
    df = sites.frac[j] - cells.frac[i]
    ok = np.where(df >= 0, graph.fwd[e], graph.bwd[e])
    t = (np.abs(df) * graph.minutes[e]
         + (cells.dist_m[i] + sites.dist_m[j]) / _WALK_M_PER_MIN)
    return i[ok], j[ok], t[ok]


#: A connected piece of the network with fewer than this share of its nodes is an "island".
ISLAND_SHARE = 0.01


def _on_island(graph: TravelGraph, sites: Snap) -> np.ndarray:
    comp = graph.components[graph.net.u[graph.edges[sites.edge]]]
    sizes = np.bincount(graph.components)
    return sizes[comp] < ISLAND_SHARE * graph.net.n_nodes


def _components_check(graph: TravelGraph, sites: Snap, what: str) -> None:
    if sites.edge.size == 0:
        return
    if _on_island(graph, sites).all():
        raise ValueError(f"every one of the {what} lies on a small disconnected piece of the "
                         "road network (an island): check the roads file covers the area")


def island_sites(graph: TravelGraph, site_lat, site_lon) -> np.ndarray:
    """True for each site that snaps onto an island: a connected piece of the network with
    fewer than :data:`ISLAND_SHARE` of its nodes (most cells get "no route" to it)."""
    sites = snap_points(graph, site_lat, site_lon, "sites")
    if sites.edge.size == 0:
        return np.zeros(0, bool)
    return _on_island(graph, sites)


def island_note(graph: TravelGraph, site_lat, site_lon, what: str = "sites") -> str | None:
    """One sentence when some of the sites lie on an island of the network, else ``None``
    (when all do, :func:`nearest_minutes` raises a ValueError instead)."""
    isl = island_sites(graph, site_lat, site_lon)
    k = int(isl.sum())
    if k == 0:
        return None
    return (f"{k} of the {isl.size} {what} {'lies' if k == 1 else 'lie'} on a small piece of "
            f"the road network cut off from the rest (an island), so most cells show "
            f"\"no route\" to {'it' if k == 1 else 'them'}: check the roads file covers the "
            "area and its streets join up.")


def nearest_minutes(graph: TravelGraph, lat, lon, site_lat, site_lon
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from each point to its nearest site by the network, and which site.

    Returns
    -------
    minutes : numpy.ndarray (n,)
        ``NaN`` where no site can be reached ("no route") or there are no sites.
    site : numpy.ndarray of int64 (n,)
        Index of the nearest site, ``-1`` where none.
    """
    cells = snap_points(graph, lat, lon, "demand points")
    n = cells.edge.size
    if np.asarray(site_lat).size == 0 or n == 0:
        return np.full(n, np.nan), np.full(n, -1, np.int64)
    sites = snap_points(graph, site_lat, site_lon, "sites")
    _components_check(graph, sites, "sites")
    g = _site_graph(graph, sites)
    big = graph.reverse.shape[0]
    dist, _, src = dijkstra(g, directed=True, indices=big + np.arange(sites.edge.size),
                            min_only=True, return_predecessors=True)
    u, v, tu, tv = _cell_ends(graph, cells)
    t = np.minimum(dist[u] + tu, dist[v] + tv)
    which = np.where(dist[u] + tu <= dist[v] + tv, src[u], src[v]).astype(np.int64) - big
    i, j, tt = _same_edge(graph, cells, sites)
    better = tt < t[i]
    for a, b, c in zip(i[better], j[better], tt[better], strict=True):  # few pairs
        if c < t[a]:
            t[a], which[a] = c, b
    bad = ~np.isfinite(t)
    t[bad] = np.nan
    which[bad] = -1
    return t, which


def _batches(graph: TravelGraph, site_lat, site_lon, limit: float):
    """Sites in spatially compact batches, each with the graph nodes that may be in reach."""
    net = graph.net
    sx, sy = _xy(np.asarray(site_lat, float).ravel(), np.asarray(site_lon, float).ravel(),
                 graph.lat0)
    m = sx.size
    if graph.mode == "walk":
        vmax = WALK_KMH
    else:
        vmax = max(WALK_KMH, float(net.speed_kmh.max()))
    reach = (float(limit) * vmax * 1000.0 / 60.0 * 1.01 + 50.0 if np.isfinite(limit)
             else np.inf)
    if not np.isfinite(reach):
        for s0 in range(0, m, _BATCH):
            yield np.arange(s0, min(m, s0 + _BATCH)), np.arange(net.n_nodes)
        return
    nx_, ny_ = _xy(net.node_lat, net.node_lon, graph.lat0)
    tile = max(4.0 * reach, 1000.0)
    gx, gy = np.floor(sx / tile).astype(np.int64), np.floor(sy / tile).astype(np.int64)
    order = np.lexsort((np.where(gy % 2 == 0, gx, -gx), gy))  # snake over tiles
    size = 64
    for s0 in range(0, m, size):
        idx = order[s0:s0 + size]
        x0, x1 = sx[idx].min() - reach, sx[idx].max() + reach
        y0, y1 = sy[idx].min() - reach, sy[idx].max() + reach
        nodes = np.flatnonzero((nx_ >= x0) & (nx_ <= x1) & (ny_ >= y0) & (ny_ <= y1))
        yield np.sort(idx), nodes


def minutes_matrix(graph: TravelGraph, lat, lon, site_lat, site_lon, limit: float = np.inf
                   ) -> sp.csr_matrix:
    """Sparse ``n × m`` matrix of minutes from point ``i`` to site ``j`` (only ≤ ``limit``).

    Stored entries are the minutes (a zero-minute trip is stored as 1e-9); absent = farther
    than ``limit`` or no route.
    """
    cells = snap_points(graph, lat, lon, "demand points")
    sites = snap_points(graph, site_lat, site_lon, "sites")
    n, m = cells.edge.size, sites.edge.size
    if n == 0 or m == 0:
        return sp.csr_matrix((n, m))
    g = _site_graph(graph, sites)
    big = graph.reverse.shape[0]
    u, v, tu, tv = _cell_ends(graph, cells)
    rows, cols, vals = [], [], []
    local = np.full(big + m, -1, np.int64)
    for idx, nodes in _batches(graph, site_lat, site_lon, limit):
        # Dijkstra on the nodes that can be within the limit of this batch of nearby sites
        # (a trip is never shorter than the straight line at the top speed), re-indexed
        keep_nodes = np.r_[nodes, big + idx]
        local[keep_nodes] = np.arange(keep_nodes.size)
        sub = g[keep_nodes][:, keep_nodes]
        d = dijkstra(sub, directed=True, indices=nodes.size + np.arange(idx.size), limit=limit)
        d = np.c_[d, np.full(idx.size, np.inf)]  # column -1: a node outside the subgraph
        cu, cv = local[u], local[v]
        near = np.flatnonzero((cu >= 0) | (cv >= 0))  # only cells whose street is in reach
        t = np.minimum(d[:, cu[near]] + tu[near], d[:, cv[near]] + tv[near])  # (batch, near)
        jj, kk = np.nonzero(np.isfinite(t) & (t <= limit))
        rows.append(near[kk]); cols.append(idx[jj]); vals.append(t[jj, kk])  # noqa: E702
        local[keep_nodes] = -1
    i, j, tt = _same_edge(graph, cells, sites)
    keep = tt <= limit
    rows.append(i[keep]); cols.append(j[keep]); vals.append(tt[keep])  # noqa: E702
    r, c, x = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    order = np.lexsort((x, c, r))
    r, c, x = r[order], c[order], x[order]
    first = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])] if r.size else np.empty(0, bool)
    return sp.csr_matrix((np.maximum(x[first], 1e-9), (r[first], c[first])), shape=(n, m))


def coverage_within(graph: TravelGraph, lat, lon, site_lat, site_lon, minutes: float
                    ) -> sp.csr_matrix:
    """Binary ``n × m`` CSR (int8): 1 where site ``j`` is within ``minutes`` of point ``i``."""
    mm = float(minutes)
    if not np.isfinite(mm) or mm < 0:
        raise ValueError(f"minutes must be a non-negative number, got {minutes!r}")
    t = minutes_matrix(graph, lat, lon, site_lat, site_lon, limit=mm)
    cov = sp.csr_matrix((np.ones(t.nnz, np.int8), t.indices, t.indptr), shape=t.shape)
    cov.sort_indices()
    return cov


def travel_2sfca(graph: TravelGraph, lat, lon, demand, site_lat, site_lon, minutes: float,
                 supply=None) -> np.ndarray:
    """Two-step floating catchment (Luo & Wang 2003) with a travel-time catchment.

    ``R_j = S_j / Σ_{i: t_ij ≤ T} P_i`` and ``A_i = Σ_{j: t_ij ≤ T} R_j`` (sites with no demand
    in reach get ``R_j = 0``). ``supply`` defaults to 1 per site. Returns ``A`` per point.
    """
    cov = coverage_within(graph, lat, lon, site_lat, site_lon, minutes).astype(float)
    p = np.asarray(demand, float).ravel()
    s = np.ones(cov.shape[1]) if supply is None else np.asarray(supply, float).ravel()
    load = np.asarray(cov.T @ p).ravel()
    r = np.divide(s, load, out=np.zeros_like(s), where=load > 0)
    return np.asarray(cov @ r).ravel()
