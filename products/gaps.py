"""The gap product: where overdose burden meets poor access to resources, one table per query.

(Engineers: the working contract of this refactor is in products/CONTRACT.md — read it first.)

:func:`gap_table` is called unchanged by ``gapmap gaps``, the dashboard's Gaps page and the
briefing's gap section. It

1. resolves the :class:`~products.query.Query` (public: a fixed release window, default the
   last 52 weeks to the release date; restricted: any ``[start, end)``, default the 364 days
   ending the day after the last incident);
2. counts the burden per analysis cell with cell keys (:func:`products.counting.
   keyed_cell_counts`): ``count`` in ``[start, end)`` and ``count_prior`` in the period of the
   same length before it (itself a release window), on the one grid rule
   (:func:`products.hotspots.analysis_cells`);
3. publishes the counts (:func:`geo.privacy.publish`);
4. computes the trend, the 2SFCA demand, the gap score, the rank and the reason text **from
   the published counts** in the public tier (hidden ones imputed from public figures with
   :func:`geo.privacy.impute_hidden`; the reason says "fewer than 10 overdoses" and never
   prints a hidden count), from the exact counts in the restricted tier;
5. adds access (``dist_m_*``, ``sites_within_*``: resource data, public) and, by default, the
   Gi* class of the same query (:func:`products.hotspots.hotspot_table`).

The score itself is :mod:`layers.gaps` (one definition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from geo.boundary import boundary_geometry
from geo.privacy import PrivacyPolicy, as_policy, impute_hidden, publish, with_record_keys
from layers.access import DEFAULT_GROUPS, AccessGroup, cell_access, cell_e2sfca
from layers.gaps import DEFAULT_WEIGHTS, TREND_FALLING, TREND_RISING, explain_gaps, gap_scores
from layers.gaps import sensitivity as _sensitivity

# layers.reach (the street-network code: scipy's graph module) is imported only when a travel
# mode is asked for, so the straight-line gap table starts quickly.
from products.counting import keyed_cell_counts
from products.gaps_travel import _travel_2sfca, _travel_columns, travel_notes
from products.hotspots import analysis_cells, hotspot_table, occupied_cells, published_total
from products.query import Query, data_end, resolve, select

__all__ = ["gap_table", "gap_sensitivity", "burden_window", "DEFAULT_DAYS", "period_words",
           "absent_words", "CATCHMENT_MIN", "travel_notes"]

#: Burden window when the query leaves it open (restricted tier): 52 weeks.
DEFAULT_DAYS = 364
#: Travel-time catchment of ``travel_2sfca_treatment`` (minutes; 24 km ≈ 30 minutes' drive is
#: the straight-line catchment of ``e2sfca_treatment``).
CATCHMENT_MIN = 30.0


def _positive(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number of minutes, got {value!r}")
    return v


def burden_window(query: Query, incidents: pd.DataFrame, policy: PrivacyPolicy | str
                  ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The ``[start, end)`` of the burden counts for this tier (see the module notes)."""
    q = resolve(query, incidents, policy)
    start, end = q.start, q.end
    if end is None:
        end = data_end(incidents).normalize() + pd.Timedelta(days=1)
    if start is None:
        start = end - pd.Timedelta(days=DEFAULT_DAYS)
    return pd.Timestamp(start), pd.Timestamp(end)


def period_words(start: pd.Timestamp, end: pd.Timestamp) -> str:
    """``"in the 52 weeks to 2026-11-15"`` — the window as the reason text names it."""
    days = int((end - start) / pd.Timedelta(days=1))
    last = end - pd.Timedelta(days=1)
    span = (f"{days // 7} week{'s' if days // 7 != 1 else ''}" if days % 7 == 0
            else f"{days} day{'s' if days != 1 else ''}")
    return f"in the {span} to {last:%Y-%m-%d}"


def _trend(recent: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ratio = (recent + 1.0) / (prior + 1.0)
    trend = np.where(ratio >= TREND_RISING, "rising",
                     np.where(ratio <= TREND_FALLING, "falling", "stable")).astype(object)
    trend[(recent == 0) & (prior == 0)] = "none"
    return ratio, trend


def _hot_classes(hotspots, incidents, query, pol, boundary) -> pd.DataFrame | None:
    if hotspots is None or hotspots is False:
        return None
    if isinstance(hotspots, pd.DataFrame):
        missing = [c for c in ("h3", "class") if c not in hotspots.columns]
        if missing:
            raise ValueError(f"hotspots need columns 'h3' and 'class'; found "
                             f"{list(hotspots.columns)}")
        return hotspots[["h3", "class"]]
    try:
        hs = hotspot_table(incidents, query, pol, boundary=boundary)
    except ValueError as exc:
        if "Gi* needs at least 3" in str(exc):
            return None  # too few cells for Gi*: the score runs without the hotspot component
        raise
    return hs[["h3", "class"]]


def absent_words(resources: pd.DataFrame, groups, open_at=None, all_resources=None,
                 tz: str | None = None) -> dict[str, str]:
    """Words for each access group without a usable site: "no <label> site open now" (or
    "open at Sat 23:00") when the group has sites but none open at ``open_at``; "no <label>
    site matches the site filters" when ``all_resources`` (the sites before the door's
    filters) has some and the filtered ``resources`` none; groups with sites are left out
    (the reason then says "no <label> site in the data" only when there truly is none)."""
    from layers.access import select_sites
    from layers.hours import local_now, sites_open_at

    out = {}
    is_open = None if open_at is None else sites_open_at(resources, open_at)
    if open_at is not None:
        now = abs(pd.Timestamp(open_at) - local_now(tz)) <= pd.Timedelta(minutes=10)
        when = "now" if now else f"at {pd.Timestamp(open_at):%a %H:%M}"
    for g in groups:
        label = g.label or g.name
        m = select_sites(resources, g.where) if len(resources) else np.zeros(0, bool)
        if is_open is not None and m.any() and not (m & is_open).any():
            out[g.name] = f"no {label} site open {when}"
        elif not m.any() and all_resources is not None and len(all_resources) \
                and select_sites(all_resources, g.where).any():
            out[g.name] = f"no {label} site matches the site filters"
    return out


def _build(incidents, resources, query, policy, *, boundary, hotspots, population, groups,
           weights, open_at, catchment_m, population_column="population", travel=None,
           roads=None, all_resources=None, tz=None, within_min=None,
           catchment_min=CATCHMENT_MIN):
    pol = as_policy(policy)
    mode = "straight"
    if travel not in (None, ""):
        from layers.reach import check_travel

        mode = check_travel(travel, roads)
    if within_min is None and mode != "straight":
        from layers.reach import WITHIN_MIN

        within_min = WITHIN_MIN
    if within_min is not None:  # used by the travel columns only
        within_min = _positive(within_min, "within_min")
    catchment_min = _positive(catchment_min, "catchment_min")
    if resources is None or not len(resources):
        raise ValueError("no resource sites: the gap score needs naloxone, syringe-service "
                         "and treatment sites (a resources file)")
    boundary = boundary_geometry(boundary)
    start, end = burden_window(query, incidents, pol)
    q = replace(query, start=start, end=end)  # every filter of the query, burden window
    span = end - start
    qp = replace(q, start=start - span, end=start)
    recent = with_record_keys(select(incidents, q))
    prior = with_record_keys(select(incidents, qp))
    occupied = np.union1d(occupied_cells(recent, q.res),
                          occupied_cells(prior, q.res)).astype(np.uint64)
    grid = analysis_cells(occupied, q.res, boundary, 1)
    now = keyed_cell_counts(recent, q.res, breakdown=(), cells=grid)
    before = keyed_cell_counts(prior, q.res, breakdown=(), cells=grid)
    counts = pd.DataFrame({"h3": now["h3"].to_numpy(np.uint64),
                           "count": now["count"], "count__ckey": now["count__ckey"],
                           "count_prior": before["count"],
                           "count_prior__ckey": before["count__ckey"]})
    pub = publish(counts, pol, count_columns=["count", "count_prior"])
    cells = pub["h3"].to_numpy(np.uint64)
    if pol.restricted:
        v_now = counts["count"].to_numpy(float)
        v_before = counts["count_prior"].to_numpy(float)
    else:
        v_now = impute_hidden(pub["count"], pol.k, published_total(recent, pol))
        v_before = impute_hidden(pub["count_prior"], pol.k, published_total(prior, pol))
    ratio, trend = _trend(v_now, v_before)
    table = pd.DataFrame({"h3": cells, "count": pub["count"].array,
                          "count_prior": pub["count_prior"].array,
                          "trend_ratio": ratio, "trend": trend})
    acc = cell_access(cells, resources, groups, open_at=open_at).drop(columns="h3")
    table = pd.concat([table, acc], axis=1)
    if travel is not None:
        table = pd.concat([table, _travel_columns(cells, resources, mode, roads,
                                                           within_min)], axis=1)
    if population is not None:
        from layers.population import population_to_cells

        pop = np.asarray(population_to_cells(population, cells, population_column), float)
        table["population"] = pop
        demand = pop
    else:
        demand = v_now
    table["e2sfca_treatment"] = cell_e2sfca(cells, resources, demand,
                                            where={"kind": "treatment"}, catchment_m=catchment_m)
    if travel is not None:
        table["travel_2sfca_treatment"] = _travel_2sfca(cells, resources, demand, mode, roads,
                                                        catchment_min)
    hot = _hot_classes(hotspots, incidents, q, pol, boundary)
    hot_column = None
    if hot is not None:
        cls = pd.Series(hot["class"].to_numpy(), index=hot["h3"].to_numpy(np.uint64))
        table["gi_class"] = pd.Series(cells).map(cls).fillna("not_significant").to_numpy()
        hot_column = "gi_class"
    # the score sees the tier's values (exact, or published + imputed); the words see what
    # is published, so a hidden count is never printed
    w = DEFAULT_WEIGHTS if weights is None else {**DEFAULT_WEIGHTS, **dict(weights)}
    score_in = table.assign(count_12m=v_now)
    period = period_words(start, end)
    absent = absent_words(resources, groups, open_at, all_resources, tz)
    scores = gap_scores(score_in, w, hot_column=hot_column, groups=groups, period=period,
                        explain=False)  # the reason is worded from the published counts below
    scores["reason"] = explain_gaps(
        table.assign(count_12m=pd.to_numeric(table["count"]).astype("Float64")), w,
        hot_column=hot_column, groups=groups, period=period,
        suppress_below=None if pol.restricted else pol.k, absent=absent)
    out = pd.concat([table, scores], axis=1)
    out["in_grid"] = pub["in_grid"].to_numpy() if "in_grid" in pub else True
    out["suppressed"] = pub["suppressed"].to_numpy()
    if not pol.restricted:
        # a ratio of counts beside a hidden count reads as exact: blank it like the count
        out["trend_ratio"] = out["trend_ratio"].mask(out["count"].isna()
                                                     | out["count_prior"].isna())
    out = out.sort_values("gap_rank", kind="stable").reset_index(drop=True)
    return out, score_in, w, hot_column, pol


def gap_table(
    incidents: pd.DataFrame,
    resources: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    boundary=None,
    hotspots=True,
    population=None,
    population_column: str = "population",
    groups: Sequence[AccessGroup] = DEFAULT_GROUPS,
    weights: Mapping[str, float] | None = None,
    open_at=None,
    catchment_m: float = 24_000.0,
    travel: str | None = None,
    roads=None,
    all_resources: pd.DataFrame | None = None,
    tz: str | None = None,
    within_min: float | None = None,
    catchment_min: float = CATCHMENT_MIN,
) -> pd.DataFrame:
    """Burden, access and the explainable gap score per analysis cell, published for the tier.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    resources : DataFrame
        Canonical resource sites (already filtered by the door, e.g. MOUD offered, 24/7).
    query : Query
        Resolution, window ``[start, end)`` and filters (public: a release window).
    policy : PrivacyPolicy or tier name
    boundary : shapely geometry, optional
        Study area: every cell overlapping it is scored (the one grid rule).
    hotspots : True, None/False or DataFrame
        ``True`` (default): the Gi* class of the same query (:func:`products.hotspots.
        hotspot_table`) adds the hotspot component; a table ``h3, class`` gives the classes;
        ``None``/``False``: no hotspot component.
    population : GeoDataFrame, optional
        Population polygons (column ``population_column``), area-weighted onto cells as 2SFCA demand
        (default demand: the burden).
    groups, weights, open_at, catchment_m
        See :func:`layers.gaps.build_gap_table` (weights: overrides of :data:`DEFAULT_WEIGHTS`).
    travel : {"straight", "walk", "drive"}, optional
        Adds ``travel_min_naloxone, travel_min_treatment, travel_min_ssp`` (minutes on the
        road network from the cell centre, NaN = no route; blank for straight line),
        ``sites_within_min_<group>`` (sites within ``within_min`` minutes),
        ``travel_2sfca_treatment`` (2SFCA for treatment with a ``catchment_min``-minute
        travel-time catchment, :func:`layers.travel.travel_2sfca`, same supply and demand as
        ``e2sfca_treatment``; blank for straight line) and ``travel_mode`` beside ``dist_m_*``
        (:mod:`layers.reach`). The score is unchanged.
    roads : path or :class:`layers.roads.RoadNetwork`
        The road network (needed for walk / drive).
    all_resources : DataFrame, optional
        The sites before the door's filters: a group whose sites were all filtered out reads
        "no <label> site matches the site filters", not "… in the data"
        (:func:`absent_words`); closed sites at ``open_at`` read "no <label> site open now".
    tz : str, optional
        Study-area time zone deciding whether ``open_at`` is "now" (:func:`layers.hours.
        study_tz`).
    within_min : float
        Minutes of ``sites_within_min_<group>`` (default None: :data:`layers.reach.WITHIN_MIN`,
        10).
    catchment_min : float
        Travel-time catchment of ``travel_2sfca_treatment`` (default :data:`CATCHMENT_MIN`).

    Returns
    -------
    DataFrame
        Sorted by ``gap_rank``: ``h3, count, count_prior, trend_ratio, trend, dist_m_*,
        sites_within_*, e2sfca_treatment, [population], [gi_class], score_*, burden_index,
        access_index, gap_score, gap_rank, reason, in_grid, suppressed`` — counts published;
        with ``travel``: ``travel_min_*``, ``sites_within_min_*``, ``travel_mode`` after the
        access columns and ``travel_2sfca_treatment`` after ``e2sfca_treatment``.
    """
    out, *_ = _build(incidents, resources, query, policy, boundary=boundary, hotspots=hotspots,
                     population=population, groups=groups, weights=weights, open_at=open_at,
                     catchment_m=catchment_m, population_column=population_column,
                     travel=travel, roads=roads, all_resources=all_resources, tz=tz,
                     within_min=within_min, catchment_min=catchment_min)
    return out


def gap_sensitivity(
    incidents: pd.DataFrame,
    resources: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    factors: Sequence[float] = (0.0, 0.5, 2.0),
    top_n: int = 10,
    **kw,
) -> pd.DataFrame:
    """How the ranking of :func:`gap_table` moves when each weight is scaled.

    Computed from the same values as the score (public: published + imputed counts); see
    :func:`layers.gaps.sensitivity`. Returns a published table (no counts in it).
    """
    _, score_in, w, hot_column, pol = _build(
        incidents, resources, query, policy, boundary=kw.pop("boundary", None),
        hotspots=kw.pop("hotspots", True), population=kw.pop("population", None),
        groups=kw.pop("groups", DEFAULT_GROUPS), weights=kw.pop("weights", None),
        open_at=kw.pop("open_at", None), catchment_m=kw.pop("catchment_m", 24_000.0),
        population_column=kw.pop("population_column", "population"))
    if kw:
        raise TypeError(f"unknown option(s) {sorted(kw)}")
    sens = _sensitivity(score_in, w, factors=factors, top_n=top_n, hot_column=hot_column)
    return publish(sens, pol, count_columns=[])
