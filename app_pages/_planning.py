"""App layer, part 4: cached wrappers for siting, outreach and gaps (see :mod:`app_pages._app`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._analysis import _hotspots
from app_pages._data import (
    _cell_counts,
    _grid,
    _load_sites,
    _mtime,
    _subset,
    file_key,
    incidents,
    resources,
    sample_path,
    source_key,
)
from app_pages._ui import Filters, policy, tier

__all__ = ["siting", "outreach", "outreach_list", "filter_sites", "gap_table"]


# ------------------------------------------------------------------ siting
@st.cache_data(max_entries=8, show_spinner=False)
def _siting(
    kind,
    path,
    mtime,
    res,
    start,
    end,
    outcomes,
    sources,
    rpath,
    rmtime,
    cpath,
    cmtime,
    k,
    radius_m,
    types,
    only_24_7,
    method,
    time_limit,
) -> dict:
    from layers.siting_plan import plan_sites

    demand = _cell_counts(kind, path, mtime, res, start, end, outcomes, sources)
    cand = _load_sites(cpath, cmtime, "candidates")
    existing = None
    if rpath:
        res_sites = _load_sites(rpath, rmtime, "resources")
        existing = res_sites[res_sites["kind"].astype(str) == "naloxone"]
    plan = plan_sites(
        demand,
        cand,
        int(k),
        float(radius_m),
        existing=existing,
        types=list(types),
        only_24_7=bool(only_24_7),
        method=method,
        time_limit=float(time_limit),
    )
    kmax = int(min(max(k, 10), plan.summary["n_candidates_allowed"]))
    curve = plan_sites(
        demand,
        cand,
        kmax,
        float(radius_m),
        existing=existing,
        types=list(types),
        only_24_7=bool(only_24_7),
        method="greedy",
    ).result
    covered = curve.covered_before + np.r_[0.0, np.cumsum(curve.marginal)]
    return {
        "sites": plan.sites,
        "result": plan.result,
        "summary": plan.summary,
        "curve": pd.DataFrame(
            {"k": np.arange(covered.size), "covered": covered, "total": curve.total_burden}
        ),
    }


def siting(
    f: Filters,
    k: int,
    radius_m: float,
    types: tuple[str, ...],
    only_24_7: bool,
    method: str,
    time_limit: float = 30.0,
) -> dict:
    """Recommended new naloxone sites (layers.siting_plan) for the current demand and options.

    Returns ``{"sites": chosen candidates in order with marginal_covered, "result":
    SitingResult, "summary": dict, "curve": greedy coverage vs k}``.
    """
    cp = sample_path("candidates")
    rp = st.session_state.get("resources_path") or sample_path("resources")
    return _siting(
        *source_key(),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        str(rp) if rp else "",
        _mtime(rp),
        str(cp),
        _mtime(cp),
        int(k),
        float(radius_m),
        tuple(sorted(types)),
        bool(only_24_7),
        method,
        float(time_limit),
    )


# ------------------------------------------------------------------ outreach
@st.cache_data(max_entries=8, show_spinner=False)
def _outreach(kind, path, mtime, res, sources, rpath, rmtime) -> pd.DataFrame:
    from layers.outreach import recent_nonfatal

    df = _subset(kind, path, mtime, None, None, None, sources)
    sites = _load_sites(rpath, rmtime, "resources") if rpath else None
    return recent_nonfatal(df, res=res, sites=sites)


def outreach(f: Filters) -> pd.DataFrame:
    """Nonfatal overdoses in the last 24/48/72 h per area with nearest resources (unpublished)."""
    rp = st.session_state.get("resources_path") or sample_path("resources")
    return _outreach(*source_key(), f.res, f.sources, str(rp) if rp else "", _mtime(rp))


def outreach_list(f: Filters, hours: int) -> pd.DataFrame:
    """The restricted-tier line list (person-level: only call after checking the tier)."""
    from geo.grid import filter_incidents
    from layers.outreach import outreach_line_list

    if tier() != "restricted":
        raise PermissionError("the outreach line list is restricted-tier only")
    df = filter_incidents(incidents(), sources=f.sources)
    return outreach_line_list(df, hours=hours, sites=resources())


# ------------------------------------------------------------------ gaps
_TRUE = ("true", "1", "yes", "y", "t")


def _flag(sites: pd.DataFrame, col: str) -> np.ndarray:
    if col not in sites.columns:
        return np.zeros(len(sites), bool)
    return sites[col].astype(str).str.lower().isin(_TRUE).to_numpy()


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
def _gaps(
    kind,
    path,
    mtime,
    bpath,
    bmtime,
    res,
    outcomes,
    sources,
    rpath,
    rmtime,
    moud,
    medicaid,
    only_247,
    open_at,
    k_suppress,
) -> pd.DataFrame:
    from layers.gaps import build_gap_table

    df = _subset(kind, path, mtime, None, None, outcomes, sources)
    sites = filter_sites(_load_sites(rpath, rmtime, "resources"), moud, medicaid, only_247, open_at)
    if bpath:
        cells = _grid(bpath, bmtime, res)
    else:
        cells = np.unique(_cell_counts(kind, path, mtime, res, None, None, outcomes, sources)["h3"])
    end = pd.to_datetime(df["occurred_at"]).max()
    hot = _hotspots(
        kind,
        path,
        mtime,
        bpath,
        bmtime,
        res,
        end.normalize() - pd.Timedelta(days=364),
        end.normalize() + pd.Timedelta(days=1),
        outcomes,
        sources,
        1,
    )
    return build_gap_table(
        df, sites, cells, res, hotspots=hot[["h3", "class"]], suppress_below=k_suppress
    )


def gap_table(
    f: Filters, moud: tuple[str, ...], medicaid: bool, only_247: bool, open_at=None
) -> pd.DataFrame | None:
    """layers.gaps.build_gap_table for the analysis grid, filtered sites and Gi* classes of the
    last 12 months (unpublished; the reason text is already safe for the current tier)."""
    rp = st.session_state.get("resources_path") or sample_path("resources")
    if rp is None:
        return None
    return _gaps(
        *source_key(),
        *file_key("boundary"),
        f.res,
        f.outcomes,
        f.sources,
        str(rp),
        _mtime(rp),
        tuple(sorted(moud)),
        bool(medicaid),
        bool(only_247),
        open_at,
        policy().k if tier() == "public" else None,
    )
