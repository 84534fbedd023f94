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
from geo.areas import AreaLayer, area_located, area_located_sentence, incident_areas
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
from geo.privacy.cellkey import KEY_MOD, key_sum
from products.counting import BREAKDOWNS, _codes
from products.query import Query, resolve, select

__all__ = ["area_table", "area_population", "area_tables", "area_counts", "add_area_counts",
           "area_table_from_counts", "stack_area_tables"]

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
    return _published_count(rk.size, key_sum(rk), pol)


def _published_count(n: int, key: int, pol: PrivacyPolicy) -> float:
    v, _ = publish_counts([n], [key], pol)
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
    return area_table_from_counts(area_counts(incidents, areas, q, breakdown), areas, q, pol,
                                  population, population_column=population_column, gi=gi)


def area_counts(incidents: pd.DataFrame, areas: AreaLayer, q: Query,
                breakdown=("outcome", "naloxone", "source")) -> dict:
    """The additive part of :func:`area_table` for a resolved query ``q``.

    Returns ``{"counts": {column: array per area}`` (keyed counts, breakdowns,
    ``n_area_located``, ``count_prior`` when the window is closed), ``"inside": (records in an
    area, their key sum)``, ``"located"`` (area-located records) and ``"outside"`` (records in
    no area)``}``. The counts of a union of incident sets are the sums
    (:func:`add_area_counts`), so they can be counted part by part (e.g. on Dask workers).
    """
    sub = with_record_keys(select(incidents, q))
    idx = incident_areas(sub, areas)
    n = areas.n
    data = _keyed_area_counts(sub, idx, n, "count", tuple(breakdown or ()))
    located = area_located(sub)
    data.update(_keyed_area_counts(sub, np.where(located, idx, -1), n, "n_area_located"))
    if q.start is not None and q.end is not None:
        span = q.end - q.start
        prior = with_record_keys(select(incidents, replace(q, start=q.start - span, end=q.start)))
        data.update(_keyed_area_counts(prior, incident_areas(prior, areas), n, "count_prior"))
    rk = sub["rkey"].to_numpy()[idx >= 0]
    return {"counts": data, "inside": (int(rk.size), key_sum(rk)),
            "located": int(located.sum()), "outside": int((idx < 0).sum())}


def add_area_counts(parts: list[dict]) -> dict:
    """The :func:`area_counts` of the union of the parts' incidents: counts add, cell keys
    add modulo 2^20."""
    def add(name, arrays):
        total = np.sum(arrays, axis=0)
        return np.mod(total, KEY_MOD) if name.endswith(KEY_SUFFIX) else total

    first = parts[0]
    return {"counts": {c: add(c, [p["counts"][c] for p in parts]) for c in first["counts"]},
            "inside": (sum(p["inside"][0] for p in parts),
                       sum(p["inside"][1] for p in parts) % KEY_MOD),
            "located": sum(p["located"] for p in parts),
            "outside": sum(p["outside"] for p in parts)}


def area_table_from_counts(counted: dict, areas: AreaLayer, q: Query,
                           policy: PrivacyPolicy | str = "public", population=None, *,
                           population_column: str = "population", gi: bool = True
                           ) -> pd.DataFrame:
    """:func:`area_table` from :func:`area_counts` (``q`` resolved): the gate, rates, change
    and Gi* on the counts."""
    pol = as_policy(policy)
    n = areas.n
    counts = pd.DataFrame({"area": areas.names.astype(object), **counted["counts"]})
    pub = publish(counts, pol)
    total = np.nan if pol.restricted else _published_count(*counted["inside"], pol)
    now = (counts["count"].to_numpy(float) if pol.restricted
           else impute_hidden(pub["count"], pol.k, total))
    shown = pub["count"].to_numpy(dtype=float, na_value=np.nan)
    out = pub.copy()
    notes = []
    if "count_prior" in counted["counts"]:
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
    note = area_located_sentence(counted["located"], areas.kind)
    if note:
        notes.append(note)
    outside = counted["outside"]
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
    return stack_area_tables(
        [area_table(incidents, layer, query, policy, population, **kwargs) for layer in layers],
        layers)


def stack_area_tables(tables: list[pd.DataFrame], layers) -> pd.DataFrame:
    """Tables of :func:`area_table`, one per layer, stacked with a ``unit`` column."""
    parts, notes = [], []
    for t, layer in zip(tables, layers, strict=True):
        notes += [f"{layer.kind}: {s}" for s in t.attrs.get("notes", [])]
        parts.append(t.assign(unit=layer.kind))
    if not parts:
        raise ValueError("no area layers given (--areas FILE --area-name COLUMN)")
    out = pd.concat(parts, ignore_index=True)
    out = out[["unit"] + [c for c in out.columns if c != "unit"]]
    out.attrs["notes"] = notes
    return out
