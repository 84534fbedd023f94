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

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng
from geo.privacy import PrivacyPolicy, as_policy, release_date
from products.hotspots import cell_table, hotspot_table
from products.overview import kpi_table, top_areas, weekly_table
from products.query import Query, check_filters, check_resolution, data_end, select
from report.events import end_day
from report.kpis import prepare_events
from report.maps import boundary_geometry

__all__ = ["BriefingContent", "briefing_content", "cell_label", "ALERT_DAYS"]

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
    query: Query | None = None  # the filters and map window printed on the page


def cell_label(cell) -> str:
    """Readable name of an area: ``"whole area"`` or the cell centre (``"36.07N 79.79W"``)."""
    if isinstance(cell, str):
        return "whole area" if cell == "jurisdiction" else cell
    lat, lon = cells_to_latlng(np.array([cell], dtype=np.uint64))
    a, o = float(lat[0]), float(lon[0])
    return f"{abs(a):.2f}{'N' if a >= 0 else 'S'} {abs(o):.2f}{'E' if o >= 0 else 'W'}"


def _map_table(incidents: pd.DataFrame, filters: Query, end: pd.Timestamp, geom,
               pol: PrivacyPolicy):
    """The briefing's map: the hot-spot product (:func:`products.hotspots.hotspot_table`), the
    same function and grid rule as ``gapmap hotspots`` and the Hotspots page.

    Window: the 364 days (52 whole weeks) to the release date of ``end`` in public — a fixed
    release window, the dashboard's "Last 52 weeks" — and the 365 days to ``end`` (included)
    in the restricted tier, the dashboard's "Last 365 days". Too few
    cells for Gi*: the published counts (:func:`products.hotspots.cell_table`).
    """
    if pol.restricted:
        stop = end + pd.Timedelta(days=1)
        days = MAP_DAYS + 1  # the dashboard's "Last 365 days"
    else:
        stop = release_date(end)
        days = MAP_DAYS
    query = replace(filters, start=stop - pd.Timedelta(days=days), end=stop)
    try:
        table = hotspot_table(incidents, query, pol, boundary=geom, k_ring=1)
    except ValueError as exc:
        if "Gi* needs at least 3" not in str(exc):
            raise
        table = cell_table(incidents, query, pol, boundary=geom, breakdown=False)
        return table, "count", "Too few cells for hot-spot statistics: map shows counts."
    return table, "class", ""


def _query(filters: Query, end: pd.Timestamp, pol: PrivacyPolicy) -> Query:
    """The briefing's filters with its window end: the day after ``end`` (restricted) or its
    release date."""
    stop = end + pd.Timedelta(days=1) if pol.restricted else release_date(end)
    return replace(filters, start=None, end=stop)


def _alerts(incidents: pd.DataFrame, end: pd.Timestamp, filters: Query, pol: PrivacyPolicy):
    """The alert product (:func:`products.alerts.current_alerts`, EARS C2, whole area and H3
    cells), the last ``ALERT_DAYS`` days to the window end; rendered alerts first, newest
    first, with ``observed`` shown as ``count``."""
    from products.alerts import current_alerts

    res = filters.res
    query = _query(filters, end, pol)
    try:
        tab = current_alerts(incidents, query, pol, method="C2", res=int(res), days=ALERT_DAYS)
    except (ValueError, KeyError, TypeError) as exc:
        return None, f"Spike alerts not available for these data ({exc})."
    # alerts first, then detector warnings, then neighbour early warnings; newest first
    rank = np.where(tab["severity"] == "alert", 0, np.where(tab["method"] == "neighbour", 2, 1))
    shown = tab.assign(_r=rank).sort_values(
        ["_r", "date", "observed"], ascending=[True, False, False], kind="stable",
        na_position="last").drop(columns="_r").reset_index(drop=True)
    shown["date"] = shown["date"].dt.strftime("%Y-%m-%d")
    last = query.end - pd.Timedelta(days=1)
    note = (f"EARS C2 on daily counts (whole area and H3 res-{res} cells), last {ALERT_DAYS} days "
            f"to {last:%Y-%m-%d}.")
    if tab.attrs.get("no_baseline"):
        note += (f" {tab.attrs['no_baseline']} day(s) not tested: their baseline starts before "
                 "the first record.")
    if tab.attrs.get("withheld"):
        note += (f" {tab.attrs['withheld']} more in areas with fewer than 10 overdoses that day "
                 "(restricted tier only).")
    return shown.rename(columns={"observed": "count"}), note


def _gaps(incidents, resources, filters: Query, end: pd.Timestamp, geom, pol, travel=None,
          roads=None):
    """Top rows of the gap product (:func:`products.gaps.gap_table`), the map's window."""
    from products.gaps import gap_table

    if resources is None or not len(resources):
        return None, "Resource gaps not available: no resource sites given."
    stop = end + pd.Timedelta(days=1) if pol.restricted else release_date(end)
    days = MAP_DAYS + 1 if pol.restricted else MAP_DAYS
    query = replace(filters, start=stop - pd.Timedelta(days=days), end=stop)
    try:
        table = gap_table(incidents, resources, query, pol, boundary=geom, travel=travel,
                          roads=roads)
    except ValueError as exc:
        return None, f"Resource gaps not available for these data ({exc})."
    top = table[table["gap_score"] > 0].head(6)  # already sorted by gap_rank
    shown = top[["gap_rank", "h3", "reason"]].reset_index(drop=True)
    if travel in ("walk", "drive"):
        mins = top["travel_min_naloxone"].to_numpy(float)
        shown["reason"] = [f"naloxone {m:.0f} min by {travel}; {r}" if np.isfinite(m)
                           else f"no route to naloxone by {travel}; {r}"
                           for r, m in zip(shown["reason"], mins, strict=True)]
    from products.overview import unique_labels

    cells = shown["h3"].to_numpy(np.uint64)
    shown["area"] = unique_labels([cell_label(c) for c in cells], cells)
    note = ("Gap score = overdose burden × access deficit (products.gaps; our documented "
            f"weighting), largest first; burden {query.describe().split(' · ')[0]}.")
    if travel in ("walk", "drive"):
        from layers.travel import mode_words

        note += f" Minutes to naloxone: {mode_words(travel)}."
    return shown, note


def _data_notes(c: BriefingContent) -> list[str]:
    """Caveats on what the data hold: fields not recorded, comparisons without data, warnings
    of the hot-spot product (e.g. significance out of reach)."""
    from products.overview import KNOWN_MIN_PCT

    notes = []
    k = c.kpis
    for name, what in (("outcome", "Outcome (fatal/nonfatal)"), ("naloxone", "Naloxone")):
        col = f"{name}_status"
        if col in k.columns and (k[col] == "not recorded").any():
            notes.append(f"{what}: not recorded — known for less than {KNOWN_MIN_PCT:.0f}% of "
                         "events in this export, so no figure is given (unknown is not zero).")
    if "prior_status" in k.columns and (k["prior_status"] != "complete").any():
        notes.append("Prior periods that start before the first record are marked 'no data' or "
                     "'partial'; no change is computed against them.")
    notes += list(getattr(c.map_table, "attrs", {}).get("warnings", []))
    return notes


def _add_labels(c: BriefingContent, geography) -> None:
    """A ``label`` (area names, nearest place) on the top areas, cell alerts and gaps."""
    from geo.cells import str_to_cells
    from geo.labels import cell_labels

    layers, places = geography
    c.top = c.top.assign(label=cell_labels(c.top["h3"].to_numpy(np.uint64), layers,
                                           places).to_numpy())
    if c.gaps is not None and len(c.gaps):
        c.gaps = c.gaps.assign(label=cell_labels(c.gaps["h3"].to_numpy(np.uint64), layers,
                                                 places).to_numpy())
    if c.alerts is not None and len(c.alerts) and "area_type" in c.alerts.columns:
        cell = (c.alerts["area_type"] == "h3").to_numpy()
        lab = np.full(len(c.alerts), "", dtype=object)
        if cell.any():
            hexes = c.alerts.loc[cell, "area"].astype(str).to_numpy()
            lab[cell] = cell_labels(str_to_cells(hexes), layers, places).to_numpy()
        c.alerts = c.alerts.assign(label=lab)


def briefing_content(
    incidents: pd.DataFrame,
    resources: pd.DataFrame | None = None,
    boundary=None,
    *,
    tier: str | PrivacyPolicy = "public",
    res: int = 8,
    end=None,
    k: int | None = None,
    n_top: int = 8,
    outcomes: tuple[str, ...] | None = None,
    sources: tuple[str, ...] | None = None,
    geography=None,
    travel: str | None = None,
    roads=None,
    drugs: tuple[str, ...] | None = None,
    age_bands: tuple[str, ...] | None = None,
    sexes: tuple[str, ...] | None = None,
    query: Query | None = None,
) -> BriefingContent:
    """Compute and publish every section of the briefing.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    resources : DataFrame, optional
        Canonical resource sites (for the gaps section).
    boundary : shapely geometry or GeoDataFrame, optional
        Study area: the map is zero-filled over it and outlined.
    tier : str or PrivacyPolicy
        ``"public"`` (default) or ``"restricted"`` (or a policy).
    res : int
        H3 resolution of the map, top areas and area alerts (default 8, as the dashboard).
    end : date-like, optional
        First day **excluded** (windows are ``[start, end)`` everywhere); default the day after
        the last incident. Public: windows end on the release date at or before it.
    k : int, optional
        Suppression threshold (default 10: counts 1–9 hidden).
    n_top : int
        Rows of the top-areas table.
    outcomes, sources, drugs, age_bands, sexes : tuple of str, optional
        Filters applied to every section (printed on the page); public: all or one of each.
    query : products.query.Query, optional
        The same filters as one query (its outcomes, sources, drugs, age bands and sexes
        replace the keyword filters; its window and resolution are not used: the briefing has
        its own windows and ``res``).
    geography : (list of AreaLayer, DataFrame or None), optional
        Area layers and places: top areas, alerts and gaps then carry a ``label``
        (:func:`geo.labels.cell_labels`, e.g. "Northgate Downtown · ZIP 00011").

    Returns
    -------
    BriefingContent
    """
    pol = as_policy(tier) if k is None else PrivacyPolicy.for_tier(
        tier if isinstance(tier, str) else tier.tier, k=int(k))
    res = check_resolution(res, pol)
    if query is not None:
        outcomes, sources, drugs, age_bands, sexes = (
            query.outcomes, query.sources, query.drugs, query.age_bands, query.sexes)
    filters = Query(res=res, outcomes=outcomes, sources=sources, drugs=drugs,
                    age_bands=age_bands, sexes=sexes)
    check_filters(filters, pol)
    # every section selects through ``filters``; windows and the release date come from the
    # whole data set (as on the dashboard), never from the filtered subset
    if not len(incidents) or not len(select(incidents, filters)):
        raise ValueError("no incidents match the briefing's filters")
    if end is None:
        last = end_day(incidents, None)
    else:
        try:
            last = pd.Timestamp(end).normalize() - pd.Timedelta(days=1)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"end must be a date like 2026-11-16, got {end!r}") from exc
    if not pol.restricted:
        last = min(last, release_date(data_end(incidents)) - pd.Timedelta(days=1))
    geom = boundary_geometry(boundary)
    map_table, mode, map_note = _map_table(incidents, filters, last, geom, pol)
    alerts, alerts_note = _alerts(incidents, last, filters, pol)
    gaps, gaps_note = _gaps(incidents, resources, filters, last, geom, pol, travel, roads)
    stop = _query(filters, last, pol).end
    prep = prepare_events(incidents)  # built once for the three overview tables
    days = MAP_DAYS if not pol.restricted else MAP_DAYS + 1
    content = BriefingContent(
        end=stop - pd.Timedelta(days=1), policy=pol, res=res,
        kpis=kpi_table(prep, _query(filters, last, pol), pol),
        weekly=weekly_table(prep, _query(filters, last, pol), pol),
        top=top_areas(prep, _query(filters, last, pol), pol, n=n_top),
        map_table=map_table, map_mode=mode, boundary=geom,
        alerts=alerts, alerts_note=alerts_note, gaps=gaps, gaps_note=gaps_note,
        notes=[map_note] if map_note else [],
    )
    content.notes += _data_notes(content)
    if geography is not None:
        _add_labels(content, geography)
    content.query = replace(filters, start=stop - pd.Timedelta(days=days), end=stop)
    return content
