"""``gapmap site``: choose k new naloxone sites that cover the most overdose burden.

Thin door over :func:`products.siting.siting_plan` (the one siting pipeline the dashboard
calls too): demand = overdoses per analysis cell at ``--res`` in ``[--start, --end)``; existing
naloxone sites (``kind == naloxone`` in the resources file) fix the cells within ``--radius-m``
as covered; candidates are public host sites (``--candidates``) or, without that option, the
cell centres. Writes the chosen sites in order (``--out``) and a summary (``--summary``).

Privacy lives in the product: in the public tier the plan runs on the published cell counts
(hidden ones imputed from public figures), and coverage is given as shares of the published
burden (%, rounded); burden counts of the plan are restricted-tier only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from commands._travel import add_travel_options
from commands.common import (
    add_filter_options,
    add_incident_options,
    add_res_option,
    add_window_options,
    load_incidents_from_args,
    policy_from_args,
    query_from_args,
    write_json,
    write_table,
)
from geo.privacy import TIERS
from layers.sites import load_resources

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "site",
        help="choose k new naloxone sites covering the most burden (maximal covering location)",
        description="Maximal covering location (Church & ReVelle 1974): choose K new sites "
        "from candidate host sites (or cell centres) to cover the most incidents within a radius, "
        "given the existing naloxone sites. Greedy + swap heuristic by default; --exact solves "
        "the integer program on HiGHS and reports its optimality gap.",
    )
    add_incident_options(p)
    p.add_argument(
        "--resources",
        nargs="+",
        metavar="FILE",
        default=[],
        help="resource file(s); their naloxone sites count as existing coverage",
    )
    p.add_argument(
        "--candidates",
        metavar="FILE",
        help="candidate host sites (.csv / .xlsx / .geojson: site_id or id, name, subtype, "
        "lat/Latitude, lon/Longitude, open_24_7); default: every analysis-cell centre",
    )
    p.add_argument(
        "--k",
        dest="n_sites",
        type=int,
        required=True,
        metavar="K",
        help="number of new sites to choose",
    )
    p.add_argument(
        "--radius-m",
        type=float,
        required=True,
        metavar="R",
        help="coverage radius in metres (e.g. 400 for a short walk)",
    )
    add_res_option(p)
    add_window_options(p)
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex
    p.add_argument(
        "--exact",
        action="store_true",
        help="solve the integer program exactly (HiGHS), reporting bound and gap",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds allowed for --exact (default 60); best solution and gap on timeout",
    )
    p.add_argument(
        "--types",
        default=None,
        metavar="T1,T2",
        help="allowed candidate subtypes, e.g. library,fire_station (default: all)",
    )
    p.add_argument("--only-24-7", action="store_true", help="only candidates open 24/7")
    p.add_argument(
        "--min-spacing-m",
        type=float,
        default=0.0,
        metavar="M",
        help="no two new sites closer than M metres (default 0: no rule)",
    )
    # --k is the number of sites here: the tier options are spelled out (--suppress-k).
    p.add_argument(
        "--tier",
        choices=TIERS,
        default="public",
        help="public (default): plan on published counts (1..9 hidden, others perturbed), "
        "fixed release windows, coverage as %% of published burden; restricted: internal",
    )
    p.add_argument(
        "--suppress-k",
        dest="k",
        type=int,
        default=10,
        metavar="N",
        help="public output hides burden counts 1..N-1 (default 10)",
    )
    p.add_argument(
        "--out", required=True, metavar="SITES.csv", help="chosen sites, in order (.csv)"
    )
    p.add_argument("--summary", metavar="SUMMARY.json", help="summary figures (.json)")
    add_travel_options(p, minutes=True)
    p.set_defaults(func=run)


def _load_existing(paths: list[str]) -> pd.DataFrame | None:
    """Resource sites of the files (the product uses their naloxone sites), or None."""
    if not paths:
        return None
    result = load_resources(paths)
    if result.summary.get("rejected"):
        print(
            f"note: {result.summary['rejected']} resource row(s) could not be used "
            "(bad coordinates, kind or hours); they do not count as existing sites",
            file=sys.stderr,
        )
    return result.sites


def _load_candidates(path: str | None) -> pd.DataFrame | None:
    """Candidate host sites: the resource files' column names and coordinate checks."""
    if path is None:
        return None
    from layers.site_files import load_candidates

    cand, rejects = load_candidates(path)
    if len(rejects):
        print(f"note: {len(rejects)} candidate row(s) of {path} could not be used: "
              + "; ".join(f"line {ln}: {why}" for ln, why in
                          zip(rejects["line"][:5], rejects["reason"][:5], strict=True))
              + (" ..." if len(rejects) > 5 else ""), file=sys.stderr)
    return cand  # empty: the product says "candidates is empty"


def _progress(info: dict) -> None:
    print(
        f"  exact: {info['time']:6.1f}s  best {info['objective']:.1f}  "
        f"bound {info['bound']:.1f}  gap {100 * info['gap']:.3f}%",
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    from commands._travel import travel_from_args
    from layers.travel import mode_words
    from products.siting import siting_plan

    travel, roads = travel_from_args(args)
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise ValueError(f"--out {out} must be a .csv file")
    for p in [out] + ([Path(args.summary)] if args.summary else []):
        if not p.parent.exists():
            raise FileNotFoundError(f"output folder {p.parent} does not exist")
    policy = policy_from_args(args)
    incidents = load_incidents_from_args(args)
    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    if args.exact:
        print(
            f"solving the siting integer program (time limit {args.time_limit:g}s)...",
            file=sys.stderr,
        )
    plan = siting_plan(
        incidents,
        _load_existing(args.resources),
        _load_candidates(args.candidates),
        query_from_args(args, res=args.res),
        policy,
        args.n_sites,
        args.radius_m,
        args.exact,
        types=types,
        only_24_7=args.only_24_7,
        min_spacing_m=args.min_spacing_m,
        time_limit=args.time_limit,
        curve=False,
        progress=_progress if args.exact else None,
        travel=travel,
        roads=roads,
        minutes=args.minutes,
    )
    summary = plan.summary
    sites = plan.sites.assign(travel_mode=summary["travel_mode"])
    write_table(sites, out, policy)
    if args.summary:
        write_json(summary, args.summary)
    print(
        f"{len(plan.sites)} site(s) chosen by {summary['method']} ({summary['status']}); "
        f"coverage {summary['coverage_pct_after']:.1f}% of the {policy.tier} burden; gap "
        f"{100 * summary['gap']:.2f}% -> {out}",
        file=sys.stderr,
    )
    if summary.get("stopped_early"):
        print(f"note: {summary['note']}", file=sys.stderr)
    if travel in ("walk", "drive"):
        print(
            f"  coverage = within {summary['minutes']:g} minutes ({mode_words(travel)}); "
            f"{summary['straight_not_network_pct']:.1f}% of the burden is within "
            f"{args.radius_m:g} m in a straight line of the plan's sites but not within "
            f"{summary['minutes']:g} minutes on the streets",
            file=sys.stderr,
        )
    return 0
