"""``gapmap cells``: incident counts per H3 cell (:func:`products.hotspots.cell_table`).

Reads an export (``--incidents FILE``, no store needed) or the store (``--store PATH``) and
writes what the product returns: one row per cell (point-in-hexagon at ``--res``) with
``count``, the breakdowns (``n_fatal`` … ``n_naloxone_yes`` … ``n_ems`` …) and ``suppressed``;
with ``--boundary`` every cell of the study area (zero-filled, ``in_grid``). The window is
``[--start, --end)``; in the public tier it is a fixed release window and every count is
perturbed and gated by the product. With ``--engine dask`` the events stay on the workers and
are counted there (:func:`geo.distributed_counts.dask_cell_table`, the same table). This module
only parses and writes.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from commands.areas import add_area_options, geography_from_args
from commands.common import (
    add_engine_options,
    add_filter_options,
    add_incident_options,
    add_res_option,
    add_tier_options,
    load_incidents_from_args,
    parse_mapping,
    policy_from_args,
    query_from_args,
    write_table,
)

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cells",
        help="incident counts per H3 cell (privacy-gated) to .csv/.parquet/.geojson",
        description="Count incidents (de-duplicated events) per H3 cell at --res, with counts by "
        "outcome, naloxone and source. Public output (the default) suppresses counts 1..k-1 and "
        "refuses resolutions finer than 8; --tier restricted gives internal, unsuppressed output.",
    )
    add_incident_options(p)  # --incidents: a file, or a Parquet folder / glob (partitions)
    add_engine_options(p)
    add_res_option(p, default=8)
    add_tier_options(p)
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex
    add_area_options(p)  # --areas/--area-name/--places: a label column per cell
    p.add_argument("--start", metavar="DATE", default=None,
                   help="first day included (YYYY-MM-DD); public: a release window")
    p.add_argument("--end", metavar="DATE", default=None,
                   help="first day EXCLUDED (YYYY-MM-DD): the window is [start, end)")
    p.add_argument("--boundary", metavar="GEOJSON", default=None,
                   help="study area: list every cell of it, zero-filled")
    p.add_argument("--out", metavar="OUT", required=True,
                   help="output file: .csv, .parquet or .geojson")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from geo.ingest import load_boundary
    from geo.resolution import check_resolution
    from products.hotspots import cell_table

    policy = policy_from_args(args)
    check_resolution(args.res, policy)
    query = query_from_args(args, res=args.res)
    boundary = load_boundary(args.boundary) if args.boundary else None
    if getattr(args, "engine", "local") == "dask" and args.incidents:
        # counted on the workers: only count tables come back (geo.distributed_counts)
        from geo.distributed_counts import dask_cell_table

        table = dask_cell_table(args.incidents, query, policy, boundary=boundary,
                                scheduler=args.scheduler, preset=args.preset,
                                mapping=parse_mapping(args.map), source=args.source)
    else:
        table = cell_table(load_incidents_from_args(args), query, policy, boundary=boundary)
    written = write_table(table, args.out, policy, geography=geography_from_args(args))
    n_sup = int(np.sum(written["suppressed"])) if "suppressed" in written else 0
    total = pd.to_numeric(written["count"]).sum() if policy.restricted else None
    shown = "" if total is None else f"; {int(total)} incident(s)"
    print(f"wrote {len(written)} cell(s) at res {args.res} to {args.out} "
          f"({n_sup} suppressed, {policy.tier} tier){shown}")
    return 0
