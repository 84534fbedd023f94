"""Benchmark: network travel time for a county (issue 11) vs per-source networkx Dijkstra.

Run:  .venv/bin/python bench/bench_travel.py [--side 316] [--cells 5000] [--sites 1000]
      [--nx-sample 40]

A synthetic county-sized street network: a ``side × side`` lattice of 100 m blocks (side 316 →
~100k nodes), ~10 % of blocks missing, ~25 % extra diagonal streets (→ ~250k segments), a
few one-way streets; ``--cells`` demand points and ``--sites`` candidate sites at random.

Timed, each in the same run against what a user would otherwise write with networkx (a
``DiGraph`` of the same segments, points snapped to the nearest node, one
``single_source_dijkstra_path_length`` per site):

1. nearest-site walking minutes for every cell (ours: one multi-source scipy Dijkstra;
   networkx: per-source Dijkstra over all sites; sampled on ``--nx-sample`` sources and scaled
   to all of them when that is slower than 60 s; also ``nx.multi_source_dijkstra`` for the
   nearest site, which is what a networkx expert would use);
2. the ``sites × cells`` coverage matrix within 10 minutes' walk (ours: batched Dijkstra with
   ``limit``; networkx: per-source Dijkstra with ``cutoff``);
3. exact siting (k = 20) on that coverage with HiGHS (same solver both ways: the ratio is the
   whole pipeline, coverage + solve).

Prints wall times and ratios. Graph build (profile, STRtree) is timed separately: it happens
once per network and is cached.
"""

from __future__ import annotations

import argparse
import platform
import time

import networkx as nx
import numpy as np
from scipy.spatial import cKDTree

from layers.roads import RoadNetwork
from layers.siting import solve_mclp
from layers.travel import WALK_KMH, coverage_within, nearest_minutes, travel_graph

M_PER_DEG = 111_195.0


class Clock:
    """Wall and CPU seconds of a block (the machine is shared: CPU time is the steadier)."""

    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c

    def __str__(self):
        return f"{self.wall:.3f}s (cpu {self.cpu:.3f}s)"


def make_network(side: int, rng) -> RoadNetwork:
    ij = np.arange(side * side)
    i, j = ij // side, ij % side
    lat = 36.0 + i * 100.0 / M_PER_DEG
    lon = -79.8 + j * 100.0 / (M_PER_DEG * np.cos(np.radians(36.0)))
    right = ij[j < side - 1]
    up = ij[i < side - 1]
    u = np.r_[right, up]
    v = np.r_[right + 1, up + side]
    diag = ij[(i < side - 1) & (j < side - 1)]
    diag = rng.choice(diag, size=int(0.25 * u.size * 1.1), replace=False)
    u = np.r_[u, diag]
    v = np.r_[v, diag + side + 1]
    keep = rng.random(u.size) > 0.09
    u, v = u[keep], v[keep]
    length = np.where(v - u == side + 1, 141.42, 100.0)
    oneway = rng.random(u.size) < 0.05
    speed = np.where(rng.random(u.size) < 0.2, 50.0, 30.0)
    return RoadNetwork(lat, lon, u.astype(np.int64), v.astype(np.int64), length,
                       np.ones(u.size, bool), np.ones(u.size, bool), ~oneway, speed,
                       source="synthetic")


def nx_graph(net: RoadNetwork, mode: str):
    G = nx.DiGraph()
    if mode == "walk":
        w = net.length_m / (WALK_KMH * 1000 / 60)
        G.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), w.tolist(), strict=True))
        G.add_weighted_edges_from(zip(net.v.tolist(), net.u.tolist(), w.tolist(), strict=True))
    return G


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=316)
    ap.add_argument("--cells", type=int, default=5000)
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--nx-sample", type=int, default=40)
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    net = make_network(a.side, rng)
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}, networkx {nx.__version__}")
    print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} segments; {a.cells:,} cells, "
          f"{a.sites:,} sites; walking, {a.minutes:g} minutes")
    lat0, lat1 = net.node_lat.min(), net.node_lat.max()
    lon0, lon1 = net.node_lon.min(), net.node_lon.max()
    clat, clon = rng.uniform(lat0, lat1, a.cells), rng.uniform(lon0, lon1, a.cells)
    slat, slon = rng.uniform(lat0, lat1, a.sites), rng.uniform(lon0, lon1, a.sites)

    with Clock() as c_build:
        g = travel_graph(net, "walk")
    with Clock() as c_near:
        near, _ = nearest_minutes(g, clat, clon, slat, slon)
    with Clock() as c_cov:
        cov = coverage_within(g, clat, clon, slat, slon, a.minutes)
    w = rng.poisson(3.0, a.cells).astype(float)
    with Clock() as c_mip:
        res = solve_mclp(w, cov, a.k, method="exact", time_limit=60)
    print(f"ours: profile build {c_build} (once, cached); nearest {c_near}; coverage {c_cov} "
          f"(nnz {cov.nnz:,}); exact siting {c_mip} ({res.status}); access total "
          f"{c_near.wall + c_cov.wall:.2f}s (cpu {c_near.cpu + c_cov.cpu:.2f}s)")

    # ---- networkx, what a user would otherwise run
    with Clock() as c_gb:
        G = nx_graph(net, "walk")
    tree = cKDTree(np.c_[net.node_lat, net.node_lon * np.cos(np.radians(36.0))])
    cnode = tree.query(np.c_[clat, clon * np.cos(np.radians(36.0))])[1]
    snode = tree.query(np.c_[slat, slon * np.cos(np.radians(36.0))])[1]
    sample = rng.choice(a.sites, size=min(a.nx_sample, a.sites), replace=False)
    scale = a.sites / sample.size
    with Clock() as c_nx_near:
        best = np.full(a.cells, np.inf)
        for s in sample:
            d = nx.single_source_dijkstra_path_length(G, int(snode[s]), weight="weight")
            best = np.minimum(best, np.array([d.get(int(c), np.inf) for c in cnode]))
    nx_near_wall, nx_near_cpu = c_nx_near.wall * scale, c_nx_near.cpu * scale
    with Clock() as c_nx_multi:
        d = nx.multi_source_dijkstra_path_length(G, set(snode.tolist()), weight="weight")
        nx_near = np.array([d.get(int(c), np.nan) for c in cnode])
    with Clock() as c_nx_cov:
        for s in range(a.sites):
            d = nx.single_source_dijkstra_path_length(G, int(snode[s]), cutoff=a.minutes,
                                                      weight="weight")
            np.flatnonzero(np.array([int(c) in d for c in cnode]))
    agree = np.nanmax(np.abs(np.nan_to_num(near) - np.nan_to_num(nx_near)))
    print(f"networkx: graph build {c_gb}; nearest per-source {nx_near_wall:.1f}s (cpu "
          f"{nx_near_cpu:.1f}s; sampled {sample.size} of {a.sites} sources, scaled); nearest "
          f"multi-source {c_nx_multi}; coverage per-source with cutoff {c_nx_cov}")
    print(f"  (networkx snaps to the nearest node, ours to the nearest segment + walk: largest "
          f"difference of nearest minutes {agree:.2f} min)")
    for label, k in (("wall", "wall"), ("cpu", "cpu")):
        ours_n, ours_c, mip = getattr(c_near, k), getattr(c_cov, k), getattr(c_mip, k)
        nxn = nx_near_wall if k == "wall" else nx_near_cpu
        nxm, nxc = getattr(c_nx_multi, k), getattr(c_nx_cov, k)
        print(f"ratios ({label}): nearest vs per-source {nxn / ours_n:.0f}x, vs nx multi-source "
              f"{nxm / ours_n:.1f}x; coverage {nxc / ours_c:.1f}x; whole access (nearest + "
              f"coverage) {(nxn + nxc) / (ours_n + ours_c):.0f}x; siting pipeline (coverage + "
              f"exact solve) {(nxc + mip) / (ours_c + mip):.1f}x")


if __name__ == "__main__":
    main()
