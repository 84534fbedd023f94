"""``gapmap cells``: incident counts per H3 cell, through the privacy gate, to CSV/Parquet/GeoJSON.

Reads an export (``--incidents FILE``, no store needed) or the store (``--store PATH``), keeps
``[--start, --end)``, rolls the base cells up to ``--res`` and writes one row per cell: ``h3``
(hex), ``count``, the breakdowns (``n_fatal`` … ``n_naloxone_yes`` … ``n_ems`` …) and
``suppressed``. With ``--boundary`` every cell of the study area is listed (zero-filled; column
``in_grid``). Output goes through :func:`commands.common.write_table`, i.e. the privacy gate.
"""

from __future__ import annotations

import argparse

import numpy as np

from commands.common import (
    add_incident_options,
    add_res_option,
    add_tier_options,
    load_incidents_from_args,
    policy_from_args,
    write_table,
)

__all__ = ["register", "run", "build_cells"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "cells",
        help="incident counts per H3 cell (privacy-gated) to .csv/.parquet/.geojson",
        description="Count incidents (de-duplicated events) per H3 cell at --res, with counts by "
        "outcome, naloxone and source. Public output (the default) suppresses counts 1..k-1 and "
        "refuses resolutions finer than 8; --tier restricted gives internal, unsuppressed output.",
    )
    add_incident_options(p)
    add_res_option(p, default=8)
    add_tier_options(p)
    p.add_argument("--start", metavar="DATE", default=None, help="first day included (YYYY-MM-DD)")
    p.add_argument("--end", metavar="DATE", default=None, help="first day excluded (YYYY-MM-DD)")
    p.add_argument("--boundary", metavar="GEOJSON", default=None,
                   help="study area: list every cell of it, zero-filled")
    p.add_argument("--out", metavar="OUT", required=True,
                   help="output file: .csv, .parquet or .geojson")
    p.set_defaults(func=run)


def build_cells(incidents, res: int, *, start=None, end=None, boundary=None):
    """Cell table (uint64 ``h3``) for a window and resolution, zero-filled on a boundary."""
    from geo.grid import analysis_grid, filter_incidents, incidents_to_cells, zero_fill
    from geo.ingest import load_boundary

    if not 5 <= res <= 10:
        raise ValueError(f"--res must be between 5 and 10, got {res}")
    df = filter_incidents(incidents, start=start, end=end)
    cells = incidents_to_cells(df, res)
    if boundary is not None:
        cells = zero_fill(cells, analysis_grid(load_boundary(boundary), res))
    return cells


def run(args: argparse.Namespace) -> int:
    incidents = load_incidents_from_args(args)
    cells = build_cells(incidents, args.res, start=args.start, end=args.end,
                        boundary=args.boundary)
    written = write_table(cells, args.out, policy_from_args(args))
    n_sup = int(np.sum(written["suppressed"])) if "suppressed" in written else 0
    print(f"wrote {len(written)} cell(s) at res {args.res} to {args.out} "
          f"({n_sup} suppressed, tier {args.tier}); {int(cells['count'].sum())} incident(s)")
    return 0
