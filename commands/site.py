"""``gapmap site``: choose k new naloxone sites that cover the most overdose burden.

Demand = incident counts per analysis cell at ``--res``; existing naloxone sites (``kind ==
naloxone`` in the resources file) fix the cells within ``--radius-m`` as covered; candidates are
public host sites (``--candidates``) or, without that option, the cell centres. Writes the chosen
sites in order (``--out``) and a summary (``--summary``).

Privacy: candidate host sites are public places, so their coordinates are shown; the burden
figures (``marginal_covered`` and the summary's totals) pass :func:`geo.privacy.publish` in the
public tier, so values 1..k-1 are suppressed and percentages built on them are blanked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from commands.common import (
    add_incident_options,
    add_res_option,
    load_incidents_from_args,
    policy_from_args,
    write_json,
)
from geo.cells import cells_to_str
from geo.grid import incidents_to_cells
from geo.privacy import TIERS, PrivacyPolicy, publish
from layers.sites import load_resources

__all__ = ["register", "run", "publish_burden", "SUMMARY_COUNTS"]

#: Summary fields that are burden counts (suppressed 1..k-1 in public output).
SUMMARY_COUNTS = ("total_burden", "covered_before", "covered_after", "objective", "upper_bound")
#: Derived figures blanked when any of their inputs is suppressed.
_DERIVED = {
    "coverage_pct_before": ("covered_before", "total_burden"),
    "coverage_pct_after": ("covered_after", "total_burden"),
    "gap": ("objective", "upper_bound"),
}


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
        help="candidate host sites CSV (site_id, name, subtype, lat, lon, open_24_7); "
        "default: every analysis-cell centre",
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
        help="public (default): burden counts 1..9 suppressed; restricted: internal",
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
    p.set_defaults(func=run)


def publish_burden(table: pd.DataFrame, columns: list[str], policy: PrivacyPolicy) -> pd.DataFrame:
    """Suppress burden counts in ``columns`` through the privacy gate; other columns untouched.

    Only the count columns (and an ``h3`` column, whose resolution the gate checks) are handed
    to :func:`geo.privacy.publish`: a site table's public coordinates would otherwise be refused
    as point columns. Returns a copy with the gate's ``suppressed`` column.
    """
    part = [c for c in columns if c in table.columns] + (["h3"] if "h3" in table.columns else [])
    pub = publish(table[part], policy, count_columns=[c for c in columns if c in table.columns])
    out = table.copy()
    for c in pub.columns:
        out[c] = pub[c].to_numpy()
    return out


def _publish_summary(summary: dict, policy: PrivacyPolicy) -> dict:
    row = pd.DataFrame({c: [summary[c]] for c in SUMMARY_COUNTS})
    pub = publish_burden(row, list(SUMMARY_COUNTS), policy)
    out = dict(summary)
    for c in SUMMARY_COUNTS:
        v = pub[c].iloc[0]
        out[c] = None if pd.isna(v) else float(v)
    for c, deps in _DERIVED.items():
        if any(out[d] is None for d in deps):
            out[c] = None
    out["suppressed"] = bool(pub["suppressed"].iloc[0])
    out["tier"] = policy.tier
    return out


def _load_existing(paths: list[str]) -> pd.DataFrame | None:
    """Existing naloxone sites (``kind == naloxone``) of the resource files, or None."""
    if not paths:
        return None
    result = load_resources(paths)
    if result.summary.get("rejected"):
        print(
            f"note: {result.summary['rejected']} resource row(s) could not be used "
            "(bad coordinates, kind or hours); they do not count as existing sites",
            file=sys.stderr,
        )
    sites = result.sites
    return sites.loc[sites["kind"].astype(str) == "naloxone"]


def _load_candidates(path: str | None) -> pd.DataFrame | None:
    if path is None:
        return None
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"candidates file {p} does not exist")
    return pd.read_csv(p, dtype={"site_id": "string"})


def _progress(info: dict) -> None:
    print(
        f"  exact: {info['time']:6.1f}s  best {info['objective']:.1f}  "
        f"bound {info['bound']:.1f}  gap {100 * info['gap']:.3f}%",
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".csv":
        raise ValueError(f"--out {out} must be a .csv file")
    for p in [out] + ([Path(args.summary)] if args.summary else []):
        if not p.parent.exists():
            raise FileNotFoundError(f"output folder {p.parent} does not exist")
    policy = policy_from_args(args)
    incidents = load_incidents_from_args(args)
    demand = incidents_to_cells(incidents, args.res, breakdown=False)
    types = [t.strip() for t in args.types.split(",") if t.strip()] if args.types else None
    method = "exact" if args.exact else "heuristic"
    if args.exact:
        print(
            f"solving the siting integer program (time limit {args.time_limit:g}s)...",
            file=sys.stderr,
        )
    from layers.siting_plan import plan_sites

    plan = plan_sites(
        demand,
        _load_candidates(args.candidates),
        args.n_sites,
        args.radius_m,
        existing=_load_existing(args.resources),
        types=types,
        only_24_7=args.only_24_7,
        min_spacing_m=args.min_spacing_m,
        method=method,
        lp_bound=not args.exact,
        time_limit=args.time_limit,
        progress=_progress if args.exact else None,
    )
    sites = publish_burden(plan.sites, ["marginal_covered"], policy)
    if "h3" in sites.columns:
        sites["h3"] = cells_to_str(sites["h3"].to_numpy(np.uint64))
    tmp = out.with_name(out.name + ".part")
    sites.to_csv(tmp, index=False)
    tmp.replace(out)
    summary = _publish_summary(plan.summary, policy)
    if args.summary:
        write_json(summary, args.summary)
    pct, gap = summary["coverage_pct_after"], summary["gap"]
    pct_text = "suppressed" if pct is None else f"{pct:.1f}%"
    gap_text = "suppressed" if gap is None else f"{100 * gap:.2f}%"
    print(
        f"{len(sites)} site(s) chosen by {summary['method']} ({summary['status']}); "
        f"coverage {pct_text}; gap {gap_text} -> {out}",
        file=sys.stderr,
    )
    return 0
