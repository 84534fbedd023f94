"""What goes into the briefing: every table computed and passed through the privacy gate.

:func:`briefing_content` gathers the KPIs, weekly trend, top areas, the 12-month cell map (Gi*
class when :mod:`clustering.gistar` is installed, else counts), current spike alerts
(:mod:`clustering.alerts`) and resource gaps (:mod:`layers.gaps`). Optional library modules
that are missing — or fail on this data — leave their section marked "not available" with the
reason, instead of failing the whole briefing.

Everything numeric that leaves here for the public tier has passed
:func:`geo.privacy.publish`; :mod:`report.briefing` only lays it out.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng
from geo.privacy import PrivacyPolicy, publish, release_date
from products.hotspots import cell_table, hotspot_table
from products.query import Query
from report.events import end_day, event_arrays
from report.kpis import _policy, kpis, top_areas, weekly_trend
from report.maps import boundary_geometry

__all__ = ["BriefingContent", "briefing_content", "cell_label", "optional_module", "ALERT_DAYS"]

#: Alerts of the last 7 days are "current".
ALERT_DAYS = 7
#: The map covers 52 whole weeks (a public release window).
MAP_DAYS = 364


@dataclass
class BriefingContent:
    """Published tables and notes of one briefing (see :func:`briefing_content`)."""

    end: pd.Timestamp
    policy: PrivacyPolicy
    res: int
    kpis: pd.DataFrame
    weekly: pd.DataFrame
    top: pd.DataFrame
    map_table: pd.DataFrame
    map_mode: str  # "class" or "count"
    boundary: object = None
    alerts: pd.DataFrame | None = None
    alerts_note: str = ""
    gaps: pd.DataFrame | None = None
    gaps_note: str = ""
    notes: list[str] = field(default_factory=list)


def optional_module(module: str):
    """Import a library module, or ``None`` if it is not in this installation (the briefing
    and the dashboard then say that section is not available)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


#: Internal call point (tests substitute it to simulate a missing module).
_optional = optional_module


def cell_label(cell) -> str:
    """Readable name of an area: ``"whole area"`` or the cell centre (``"36.07N 79.79W"``)."""
    if isinstance(cell, str):
        return "whole area" if cell == "jurisdiction" else cell
    lat, lon = cells_to_latlng(np.array([cell], dtype=np.uint64))
    a, o = float(lat[0]), float(lon[0])
    return f"{abs(a):.2f}{'N' if a >= 0 else 'S'} {abs(o):.2f}{'E' if o >= 0 else 'W'}"


def _map_table(incidents: pd.DataFrame, res: int, end: pd.Timestamp, geom, pol: PrivacyPolicy):
    """The briefing's map: the hot-spot product (:func:`products.hotspots.hotspot_table`), the
    same function and grid rule as ``gapmap hotspots`` and the Hotspots page.

    Window: the 364 days (52 whole weeks) to the release date of ``end`` in public — a fixed
    release window — and the 364 days to ``end`` (included) in the restricted tier. Too few
    cells for Gi*: the published counts (:func:`products.hotspots.cell_table`).
    """
    if pol.restricted:
        stop = end + pd.Timedelta(days=1)
    else:
        stop = release_date(end)
    query = Query(res=int(res), start=stop - pd.Timedelta(days=MAP_DAYS), end=stop)
    try:
        table = hotspot_table(incidents, query, pol, boundary=geom, k_ring=1)
    except ValueError as exc:
        if "Gi* needs at least 3" not in str(exc):
            raise
        table = cell_table(incidents, query, pol, boundary=geom, breakdown=False)
        return table, "count", "Too few cells for hot-spot statistics: map shows counts."
    return table, "class", ""


def _alerts(incidents: pd.DataFrame, end: pd.Timestamp, res: int, pol: PrivacyPolicy):
    alerts_mod = _optional("clustering.alerts")
    series_mod = _optional("clustering.series")
    if alerts_mod is None or series_mod is None:
        return None, "Spike alerts not available (clustering.alerts not installed)."
    start = end - pd.Timedelta(days=120)
    tables = []
    try:
        for area in ("jurisdiction", "h3"):
            series = series_mod.incidents_to_daily(
                incidents, area=area, res=res if area == "h3" else None, start=start, end=end)
            nb = series_mod.area_neighbours(series.columns) if area == "h3" else None
            tab = alerts_mod.alert_table(
                alerts_mod.detect(series, "C2"), series=series, neighbours=nb,
                start=end - pd.Timedelta(days=ALERT_DAYS - 1), end=end)
            tables.append(tab)
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"Spike alerts not available for these data ({exc})."
    tab = pd.concat(tables, ignore_index=True)
    shown = pd.DataFrame({
        "date": pd.to_datetime(tab["date"]).dt.strftime("%Y-%m-%d"),
        "area": [cell_label(a) for a in tab["area"].tolist()],
        "count": pd.to_numeric(tab["observed"]).round().astype("int64"),
        "expected": pd.to_numeric(tab["expected"]).astype(float),
        "severity": tab["severity"].astype(str),
        "method": tab["method"].astype(str),
    })
    # alerts first, then detector warnings, then neighbour early warnings; newest first
    rank = np.where(shown["severity"] == "alert", 0, np.where(shown["method"] == "neighbour", 2, 1))
    shown = shown.assign(_r=rank).sort_values(
        ["_r", "date", "count"], ascending=[True, False, False], kind="stable"
    ).drop(columns="_r").reset_index(drop=True)
    note = (f"EARS C2 on daily counts (whole area and H3 res-{res} cells), last {ALERT_DAYS} days "
            f"to {end:%Y-%m-%d}.")
    # "expected" is the C2 baseline mean over 7 days: 7 × expected is a count of that area's
    # baseline days and could reveal 1..k-1 events, so it is gated like one
    shown["count_baseline"] = (7 * shown["expected"].fillna(0)).round().astype("int64")
    pub = publish(shown, pol, count_columns=["count", "count_baseline"])
    pub["expected"] = pub["expected"].where(
        pub["count_baseline"].notna() & pub["count"].notna())
    return pub.drop(columns="count_baseline"), note


def _gaps(incidents, resources, res: int, end: pd.Timestamp, geom, pol):
    """Top rows of the gap product (:func:`products.gaps.gap_table`), the map's window."""
    from products.gaps import gap_table

    if resources is None or not len(resources):
        return None, "Resource gaps not available: no resource sites given."
    stop = end + pd.Timedelta(days=1) if pol.restricted else release_date(end)
    days = MAP_DAYS + 1 if pol.restricted else MAP_DAYS
    query = Query(res=int(res), start=stop - pd.Timedelta(days=days), end=stop)
    try:
        table = gap_table(incidents, resources, query, pol, boundary=geom)
    except ValueError as exc:
        return None, f"Resource gaps not available for these data ({exc})."
    top = table[table["gap_score"] > 0].head(6)  # already sorted by gap_rank
    shown = top[["gap_rank", "h3", "reason"]].reset_index(drop=True)
    shown["area"] = [cell_label(c) for c in shown["h3"].to_numpy(np.uint64)]
    note = ("Gap score = overdose burden × access deficit (products.gaps; our documented "
            f"weighting), largest first; burden {query.describe().split(' · ')[0]}.")
    return shown, note


def briefing_content(
    incidents: pd.DataFrame,
    resources: pd.DataFrame | None = None,
    boundary=None,
    *,
    tier: str | PrivacyPolicy = "public",
    res: int = 7,
    end=None,
    k: int | None = None,
    n_top: int = 8,
) -> BriefingContent:
    """Compute and publish every section of the briefing.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents with uint64 ``h3``.
    resources : DataFrame, optional
        Canonical resource sites (for the gaps section).
    boundary : shapely geometry or GeoDataFrame, optional
        Study area: the map is zero-filled over it and outlined.
    tier : str or PrivacyPolicy
        ``"public"`` (default) or ``"restricted"`` (or a policy).
    res : int
        H3 resolution of the map, top areas and area alerts (default 7; public ≤ 8).
    end : date-like, optional
        Last day included (default: last date in the data, not today).
    k : int, optional
        Suppression threshold (default 10: counts 1–9 hidden).
    n_top : int
        Rows of the top-areas table.

    Returns
    -------
    BriefingContent
    """
    pol = _policy(tier) if k is None else PrivacyPolicy.for_tier(
        tier if isinstance(tier, str) else tier.tier, k=int(k))
    if isinstance(res, bool) or not isinstance(res, int | np.integer) or not 0 <= res <= 15:
        raise ValueError(f"res must be an H3 resolution 0–15, got {res!r}")
    if pol.tier != "restricted" and res > pol.min_res_floor:
        raise ValueError(f"res {res} is finer than the {pol.tier} resolution floor "
                         f"{pol.min_res_floor}; use res={pol.min_res_floor} or coarser")
    if "h3" not in incidents.columns:
        raise ValueError("incidents have no 'h3' column: load them through geo.ingest "
                         "(or index them with geo.grid.index_incidents)")
    last = end_day(incidents, end)
    geom = boundary_geometry(boundary)
    ev = event_arrays(incidents)
    map_table, mode, map_note = _map_table(incidents, int(res), last, geom, pol)
    alerts, alerts_note = _alerts(pd.DataFrame({"occurred_at": ev.t, "h3": ev.h3}), last,
                                  int(res), pol)
    gaps, gaps_note = _gaps(incidents, resources, int(res), last, geom, pol)
    return BriefingContent(
        end=last, policy=pol, res=int(res),
        kpis=kpis(incidents, end=last, policy=pol),
        weekly=weekly_trend(incidents, end=last, policy=pol),
        top=top_areas(incidents, res=int(res), end=last, n=n_top, policy=pol),
        map_table=map_table, map_mode=mode, boundary=geom,
        alerts=alerts, alerts_note=alerts_note, gaps=gaps, gaps_note=gaps_note,
        notes=[map_note] if map_note else [],
    )
