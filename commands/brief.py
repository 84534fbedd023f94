"""``gapmap brief``: the one-page leadership briefing as a PDF.

Everything on the page passes the privacy gate in the public tier (the default): counts 1..k-1
suppressed, no points, no cell finer than the resolution floor. ``--tier restricted`` prints
unsuppressed counts and says so on the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commands._travel import add_travel_options
from commands.common import (
    add_filter_options,
    add_incident_options,
    add_tier_options,
    filters_from_args,
    load_incidents_from_args,
    policy_from_args,
)

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "brief",
        help="one-page leadership briefing (PDF): KPIs vs prior period, map, trend, alerts, gaps",
        description="Write a one-page PDF briefing for leadership: KPIs for the last 7/30/365 "
        "days against the prior period, a hex map of the last 12 months (Gi* hot spots), the "
        "weekly trend, top areas, current spike alerts, resource gaps, data caveats and the "
        "suppression rule. Windows end on the last date in the data unless --end is given.",
    )
    add_incident_options(p)
    p.add_argument("--resources", action="append", default=[], metavar="FILE",
                   help="resource sites (CSV/GeoJSON; repeatable) for the resource-gaps section")
    p.add_argument("--boundary", default=None, metavar="GEOJSON",
                   help="study-area boundary: map outline and zero-filled grid")
    p.add_argument("--res", type=int, default=8,
                   help="H3 resolution of the map, top areas and area alerts (default 8, as the "
                   "dashboard; public floor 8)")
    p.add_argument("--end", default=None, metavar="DATE",
                   help="first day EXCLUDED (windows are [start, end)); default: the day after "
                   "the last incident; public: the release date (Monday after the last complete "
                   "week)")
    p.add_argument("--title", default="Overdose surveillance briefing", help="page title")
    p.add_argument("--area-name", default=None, help="jurisdiction name shown in the title")
    p.add_argument("--synthetic", action="store_true",
                   help="mark the page as built from synthetic sample data (automatic for the "
                   "bundled sample)")
    p.add_argument("--label-areas", action="append", default=[], metavar="FILE|COLUMN|KIND",
                   help="area layer naming the top areas, alerts and gaps (repeatable; "
                   "default GAPMAP_AREAS, or the sample's neighbourhoods and ZIP-like areas "
                   "for the bundled sample)")
    p.add_argument("--places", default=None, metavar="FILE",
                   help="named places for 'near …' labels (default GAPMAP_PLACES)")
    add_travel_options(p)
    add_tier_options(p)
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex, printed on the page
    p.add_argument("--evaluation", action="store_true",
                   help="add a second page with the follow-up program's evaluation figures "
                        "(cases database; synthetic cases on the bundled sample)")
    p.add_argument("--out", required=True, metavar="FILE.pdf", help="output PDF")
    p.set_defaults(func=run)


def _is_sample(path: str | None) -> bool:
    if not path:
        return False
    from data import DATA_DIR

    try:
        return Path(path).resolve().parent == DATA_DIR and Path(path).name.startswith("sample_")
    except OSError:
        return False


def _geography(args: argparse.Namespace):
    """Area layers and places for labels: options, else GAPMAP_AREAS/PLACES, else the sample's."""
    from geo.labels import configured_geography

    layers, places = configured_geography(
        sample=_is_sample(getattr(args, "incidents", None)),
        areas_spec=";".join(args.label_areas) if args.label_areas else None,
        places_path=args.places)
    return (layers, places) if layers or places is not None else None


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise ValueError(f"--out must be a .pdf file, got {out}")
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder {out.parent} does not exist")
    incidents = load_incidents_from_args(args)
    resources = None
    if args.resources:
        from layers.sites import load_resources

        resources = load_resources(args.resources).sites
    boundary = None
    if args.boundary:
        from geo.ingest import load_boundary

        boundary = load_boundary(args.boundary)
    from commands._travel import travel_from_args
    from report.briefing import build_briefing

    travel, roads = travel_from_args(args)

    geography = _geography(args)
    cases, receipts = None, None
    if getattr(args, "evaluation", False):
        from report.evaluation_page import load_case_tables

        cases, _ = load_case_tables(incidents, sample=_is_sample(getattr(args, "incidents", None)))
        if cases is None:
            raise ValueError("--evaluation needs follow-up cases: the cases database has none "
                             "(open them on the dashboard's Cases page)")
        if getattr(args, "store", None):
            from geo.store import IncidentStore

            receipts = IncidentStore(args.store).receipts()

    pdf = build_briefing(
        incidents, resources, boundary, tier=policy_from_args(args), res=args.res, end=args.end,
        **filters_from_args(args), travel=travel, roads=roads,
        title=args.title, area_name=args.area_name,
        synthetic=args.synthetic or _is_sample(getattr(args, "incidents", None)),
        geography=geography, evaluation_tables=cases, receipts=receipts,
    )
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(pdf)
    tmp.replace(out)  # atomic: never a half-written PDF
    print(f"wrote {out} ({len(pdf) / 1024:.0f} KiB, tier {args.tier})", file=sys.stderr)
    return 0
