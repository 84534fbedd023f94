"""``gapmap gaps``: per-cell access to resources and the explainable gap score.

Thin door over :func:`products.gaps.gap_table` (the one gap pipeline the dashboard and the
briefing call too): parse the options into a :class:`products.query.Query` and a
:class:`geo.privacy.PrivacyPolicy`, call the product, write the published table with
:func:`commands.common.write_table`. One row per analysis cell, ranked by gap score: ``h3,
count`` (overdoses in ``[--start, --end)``), ``count_prior`` (the period before), ``trend``,
``dist_m_<group>`` and ``sites_within_<group>`` per access group, ``e2sfca_treatment``
(with ``--travel walk|drive``: ``travel_min_<group>``, ``sites_within_min_<group>`` within
``--within-min`` minutes, ``travel_2sfca_treatment`` and ``travel_mode``),
``gi_class``, ``access_index``, ``gap_score``, ``gap_rank`` and ``reason``. Privacy rules live
in the product and the gate (public: counts perturbed, 1–9 hidden, score and reasons computed
from published counts only). With ``--areas FILE --area-name COLUMN``: one row per named
area instead (:func:`products.area_gaps.area_gap_table`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from commands._travel import add_travel_options
from commands.areas import add_area_options, area_layers_from_args
from commands.common import (
    add_filter_options,
    add_incident_options,
    add_res_option,
    add_tier_options,
    add_window_options,
    count_columns,
    load_incidents_from_args,
    policy_from_args,
    query_from_args,
    write_table,
)

__all__ = ["register", "run"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "gaps",
        help="access to naloxone, syringe services and treatment per cell, and the gap score",
        description="Distance from every analysis cell to the nearest naloxone, 24/7 naloxone, "
        "syringe-service, MOUD and Medicaid-buprenorphine site, sites within reach, enhanced "
        "2SFCA for treatment, and a ranked gap score (burden x access deficit) with a reason "
        "per cell. Reach is straight-line distance (treatment: 24 km approximates 30 minutes' "
        "drive).",
    )
    add_incident_options(p)
    p.add_argument("--resources", nargs="+", default=[], metavar="FILE",
                   help="resource file(s) in the canonical schema (.csv / .xlsx / .geojson); "
                   "--resources or --samhsa (or both) is required")
    p.add_argument("--samhsa", nargs="+", default=[], metavar="FILE",
                   help="SAMHSA treatment-locator export(s) (.json / .csv) to add as treatment")
    add_res_option(p)
    p.add_argument("--boundary", metavar="GEOJSON",
                   help="study area: every cell overlapping it is scored (default: cells with "
                   "incidents only)")
    p.add_argument("--population", metavar="GEOJSON",
                   help="population areas, area-weighted onto cells as 2SFCA demand "
                   "(default demand: the overdoses in the window)")
    p.add_argument("--population-column", default="population", metavar="NAME",
                   help="population column of --population (default 'population')")
    p.add_argument("--hotspots", metavar="FILE",
                   help="Gi* classes per cell (CSV from `gapmap hotspots` at the same --res, "
                   "columns h3 and class) instead of the Gi* classes of the same window, "
                   "which the score uses by default")
    p.add_argument("--no-hotspots", action="store_true",
                   help="leave the hotspot component out of the score")
    p.add_argument("--open-at", default=None, metavar="'YYYY-MM-DD HH:MM'",
                   help="only count sites open at this local time (24/7 or by their opening "
                   "hours), e.g. a Saturday night")
    p.add_argument("--open-now", action="store_true",
                   help="only count sites open now, on the study area's clock (--tz)")
    p.add_argument("--tz", default=None, metavar="ZONE",
                   help="study area's IANA time zone for --open-now (default $GAPMAP_TZ, else "
                   "America/New_York)")
    add_window_options(p)
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex
    p.add_argument("--as-of", dest="end", default=None, metavar="DATE",
                   help="old name of --end (first day EXCLUDED)")
    p.add_argument("--weight", action="append", default=[], metavar="NAME=W",
                   help="gap-score weight, e.g. --weight burden=3 --weight ssp=0 (components: "
                   "burden, trend, hotspot, naloxone, naloxone_24_7, ssp, treatment, "
                   "medicaid_buprenorphine)")
    p.add_argument("--reach", action="append", default=[], metavar="GROUP=M",
                   help="reach in metres for sites_within_<GROUP>, e.g. --reach naloxone=200")
    p.add_argument("--sensitivity", metavar="OUT.csv",
                   help="also write how the top 10 moves when each weight is scaled x0, x0.5, x2")
    add_travel_options(p)
    p.add_argument("--within-min", type=float, default=None, metavar="N",
                   help="with --travel walk/drive: sites_within_min_<group> counts the sites "
                   "within N minutes (default 10)")
    p.add_argument("--catchment-min", type=float, default=None, metavar="M",
                   help="with --travel walk/drive: travel-time catchment of "
                   "travel_2sfca_treatment, the 2SFCA for treatment (default 30)")
    add_area_options(p)  # --areas/--area-name: one row per named area instead of per cell
    add_tier_options(p)
    p.add_argument("--out", required=True, metavar="OUT.csv",
                   help="output table (.csv, .parquet or .geojson)")
    p.set_defaults(func=run)


def _pairs(items: list[str], what: str) -> dict[str, float]:
    out = {}
    for it in items:
        name, sep, val = it.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out[name.strip()] = float(val)
        except ValueError:
            raise ValueError(f"{what} expects NAME=NUMBER, got {it!r}") from None
    return out


def _groups(reach: dict[str, float]):
    from layers.access import DEFAULT_GROUPS

    names = {g.name for g in DEFAULT_GROUPS}
    unknown = sorted(set(reach) - names)
    if unknown:
        raise ValueError(f"--reach names unknown group(s) {unknown}; use {sorted(names)}")
    return tuple(dataclasses.replace(g, reach_m=reach[g.name]) if g.name in reach else g
                 for g in DEFAULT_GROUPS)


def _weights(given: dict[str, float]) -> dict[str, float]:
    from layers.gaps import DEFAULT_WEIGHTS

    unknown = sorted(set(given) - set(DEFAULT_WEIGHTS))
    if unknown:
        raise ValueError(f"--weight names unknown component(s) {unknown}; use "
                         f"{sorted(DEFAULT_WEIGHTS)}")
    return {**DEFAULT_WEIGHTS, **given}


def _sites(args: argparse.Namespace, boundary=None) -> pd.DataFrame:
    from layers.sites import load_resources

    if not args.resources and not args.samhsa:
        raise ValueError("give resource sites with --resources FILE and/or --samhsa FILE")
    results = [load_resources(args.resources, boundary=boundary)] if args.resources else []
    if args.samhsa:  # the SAMHSA reader only when asked for
        from layers.samhsa import read_samhsa

        results += [read_samhsa(p, boundary=boundary) for p in args.samhsa]
    for r in results:
        if r.summary["rejected"]:
            files = ", ".join(r.summary["files"])
            print(f"note: {r.summary['rejected']} resource row(s) of {files} could not be "
                  "used: " + "; ".join(
                      f"line {ln}: {why}" for ln, why in
                      zip(r.rejects["line"][:5], r.rejects["reason"][:5], strict=True))
                  + (" ..." if len(r.rejects) > 5 else ""), file=sys.stderr)
    sites = pd.concat([r.sites for r in results], ignore_index=True)
    if sites.empty:
        raise ValueError("no usable resource sites in --resources / --samhsa")
    return sites


def _mode_words(travel) -> str:
    from layers.travel import mode_words  # the street-network modules only with --travel

    return mode_words(travel)


def _hotspots(args: argparse.Namespace):
    """``True`` (Gi* of the same query), ``None`` (--no-hotspots) or the --hotspots table."""
    path = args.hotspots
    if args.no_hotspots:
        if path:
            raise ValueError("give --hotspots FILE or --no-hotspots, not both")
        return None
    if not path:
        return True
    from geo.cells import cells_resolution, str_to_cells

    if not Path(path).exists():
        raise FileNotFoundError(f"hotspots file {path} does not exist")
    hs = pd.read_csv(path, dtype={"h3": str})
    missing = [c for c in ("h3", "class") if c not in hs.columns]
    if missing:
        raise ValueError(f"--hotspots file {path} is missing column(s) {missing}; found "
                         f"{list(hs.columns)} (use the CSV written by `gapmap hotspots`)")
    cells = str_to_cells(hs["h3"].astype(str).to_numpy())
    if cells.size and int(np.max(cells_resolution(cells))) != args.res:
        raise ValueError(f"--hotspots file {path} is not at --res {args.res}; run "
                         "`gapmap hotspots` at the same --res")
    return pd.DataFrame({"h3": cells, "class": hs["class"]})


def _when(text: str | None, now: bool = False, tz: str | None = None):
    from layers.hours import local_now, local_time, study_tz

    if now and text is not None:
        raise ValueError("give --open-now or --open-at, not both")
    if now:
        return local_now(tz)
    if text is None:
        study_tz(tz)  # a bad --tz is one sentence even when unused
        return None
    if any(c in text for c in "+Z") or text.count("-") > 2:
        try:
            return local_time(pd.Timestamp(text), tz)  # a time with an offset: to local
        except ValueError:
            pass
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"--open-at expects a local time like '2026-11-28 23:00', got {text!r}"
                         ) from None


def _since(args: argparse.Namespace, policy):
    """The first time :func:`products.gaps.gap_table` reads: the start of the period before
    its burden window (same length), from the store's last event time (``probe``)."""
    from products.gaps import burden_window
    from products.query import Query

    query = Query(res=args.res, start=args.start, end=args.end)  # the window (no filters)

    def first(probe):
        start, end = burden_window(query, probe, policy)
        return start - (end - start)

    return first


def run(args: argparse.Namespace) -> int:
    from commands._travel import travel_from_args
    from geo.store_read import cells_for
    from products.gaps import gap_sensitivity, gap_table
    from products.query import check_resolution

    policy = policy_from_args(args)
    check_resolution(args.res, policy)
    weights = _weights(_pairs(args.weight, "--weight"))
    groups = _groups(_pairs(args.reach, "--reach"))
    boundary = None
    if args.boundary:
        from geo.boundary import boundary_geometry

        boundary = boundary_geometry(args.boundary)
    sites = _sites(args, boundary)
    # cells: the burden window and the equal period before it, the counting columns (the
    # store loads only those; geo.store_read)
    query = query_from_args(args, res=args.res)
    incidents = load_incidents_from_args(args, **({} if getattr(args, "areas", None) else dict(
        since=_since(args, policy), columns=count_columns(query),
        cell_res=cells_for(args.res))))
    population = None
    if args.population:
        from layers.population import load_population

        population = load_population(args.population, args.population_column)
    opts = dict(boundary=boundary, hotspots=_hotspots(args), population=population,
                population_column=args.population_column, groups=groups, weights=weights,
                open_at=_when(args.open_at, args.open_now, args.tz))
    layers = area_layers_from_args(args)
    if layers:
        return _run_areas(args, layers, incidents, sites, query, policy, groups, weights,
                          population)
    travel, roads = travel_from_args(args)
    minutes = {k: v for k, v in (("within_min", args.within_min),
                                 ("catchment_min", args.catchment_min)) if v is not None}
    if minutes and travel in (None, "straight"):
        raise ValueError("--within-min and --catchment-min need --travel walk or drive")
    table = gap_table(incidents, sites, query, policy, **opts, travel=travel, roads=roads,
                      tz=args.tz, **minutes)
    written = write_table(table, args.out, policy)
    if travel not in (None, "straight"):
        from products.gaps import travel_notes

        for note in travel_notes(sites, travel, roads):
            print(f"note: {note}", file=sys.stderr)
    if args.sensitivity:
        write_table(gap_sensitivity(incidents, sites, query, policy, **opts), args.sensitivity,
                    policy)
    top = written.iloc[0] if len(written) else None
    print(f"{len(written)} cell(s) at res {args.res} scored against {len(sites)} site(s) "
          f"({policy.tier} tier{'' if travel is None else ', ' + _mode_words(travel)}) -> "
          f"{args.out}"
          + (f"\n  rank 1: {top['h3']}: {top['reason']}" if top is not None else ""),
          file=sys.stderr)
    return 0


def _run_areas(args, layers, incidents, sites, query, policy, groups, weights,
               population) -> int:
    """``--areas``: one row per named area (:func:`products.area_gaps.area_gap_table`)."""
    import pandas as pd

    from products.area_gaps import area_gap_table

    if args.out.lower().endswith(".geojson"):
        raise ValueError("gaps by area are written as .csv or .parquet")
    if args.hotspots:
        raise ValueError("--hotspots FILE holds cells; with --areas the Gi* class of the areas "
                         "is used (or --no-hotspots)")
    parts = []
    for layer in layers:
        t = area_gap_table(incidents, sites, layer, query, policy, groups=groups,
                           weights=weights, hotspots=not args.no_hotspots,
                           population=population,
                           population_column=args.population_column)
        for note in t.attrs.get("notes", []):
            print(f"note: {layer.kind}: {note}", file=sys.stderr)
        parts.append(t.assign(unit=layer.kind) if len(layers) > 1 else t)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    written = write_table(table, args.out, policy)
    top = written.iloc[0] if len(written) else None
    print(f"{len(written)} area(s) scored against {len(sites)} site(s) ({policy.tier} tier) -> "
          f"{args.out}" + (f"\n  rank 1: {top['area']}: {top['reason']}" if top is not None
                           else ""), file=sys.stderr)
    return 0
