"""Rates for Gi*: population onto H3 cells, crude rates per 10,000 and empirical-Bayes rates.

Counts are dominated by where people live; rates show where overdoses are frequent for the
population. Population comes from polygons (census blocks / block groups / tracts with a
population column) and is spread onto cells by **area weighting**: a polygon's population is
split in proportion to the area of its overlap with each cell, measured in an equal-area CRS
(EPSG:6933), so the total is conserved for cells that cover the polygons (assumes people are
spread evenly inside each polygon — the usual areal-interpolation assumption).

Cells with no population (parks, water, cells outside every polygon) have no rate: their rate
is NaN, never a division by zero, and :func:`rate_table` marks them ``has_population=False``
so the caller leaves them out of the Gi* analysis (and builds the neighbourhood on the
populated cells only).

References
----------
Marshall, R. J. (1991). Mapping disease and mortality rates using empirical Bayes estimators.
*Journal of the Royal Statistical Society C (Applied Statistics)* 40(2), 283–294.
Goodchild, M. F. and Lam, N. S.-N. (1980). Areal interpolation: a variant of the traditional
spatial problem. *Geo-Processing* 1, 297–312.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# population_to_cells is layers.population's (the one owner of areal weighting), re-exported
# here because the hotspot command and app page import it from this module.
from layers.population import EQUAL_AREA_CRS, population_to_cells

__all__ = ["EQUAL_AREA_CRS", "population_to_cells", "crude_rates", "eb_rates", "rate_table"]


def _check_counts_pop(counts, population):
    c = np.asarray(counts, dtype=float)
    p = np.asarray(population, dtype=float)
    if c.shape != p.shape:
        raise ValueError(f"counts and population differ in shape: {c.shape} vs {p.shape}")
    if np.any(c < 0) or np.any(~np.isfinite(c)):
        raise ValueError("counts must be finite and non-negative")
    if np.any(p < 0) or np.any(np.isnan(p)):
        raise ValueError("population must be non-negative (use 0 for none)")
    return c, p


def crude_rates(counts, population, per: float = 10_000) -> np.ndarray:
    """Crude rate ``per · count / population``; NaN where the population is 0.

    Parameters
    ----------
    counts, population : array-like of the same shape
    per : float, default 10,000
    """
    c, p = _check_counts_pop(counts, population)
    out = np.full(c.shape, np.nan)
    ok = p > 0
    out[ok] = per * c[ok] / p[ok]
    return out


def eb_rates(counts, population, per: float = 10_000) -> np.ndarray:
    """Global empirical-Bayes smoothed rates (Marshall 1991, method of moments).

    With cells of positive population only: global rate ``b = Σc / Σp``; crude rates
    ``r_i = c_i/p_i``; ``s² = Σ p_i (r_i − b)² / Σp``; prior variance
    ``a = s² − b / p̄`` (``p̄`` the mean population; set to 0 if negative); shrinkage
    ``C_i = a / (a + b / p_i)``; smoothed rate ``b + C_i (r_i − b)``. Small populations are
    pulled towards the global rate, large ones keep their crude rate. NaN where the
    population is 0.

    Parameters
    ----------
    counts, population : array-like of the same shape
    per : float, default 10,000

    Returns
    -------
    numpy.ndarray
        Smoothed rates per ``per`` people.

    References
    ----------
    Marshall (1991), global empirical Bayes estimator.
    """
    c, p = _check_counts_pop(counts, population)
    out = np.full(c.shape, np.nan)
    ok = p > 0
    if not ok.any():
        return out
    cc, pp = c[ok], p[ok]
    b = cc.sum() / pp.sum()
    r = cc / pp
    s2 = np.sum(pp * (r - b) ** 2) / pp.sum()
    a = max(s2 - b / pp.mean(), 0.0)
    denom = a + b / pp
    shrink = np.divide(a, denom, out=np.zeros_like(pp), where=denom > 0)
    out[ok] = per * (b + shrink * (r - b))
    return out


def rate_table(
    table: pd.DataFrame,
    population: pd.Series,
    *,
    method: str = "crude",
    per: float = 10_000,
    cell_column: str = "h3",
) -> pd.DataFrame:
    """Add ``population``, ``rate`` and ``has_population`` to a cell table.

    Parameters
    ----------
    table : DataFrame with ``cell_column`` and ``count``. Never mutated.
    population : array-like aligned with the rows of ``table``, or Series indexed by cell
        An array is what :func:`layers.population.population_to_cells` returns for
        ``table[cell_column]``; a Series is looked up by cell, missing cells counting as 0.
    method : {"crude", "eb"}
        Crude rate per ``per`` people, or global empirical-Bayes smoothed rate.
    per : float, default 10,000

    Returns
    -------
    DataFrame
        A copy indexed like ``table``; ``rate`` is NaN and ``has_population`` False where the
        population is 0 — leave those rows out of Gi*.
    """
    if method not in ("crude", "eb"):
        raise ValueError(f"rate method must be 'crude' or 'eb', got {method!r}")
    for c in (cell_column, "count"):
        if c not in table.columns:
            raise ValueError(
                f"column {c!r} missing from the cell table; found {list(table.columns)}"
            )
    if isinstance(population, pd.Series):
        cells = table[cell_column].to_numpy(np.uint64)
        pop = population.reindex(pd.Index(cells)).fillna(0.0).to_numpy(dtype=float)
    else:
        pop = np.asarray(population, dtype=float).ravel()
        if pop.size != len(table):
            raise ValueError(
                f"population has {pop.size} values for {len(table)} table rows: pass "
                f"population_to_cells(areas, table[{cell_column!r}]) or a Series indexed by cell"
            )
    fn = crude_rates if method == "crude" else eb_rates
    out = table.copy()
    out["population"] = pop
    out["rate"] = fn(table["count"].to_numpy(float), pop, per)
    out["has_population"] = pop > 0
    return out
