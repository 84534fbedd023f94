"""Gaps by named area: :func:`area_gap_table`, the area version of :func:`products.gaps.gap_table`.

One row per area of a layer (neighbourhoods, ZIP codes …): the published ``count`` and
``count_prior`` of :func:`products.areas.area_table` (same keys, same gate), population and
rate, the distance from the area's representative point (``shapely.representative_point``,
always inside the area) to the nearest site of each access group (:func:`layers.access.
nearest_sites`), the number of each group's sites inside the area, the Gi* class on
contiguity neighbours, and the gap score, rank and reason of :mod:`layers.gaps` (one
definition). Public tier: the score comes from the published counts (hidden ones imputed with
:func:`geo.privacy.impute_hidden`) and the reason never prints a hidden count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import shapely

from geo.areas import AreaLayer, incident_areas, points_to_areas
from geo.privacy import PrivacyPolicy, as_policy, impute_hidden, with_record_keys
from layers.access import DEFAULT_GROUPS, AccessGroup, nearest_sites, select_sites
from layers.gaps import DEFAULT_WEIGHTS, explain_gaps, gap_scores
from products.areas import _published_total, area_table
from products.gaps import _trend, absent_words, burden_window, period_words
from products.query import Query, select

__all__ = ["area_gap_table", "representative_points"]


def representative_points(areas: AreaLayer) -> tuple[np.ndarray, np.ndarray]:
    """``(lat, lon)`` of each area's representative point (a point inside the polygon)."""
    pts = shapely.point_on_surface(np.asarray(areas.geometry))
    return shapely.get_y(pts), shapely.get_x(pts)


def area_gap_table(
    incidents: pd.DataFrame,
    resources: pd.DataFrame,
    areas: AreaLayer,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    population=None,
    population_column: str = "population",
    groups: Sequence[AccessGroup] = DEFAULT_GROUPS,
    weights: Mapping[str, float] | None = None,
    hotspots: bool = True,
) -> pd.DataFrame:
    """Burden, access and the explainable gap score per named area, published for the tier.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    resources : DataFrame
        Canonical resource sites.
    areas : AreaLayer
        Named polygons (:func:`geo.areas.load_areas`).
    query : Query
        Window ``[start, end)`` and filters; an open window is the 52 weeks of
        :func:`products.gaps.burden_window` (public: a release window).
    policy : PrivacyPolicy or tier name
    population : see :func:`products.areas.area_population`
    groups, weights
        Access groups and score weights, as for :func:`products.gaps.gap_table`.
    hotspots : bool
        Use the areas' Gi* class (contiguity neighbours) as the hotspot component.

    Returns
    -------
    DataFrame
        Sorted by ``gap_rank``: ``area, count, count_prior, trend, population, rate_per_100k,
        dist_m_<group>, sites_in_<group>, gi_class, score_*, burden_index, access_index,
        gap_score, gap_rank, reason, suppressed``; counts published. ``attrs["notes"]`` as
        :func:`products.areas.area_table`.
    """
    pol = as_policy(policy)
    if resources is None or not len(resources):
        raise ValueError("no resource sites: the gap score needs naloxone, syringe-service "
                         "and treatment sites (a resources file)")
    start, end = burden_window(query, incidents, pol)
    q = replace(query, start=start, end=end)  # every filter of the query, burden window
    at = area_table(incidents, areas, q, pol, population, population_column=population_column,
                    breakdown=(), gi=hotspots)
    if pol.restricted:
        v_now = pd.to_numeric(at["count"]).to_numpy(float)
        v_before = pd.to_numeric(at["count_prior"]).to_numpy(float)
    else:
        span = end - start
        qp = replace(q, start=start - span, end=start)
        recent = with_record_keys(select(incidents, q))
        prior = with_record_keys(select(incidents, qp))
        v_now = impute_hidden(at["count"], pol.k,
                              _published_total(recent, incident_areas(recent, areas), pol))
        v_before = impute_hidden(at["count_prior"], pol.k,
                                 _published_total(prior, incident_areas(prior, areas), pol))
    _, trend = _trend(v_now, v_before)
    table = pd.DataFrame({"area": at["area"].to_numpy(object), "count": at["count"].array,
                          "count_prior": at["count_prior"].array, "trend": trend,
                          "population": at["population"].to_numpy(float),
                          "rate_per_100k": at["rate_per_100k"].to_numpy(float)})
    lat, lon = representative_points(areas)
    slat, slon = resources["lat"].to_numpy(float), resources["lon"].to_numpy(float)
    inside = points_to_areas(slat, slon, areas)
    for g in groups:
        m = select_sites(resources, g.where)
        table[f"dist_m_{g.name}"] = nearest_sites(lat, lon, slat[m], slon[m])[0]
        table[f"sites_in_{g.name}"] = np.bincount(inside[m & (inside >= 0)],
                                                  minlength=areas.n).astype(np.int64)
    hot_column = None
    if hotspots and "class" in at.columns and not (at["class"] == "not_computed").all():
        table["gi_class"] = at["class"].to_numpy(object)
        hot_column = "gi_class"
    w = DEFAULT_WEIGHTS if weights is None else {**DEFAULT_WEIGHTS, **dict(weights)}
    period = period_words(start, end)
    absent = absent_words(resources, groups)
    scores = gap_scores(table.assign(count_12m=v_now), w, hot_column=hot_column, groups=groups,
                        period=period)
    scores["reason"] = explain_gaps(
        table.assign(count_12m=pd.to_numeric(table["count"]).astype("Float64")), w,
        hot_column=hot_column, groups=groups, period=period,
        suppress_below=None if pol.restricted else pol.k, absent=absent)
    out = pd.concat([table, scores], axis=1)
    out["suppressed"] = at["suppressed"].to_numpy()
    out = out.sort_values("gap_rank", kind="stable").reset_index(drop=True)
    out.attrs["notes"] = list(at.attrs.get("notes", []))
    out.attrs["kind"] = areas.kind
    return out
