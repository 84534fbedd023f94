"""App layer, part 3: cached wrappers around the analysis library (see :mod:`app_pages._app`).

Every cached function takes primitives only (the source key, resolution, dates, filter tuples)
and calls geo/, clustering/, layers/ or report/; the public wrappers read the session's
choices and call them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._data import (
    _load_boundary,
    _load_incidents,
    file_key,
    sample_path,
    source_key,
)
from app_pages._ui import Filters, policy

__all__ = [
    "kpi_table",
    "weekly_table",
    "hotspots",
    "rates",
    "cell_history",
    "emerging",
    "density",
    "scan",
    "alerts",
    "breakdown",
    "drug_alerts",
    "selected_object",
    "ALERT_RES",
    "ALERT_DAYS",
    "SCAN_DAYS",
    "DENSITY_MAX_POINTS",
    "DENSITY_AUTO_MAX",
    "SCAN_AUTO_MAX",
]


# ------------------------------------------------------------------ overview tables
@st.cache_resource(max_entries=2, show_spinner=False)
def _events_by_source(kind, path, mtime):
    """The whole data set's events with record keys and one row mask per source, built once
    per data set (report.kpis.prepare_events), so a filter change is a numpy OR instead of a
    1M-row string filter plus an event collapse; the overview products take it unchanged."""
    from report.kpis import prepare_events

    return prepare_events(_load_incidents(kind, path, mtime))


def _events(kind, path, mtime):
    """Prepared events of the current data set (shared, read-only)."""
    return _events_by_source(kind, path, mtime)


def _query(res, start, end, outcomes, sources, people=(None, None, None)):
    """The products' Query; ``people`` = the sidebar's (drugs, age_bands, sexes) filters."""
    return _full_query(res, start, end, outcomes, sources, *people)


@st.cache_data(max_entries=8, show_spinner=False)
def _kpis(kind, path, mtime, start, end, outcomes, sources, tier_name,
          people=(None, None, None)) -> pd.DataFrame:
    from products.overview import kpi_table

    return kpi_table(_events(kind, path, mtime),
                     _query(8, start, end, outcomes, sources, people), tier_name)


def kpi_table(f: Filters, tier_name: str) -> pd.DataFrame:
    """products.overview.kpi_table for the sidebar's window (vs its prior) and filters."""
    return _kpis(*source_key(), f.start, f.end, f.outcomes, f.sources, tier_name,
                 people=_people(f))


@st.cache_data(max_entries=8, show_spinner=False)
def _weekly(kind, path, mtime, end, outcomes, sources, tier_name,
            people=(None, None, None)) -> pd.DataFrame:
    from products.overview import weekly_table

    return weekly_table(_events(kind, path, mtime),
                        _query(8, None, end, outcomes, sources, people), tier_name)


def weekly_table(f: Filters, tier_name: str) -> pd.DataFrame:
    """products.overview.weekly_table: 52 weeks to the window's end, sidebar filters."""
    return _weekly(*source_key(), f.end, f.outcomes, f.sources, tier_name, people=_people(f))


# ------------------------------------------------------------------ hotspots
def _policy_of(tier_name: str, k: int):
    from geo.privacy import PrivacyPolicy

    return PrivacyPolicy.for_tier(tier_name, k=int(k))


def _boundary_geometry(bpath: str, bmtime: float):
    """The study area as one WGS84 geometry (cached by ``_load_boundary``), or None."""
    return _load_boundary(bpath, bmtime) if bpath else None


@st.cache_data(max_entries=12, show_spinner="Computing Gi* hot spots…")
def _hotspots(
    kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, k_ring,
    tier_name="restricted", k=10, ppath="", pmtime=0.0, rate="eb", people=(None, None, None),
) -> pd.DataFrame:
    """products.hotspots.hotspot_table on primitives (published for ``tier_name``);
    ``people`` = (drugs, age_bands, sexes) filters."""
    from products.hotspots import hotspot_table

    return hotspot_table(
        _load_incidents(kind, path, mtime),
        _full_query(int(res), start, end, outcomes, sources, *people),
        _policy_of(tier_name, k),
        boundary=_boundary_geometry(bpath, bmtime),
        k_ring=int(k_ring),
        population=_load_population(ppath, pmtime) if ppath else None,
        rate=rate,
    )


def _pol_key() -> tuple[str, int]:
    pol = policy()
    return pol.tier, pol.k


def hotspots(f: Filters, k_ring: int = 1) -> pd.DataFrame:
    """The Gi* hot-spot product for the sidebar's query, published for the session's tier."""
    return _hotspots(
        *source_key(),
        *file_key("boundary"),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        int(k_ring),
        *_pol_key(),
        people=_people(f),
    )


def _people(f: Filters) -> tuple:
    """The sidebar's (drugs, age_bands, sexes) filters, as a cache key."""
    return (getattr(f, "drugs", None), getattr(f, "age_bands", None), getattr(f, "sexes", None))


@st.cache_resource(max_entries=2, show_spinner=False)
def _load_population(path: str, mtime: float):
    import geopandas as gpd

    return gpd.read_file(path)


def _rates(
    kind, path, mtime, bpath, bmtime, ppath, pmtime, res, start, end, outcomes, sources, method,
    tier_name="restricted", k=10, people=(None, None, None),
) -> pd.DataFrame:
    """Rates of the hot-spot product run on population (``population``, ``rate`` columns)."""
    return _hotspots(kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, 1,
                     tier_name, k, ppath, pmtime, method, people)


def rates(f: Filters, method: str = "eb") -> pd.DataFrame | None:
    """Overdoses per 10,000 residents per analysis cell (population area-weighted onto cells;
    ``eb`` = global empirical-Bayes smoothing), or None without a population layer. Published:
    the rate of a suppressed cell is blank."""
    if sample_path("population") is None:
        return None
    return _rates(
        *source_key(),
        *file_key("boundary"),
        *file_key("population"),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        method,
        *_pol_key(),
        people=_people(f),
    )


@st.cache_data(max_entries=16, show_spinner=False)
def _cell_history(kind, path, mtime, res, cell, outcomes, sources, tier_name="restricted",
                  k=10, people=(None, None, None)) -> pd.DataFrame:
    from products.clusters import cell_history as history

    return history(_load_incidents(kind, path, mtime),
                   _query(int(res), None, None, outcomes, sources, people),
                   _policy_of(tier_name, k), int(cell))


def cell_history(f: Filters, cell: int) -> pd.DataFrame:
    """One cell's counts per period over all dates (public: 28-day periods to the release
    date; restricted: months), the sidebar's filters applied, published."""
    return _cell_history(*source_key(), f.res, int(cell), f.outcomes, f.sources, *_pol_key(),
                         people=_people(f))


def selected_object(key: str) -> dict | None:
    """The object clicked on the keyed pydeck chart, if any (``on_select="rerun"``)."""
    state = st.session_state.get(key)
    try:
        objs = state["selection"]["objects"]
    except (KeyError, TypeError):
        return None
    for _layer, items in (objs or {}).items():
        if items:
            return items[0]
    return None


# ------------------------------------------------------------------ emerging, density, scan
@st.cache_data(max_entries=8, show_spinner="Computing emerging hot spots…")
def _emerging(
    kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, slice_,
    tier_name="restricted", k=10, people=(None, None, None),
) -> pd.DataFrame:
    """products.clusters.emerging_table on primitives: window ``[start, end)`` as given (the
    last day of data is counted)."""
    from products.clusters import emerging_table

    return emerging_table(
        _load_incidents(kind, path, mtime),
        _query(int(res), start, end, outcomes, sources, people),
        _policy_of(tier_name, k),
        boundary=_boundary_geometry(bpath, bmtime),
        slice=slice_,
    )


def emerging(f: Filters, slice_: str) -> pd.DataFrame:
    """Emerging hot-spot category per analysis cell for the sidebar's query, published."""
    return _emerging(
        *source_key(),
        *file_key("boundary"),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        slice_,
        *_pol_key(),
        people=_people(f),
    )


#: DBSCAN's neighbourhoods grow quadratically in dense areas: above this, ask for a shorter window.
DENSITY_MAX_POINTS = 50_000
#: Run density clustering automatically below this many overdoses (else on request), so a
#: filter change stays interactive (DBSCAN on 25k points takes ~0.7 s here).
DENSITY_AUTO_MAX = 10_000
#: Run the space-time scan automatically below this many incidents (else on request).
SCAN_AUTO_MAX = 200_000


@st.cache_data(max_entries=8, show_spinner="Finding density clusters…")
def _density(kind, path, mtime, res, start, end, outcomes, sources, eps_m, min_samples,
             tier_name="restricted", k=10, people=(None, None, None)):
    """products.clusters.density_table (DBSCAN) on primitives, published for ``tier_name``."""
    from products.clusters import density_table

    return density_table(
        _load_incidents(kind, path, mtime),
        _query(int(res), start, end, outcomes, sources, people),
        _policy_of(tier_name, k),
        method="dbscan", eps_m=float(eps_m), min_samples=int(min_samples),
    )


def density(f: Filters, eps_m: float, min_samples: int) -> pd.DataFrame:
    """DBSCAN clusters: public (cluster, cell) rows with published counts; restricted one row
    per cluster with dates, centroid and hull."""
    return _density(
        *source_key(), f.res, f.start, f.end, f.outcomes, f.sources, float(eps_m),
        int(min_samples), *_pol_key(), people=_people(f)
    )


@st.cache_data(max_entries=4, show_spinner="Running the space-time scan (999 replicates)…")
def _scan(kind, path, mtime, end, outcomes, sources, res, replicates, tier_name, days,
          people=(None, None, None)):
    from products.alerts import scan_table

    df = _load_incidents(kind, path, mtime)
    return scan_table(df, _query(res, None, end, outcomes, sources, people), tier_name,
                      res=res, replicates=replicates, seed=0, days=days)


def scan(f: Filters, tier_name: str, res: int = 8, replicates: int = 999) -> pd.DataFrame:
    """products.alerts.scan_table: clusters of the SCAN_DAYS days to the window's end."""
    return _scan(*source_key(), f.end, f.outcomes, f.sources, int(res), int(replicates),
                 tier_name, SCAN_DAYS, people=_people(f))


# ------------------------------------------------------------------ alerts
ALERT_RES = 7
ALERT_DAYS = 7
SCAN_DAYS = 28


@st.cache_data(max_entries=8, show_spinner="Checking for spikes…")
def _alerts(kind, path, mtime, end, outcomes, sources, method, res, tier_name,
            days=ALERT_DAYS, people=(None, None, None)) -> pd.DataFrame:
    from products.alerts import current_alerts

    df = _load_incidents(kind, path, mtime)
    return current_alerts(df, _query(res, None, end, outcomes, sources, people), tier_name,
                          method=method, res=res, days=int(days))


def alerts(f: Filters, tier_name: str, method: str = "C2", days: int = ALERT_DAYS
           ) -> pd.DataFrame:
    """products.alerts.current_alerts: the ``days`` days (default ALERT_DAYS) to the window's
    end (whole area and H3 res-ALERT_RES cells), published for ``tier_name``."""
    return _alerts(*source_key(), f.end, f.outcomes, f.sources, method, ALERT_RES, tier_name,
                   int(days), people=_people(f))


# ------------------------------------------------------------------ breakdowns (issue 10)
def _full_query(res, start, end, outcomes, sources, drugs, age_bands, sexes):
    from products.query import Query

    return Query(res=res, start=start, end=end, outcomes=outcomes, sources=sources,
                 drugs=drugs, age_bands=age_bands, sexes=sexes)


@st.cache_data(max_entries=8, show_spinner=False)
def _breakdown(kind, path, mtime, end, outcomes, sources, drugs, age_bands, sexes, by, weeks,
               tier_name) -> pd.DataFrame:
    from products.breakdowns import breakdown_table

    q = _full_query(8, None, end, outcomes, sources, drugs, age_bands, sexes)
    return breakdown_table(_load_incidents(kind, path, mtime), q, tier_name, by=by,
                           weeks=int(weeks))


def breakdown(f: Filters, tier_name: str, by: str = "drug", weeks: int = 12) -> pd.DataFrame:
    """products.breakdowns.breakdown_table: weekly counts by drug/age/sex to the window's end,
    all sidebar filters, published for ``tier_name``."""
    return _breakdown(*source_key(), f.end, f.outcomes, f.sources, f.drugs, f.age_bands,
                      f.sexes, by, int(weeks), tier_name)


@st.cache_data(max_entries=8, show_spinner="Checking for bad batches…")
def _drug_alerts(kind, path, mtime, end, outcomes, sources, drugs, age_bands, sexes, method,
                 res, days, tier_name) -> pd.DataFrame:
    from products.alerts import current_alerts

    q = _full_query(res, None, end, outcomes, sources, drugs, age_bands, sexes)
    return current_alerts(_load_incidents(kind, path, mtime), q, tier_name, method=method,
                          res=res, days=int(days))


def drug_alerts(f: Filters, tier_name: str, drug: str, method: str = "C2",
                days: int = 28) -> pd.DataFrame:
    """products.alerts.current_alerts on the sidebar's query narrowed to one suspected drug
    ("bad batch" warnings), ``days`` days to the window's end."""
    return _drug_alerts(*source_key(), f.end, f.outcomes, f.sources, (drug,), f.age_bands,
                        f.sexes, method, ALERT_RES, int(days), tier_name)
