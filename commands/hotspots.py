"""``gapmap hotspots``: Gi* hot/cold spots, density clusters or emerging hot spots on H3 cells.

* ``--method gi`` (default): one row per analysed cell — the study-area grid from
  ``--boundary`` (plus any occupied cell outside it), or without a boundary the occupied cells
  and their k-ring — with ``h3, count, z, p, q, class, neighbours, in_grid``; with
  ``--population`` Gi* runs on rates (``--rate crude|eb``) and cells without population get
  class ``no_population``.
* ``--method dbscan|hdbscan``: point-density clusters. Public tier: one row per (cluster, cell)
  with ``cluster, h3, count, cluster_count`` — cells only, no points, hulls, centroids or
  dates. Restricted tier: one row per cluster with dates, centroid, hull (WKT) and cells.
* ``--method emerging``: one row per cell with the emerging hot/cold-spot category.

Privacy: every table leaves through :func:`commands.common.write_table` (the privacy gate).
In the public tier a Gi* z-score is a function of the counts of the cell's neighbours, so it
could give a suppressed count away: ``z``, ``p`` and ``q`` are blanked for every cell whose
neighbourhood holds a suppressed count (1..k-1); the class is always shown.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from commands.common import (
    add_incident_options,
    add_tier_options,
    load_incidents_from_args,
    policy_from_args,
    write_table,
)

__all__ = ["register", "run", "gi_table", "density_table", "emerging_table"]

METHODS = ("gi", "dbscan", "hdbscan", "emerging")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "hotspots",
        help="Gi* hot spots with FDR, DBSCAN/HDBSCAN clusters or emerging hot spots",
        description="Getis-Ord Gi* hot and cold spots on H3 cells with Benjamini-Hochberg "
        "q-values (classes hot_99..cold_99 decided on q), on counts or population rates; "
        "point-density clusters (DBSCAN / HDBSCAN, great-circle metres); or emerging hot "
        "spots (space-time Gi* per slice + Mann-Kendall trend, ArcGIS Pro categories).",
    )
    add_incident_options(p)
    p.add_argument("--res", type=int, default=8,
                   help="H3 resolution of the analysis cells (default 8; public floor 8)")
    p.add_argument("--method", choices=METHODS, default="gi",
                   help="gi (default), dbscan, hdbscan or emerging")
    p.add_argument("--k-ring", type=int, default=1, metavar="K",
                   help="Gi* neighbours: cells within K grid steps, self included (default 1)")
    p.add_argument("--boundary", metavar="GEOJSON", default=None,
                   help="study area: every cell overlapping it is analysed, zero counts "
                   "included (default: the occupied cells and their k-ring)")
    p.add_argument("--start", default=None, metavar="DATE", help="first day included")
    p.add_argument("--end", default=None, metavar="DATE", help="first day excluded")
    p.add_argument("--population", metavar="GEOJSON", default=None,
                   help="gi: population polygons; Gi* then runs on rates per 10,000 people")
    p.add_argument("--population-column", default="population",
                   help="population column of --population (default 'population')")
    p.add_argument("--rate", choices=("crude", "eb"), default="eb",
                   help="gi with --population: crude rates or empirical-Bayes smoothed (default)")
    p.add_argument("--permutations", type=int, default=0, metavar="N",
                   help="gi: conditional-permutation inference with N draws (default 0: "
                   "analytic p-values)")
    p.add_argument("--seed", type=int, default=0, help="seed for permutations (default 0)")
    p.add_argument("--slice", choices=("week", "month"), default="month",
                   help="emerging: time-slice length (default month; needs >= 10 slices)")
    p.add_argument("--window", type=int, default=1,
                   help="emerging: slices t-W..t are neighbours in time (default 1)")
    p.add_argument("--eps-m", type=float, default=250.0, metavar="M",
                   help="dbscan: radius in metres (default 250); hdbscan: merge clusters "
                   "closer than M (0 disables)")
    p.add_argument("--min-samples", type=int, default=10, metavar="N",
                   help="dbscan/hdbscan: points that make a core point (default 10)")
    p.add_argument("--min-cluster-size", type=int, default=10, metavar="N",
                   help="hdbscan: smallest cluster (default 10)")
    add_tier_options(p)
    p.add_argument("--out", required=True, metavar="OUT.csv",
                   help="output table (.csv, .parquet; .geojson for gi/emerging cells)")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace, policy) -> None:
    if not 0 <= args.res <= 15:
        raise ValueError(f"--res must be an H3 resolution 0-15, got {args.res}")
    if policy.tier != "restricted" and args.res > policy.min_res_floor:
        raise ValueError(
            f"{policy.tier} output at H3 resolution {args.res} is finer than the floor "
            f"{policy.min_res_floor}; use --res {policy.min_res_floor} or --tier restricted"
        )
    if args.k_ring < 0:
        raise ValueError(f"--k-ring must be 0 or more, got {args.k_ring}")
    if args.permutations < 0:
        raise ValueError(f"--permutations must be 0 or more, got {args.permutations}")
    if args.method in ("dbscan", "hdbscan") and str(args.out).lower().endswith(".geojson"):
        raise ValueError("--out must be .csv or .parquet for dbscan/hdbscan cluster tables")
    if args.population and args.method != "gi":
        raise ValueError("--population (rates) applies to --method gi only")


def _grid(counts: pd.DataFrame, args: argparse.Namespace) -> np.ndarray:
    from clustering.neighbours import ring_hull
    from geo.grid import analysis_grid
    from geo.ingest import load_boundary

    if args.boundary:
        return analysis_grid(load_boundary(args.boundary), args.res)
    return ring_hull(counts["h3"].to_numpy(np.uint64), args.k_ring)


def gi_table(incidents: pd.DataFrame, args: argparse.Namespace, k_suppress: int | None = None
             ) -> pd.DataFrame:
    """Gi* table of every analysed cell (before the privacy gate).

    ``k_suppress``: in the public tier, blank ``z``/``p``/``q`` of cells whose neighbourhood
    holds a count in ``1 .. k_suppress-1`` (see the module notes).
    """
    from clustering.gistar import gi_star
    from clustering.neighbours import build_neighbourhood
    from clustering.rates import population_to_cells, rate_table
    from geo.grid import incidents_to_cells, zero_fill

    counts = incidents_to_cells(incidents, args.res, breakdown=False)
    table = zero_fill(counts, _grid(counts, args))
    cols = ["h3", "count"]
    value = "count"
    if args.population:
        import geopandas as gpd

        gdf = gpd.read_file(args.population)
        pop = population_to_cells(gdf, table["h3"].to_numpy(np.uint64), args.population_column)
        table = rate_table(table, pop, method=args.rate)
        cols += ["population", "rate"]
        value = "rate"
        analysed = table.loc[table["has_population"]]
    else:
        analysed = table
    if len(analysed) < 3:
        raise ValueError(f"only {len(analysed)} cell(s) to analyse: Gi* needs at least 3; "
                         "widen --start/--end, give a --boundary or use a coarser --res")
    nbhd = build_neighbourhood(analysed["h3"].to_numpy(np.uint64), args.k_ring)
    gi = gi_star(analysed, nbhd, column=value, permutations=args.permutations, seed=args.seed)
    out = table[cols + ["in_grid"]].join(gi)
    out["class"] = out["class"].fillna("no_population")
    if k_suppress is not None:
        pos = nbhd.positions(analysed["h3"].to_numpy(np.uint64))
        small = np.zeros(nbhd.n)
        small[pos] = analysed["count"].between(1, k_suppress - 1).to_numpy()
        exposed = (nbhd.W @ small) > 0  # the neighbourhood holds a suppressed count
        hide = pd.Series(False, index=out.index)
        hide.loc[analysed.index] = exposed[pos]
        for c in ("z", "p", "q", "p_sim"):
            if c in out.columns:
                out[c] = out[c].mask(hide)
    order = cols + ["z", "p", "q", "class", "neighbours"] + (
        ["p_sim"] if args.permutations else []) + ["in_grid"]
    return out[order]


def density_table(incidents: pd.DataFrame, args: argparse.Namespace, public: bool
                  ) -> pd.DataFrame:
    """Cluster table: (cluster, cell) rows in public, one row per cluster in restricted."""
    from clustering.density import PointClusters
    from geo.cells import cells_to_parent, cells_to_str

    pc = PointClusters(args.method, eps_m=args.eps_m, min_samples=args.min_samples,
                       min_cluster_size=args.min_cluster_size).fit(incidents)
    if public:
        lab = pc.labels_
        keep = lab >= 0
        cells = cells_to_parent(incidents["h3"].to_numpy(np.uint64)[keep], args.res)
        long = pd.DataFrame({"cluster": lab[keep], "h3": cells})
        out = long.groupby(["cluster", "h3"], sort=True).size().rename("count").reset_index()
        sizes = np.bincount(lab[keep], minlength=pc.n_clusters_)
        out["cluster_count"] = sizes[out["cluster"].to_numpy()]
        out["h3"] = out["h3"].astype(np.uint64)
        return out
    s = pc.cluster_summaries(res=args.res).reset_index()
    s["cells"] = [";".join(cells_to_str(c)) for c in s["cells"]]
    s["hull_wkt"] = [h.wkt for h in s["hull"]]
    return s.drop(columns="hull")


def emerging_table(incidents: pd.DataFrame, args: argparse.Namespace, public: bool
                   ) -> pd.DataFrame:
    """Emerging hot-spot categories per cell (``z_last`` only in the restricted tier)."""
    from clustering.emerging import emerging_hotspots
    from geo.grid import incidents_to_cells

    counts = incidents_to_cells(incidents, args.res, breakdown=False)
    grid = np.union1d(_grid(counts, args), counts["h3"].to_numpy(np.uint64))
    out = emerging_hotspots(incidents, args.res, cells=grid, k=args.k_ring, slice=args.slice,
                            window=args.window, start=args.start, end=args.end)
    return out.drop(columns="z_last") if public else out


def run(args: argparse.Namespace) -> int:
    from geo.grid import filter_incidents

    policy = policy_from_args(args)
    _check_args(args, policy)
    incidents = load_incidents_from_args(args)
    incidents = filter_incidents(incidents, start=args.start, end=args.end)
    if len(incidents) == 0:
        raise ValueError("no incidents in the chosen window (check --start/--end)")
    public = policy.tier != "restricted"
    if args.method == "gi":
        table = gi_table(incidents, args, k_suppress=policy.k if public else None)
    elif args.method == "emerging":
        table = emerging_table(incidents, args, public)
    else:
        table = density_table(incidents, args, public)
    written = write_table(table, args.out, policy)
    summary = written["class"].value_counts().to_dict() if "class" in written else {}
    if "category" in written:
        summary = written["category"].value_counts().to_dict()
    if "cluster" in written:
        summary = {"clusters": int(written["cluster"].nunique())}
    print(f"wrote {len(written)} row(s) to {args.out} ({policy.tier} tier): {summary}",
          file=sys.stderr)
    return 0
