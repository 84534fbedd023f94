"""Area product: counts, breakdowns, rates, prior-period change and Gi* per named area.

:func:`area_table` is the one function behind ``gapmap areas``, the dashboard's Areas page and
any area summary: one row per area of a layer (neighbourhoods, ZIP codes, towns …), counted
point-in-polygon (:func:`geo.areas.incident_areas`), plus the records located only to an area
(``location_precision == "centroid"`` or an ``area`` name), which count here and never in a
cell map.

Every count is keyed (cell-key method) and leaves through :func:`geo.privacy.publish`; the
rate per 100,000, the change against the prior period and the Gi* statistics are computed
from the *published* counts in the public tier (hidden ones imputed from public figures, see
:func:`geo.privacy.impute_hidden`), exactly as for H3 cells. Gi* uses contiguity neighbours
(queen, self included; :func:`clustering.contiguity.contiguity_neighbourhood`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from clustering.contiguity import contiguity_neighbourhood
from clustering.gistar import gi_star
from geo.areas import AreaLayer, area_located, area_located_note, incident_areas
from geo.privacy import (
    KEY_SUFFIX,
    PrivacyPolicy,
    as_policy,
    impute_hidden,
    keyed_counts,
    publish,
    publish_counts,
    with_record_keys,
)
from geo.privacy.cellkey import key_sum
from products.counting import BREAKDOWNS, _codes
from products.query import Query, resolve, select

__all__ = ["area_table", "area_population", "area_tables"]

#: Minimum number of areas for Gi*.
MIN_GI_AREAS = 3


def area_population(layer: AreaLayer, population=None,
                    population_column: str = "population") -> np.ndarray | None:
    """Residents per area (NaN where unknown), or ``None`` when nothing is known.

    Parameters
    ----------
    layer : AreaLayer
    population : None, mapping, Series or GeoDataFrame
        ``None``: the layer's own population column. A mapping / Series ``name → residents``.
        A GeoDataFrame of population polygons (e.g. block groups) is apportioned to the areas
        by the share of each polygon's area that falls in each area (areal weighting in an
        equal-area projection).
    population_column : str
        Column of the population polygons holding residents.
    """
    if population is None:
        return None if layer.population is None else layer.population.astype(float)
    if isinstance(population, dict | pd.Series):
        s = pd.Series(population, dtype=float)
        return s.reindex(layer.names).to_numpy(float)
    if hasattr(population, "geometry"):
        return _areal_weighting(layer, population, population_column)
    raise ValueError("population must be a mapping area → residents or population polygons "
                     "(GeoDataFrame with a population column)")


def _areal_weighting(layer: AreaLayer, pop, column: str) -> np.ndarray:
    import geopandas as gpd

    if column not in pop.columns:
        raise ValueError(f"population polygons have no column {column!r}; found "
                         f"{[c for c in pop.columns if c != 'geometry']}")
    src = pop.to_crs(6933) if pop.crs is not None else gpd.GeoDataFrame(
        pop, crs=4326).to_crs(6933)
    dst = layer.to_geodataframe().to_crs(6933)
    vals = pd.to_numeric(src[column], errors="coerce").fillna(0).to_numpy(float)
    s_geom, d_geom = src.geometry.values, dst.geometry.values
    import shapely

    tree = shapely.STRtree(np.asarray(d_geom))
    si, di = tree.query(np.asarray(s_geom), predicate="intersects")
    inter = shapely.area(shapely.intersection(np.asarray(s_geom)[si], np.asarray(d_geom)[di]))
    share = inter / np.maximum(shapely.area(np.asarray(s_geom)[si]), 1e-9)
    return np.bincount(di, weights=share * vals[si], minlength=layer.n)


def _keyed_area_counts(inc: pd.DataFrame, idx: np.ndarray, n: int, name: str,
                       breakdown=()) -> dict[str, np.ndarray]:
    ok = idx >= 0
    rk = inc["rkey"].to_numpy()[ok]
    a = idx[ok]
    cnt, key = keyed_counts(a, rk, n)
    out = {name: cnt, f"{name}{KEY_SUFFIX}": key}
    for fam in breakdown:
        col, levels, fmt = BREAKDOWNS[fam]
        codes = _codes(inc[col] if col in inc.columns else None, levels, len(inc))[ok]
        L = len(levels)
        c, k = keyed_counts(a * L + codes, rk, n * L)
        c, k = c.reshape(-1, L), k.reshape(-1, L)
        for j, lev in enumerate(levels):
            out[fmt.format(lev)] = c[:, j]
            out[f"{fmt.format(lev)}{KEY_SUFFIX}"] = k[:, j]
    return out


def _published_total(inc: pd.DataFrame, idx: np.ndarray, pol: PrivacyPolicy) -> float:
    rk = inc["rkey"].to_numpy()[idx >= 0]
    v, _ = publish_counts([rk.size], [key_sum(rk)], pol)
    return float(v[0])


def area_table(
    incidents: pd.DataFrame,
    areas: AreaLayer,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    population=None,
    *,
    population_column: str = "population",
    breakdown=("outcome", "naloxone", "source"),
    gi: bool = True,
) -> pd.DataFrame:
    """One row per area: published counts, breakdowns, rate, prior-period change and Gi*.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents (``lat``/``lon``; optional ``location_precision``
        and ``area``).
    areas : AreaLayer
        Named polygons (:func:`geo.areas.load_areas`).
    query : Query
        Window ``[start, end)`` and filters (public: a release window); ``res`` is unused.
    policy : PrivacyPolicy or tier name
    population : see :func:`area_population`
        Residents per area; default the layer's own population column.
    breakdown : iterable of {"outcome", "naloxone", "source"}
    gi : bool
        Add Gi* ``z, p, q, class`` on contiguity neighbours (needs ≥ 3 areas).

    Returns
    -------
    DataFrame
        ``area, count, <breakdowns>, n_area_located, count_prior, change_pct, population,
        rate_per_100k, z, p, q, class, neighbours, suppressed``; counts published.
        ``attrs["notes"]`` holds sentences to show with the table (area-located records,
        records outside every area, unknown population).
    """
    pol = as_policy(policy)
    if not isinstance(areas, AreaLayer):
        raise TypeError("areas must be an AreaLayer (geo.areas.load_areas)")
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    idx = incident_areas(sub, areas)
    n = areas.n
    data = {"area": areas.names.astype(object)}
    data.update(_keyed_area_counts(sub, idx, n, "count", tuple(breakdown or ())))
    located = area_located(sub)
    loc_idx = np.where(located, idx, -1)
    data.update(_keyed_area_counts(sub, loc_idx, n, "n_area_located"))
    prior = None
    if q.start is not None and q.end is not None:
        span = q.end - q.start
        qp = replace(q, start=q.start - span, end=q.start)
        prior = with_record_keys(select(incidents, qp))
        data.update(_keyed_area_counts(prior, incident_areas(prior, areas), n, "count_prior"))
    counts = pd.DataFrame(data)
    pub = publish(counts, pol)
    total = (np.nan if pol.restricted else _published_total(sub, idx, pol))
    now = (counts["count"].to_numpy(float) if pol.restricted
           else impute_hidden(pub["count"], pol.k, total))
    shown = pub["count"].to_numpy(dtype=float, na_value=np.nan)
    out = pub.copy()
    notes = []
    if prior is not None:
        before = pub["count_prior"].to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["change_pct"] = np.where(before > 0, (shown - before) / before * 100.0, np.nan)
    pop = area_population(areas, population, population_column)
    if pop is not None:
        out["population"] = pop
        with np.errstate(divide="ignore", invalid="ignore"):
            out["rate_per_100k"] = np.where(pop > 0, shown / pop * 1e5, np.nan)
        if np.isnan(pop).any():
            notes.append(f"population unknown for {int(np.isnan(pop).sum())} area(s): no rate")
    else:
        out["population"] = np.nan
        out["rate_per_100k"] = np.nan
        notes.append("population unknown: rates per 100,000 not computed (give --population or "
                     "a population column)")
    if gi and n >= MIN_GI_AREAS:
        nbhd = contiguity_neighbourhood(areas.geometry)
        value = now
        if pop is not None and np.all(pop > 0):
            value = now / pop * 1e5
        g = gi_star(pd.Series(value, index=np.arange(n, dtype=np.uint64)), nbhd)
        for c in ("z", "p", "q", "class", "neighbours"):
            out[c] = g[c].to_numpy()
    elif gi:
        out["class"] = "not_computed"
        notes.append(f"Gi* needs at least {MIN_GI_AREAS} areas; this layer has {n}")
    note = area_located_note(sub, areas.kind)
    if note:
        notes.append(note)
    outside = int((idx < 0).sum())
    if outside:
        notes.append(f"{outside:,} record(s) lie outside every {areas.kind} and are not listed")
    cols = [c for c in out.columns if c != "suppressed"] + ["suppressed"]
    out = out[cols].reset_index(drop=True)
    out.attrs["notes"] = notes
    out.attrs["kind"] = areas.kind
    return out


def area_tables(incidents: pd.DataFrame, layers, query: Query,
                policy: PrivacyPolicy | str = "public", population=None, **kwargs
                ) -> pd.DataFrame:
    """:func:`area_table` for several layers, stacked with a ``unit`` column (layer kind)."""
    parts, notes = [], []
    for layer in layers:
        t = area_table(incidents, layer, query, policy, population, **kwargs)
        notes += [f"{layer.kind}: {s}" for s in t.attrs.get("notes", [])]
        parts.append(t.assign(unit=layer.kind))
    if not parts:
        raise ValueError("no area layers given (--areas FILE --area-name COLUMN)")
    out = pd.concat(parts, ignore_index=True)
    out = out[["unit"] + [c for c in out.columns if c != "unit"]]
    out.attrs["notes"] = notes
    return out
