"""Naloxone-site planning from tables: the DataFrame adapter of the MCLP core.

:func:`plan_sites` takes demand cells (``h3`` + a burden column, e.g. the ``count`` of
:func:`geo.grid.incidents_to_cells`), candidate host sites (``site_id, name, subtype, lat, lon,
open_24_7``) or none (then every demand-cell centre is a candidate), and existing sites (which
fix the cells within the radius as covered). It applies the filters (candidate types, 24/7
only), builds the coverage matrix (:mod:`layers.coverage`) and the spacing conflicts, solves
(:func:`layers.siting.solve_mclp`) and returns the chosen sites in order with their marginal
burden, plus a summary.

References
----------
Church, R. and ReVelle, C. (1974). The maximal covering location problem. *Papers of the
Regional Science Association* 32, 101–118.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo.cells import cells_to_latlng, cells_to_str
from geo.validate import parse_bool
from layers.coverage import coverage_matrix, covered_by_any, pairs_within
from layers.siting import SitingResult, solve_mclp

__all__ = ["SitingPlan", "plan_sites", "CANDIDATE_TYPES", "SITE_COLUMNS"]

#: Candidate host-site types of the bundled sample (others are accepted if present in the file).
CANDIDATE_TYPES = ("library", "fire_station", "transit_stop", "convenience_store")
#: Columns of the chosen-sites table, in order.
SITE_COLUMNS = [
    "order",
    "site_id",
    "name",
    "subtype",
    "lat",
    "lon",
    "open_24_7",
    "marginal_covered",
]


@dataclass(frozen=True)
class SitingPlan:
    """Chosen sites (one row each, in order), a summary dict, and the raw array result."""

    sites: pd.DataFrame
    summary: dict
    result: SitingResult


def _truthy(values: pd.Series) -> np.ndarray:
    """True where a yes/no column says yes (:func:`geo.validate.parse_bool`); unknown → False."""
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).to_numpy(bool)
    return parse_bool(values)[0] == "yes"


def _check_demand(demand: pd.DataFrame, weight: str) -> tuple[np.ndarray, np.ndarray]:
    for c in ("h3", weight):
        if c not in demand.columns:
            raise ValueError(f"demand table needs column {c!r}; found {list(demand.columns)}")
    cells = demand["h3"].to_numpy()
    if cells.dtype != np.uint64:
        from geo.cells import str_to_cells

        cells = str_to_cells(cells.astype(str))
    w = pd.to_numeric(demand[weight], errors="coerce").to_numpy(float)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"demand column {weight!r} must be non-negative numbers with no gaps")
    return cells, w


def _check_sites(df: pd.DataFrame, what: str) -> None:
    missing = [c for c in ("lat", "lon") if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} need columns 'lat' and 'lon'; missing {missing}, found {list(df.columns)}"
        )


def _candidates_from_cells(cells: np.ndarray) -> pd.DataFrame:
    lat, lon = cells_to_latlng(cells)
    ids = cells_to_str(cells)
    return pd.DataFrame(
        {
            "site_id": ids,
            "name": "cell centre " + pd.Series(ids, dtype="string"),
            "subtype": "cell_centre",
            "lat": lat,
            "lon": lon,
            "open_24_7": pd.array([pd.NA] * cells.size, dtype="boolean"),
            "h3": cells,
        }
    )


def plan_sites(
    demand: pd.DataFrame,
    candidates: pd.DataFrame | None,
    k: int,
    radius_m: float,
    *,
    existing: pd.DataFrame | None = None,
    weight: str = "count",
    types: list[str] | tuple[str, ...] | None = None,
    only_24_7: bool = False,
    min_spacing_m: float = 0.0,
    method: str = "heuristic",
    lp_bound: bool = False,
    time_limit: float = 60.0,
    progress: Callable[[dict], None] | None = None,
    coverage: Callable | None = None,
) -> SitingPlan:
    """Choose ``k`` new naloxone sites that cover the most burden within ``radius_m``.

    Parameters
    ----------
    demand : DataFrame
        One row per analysis cell: ``h3`` (uint64 or hex) and the burden column ``weight``.
    candidates : DataFrame or None
        Host sites with ``lat, lon`` (and ``site_id, name, subtype, open_24_7``); ``None`` uses
        every demand-cell centre as a candidate (the site table then carries ``h3``).
    k : int
        Number of new sites.
    radius_m : float
        Coverage radius in great-circle metres (e.g. 400 m walk for naloxone).
    existing : DataFrame, optional
        Existing sites (``lat, lon``); cells within the radius count as covered already.
    types : sequence of str, optional
        Allowed candidate ``subtype`` values (default: all).
    only_24_7 : bool
        Only candidates with ``open_24_7`` true.
    min_spacing_m : float
        No two chosen sites closer than this (0 = no rule).
    method, lp_bound, time_limit, progress
        See :func:`layers.siting.solve_mclp`.
    coverage : callable, optional
        ``coverage(demand_lat, demand_lon, site_lat, site_lon) -> sparse (n, m)`` non-zero
        where a site covers a demand point (e.g. within M minutes on the road network,
        :func:`layers.travel.coverage_within`); default: great-circle within ``radius_m``.

    Returns
    -------
    SitingPlan
        ``sites`` columns :data:`SITE_COLUMNS` (+ ``h3`` for cell-centre candidates): only
        sites that newly cover some burden — when the next site would cover nothing the plan
        stops (``summary["stopped_early"]``, ``summary["note"]`` says so; ``n_chosen`` < k);
        ``summary`` with ``total_burden, covered_before, covered_after, objective,
        upper_bound, gap, coverage_pct_before, coverage_pct_after, method, status, time_s``.

    References
    ----------
    Church, R. and ReVelle, C. (1974). The maximal covering location problem.
    """
    cells, w = _check_demand(demand, weight)
    if float(radius_m) < 0 or not np.isfinite(float(radius_m)):
        raise ValueError(f"radius_m must be a non-negative number of metres, got {radius_m!r}")
    cand = (
        _candidates_from_cells(cells) if candidates is None else candidates.reset_index(drop=True)
    )
    if len(cand) == 0:
        raise ValueError("candidates is empty: give at least k candidate host sites")
    _check_sites(cand, "candidates")
    if "site_id" not in cand.columns:
        cand = cand.assign(site_id=[f"candidate_{i + 1}" for i in range(len(cand))])
    allowed = np.ones(len(cand), bool)
    if types:
        if "subtype" not in cand.columns:
            raise ValueError("a type filter needs a 'subtype' column in the candidates")
        present = sorted(cand["subtype"].dropna().astype(str).unique())
        unknown = sorted(set(types) - set(present))
        if unknown:
            raise ValueError(f"types {unknown} match no candidate; candidate types are {present}")
        allowed &= cand["subtype"].astype("string").isin(list(types)).fillna(False).to_numpy(bool)
    if only_24_7:
        if "open_24_7" not in cand.columns:
            raise ValueError("only_24_7 needs an 'open_24_7' column in the candidates")
        allowed &= _truthy(cand["open_24_7"])
    dlat, dlon = cells_to_latlng(cells)
    clat, clon = cand["lat"].to_numpy(float), cand["lon"].to_numpy(float)
    if coverage is None:
        cov = coverage_matrix(dlat, dlon, clat, clon, radius_m)
    else:
        cov = coverage(dlat, dlon, clat, clon)
    ex = np.zeros(cells.size, bool)
    if existing is not None and len(existing):
        _check_sites(existing, "existing sites")
        elat, elon = existing["lat"].to_numpy(float), existing["lon"].to_numpy(float)
        if coverage is None:
            ex = covered_by_any(dlat, dlon, elat, elon, radius_m)
        else:
            ex = np.diff(sp.csr_matrix(coverage(dlat, dlon, elat, elon)).indptr) > 0
    conflicts = None
    if min_spacing_m:
        idx = np.flatnonzero(allowed)
        a, b = pairs_within(clat[idx], clon[idx], min_spacing_m)
        conflicts = (idx[a], idx[b])
    res = solve_mclp(
        w,
        cov,
        k,
        existing=ex,
        allowed=allowed,
        conflicts=conflicts,
        method=method,
        lp_bound=lp_bound,
        time_limit=time_limit,
        progress=progress,
    )
    # stop when the next site covers nothing: a site newly covering no burden is not listed
    useful = np.asarray(res.marginal, float) > 1e-9
    sites = cand.iloc[res.chosen[useful]].reset_index(drop=True)
    n_useless = int((~useful).sum())
    for c in ("name", "subtype", "open_24_7"):
        if c not in sites.columns:
            sites[c] = pd.NA
    sites["order"] = np.arange(1, len(sites) + 1)
    sites["marginal_covered"] = np.asarray(res.marginal, float)[useful]
    cols = SITE_COLUMNS + (["h3"] if "h3" in sites.columns else [])
    summary = {
        "total_burden": res.total_burden,
        "covered_before": res.covered_before,
        "covered_after": res.covered_after,
        "objective": res.objective,
        "upper_bound": res.upper_bound,
        "gap": res.gap,
        "coverage_pct_before": res.coverage_pct_before,
        "coverage_pct_after": res.coverage_pct_after,
        "method": res.method,
        "status": res.status,
        "time_s": res.time_s,
        "k": int(k),
        "n_chosen": int(len(sites)),
        "stopped_early": n_useless > 0,
        "note": (f"Stopped after {len(sites)} of {int(k)} site(s): a further site would newly "
                 "cover no burden (every reachable overdose is already covered)."
                 if n_useless else ""),
        "radius_m": float(radius_m),
        "min_spacing_m": float(min_spacing_m),
        "n_demand_cells": int(cells.size),
        "n_candidates": int(len(cand)),
        "n_candidates_allowed": int(allowed.sum()),
        "n_existing_sites": 0 if existing is None else int(len(existing)),
    }
    return SitingPlan(sites[cols], summary, res)
