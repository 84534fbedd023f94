"""``gapmap alerts``: spike alerts (EARS / EWMA / fixed threshold) or the space-time scan.

Spike methods write the alert table (``date, area, observed, expected, threshold, method,
severity, statistic, run_day, trigger_area``) for the last ``--days`` days up to ``--end``;
``--method scan`` writes the scan's clusters (``rank, cells, centre, start, end, days,
observed, expected, llr, p, recurrence_days``).

Privacy: the public tier goes through :func:`commands.common.write_table` (the privacy gate),
with ``observed`` treated as a count (1..k-1 suppressed); figures from which a hidden count
could be solved (statistic, p, expected, threshold, llr) are blanked on those rows first
(:func:`blank_revealing`); H3 areas and scan cells must be at or coarser than the tier's
resolution floor. Dates are whole days; no points leave.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from commands.common import (
    add_incident_options,
    add_tier_options,
    load_incidents_from_args,
    policy_from_args,
    write_table,
)
from geo.cells import cells_to_str

__all__ = ["register", "run", "run_spikes", "run_scan", "blank_revealing"]

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
    p.add_argument("--area", choices=("jurisdiction", "h3", "polygon"), default="jurisdiction",
                   help="series per whole jurisdiction (default), per H3 cell at --res, or per "
                   "polygon of --areas")
    p.add_argument("--areas", metavar="FILE", default=None,
                   help="--area polygon: your areas (GeoJSON / GeoPackage / Shapefile with a CRS)")
    p.add_argument("--area-id", metavar="COLUMN", default=None,
                   help="--area polygon: column naming each area (default: the row number)")
    p.add_argument("--res", type=int, default=8,
                   help="H3 resolution of areas / scan locations (default 8; public floor 8)")
    p.add_argument("--end", default=None, metavar="DATE",
                   help="last day analysed (default: the last incident day)")
    p.add_argument("--days", type=int, default=30,
                   help="days reported (spikes) or study window (scan); default 30")
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
    p.add_argument("--out", required=True, metavar="OUT.csv",
                   help="output table (.csv or .parquet)")
    p.set_defaults(func=run)


def _check_args(args: argparse.Namespace, policy) -> None:
    if args.days < 2:
        raise ValueError(f"--days must be at least 2, got {args.days}")
    if not 0 <= args.res <= 15:
        raise ValueError(f"--res must be an H3 resolution 0-15, got {args.res}")
    uses_cells = args.method == "scan" or args.area == "h3"
    if uses_cells and policy.tier != "restricted" and args.res > policy.min_res_floor:
        raise ValueError(
            f"{policy.tier} output at H3 resolution {args.res} is finer than the floor "
            f"{policy.min_res_floor}; use --res {policy.min_res_floor} or --tier restricted"
        )
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


def run_spikes(incidents: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Alert table for the spike methods (areas as hex strings / names)."""
    from clustering.alerts import alert_table, detect
    from clustering.ears import suggest_threshold
    from clustering.series import (
        area_labels,
        area_neighbours,
        incidents_to_daily,
        incidents_to_rolling_24h,
    )

    t = pd.to_datetime(incidents["occurred_at"]).dt.floor("D")
    if t.notna().sum() == 0:
        raise ValueError("no incident has a date: nothing to alert on")
    end = pd.Timestamp(args.end).floor("D") if args.end else t.max()
    report_start = end - pd.Timedelta(days=args.days - 1)
    start = max(t.min(), report_start - pd.Timedelta(days=60))  # room for every baseline
    res = args.res if args.area == "h3" else None
    polygons = _read_areas(args.areas) if args.area == "polygon" else None
    # the 24-hour threshold looks at the busiest 24 hours ending each day (ODMAP), the
    # statistical detectors at calendar-day counts
    build = incidents_to_rolling_24h if args.method == "threshold" else incidents_to_daily
    series = build(incidents, area=args.area, res=res, polygons=polygons,
                   id_column=args.area_id, start=start, end=end)
    if args.method == "ears":
        results = detect(series, args.ears_variant, sd_floor=args.sd_floor)
    elif args.method == "ewma":
        results = detect(series, "EWMA", smoothing=_smoothing(args.smoothing))
    else:
        thr = args.threshold
        if thr is None:
            thr = suggest_threshold(series, days=30, end=report_start - pd.Timedelta(days=1))
        results = detect(series, "threshold", threshold=thr)
    nb = None
    if args.area != "jurisdiction" and not args.no_neighbours:
        nb = area_neighbours(series.columns, polygons=polygons, id_column=args.area_id)
    table = alert_table(results, series=series, neighbours=nb, start=report_start, end=end)
    table["area"] = area_labels(table["area"].to_numpy()) if len(table) else table["area"]
    trig = table["trigger_area"]
    has = trig.notna().to_numpy()
    labels = np.full(len(table), None, dtype=object)
    if has.any():
        kind = np.uint64 if series.columns.dtype == np.uint64 else object
        labels[has] = area_labels(np.asarray(trig[has].tolist(), dtype=kind))
    table["trigger_area"] = labels
    table["date"] = pd.to_datetime(table["date"]).dt.date
    table["observed"] = pd.array(table["observed"], dtype="Int64")
    return table


def run_scan(incidents: pd.DataFrame, args: argparse.Namespace) -> pd.DataFrame:
    """Scan clusters with cells as ``;``-separated hex strings."""
    from clustering.scan import space_time_scan

    res = space_time_scan(
        incidents, res=args.res, end=args.end, days=args.days, max_radius_m=args.max_radius_m,
        max_days=args.max_days, replicates=args.replicates, min_cases=args.min_cases,
        max_clusters=args.max_clusters, seed=args.seed,
    )
    cl = res.clusters
    if len(cl) == 0:
        return pd.DataFrame(columns=["rank", "cells", "centre", "zone_cells", "start", "end",
                                     "days", "observed", "expected", "llr", "p",
                                     "recurrence_days", "zone_count"])
    out = pd.DataFrame({
        "rank": cl["rank"].to_numpy(),
        "cells": [";".join(cells_to_str(c)) for c in cl["cells"]],
        "centre": cells_to_str(cl["centre"].to_numpy(np.uint64)),
        "zone_cells": cl["n_cells"].to_numpy(),
        "start": cl["start"].to_numpy(),
        "end": cl["end"].to_numpy(),
        "days": cl["days"].to_numpy(),
        "observed": pd.array(cl["observed"].to_numpy(), dtype="Int64"),
        "expected": cl["expected"].round(3).to_numpy(),
        "llr": cl["llr"].round(4).to_numpy(),
        "p": cl["p"].to_numpy(),
        "recurrence_days": cl["recurrence_days"].round(1).to_numpy(),
        # named *_count so the privacy gate treats it as a count
        "zone_count": pd.array(cl["zone_cases"].to_numpy(), dtype="Int64"),
    })
    return out


#: Days of baseline behind ``expected`` per detector (its baseline total is a count too).
_BASELINE_DAYS = {"C1": 7, "C2": 7, "C3": 7, "EWMA": 28, "threshold": 30}


def blank_revealing(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """Blank the figures that would give back a count the gate hides (public tier).

    A row's ``statistic``/``p``/``llr`` with ``expected`` and ``threshold`` let a reader solve
    for a suppressed ``observed``; ``expected`` times the baseline length is itself a count
    (alerts), and a scan's ``expected`` reveals ``zone_count``. Where the day's count, the
    baseline total or the zone total is in ``1 .. k-1``, those derived columns are emptied.
    """
    out = table.copy()
    if out.empty:
        return out

    def small(v):
        v = pd.to_numeric(pd.Series(v), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return (v >= 1) & (v < k)

    hide = small(out["observed"])
    if "zone_count" in out.columns:
        hide |= small(out["zone_count"])
        cols = ["expected", "llr"]
    else:
        days = out["method"].map(_BASELINE_DAYS).to_numpy(dtype=float, na_value=np.nan)
        if "baseline_days" in out.columns:  # EWMA's baseline is shorter at a series' start
            known = pd.to_numeric(out["baseline_days"]).to_numpy(dtype=float, na_value=np.nan)
            days = np.where(np.isfinite(known), known, days)
        base = np.round(pd.to_numeric(out["expected"]).to_numpy(float) * days)
        hide |= small(base)
        cols = ["expected", "threshold", "statistic", "p"]
    for c in cols:
        if c in out.columns:
            col = pd.to_numeric(out[c]).astype("Float64")
            col[hide] = pd.NA
            out[c] = col
    return out


def run(args: argparse.Namespace) -> int:
    policy = policy_from_args(args)
    _check_args(args, policy)
    policy = dataclasses.replace(
        policy, extra_count_columns=tuple(policy.extra_count_columns) + ("observed",)
    )
    incidents = load_incidents_from_args(args)
    table = run_scan(incidents, args) if args.method == "scan" else run_spikes(incidents, args)
    if policy.tier != "restricted":
        table = blank_revealing(table, policy.k)
    pub = write_table(table, args.out, policy)
    if args.method == "scan":
        sig = int((table["p"] < 0.05).sum()) if len(table) else 0
        print(f"wrote {len(pub)} cluster(s) ({sig} with p < 0.05) to {args.out}")
    else:
        n_alert = int((table["severity"] == "alert").sum())
        print(f"wrote {len(pub)} row(s) ({n_alert} alert(s), {len(pub) - n_alert} warning(s)) "
              f"to {args.out}")
    return 0
