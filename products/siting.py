"""The siting product: k new naloxone sites covering the most overdose burden, one plan per query.

(Engineers: the working contract of this refactor is in products/CONTRACT.md — read it first.)

:func:`siting_plan` is called unchanged by ``gapmap site`` and the dashboard's Siting page. It
resolves the :class:`~products.query.Query`, counts the burden per occupied cell with cell keys,
publishes those counts, and solves the maximal covering location problem
(:func:`layers.siting_plan.plan_sites`) on **the tier's demand weights**:

* restricted — the exact counts (the plan equals the exact HiGHS optimum with ``exact=True``);
* public / partner — the published counts with hidden ones imputed from public figures
  (:func:`geo.privacy.impute_hidden`). Covered demand, the objective, every site's figure and
  the coverage-vs-k curve are then functions of public figures only: multiplying a coverage
  share by the published total gives back sums of published cells (and public imputations),
  never a hidden count. Public figures are shares of the published burden (%, one decimal);
  burden counts of the plan (``covered_*``, ``objective``, ``marginal_covered``) are shown in
  the restricted tier only.

Candidate host sites are public places: their names and coordinates are shown (as
``site_lat``/``site_lon``; incident coordinates never leave).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.privacy import PrivacyPolicy, as_policy, impute_hidden, publish, with_record_keys
from layers.reach import check_travel, network_coverage, straight_vs_network, travel_profile
from layers.siting_plan import plan_sites
from products.counting import keyed_cell_counts
from products.hotspots import published_total
from products.query import Query, resolve, select

__all__ = ["SitingOutput", "siting_plan", "CURVE_MAX_K", "PUBLIC_DECIMALS", "DEFAULT_MINUTES"]

#: Network coverage when ``travel`` is walk/drive and no ``minutes`` are given.
DEFAULT_MINUTES = 10.0

#: The coverage-vs-k curve runs to max(k, CURVE_MAX_K) sites (bounded by the candidates).
CURVE_MAX_K = 10
#: Public shares are rounded to this many decimals (percentage points).
PUBLIC_DECIMALS = 1
_COUNT_KEYS = ("covered_before", "covered_after", "objective", "upper_bound")


@dataclass(frozen=True)
class SitingOutput:
    """A published siting plan.

    Attributes
    ----------
    sites : DataFrame
        Chosen sites in order: ``order, site_id, name, subtype, site_lat, site_lon,
        open_24_7, marginal_pct`` (+ ``marginal_covered`` restricted, ``h3`` for cell-centre
        candidates).
    summary : dict
        ``tier, total_burden`` (published), ``coverage_pct_before/after``, ``objective_pct``,
        ``upper_bound_pct``, ``gap``, ``method``, ``status``, ``time_s``, ``k``, sizes; the
        burden counts ``covered_before, covered_after, objective, upper_bound`` are numbers in
        the restricted tier and ``None`` in public.
    curve : DataFrame
        Greedy coverage vs number of new sites: ``k, covered_pct`` (+ ``covered`` restricted).
    demand : DataFrame
        The published demand cells ``h3, count, suppressed``.
    """

    sites: pd.DataFrame
    summary: dict
    curve: pd.DataFrame
    demand: pd.DataFrame


def _straight_check(demand, chosen, existing, radius_m, graph, mins, base, pol) -> dict:
    """How much of the plan's straight-line coverage is not real network coverage."""
    from geo.cells import cells_to_latlng

    dlat, dlon = cells_to_latlng(demand["h3"].to_numpy(np.uint64))
    sites = [chosen[["lat", "lon"]]]
    if existing is not None and len(existing):
        sites.append(existing[["lat", "lon"]])
    allsites = pd.concat(sites, ignore_index=True)
    c = straight_vs_network(dlat, dlon, demand["weight"].to_numpy(float),
                            allsites["lat"].to_numpy(float), allsites["lon"].to_numpy(float),
                            radius_m, graph, mins)
    return {"straight_covered_pct": _pct(c["straight"], base, pol),
            "network_covered_pct": _pct(c["network"], base, pol),
            "straight_not_network_pct": _pct(c["straight_not_network"], base, pol),
            "network_not_straight_pct": _pct(c["network_not_straight"], base, pol)}


def _pct(x: float, total: float, pol: PrivacyPolicy) -> float:
    v = 100.0 * float(x) / float(total) if total else 0.0
    return v if pol.restricted else round(v, PUBLIC_DECIMALS)


def siting_plan(
    incidents: pd.DataFrame,
    resources: pd.DataFrame | None,
    candidates: pd.DataFrame | None,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    k: int = 5,
    radius_m: float = 400.0,
    exact: bool = False,
    *,
    types=None,
    only_24_7: bool = False,
    min_spacing_m: float = 0.0,
    time_limit: float = 60.0,
    lp_bound: bool | None = None,
    curve: bool = True,
    progress: Callable[[dict], None] | None = None,
    travel: str | None = None,
    roads=None,
    minutes: float | None = None,
) -> SitingOutput:
    """Choose ``k`` new naloxone sites covering the most burden within ``radius_m``.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    resources : DataFrame or None
        Canonical resource sites; the ``naloxone`` ones fix the cells within the radius as
        covered already.
    candidates : DataFrame or None
        Candidate host sites (``site_id, name, subtype, lat, lon, open_24_7``); ``None``: every
        demand-cell centre.
    query : Query
        Resolution, window ``[start, end)`` and filters (public: a release window).
    policy : PrivacyPolicy or tier name
    k : int
        New sites to choose.
    radius_m : float
        Coverage radius (great-circle metres).
    exact : bool
        Solve the integer program on HiGHS (proven optimum or gap); else the heuristic.
    types, only_24_7, min_spacing_m, time_limit, progress
        See :func:`layers.siting_plan.plan_sites`.
    lp_bound : bool, optional
        Tighten the heuristic's bound with the LP relaxation (default: when not ``exact``).
    curve : bool
        Also compute the greedy coverage-vs-k curve.
    travel : {"straight", "walk", "drive"}, optional
        ``walk`` / ``drive``: a site covers the cells within ``minutes`` on the road network
        ``roads`` (:mod:`layers.reach`; heuristic and exact alike). The summary then adds
        ``travel_mode``, ``minutes`` and, for the chosen plan with the existing sites, the
        share of burden within ``radius_m`` in a straight line but not within ``minutes`` on
        the network (``straight_not_network_pct``) and the reverse.
    roads : path or :class:`layers.roads.RoadNetwork`
    minutes : float, optional
        Coverage in minutes (default :data:`DEFAULT_MINUTES`).

    Returns
    -------
    SitingOutput
    """
    pol = as_policy(policy)
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    counts = keyed_cell_counts(sub, q.res, breakdown=())
    if counts.empty:
        raise ValueError("no overdoses in the chosen window and filters: nothing to cover")
    pub = publish(counts, pol, count_columns=["count"])
    if pol.restricted:
        weight = counts["count"].to_numpy(float)
        total = float(weight.sum())
    else:
        total = published_total(sub, pol)  # NaN when the whole burden is 1..k-1
        weight = impute_hidden(pub["count"], pol.k, total)
    demand = pd.DataFrame({"h3": counts["h3"].to_numpy(np.uint64), "weight": weight})
    existing = None
    if resources is not None and len(resources):
        existing = resources[resources["kind"].astype(str) == "naloxone"]
    opts = dict(existing=existing, weight="weight", types=list(types) if types else None,
                only_24_7=bool(only_24_7), min_spacing_m=float(min_spacing_m))
    mode = check_travel(travel, roads)
    graph = travel_profile(mode, roads)
    mins = float(DEFAULT_MINUTES if minutes is None else minutes)
    if graph is not None:
        opts["coverage"] = network_coverage(graph, mins)
    plan = plan_sites(demand, candidates, int(k), float(radius_m), **opts,
                      method="exact" if exact else "heuristic",
                      lp_bound=(not exact) if lp_bound is None else bool(lp_bound),
                      time_limit=float(time_limit), progress=progress)
    # shares are of the burden the weights add up to (public: published + imputed cells)
    base = float(weight.sum())
    s = plan.summary
    summary = {key: s[key] for key in ("method", "status", "time_s", "k", "n_chosen", "radius_m",
                                       "min_spacing_m", "n_demand_cells", "n_candidates",
                                       "n_candidates_allowed", "n_existing_sites",
                                       "stopped_early", "note")}
    summary.update(
        tier=pol.tier,
        window_start=f"{q.start:%Y-%m-%d}" if q.start is not None else None,
        window_end=f"{q.end:%Y-%m-%d}" if q.end is not None else None,
        total_burden=float(total) if np.isfinite(total) else None,
        coverage_pct_before=_pct(s["covered_before"], base, pol),
        coverage_pct_after=_pct(s["covered_after"], base, pol),
        objective_pct=_pct(s["objective"], base, pol),
        upper_bound_pct=_pct(s["upper_bound"], base, pol),
        gap=float(s["gap"]),
    )
    for key in _COUNT_KEYS:
        summary[key] = float(s[key]) if pol.restricted else None
    summary["travel_mode"] = mode
    if graph is not None:
        summary["minutes"] = mins
        summary.update(_straight_check(demand, plan.sites, existing, float(radius_m), graph,
                                       mins, base, pol))
    sites = plan.sites.rename(columns={"lat": "site_lat", "lon": "site_lon"})
    sites["marginal_pct"] = [_pct(m, base, pol) for m in sites["marginal_covered"]]
    if not pol.restricted:
        sites = sites.drop(columns="marginal_covered")
    sites = publish(sites, pol, count_columns=[])
    curve_t = pd.DataFrame({"k": [0], "covered_pct": [summary["coverage_pct_before"]]})
    if curve:
        kmax = int(min(max(int(k), CURVE_MAX_K), s["n_candidates_allowed"]))
        g = plan_sites(demand, candidates, kmax, float(radius_m), **opts, method="greedy").result
        covered = g.covered_before + np.r_[0.0, np.cumsum(g.marginal)]
        curve_t = pd.DataFrame({"k": np.arange(covered.size),
                                "covered_pct": [_pct(c, base, pol) for c in covered]})
        if pol.restricted:
            curve_t["covered"] = covered
    return SitingOutput(sites=sites, summary=summary, curve=publish(curve_t, pol, count_columns=[]),
                        demand=pub[["h3", "count", "suppressed"]])
