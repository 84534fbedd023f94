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

**Statistics that cannot reach significance say so.** With ``R`` permutations the smallest
two-sided p is ``2/(R+1)``; Benjamini–Hochberg over ``m`` analysed cells lets the most extreme
cell alone be significant at the loosest level (10%) only if that p is at most ``0.10/m``.
When it is not, the table's ``attrs["warnings"]`` says so, with the permutations needed
(:func:`permutations_needed`) or the analytic test (``permutations=0``) suggested — the CLI
prints it on stderr, the dashboard and the briefing as a note.

**Rates from tiny populations.** Rates per 10,000 are empirical-Bayes smoothed by default
(``rate="eb"``: each cell's rate is shrunk toward the overall rate, more so the fewer its
residents; Marshall 1991). Cells with fewer than ``min_population`` residents (default
:data:`MIN_POPULATION` = 100) are not analysed: class ``population_too_small``, rate blank.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.gistar import gi_star
from clustering.neighbours import build_neighbourhood, ring_hull
from geo.grid import analysis_grid, cells_at
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

__all__ = ["hotspot_table", "gi_table", "check_gi_args", "cell_table", "analysis_cells",
           "occupied_cells", "published_total", "stat_values", "MIN_POPULATION",
           "permutations_needed", "significance_warning"]

#: Cells with fewer residents than this get class ``population_too_small`` (rate blank).
MIN_POPULATION = 100
#: The loosest Gi* confidence level (90%: q ≤ 0.10).
_ALPHA = 0.10


def permutations_needed(cells: int, alpha: float = _ALPHA) -> int:
    """Fewest permutations ``R`` whose smallest two-sided p, ``2/(R+1)``, passes the first
    Benjamini–Hochberg step over ``cells`` cells at level ``alpha`` (``2/(R+1) ≤ alpha/cells``)."""
    return int(np.ceil(2.0 * cells / alpha)) - 1


def significance_warning(permutations: int, cells: int, alpha: float = _ALPHA) -> str | None:
    """One sentence when ``permutations`` are too few for any single cell to be significant
    after FDR over ``cells`` cells; ``None`` otherwise (and for the analytic test, 0)."""
    if not permutations or cells < 1:
        return None
    p_min = 2.0 / (permutations + 1)
    if p_min <= alpha / cells:
        return None
    return (f"With {permutations:,} permutations the smallest p is {p_min:.3g}; after FDR over "
            f"{cells:,} cells a lone cell needs p ≤ {alpha / cells:.2g}, so few or no cells can "
            f"be significant. Use at least {permutations_needed(cells, alpha):,} permutations, "
            "or the analytic test (permutations 0).")


def occupied_cells(incidents: pd.DataFrame, res: int) -> np.ndarray:
    """The cells holding at least one of ``incidents`` at ``res``, sorted: the ``h3`` column of
    :func:`products.counting.keyed_cell_counts` without a grid, without counting anything."""
    at = cells_at(incidents, res)
    # hash the distinct cells, sort only those (np.unique sorts every incident: ~4x the CPU)
    return np.sort(pd.unique(at[at != 0])).astype(np.uint64)


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
    min_population: float = MIN_POPULATION,
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
        cells without population get class ``no_population``; cells with fewer than
        ``min_population`` residents get class ``population_too_small`` (rate blank).
    permutations, seed : int
        Conditional-permutation inference (0: analytic p-values).
    min_population : float
        Smallest population of an analysed cell (default :data:`MIN_POPULATION`).

    Returns
    -------
    DataFrame
        ``h3, count, [population, rate], z, p, q, class, neighbours, [p_sim], in_grid,
        suppressed`` — one row per analysis cell; ``count`` published. ``attrs["warnings"]``
        lists sentences for the user (significance out of reach, cells left out).
    """
    pol = as_policy(policy)
    check_gi_args(k_ring, permutations, min_population)
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    grid = analysis_cells(occupied_cells(sub, q.res), q.res, boundary, k_ring)
    counts = keyed_cell_counts(sub, q.res, breakdown=(), cells=grid)
    return gi_table(counts, published_total(sub, pol), pol, k_ring=k_ring,
                    population=population, population_column=population_column, rate=rate,
                    permutations=permutations, seed=seed, min_population=min_population)


def check_gi_args(k_ring, permutations, min_population) -> None:
    """The parameter checks of :func:`hotspot_table` (one sentence each)."""
    if isinstance(k_ring, bool) or not isinstance(k_ring, int | np.integer) or k_ring < 0:
        raise ValueError(f"k_ring must be 0 or more, got {k_ring!r}")
    if permutations < 0:
        raise ValueError(f"permutations must be 0 or more, got {permutations}")
    if isinstance(min_population, bool) or not np.isfinite(float(min_population)) \
            or float(min_population) < 0:
        raise ValueError(f"min_population must be 0 or more, got {min_population!r}")


def gi_table(counts: pd.DataFrame, total: float, policy: PrivacyPolicy | str = "public", *,
             k_ring: int = 1, population=None, population_column: str = "population",
             rate: str = "eb", permutations: int = 0, seed: int = 0,
             min_population: float = MIN_POPULATION) -> pd.DataFrame:
    """:func:`hotspot_table` from its counts: keyed counts per analysis cell (``h3, count,
    count__ckey, in_grid``, see :func:`products.counting.keyed_cell_counts`) and the
    published number of the window's events (:func:`published_total`). The counts may come
    from anywhere (e.g. summed over Dask workers, :mod:`geo.distributed_counts`)."""
    pol = as_policy(policy)
    check_gi_args(k_ring, permutations, min_population)
    warnings: list[str] = []
    pub = publish(counts, pol, count_columns=["count"])
    values = pub[["h3", "in_grid"]].assign(
        value=stat_values(pub, counts["count"], pol, total))
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
        small = rated["has_population"].to_numpy() & (
            rated["population"].to_numpy(float) < float(min_population))
        values.loc[small, "rate"] = np.nan
        analysed = values.loc[rated["has_population"].to_numpy() & ~small]
        if small.any():
            warnings.append(f"{int(small.sum()):,} cell(s) with fewer than {min_population:,.0f} "
                            "residents: population too small for a rate (left out of Gi*).")
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
    if population is not None:
        out.loc[small, "class"] = "population_too_small"
    order = cols + ["z", "p", "q", "class", "neighbours"] + (
        ["p_sim"] if permutations else []) + ["in_grid", "suppressed"]
    out = out[order]
    if "rate" in out.columns and not pol.restricted:
        # a rate of a hidden count is a function of public figures here, but shown beside a
        # hidden count it reads as exact: blank it like the count
        out["rate"] = out["rate"].mask(out["suppressed"])
    out = out.reset_index(drop=True)
    sig = significance_warning(int(permutations), len(analysed))
    out.attrs["warnings"] = ([sig] if sig else []) + warnings
    return out


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
