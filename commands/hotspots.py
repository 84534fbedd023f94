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

Window ``[--start, --end)`` (``--end`` is the first day excluded); in the public tier a fixed
release window. Each method is one product (:func:`products.hotspots.hotspot_table`,
:func:`products.clusters.emerging_table`, :func:`products.clusters.density_table`), the same
functions the dashboard and the briefing call; their tables are already published (public z,
p, q come from published counts, so they reveal nothing the count column does not). This
module only parses arguments, calls the product and writes.
"""

from __future__ import annotations

import argparse
import sys

from commands.areas import add_area_options, geography_from_args
from commands.common import (
    add_engine_options,
    add_filter_options,
    add_incident_options,
    add_tier_options,
    count_columns,
    load_incidents_from_args,
    parse_mapping,
    policy_from_args,
    query_from_args,
    write_table,
)

__all__ = ["register", "run"]

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
    add_incident_options(p)  # --incidents: a file, or a Parquet folder / glob (partitions)
    add_engine_options(p)  # --engine dask: read, index and de-duplicate on a Dask cluster
    p.add_argument("--res", type=int, default=8,
                   help="H3 resolution of the analysis cells (default 8; public floor 8)")
    p.add_argument("--method", choices=METHODS, default="gi",
                   help="gi (default), dbscan, hdbscan or emerging")
    p.add_argument("--k-ring", type=int, default=1, metavar="K",
                   help="Gi* neighbours: cells within K grid steps, self included (default 1)")
    p.add_argument("--boundary", metavar="GEOJSON", default=None,
                   help="study area: every cell overlapping it is analysed, zero counts "
                   "included (default: the occupied cells and their k-ring)")
    p.add_argument("--start", default=None, metavar="DATE",
                   help="first day included (YYYY-MM-DD); public: a release window")
    p.add_argument("--end", default=None, metavar="DATE",
                   help="first day EXCLUDED (YYYY-MM-DD): the window is [start, end)")
    p.add_argument("--population", metavar="GEOJSON", default=None,
                   help="gi: population polygons; Gi* then runs on rates per 10,000 people")
    p.add_argument("--population-column", default="population",
                   help="population column of --population (default 'population')")
    p.add_argument("--rate", choices=("crude", "eb"), default="eb",
                   help="gi with --population: crude rates or empirical-Bayes smoothed (default)")
    p.add_argument("--permutations", type=int, default=0, metavar="N",
                   help="gi: conditional-permutation inference with N draws (default 0: "
                   "analytic p-values); a warning says when N is too few for any cell to "
                   "be significant after FDR")
    p.add_argument("--min-population", type=float, default=100, metavar="N",
                   help="gi with --population: cells with fewer residents get class "
                   "population_too_small and no rate (default 100)")
    p.add_argument("--seed", type=int, default=0, help="seed for permutations (default 0)")
    p.add_argument("--slice", choices=("week", "month"), default=None,
                   help="emerging: time-slice length (default: month for windows of 10 "
                   "months or more, else week; needs >= 10 slices)")
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
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex
    add_area_options(p)  # --areas/--area-name/--places: a label column per cell
    p.add_argument("--out", required=True, metavar="OUT.csv",
                   help="output table (.csv, .parquet; .geojson for gi/emerging cells)")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace) -> None:
    if args.method in ("dbscan", "hdbscan") and str(args.out).lower().endswith(".geojson"):
        raise ValueError("--out must be .csv or .parquet for dbscan/hdbscan cluster tables")
    if args.population and args.method != "gi":
        raise ValueError("--population (rates) applies to --method gi only")


def _table(incidents, args: argparse.Namespace, query, policy):
    """The product of ``--method`` (already published for ``policy``); the module of that
    product only (Gi* needs no products.clusters)."""
    boundary = None
    if args.boundary:  # the ingest modules only when a boundary is given (start-up time)
        from geo.ingest import load_boundary

        boundary = load_boundary(args.boundary)
    if args.method == "gi":
        from products.hotspots import hotspot_table

        population = None
        if args.population:
            import geopandas as gpd

            population = gpd.read_file(args.population)
        gi = dict(population=population, population_column=args.population_column,
                  rate=args.rate, permutations=args.permutations, seed=args.seed,
                  min_population=args.min_population)
        if incidents is None:  # --engine dask: the Gi* inputs are counted on the workers
            from geo.distributed_counts import dask_hotspot_table

            return dask_hotspot_table(args.incidents, query, policy, boundary=boundary,
                                      k_ring=args.k_ring, scheduler=args.scheduler,
                                      options=_engine_options(args), **gi)
        return hotspot_table(incidents, query, policy, boundary=boundary, k_ring=args.k_ring,
                             **gi)
    from products.clusters import density_table, emerging_table

    if args.method == "emerging":
        if incidents is None:  # --engine dask: the cube is counted on the workers
            from geo.distributed_counts import dask_emerging_table

            return dask_emerging_table(args.incidents, query, policy, boundary=boundary,
                                       k_ring=args.k_ring, slice=args.slice, window=args.window,
                                       scheduler=args.scheduler, options=_engine_options(args))
        return emerging_table(incidents, query, policy, boundary=boundary, k_ring=args.k_ring,
                              slice=args.slice, window=args.window)
    table = density_table(incidents, query, policy, method=args.method, eps_m=args.eps_m,
                          min_samples=args.min_samples, min_cluster_size=args.min_cluster_size)
    if policy.restricted:  # text columns for a flat file
        from geo.cells import cells_to_str

        table = table.assign(cells=[";".join(cells_to_str(c)) for c in table["cells"]],
                             hull_wkt=[h.wkt for h in table["hull"]]).drop(columns="hull")
    return table


def _engine_options(args: argparse.Namespace) -> dict:
    """How the Dask workers read the partitions (the --preset/--map/--source of the export)."""
    return dict(preset=args.preset, source=args.source, mapping=parse_mapping(args.map))


def _projection(args: argparse.Namespace, query) -> dict:
    """Gi* reads the counting columns of its query and the cells at ``--res`` only
    (:func:`commands.common.count_columns`, geo.store_read)."""
    if args.method != "gi":
        return {}
    from geo.store_read import cells_for

    return {"columns": count_columns(query), "cell_res": cells_for(args.res)}


def _since(args: argparse.Namespace, policy):
    """Gi* reads the events of its window only: from ``--store`` the events from the window's
    start on are loaded (:func:`geo.store_read.load_since`; the same window and keys)."""
    if args.method != "gi":
        return None
    from products.query import Query, resolve

    query = Query(res=args.res, start=args.start, end=args.end)  # the window (no filters)
    return lambda probe: resolve(query, probe, policy).start


def run(args: argparse.Namespace) -> int:
    from products.query import check_resolution

    policy = policy_from_args(args)
    check_resolution(args.res, policy)
    _check_args(args)
    query = query_from_args(args, res=args.res)
    on_workers = (args.method in ("gi", "emerging") and bool(args.incidents)
                  and getattr(args, "engine", "local") == "dask")
    incidents = None if on_workers else load_incidents_from_args(
        args, since=_since(args, policy), **_projection(args, query))
    table = _table(incidents, args, query, policy)
    for warning in table.attrs.get("warnings", []):  # e.g. significance out of reach
        print(f"warning: {warning}", file=sys.stderr)
    written = write_table(table, args.out, policy, geography=geography_from_args(args))
    summary = written["class"].value_counts().to_dict() if "class" in written else {}
    if "category" in written:
        summary = written["category"].value_counts().to_dict()
    if "cluster" in written:
        summary = {"clusters": int(written["cluster"].nunique())}
    print(f"wrote {len(written)} row(s) to {args.out} ({policy.tier} tier): {summary}",
          file=sys.stderr)
    return 0
