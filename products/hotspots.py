"""Hot-spot products: the Gi* table, emerging hot spots, density clusters, a cell's history.

One function per product, called unchanged by the CLI (``gapmap hotspots``), the dashboard's
Hotspots page and the briefing's map; each returns a table that has passed the privacy gate.

**One grid rule.** The analysis cells are the study-area grid (every cell overlapping the
boundary, zeros included) when a boundary is given, else the occupied cells and their k-ring;
occupied cells outside the boundary are always kept (counts are conserved).

**Public statistics are computed from public figures.** In the public tier the Gi* values are
the published (perturbed) counts with hidden ones imputed from public figures
(:func:`geo.privacy.impute_hidden`), so z, p, q and the class reveal nothing the count column
does not; the restricted tier uses the exact counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.gistar import gi_star
from clustering.neighbours import build_neighbourhood, ring_hull
from geo.grid import analysis_grid
from geo.privacy import (
    KEY_SUFFIX,
    PrivacyPolicy,
    as_policy,
    impute_hidden,
    publish,
    publish_counts,
    with_record_keys,
)
from geo.privacy.cellkey import key_sum
from products.counting import keyed_cell_counts
from products.query import Query, resolve, select

__all__ = ["hotspot_table", "cell_table", "analysis_cells", "published_total", "stat_values"]


def analysis_cells(occupied: np.ndarray, res: int, boundary=None, k_ring: int = 1) -> np.ndarray:
    """The one grid rule: boundary grid ∪ occupied, else occupied ∪ their k-ring."""
    occupied = np.asarray(occupied, dtype=np.uint64)
    if boundary is not None:
        return np.union1d(analysis_grid(boundary, res), occupied)
    return ring_hull(occupied, int(k_ring))


def published_total(incidents: pd.DataFrame, policy: PrivacyPolicy | str) -> float:
    """The published number of ``incidents`` (perturbed; NaN when hidden)."""
    inc = with_record_keys(incidents)
    v, _ = publish_counts([len(inc)], [key_sum(inc["rkey"].to_numpy())], policy)
    return float(v[0])


def stat_values(published: pd.DataFrame, exact: pd.Series, policy: PrivacyPolicy,
                total: float, column: str = "count") -> np.ndarray:
    """Values a statistic may use in this tier: exact (restricted) or public-only."""
    if policy.restricted:
        return exact.to_numpy(dtype=float)
    return impute_hidden(published[column], policy.k, total)


def hotspot_table(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    boundary=None,
    k_ring: int = 1,
    population=None,
    population_column: str = "population",
    rate: str = "eb",
    permutations: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """Gi* hot and cold spots per analysis cell, published for the tier.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    query : Query
        Resolution, window ``[start, end)`` and filters (public: a release window).
    policy : PrivacyPolicy or tier name
    boundary : shapely geometry, optional
        Study area (one WGS84 geometry, see :func:`geo.boundary.boundary_geometry`).
    k_ring : int
        Gi* neighbours: cells within ``k_ring`` grid steps, self included.
    population : GeoDataFrame, optional
        Population polygons; Gi* then runs on rates per 10,000 (``rate``: crude or eb) and
        cells without population get class ``no_population``.
    permutations, seed : int
        Conditional-permutation inference (0: analytic p-values).

    Returns
    -------
    DataFrame
        ``h3, count, [population, rate], z, p, q, class, neighbours, [p_sim], in_grid,
        suppressed`` — one row per analysis cell; ``count`` published.
    """
    pol = as_policy(policy)
    if isinstance(k_ring, bool) or not isinstance(k_ring, int | np.integer) or k_ring < 0:
        raise ValueError(f"k_ring must be 0 or more, got {k_ring!r}")
    if permutations < 0:
        raise ValueError(f"permutations must be 0 or more, got {permutations}")
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    occupied = keyed_cell_counts(sub, q.res, breakdown=())["h3"].to_numpy(np.uint64)
    grid = analysis_cells(occupied, q.res, boundary, k_ring)
    counts = keyed_cell_counts(sub, q.res, breakdown=(), cells=grid)
    pub = publish(counts, pol, count_columns=["count"])
    values = pub[["h3", "in_grid"]].assign(
        value=stat_values(pub, counts["count"], pol, published_total(sub, pol)))
    cols = ["h3", "count"]
    column = "value"
    analysed = values
    if population is not None:
        from clustering.rates import population_to_cells, rate_table

        popn = population_to_cells(population, values["h3"].to_numpy(np.uint64),
                                   population_column)
        rated = rate_table(values.assign(count=values["value"]), popn, method=rate)
        values = values.assign(population=rated["population"].to_numpy(),
                               rate=rated["rate"].to_numpy())
        analysed = values.loc[rated["has_population"].to_numpy()]
        cols += ["population", "rate"]
        column = "rate"
    if len(analysed) < 3:
        raise ValueError(f"only {len(analysed)} cell(s) to analyse: Gi* needs at least 3; widen "
                         "the window, give a study-area boundary or use a coarser resolution")
    nbhd = build_neighbourhood(analysed["h3"].to_numpy(np.uint64), int(k_ring))
    gi = gi_star(analysed, nbhd, column=column, permutations=int(permutations), seed=seed)
    out = pub[["h3", "count", "in_grid", "suppressed"]].join(
        values[[c for c in ("population", "rate") if c in values.columns]]).join(gi)
    out["class"] = out["class"].fillna("no_population")
    order = cols + ["z", "p", "q", "class", "neighbours"] + (
        ["p_sim"] if permutations else []) + ["in_grid", "suppressed"]
    out = out[order]
    if "rate" in out.columns and not pol.restricted:
        # a rate of a hidden count is a function of public figures here, but shown beside a
        # hidden count it reads as exact: blank it like the count
        out["rate"] = out["rate"].mask(out["suppressed"])
    return out.reset_index(drop=True)


def cell_table(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    boundary=None,
    breakdown: bool = True,
) -> pd.DataFrame:
    """Incident counts per H3 cell with outcome / naloxone / source breakdowns, published.

    The ``gapmap cells`` product. Every count (total and breakdowns) is keyed and perturbed by
    the gate, so a parent cell minus its children, or a total minus its breakdowns, is never
    exactly a hidden count; a lone hidden breakdown member takes a second one with it.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    query : Query
        Resolution, window ``[start, end)`` and filters (public: a release window).
    policy : PrivacyPolicy or tier name
    boundary : shapely geometry, optional
        Study area: every cell overlapping it is listed (zeros included, ``in_grid``).
    breakdown : bool
        Add ``n_fatal`` … ``n_naloxone_yes`` … ``n_ems`` … (default True).

    Returns
    -------
    DataFrame
        ``h3`` (uint64), ``count``, breakdowns, [``in_grid``], ``suppressed``.
    """
    pol = as_policy(policy)
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    cells = None if boundary is None else analysis_grid(boundary, q.res)
    fams = ("outcome", "naloxone", "source") if breakdown else ()
    counts = keyed_cell_counts(sub, q.res, breakdown=fams, cells=cells)
    return publish(counts, pol).reset_index(drop=True)


def _keycol(name: str) -> str:
    return f"{name}{KEY_SUFFIX}"
