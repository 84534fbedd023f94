"""``gapmap alerts``: spike alerts (EARS / EWMA / fixed threshold) or the space-time scan.

Thin door: parses the options, calls :func:`products.alerts.current_alerts` (spike methods)
or :func:`products.alerts.scan_table` (``--method scan``) unchanged and writes the published
table. The window is ``[start, end)`` as in every subcommand: the days reported are
``[--end - --days, --end)`` or ``[--start, --end)``. Disclosure rules (perturbed keyed counts,
blanked expected/threshold of hidden counts, release windows, dates only) live in the product
and the gate, never here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from commands.common import (
    add_filter_options,
    add_incident_options,
    add_tier_options,
    load_incidents_from_args,
    policy_from_args,
    query_from_args,
    write_table,
)

__all__ = ["register", "run", "run_spikes", "run_scan"]

SPIKE_METHODS = ("ears", "ewma", "threshold")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "alerts",
        help="spike alerts (EARS C1/C2/C3, EWMA, 24-hour threshold) or the space-time scan",
        description="Daily spike alerts per area (whole jurisdiction or H3 cells) with EARS "
        "C1/C2/C3, ESSENCE-style EWMA or an ODMAP-style 24-hour threshold, with neighbour early "
        "warnings and re-alerts only when a cluster grows; or Kulldorff's prospective space-time "
        "permutation scan (--method scan) with Monte Carlo p-values.",
    )
    add_incident_options(p)
    p.add_argument("--method", choices=SPIKE_METHODS + ("scan",), default="ears",
                   help="ears (default), ewma, threshold or scan")
    p.add_argument("--ears", dest="ears_variant", choices=("C1", "C2", "C3"), default="C2",
                   help="EARS variant for --method ears (default C2: 2-day guard band)")
    p.add_argument("--area", choices=("both", "jurisdiction", "h3", "polygon"), default="both",
                   help="series for the whole area and per H3 cell at --res (both, default: as "
                   "the dashboard and the briefing), one of them, or per polygon of --areas")
    p.add_argument("--areas", metavar="FILE", default=None,
                   help="--area polygon: your areas (GeoJSON / GeoPackage / Shapefile with a CRS)")
    p.add_argument("--area-id", metavar="COLUMN", default=None,
                   help="--area polygon: column naming each area (default: the row number)")
    p.add_argument("--res", type=int, default=None,
                   help="H3 resolution of areas (default 7) / scan locations (default 8); "
                   "public floor 8")
    p.add_argument("--start", default=None, metavar="DATE",
                   help="first day reported (window [start, end)); replaces --days")
    p.add_argument("--end", default=None, metavar="DATE",
                   help="first day EXCLUDED (window [start, end)); default: the day after the "
                   "last incident (restricted) or the release date, the Monday after the last "
                   "complete week (public)")
    p.add_argument("--days", type=int, default=None,
                   help="days reported, [end - days, end) (spikes, default 7) or the scan's "
                   "study window (default 28); public tier: 7, 28, 91 or 364")
    p.add_argument("--threshold", type=float, default=None, metavar="N",
                   help="--method threshold: alert when any 24 hours ending that day hold ≥ N "
                   "incidents (default: suggested per area, max(2, ceil(mean + 3 sd)) of those "
                   "24-hour maxima over the 30 days before the window)")
    p.add_argument("--sd-floor", type=float, default=0.5,
                   help="smallest baseline sd for EARS (default 0.5)")
    p.add_argument("--smoothing", default="0.4", metavar="W[,W2]",
                   help="EWMA smoothing: 0.4 gradual (default), 0.9 sudden, or 0.4,0.9 for both "
                   "(the smaller p wins, as in ESSENCE)")
    p.add_argument("--no-neighbours", action="store_true",
                   help="do not flag neighbours of an alerting H3 cell")
    p.add_argument("--max-radius-m", type=float, default=1207.0,
                   help="scan: largest zone radius in metres (default 1207 = 0.75 mi)")
    p.add_argument("--max-days", type=int, default=7,
                   help="scan: longest cluster in days (default 7)")
    p.add_argument("--replicates", type=int, default=999,
                   help="scan: Monte Carlo replicates (default 999)")
    p.add_argument("--min-cases", type=int, default=3,
                   help="scan: fewest cases in a cluster (default 3)")
    p.add_argument("--max-clusters", type=int, default=10,
                   help="scan: most clusters reported (default 10)")
    p.add_argument("--seed", type=int, default=0, help="scan: random seed (default 0)")
    add_tier_options(p)
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex
    p.add_argument("--out", required=True, metavar="OUT.csv",
                   help="output table (.csv or .parquet)")
    p.set_defaults(func=run)


def _window(args: argparse.Namespace):
    """Query and number of days from --start/--end/--days ([start, end))."""
    from dataclasses import replace

    q = query_from_args(args)
    days = args.days
    if q.start is not None:
        if q.end is None:
            raise ValueError("--start needs --end (the window is [start, end))")
        span = (q.end - q.start) / pd.Timedelta(days=1)
        if days is not None and days != span:
            raise ValueError(f"--days {days} disagrees with --start/--end ({span:g} days)")
        days = int(span)
    if days is None:
        days = 28 if args.method == "scan" else 7
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    return replace(q, start=None), days  # the filters, the window's end


def _check_args(args: argparse.Namespace) -> None:
    if args.area == "polygon" and args.method != "scan" and not args.areas:
        raise ValueError("--area polygon needs --areas FILE (your area polygons)")
    if str(args.out).lower().endswith(".geojson"):
        raise ValueError("--out must be .csv or .parquet for alerts (a table of days and areas)")


def _read_areas(path: str):
    import geopandas as gpd

    if not Path(path).exists():
        raise FileNotFoundError(f"--areas file {path} does not exist")
    areas = gpd.read_file(path)
    if areas.crs is None:
        raise ValueError(f"{path} has no CRS; save it with one (EPSG:4326)")
    return areas


def _smoothing(text: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in str(text).split(","))
    except ValueError:
        raise ValueError(f"--smoothing expects numbers like 0.4 or 0.4,0.9, got {text!r}") from None
    return vals


def run_spikes(incidents: pd.DataFrame, args: argparse.Namespace, policy) -> pd.DataFrame:
    """The published alert table of :func:`products.alerts.current_alerts`."""
    from products.alerts import current_alerts

    query, days = _window(args)
    method = {"ears": args.ears_variant, "ewma": "EWMA", "threshold": "threshold"}[args.method]
    kw = {}
    if method in ("C1", "C2", "C3"):
        kw["sd_floor"] = args.sd_floor
    elif method == "EWMA":
        kw["smoothing"] = _smoothing(args.smoothing)
    else:
        kw["threshold"] = args.threshold
    areas = ("jurisdiction", "h3") if args.area == "both" else (args.area,)
    return current_alerts(
        incidents, query, policy, method=method, res=7 if args.res is None else args.res,
        days=days, areas=areas, polygons=_read_areas(args.areas) if args.areas else None,
        id_column=args.area_id, neighbours=not args.no_neighbours, **kw)


def run_scan(incidents: pd.DataFrame, args: argparse.Namespace, policy) -> pd.DataFrame:
    """The published cluster table of :func:`products.alerts.scan_table`."""
    from products.alerts import scan_table

    query, days = _window(args)
    return scan_table(
        incidents, query, policy, res=8 if args.res is None else args.res,
        replicates=args.replicates, seed=args.seed, days=days, max_radius_m=args.max_radius_m,
        max_days=args.max_days, min_cases=args.min_cases, max_clusters=args.max_clusters)


def run(args: argparse.Namespace) -> int:
    policy = policy_from_args(args)
    _check_args(args)
    incidents = load_incidents_from_args(args)
    if args.method == "scan":
        table = run_scan(incidents, args, policy)
    else:
        table = run_spikes(incidents, args, policy)
    pub = write_table(table, args.out, policy)
    if args.method == "scan":
        sig = int((pub["p"] < 0.05).sum()) if len(pub) else 0
        print(f"wrote {len(pub)} cluster(s) ({sig} with p < 0.05) to {args.out}")
    else:
        n_alert = int((pub["severity"] == "alert").sum())
        print(f"wrote {len(pub)} row(s) ({n_alert} alert(s), {len(pub) - n_alert} warning(s)) "
              f"to {args.out}")
        if table.attrs.get("no_baseline"):
            import sys

            print(f"note: {table.attrs['no_baseline']} area-day(s) not tested: their baseline "
                  "would start before the first record", file=sys.stderr)
    return 0
