"""App layer, part 4: cached wrappers for siting, outreach and gaps (see :mod:`app_pages._app`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._analysis import _boundary_geometry, _people, _pol_key, _policy_of, _query
from app_pages._data import (
    _load_incidents,
    _load_sites,
    _mtime,
    file_key,
    incidents,
    resources,
    sample_path,
    source_key,
)
from app_pages._ui import Filters, tier

__all__ = ["siting", "outreach", "outreach_totals", "outreach_list", "filter_sites", "gap_table",
           "roads_path", "reach_outline", "gap_travel_notes", "island_note"]


def _resources_key() -> tuple[str, float]:
    rp = st.session_state.get("resources_path") or sample_path("resources")
    return (str(rp) if rp else "", _mtime(rp))


# ------------------------------------------------------------------ siting
@st.cache_data(max_entries=8, show_spinner=False)
def _siting(kind, path, mtime, res, start, end, outcomes, sources, rpath, rmtime, cpath, cmtime,
            k, radius_m, types, only_24_7, exact, time_limit, tier_name, k_suppress,
            travel=None, roads_path="", roads_mtime=0.0, minutes=None, people=(None, None, None)):
    """products.siting.siting_plan on primitives (published for ``tier_name``)."""
    from products.siting import siting_plan

    return siting_plan(
        _load_incidents(kind, path, mtime),
        _load_sites(rpath, rmtime, "resources") if rpath else None,
        _load_sites(cpath, cmtime, "candidates") if cpath else None,
        _query(int(res), start, end, outcomes, sources, people),
        _policy_of(tier_name, k_suppress),
        int(k),
        float(radius_m),
        bool(exact),
        types=list(types),
        only_24_7=bool(only_24_7),
        time_limit=float(time_limit),
        travel=travel,
        roads=roads_path or None,
        minutes=minutes,
    )


def siting(
    f: Filters,
    k: int,
    radius_m: float,
    types: tuple[str, ...],
    only_24_7: bool,
    exact: bool = False,
    time_limit: float = 30.0,
    travel: str | None = None,
    minutes: float | None = None,
):
    """The siting product for the sidebar's query and the page's options (a SitingOutput)."""
    return _siting(*source_key(), f.res, f.start, f.end, f.outcomes, f.sources,
                   *_resources_key(), *file_key("candidates"), int(k), float(radius_m),
                   tuple(sorted(types)), bool(only_24_7), bool(exact), float(time_limit),
                   *_pol_key(), *_travel_key(travel), minutes, people=_people(f))


# ------------------------------------------------------------------ outreach
@st.cache_data(max_entries=8, show_spinner=False)
def _outreach(kind, path, mtime, res, sources, rpath, rmtime, tier_name, k_suppress,
              people=(None, None, None)):
    """products.outreach.outreach_table and its totals on primitives."""
    from products.outreach import outreach_end, outreach_table, outreach_totals

    df = _load_incidents(kind, path, mtime)
    q = _query(int(res), None, None, None, sources, people)
    pol = _policy_of(tier_name, k_suppress)
    sites = _load_sites(rpath, rmtime, "resources") if rpath else None
    return (outreach_table(df, sites, q, pol), outreach_totals(df, q, pol),
            outreach_end(df, q, pol))


def outreach(f: Filters) -> pd.DataFrame:
    """Published nonfatal overdoses in the last 24/48/72 h per area with nearest resources."""
    return _outreach(*source_key(), f.res, f.sources, *_resources_key(), *_pol_key(),
                     people=_people(f))[0]


def outreach_totals(f: Filters) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Published whole-area totals per window and the windows' end (a midnight)."""
    out = _outreach(*source_key(), f.res, f.sources, *_resources_key(), *_pol_key(),
                    people=_people(f))
    return out[1], out[2]


def outreach_list(f: Filters, hours: int) -> pd.DataFrame:
    """The restricted-tier line list (person-level: only call after checking the tier)."""
    from layers.outreach import outreach_line_list
    from products.query import select

    if tier() != "restricted":
        raise PermissionError("the outreach line list is restricted-tier only")
    # sources and drug / age band / sex (the window and outcomes do not apply: last hours)
    df = select(incidents(), _query(f.res, None, None, None, f.sources, _people(f)))
    return outreach_line_list(df, hours=hours, sites=resources())


# ------------------------------------------------------------------ gaps
def _flag(sites: pd.DataFrame, col: str) -> np.ndarray:
    """True where a yes/no column says yes (the one parser, :func:`geo.validate.parse_bool`)."""
    from geo.validate import parse_bool

    if col not in sites.columns:
        return np.zeros(len(sites), bool)
    values = sites[col]
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(bool)
    return parse_bool(values)[0] == "yes"


def filter_sites(
    sites: pd.DataFrame,
    moud: tuple[str, ...] = (),
    medicaid: bool = False,
    only_247: bool = False,
    open_at=None,
) -> pd.DataFrame:
    """Sites passing the Gaps page filters (MOUD offered and Medicaid apply to treatment sites)."""
    keep = np.ones(len(sites), bool)
    is_treat = (sites["kind"].astype(str) == "treatment").to_numpy()
    if moud:
        keep &= ~is_treat | np.logical_or.reduce([_flag(sites, m) for m in moud])
    if medicaid:
        keep &= ~is_treat | _flag(sites, "medicaid")
    if only_247:
        keep &= _flag(sites, "open_24_7")
    if open_at is not None:
        from layers.hours import sites_open_at

        keep &= sites_open_at(sites, open_at)
    return sites[keep]


@st.cache_data(max_entries=8, show_spinner="Scoring resource gaps…")
def _gaps(kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, rpath, rmtime,
          moud, medicaid, only_247, open_at, tier_name, k_suppress, travel=None, roads_path="",
          roads_mtime=0.0, within_min=None, people=(None, None, None)) -> pd.DataFrame:
    """products.gaps.gap_table on primitives (published for ``tier_name``)."""
    from products.gaps import gap_table

    every = _load_sites(rpath, rmtime, "resources")
    sites = filter_sites(every, moud, medicaid, only_247, open_at)
    return gap_table(
        _load_incidents(kind, path, mtime),
        sites,
        _query(int(res), start, end, outcomes, sources, people),
        _policy_of(tier_name, k_suppress),
        boundary=_boundary_geometry(bpath, bmtime),
        open_at=open_at,
        travel=travel,
        roads=roads_path or None,
        all_resources=every,  # "no … site matches the site filters", not "… in the data"
        **({} if within_min is None else {"within_min": float(within_min)}),
    )


def gap_table(
    f: Filters, moud: tuple[str, ...], medicaid: bool, only_247: bool, open_at=None,
    travel: str | None = None, within_min: float | None = None,
) -> pd.DataFrame | None:
    """The gap product for the sidebar's query (window, outcomes, sources, resolution), the
    page's site filters and the session's tier (published), or None without resources;
    ``within_min``: minutes of ``sites_within_min_<group>`` (walk / drive)."""
    rpath, rmtime = _resources_key()
    if not rpath:
        return None
    return _gaps(*source_key(), *file_key("boundary"), f.res, f.start, f.end, f.outcomes,
                 f.sources, rpath, rmtime, tuple(sorted(moud)), bool(medicaid), bool(only_247),
                 open_at, *_pol_key(), *_travel_key(travel), within_min, people=_people(f))


# ------------------------------------------------------------------ travel (issue 11)
#: Environment variable naming the road network (default: the bundled sample roads).
ROADS_ENV = "GAPMAP_ROADS"


def roads_path():
    """The road network file: ``GAPMAP_ROADS``, else the bundled sample's; None if absent."""
    import os
    from pathlib import Path

    env = os.environ.get(ROADS_ENV, "").strip()
    if env:
        return Path(env) if Path(env).exists() else None
    from data import get_path

    try:
        return get_path("roads")
    except FileNotFoundError:
        return None


def _travel_key(travel: str | None) -> tuple:
    if travel in (None, "straight"):
        return (travel, "", 0.0)
    p = roads_path()
    return (travel, str(p) if p else "", _mtime(p))


@st.cache_data(max_entries=16, show_spinner=False)
def _outline(travel, roads_path_, roads_mtime, minutes, lat, lon):
    from layers.reach import reach_outline, travel_profile

    g = travel_profile(travel, roads_path_)
    return reach_outline(g, np.asarray(lat, float), np.asarray(lon, float), float(minutes))


def reach_outline(travel: str | None, minutes: float, sites: pd.DataFrame):
    """Area within ``minutes`` along the streets of the sites (``lat``, ``lon``), or None."""
    if travel in (None, "straight") or sites is None or not len(sites):
        return None
    _, rp, rm = _travel_key(travel)
    if not rp:
        return None
    return _outline(travel, rp, rm, float(minutes),
                    tuple(np.round(sites["lat"].to_numpy(float), 6)),
                    tuple(np.round(sites["lon"].to_numpy(float), 6)))


@st.cache_data(max_entries=16, show_spinner=False)
def _gap_notes(travel, roads_path_, roads_mtime, rpath, rmtime, moud, medicaid, only_247,
               open_at):
    from products.gaps import travel_notes

    sites = filter_sites(_load_sites(rpath, rmtime, "resources"), moud, medicaid, only_247,
                         open_at)
    return travel_notes(sites, travel, roads_path_)


def gap_travel_notes(travel: str | None, moud: tuple[str, ...], medicaid: bool, only_247: bool,
                     open_at=None) -> list[str]:
    """Sentences for the Gaps page when some sites lie on an island of the road network
    (:func:`products.gaps.travel_notes`); empty for straight line."""
    rpath, rmtime = _resources_key()
    _, rp, rm = _travel_key(travel)
    if travel in (None, "straight") or not rpath or not rp:
        return []
    return _gap_notes(travel, rp, rm, rpath, rmtime, tuple(sorted(moud)), bool(medicaid),
                      bool(only_247), open_at)


@st.cache_data(max_entries=16, show_spinner=False)
def _island(travel, roads_path_, roads_mtime, lat, lon, what):
    from layers.reach import travel_profile
    from layers.travel import island_note as _note

    return _note(travel_profile(travel, roads_path_), np.asarray(lat, float),
                 np.asarray(lon, float), what)


def island_note(travel: str | None, sites: pd.DataFrame | None, what: str) -> str | None:
    """One sentence when some of ``sites`` (``lat``, ``lon``) lie on an island of the road
    network (:func:`layers.travel.island_note`), else None."""
    if travel in (None, "straight") or sites is None or not len(sites):
        return None
    _, rp, rm = _travel_key(travel)
    if not rp:
        return None
    return _island(travel, rp, rm, tuple(np.round(sites["lat"].to_numpy(float), 6)),
                   tuple(np.round(sites["lon"].to_numpy(float), 6)), what)
