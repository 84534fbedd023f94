"""Cluster products: emerging hot spots, density clusters and one cell's history.

(Engineers: the working contract of this refactor is in products/CONTRACT.md — read it first.)

Each function is called unchanged by the CLI (``gapmap hotspots --method emerging|dbscan|
hdbscan``), the dashboard's Hotspots page and (where shown) the briefing, and returns a table
that has passed :func:`geo.privacy.publish`:

* :func:`emerging_table` — emerging hot-spot category per cell on the one grid rule
  (:func:`products.hotspots.analysis_cells`), window ``[start, end)`` exactly as asked (the last
  day of the window is counted). Public: ``h3, category, count`` (count keyed and published).
* :func:`density_table` — DBSCAN / HDBSCAN clusters. Public: one row per (cluster, cell) with
  keyed ``count`` and keyed ``cluster_count``: both are perturbed independently, so the
  cluster total minus its shown cells is never exactly a hidden cell. Restricted: one row per
  cluster (dates, centroid, hull, cells).
* :func:`cell_history` — a cell's counts per period over all dates. Public: fixed 28-day
  periods ending at the release date, keyed (no all-dates total beside them); restricted:
  calendar months.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from geo.cells import cells_resolution
from geo.grid import cells_at
from geo.privacy import (
    KEY_SUFFIX,
    PrivacyPolicy,
    as_policy,
    keyed_counts,
    publish,
    release_date,
    with_record_keys,
)
from products.counting import keyed_cell_counts, keyed_group_counts
from products.hotspots import analysis_cells
from products.query import Query, check_filters, check_resolution, data_end, resolve, select

__all__ = ["emerging_table", "emerging_from_counts", "emerging_window", "density_table",
           "cell_history", "HISTORY_DAYS", "auto_slice"]

#: Length of one public history period (fixed partition ending at the release date).
HISTORY_DAYS = 28
_EMERGING_PUBLIC = ["h3", "category", "count", "in_grid", "suppressed"]
#: Windows of at least this many days get monthly emerging slices by default: ten calendar
#: months, the fewest that give the emerging test its minimum of 10 monthly slices.
MONTHLY_MIN_DAYS = 300


def auto_slice(days: float | None) -> str:
    """Default emerging slice for a window of ``days`` days: ``"month"`` from
    :data:`MONTHLY_MIN_DAYS` (or an open window), else ``"week"`` (weekly slices of sparse
    cells read a persistent hot spot as "sporadic", so monthly is used whenever it can be)."""
    return "month" if days is None or days >= MONTHLY_MIN_DAYS else "week"


def emerging_table(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    boundary=None,
    k_ring: int = 1,
    slice: str | None = None,
    window: int = 1,
) -> pd.DataFrame:
    """Emerging hot-spot category per analysis cell (space-time Gi* + Mann–Kendall), published.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    query : Query
        Resolution, window ``[start, end)`` and filters; slices run from the slice holding
        ``start`` to the one holding the day before ``end`` (the last day is included).
    policy : PrivacyPolicy or tier name
    boundary : shapely geometry, optional
        Study area (the grid rule of :func:`products.hotspots.analysis_cells`).
    k_ring : int
        Spatial neighbours (grid steps).
    slice : {"week", "month"}, optional
        Default (``None``): :func:`auto_slice` of the window's length — monthly when the
        window holds 10 months or more, else weekly; ``attrs["slice"]`` says which was used.
    window : int
        Slices ``t-window .. t`` are neighbours in time.

    Returns
    -------
    DataFrame
        Public: ``h3, category, count, in_grid, suppressed``. Restricted: also
        ``slices_hot, slices_cold, z_last, trend_z, trend_p``.

    Raises
    ------
    ValueError
        Fewer than 10 slices, no incidents, bad parameters (a sentence each).
    """
    from clustering.emerging import emerging_hotspots

    pol = as_policy(policy)
    check_filters(query, pol)
    if isinstance(k_ring, bool) or not isinstance(k_ring, int | np.integer) or k_ring < 0:
        raise ValueError(f"k_ring must be 0 or more, got {k_ring!r}")
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    if len(sub) == 0:
        raise ValueError("no incidents in the chosen window and filters")
    occupied = keyed_cell_counts(sub, q.res, breakdown=())["h3"].to_numpy(np.uint64)
    grid = analysis_cells(occupied, q.res, boundary, int(k_ring))
    if slice is None:
        t = pd.to_datetime(sub["occurred_at"])
        a, b = emerging_window(q, t.min(), t.max())
        slice = auto_slice((b - a).days)
    em = emerging_hotspots(sub, q.res, cells=grid, k=int(k_ring), slice=slice,
                           window=int(window), start=q.start, end=q.end)
    counts = keyed_cell_counts(sub, q.res, breakdown=(), cells=grid)
    return emerging_from_counts(counts, em, grid, pol, slice)


def emerging_window(q: Query, first, last) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The days ``[a, b)`` the emerging slices cover: the query's window, or from the day of
    the ``first`` incident to the day after the ``last`` where it is open."""
    a = q.start if q.start is not None else pd.Timestamp(first).normalize()
    b = q.end if q.end is not None else pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    return pd.Timestamp(a), pd.Timestamp(b)


def emerging_from_counts(counts: pd.DataFrame, em: pd.DataFrame, grid: np.ndarray,
                         policy: PrivacyPolicy | str, slice: str) -> pd.DataFrame:
    """The published :func:`emerging_table` from the keyed counts per grid cell and the
    emerging categories (:func:`clustering.emerging.emerging_hotspots`) of that grid."""
    pol = as_policy(policy)
    table = counts.merge(em.drop(columns="count"), on="h3", how="left", validate="1:1")
    table["in_grid"] = np.isin(table["h3"].to_numpy(np.uint64), grid)
    pub = publish(table, pol, count_columns=["count"])
    if not pol.restricted:
        pub = pub[_EMERGING_PUBLIC]
    lead = ["h3", "category", "count"]
    out = pub[lead + [c for c in pub.columns if c not in lead]].reset_index(drop=True)
    out.attrs["slice"] = slice
    return out


def density_table(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    *,
    method: str = "dbscan",
    eps_m: float = 250.0,
    min_samples: int = 10,
    min_cluster_size: int = 10,
) -> pd.DataFrame:
    """Point-density clusters (DBSCAN / HDBSCAN, great-circle metres), published.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents (``lat``/``lon``).
    query : Query
        Resolution of the cells listed, window ``[start, end)`` and filters.
    policy : PrivacyPolicy or tier name
    method, eps_m, min_samples, min_cluster_size
        See :class:`clustering.density.PointClusters`.

    Returns
    -------
    DataFrame
        Public: one row per (cluster, cell): ``cluster, h3, count, cluster_count, suppressed``
        — ``count`` and ``cluster_count`` both keyed and perturbed (no points, hulls,
        centroids or dates). Restricted: one row per cluster (``cluster, count, first_date,
        last_date, centroid_lat, centroid_lon, cells, n_cells, hull, suppressed``).
    """
    from clustering.density import PointClusters

    pol = as_policy(policy)
    check_filters(query, pol)
    q = resolve(query, incidents, pol)
    sub = with_record_keys(select(incidents, q))
    pc = PointClusters(method, eps_m=eps_m, min_samples=min_samples,
                       min_cluster_size=min_cluster_size).fit(sub)
    if pol.restricted:
        return publish(pc.cluster_summaries(res=q.res).reset_index(), pol)
    lab = pc.labels_
    keep = lab >= 0
    cells = cells_at(sub, q.res)[keep]
    rk = sub["rkey"].to_numpy()[keep]
    pairs, code = np.unique(np.column_stack([lab[keep].astype(np.uint64), cells]), axis=0,
                            return_inverse=True)
    code = np.asarray(code).reshape(-1)
    out = pd.DataFrame({"cluster": pairs[:, 0].astype(np.int64),
                        "h3": pairs[:, 1].astype(np.uint64)})
    out = pd.concat([out, keyed_group_counts(code, rk, len(pairs))], axis=1)
    n, k = keyed_counts(lab[keep], rk, pc.n_clusters_)
    c = out["cluster"].to_numpy()
    out["cluster_count"] = n[c]
    out[f"cluster_count{KEY_SUFFIX}"] = k[c]
    return publish(out, pol, count_columns=["count", "cluster_count"]).reset_index(drop=True)


def cell_history(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    cell: int = 0,
) -> pd.DataFrame:
    """Counts of one cell per period over all dates (outcome / source filters of ``query``).

    Parameters
    ----------
    incidents : DataFrame
    query : Query
        ``res`` (the cell's resolution), ``outcomes``, ``sources``; the window is not used
        (the history covers all dates; public: up to the release date).
    policy : PrivacyPolicy or tier name
    cell : int
        H3 cell (uint64) at ``query.res``.

    Returns
    -------
    DataFrame
        ``period`` (first day), ``period_end`` (first day excluded), ``count``, ``suppressed``.
        Public: consecutive 28-day periods ending at the release date, counts keyed and
        published. Restricted: calendar months, exact.
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    res = check_resolution(query.res, pol)
    cell = np.uint64(cell)
    if int(cells_resolution(np.array([cell], dtype=np.uint64))[0]) != res:
        raise ValueError(f"cell {int(cell):x} is not an H3 cell at resolution {res}")
    inc = with_record_keys(select(incidents, replace(query, res=res, start=None, end=None)))
    inc = inc.loc[cells_at(inc, res) == cell]
    t = pd.to_datetime(inc["occurred_at"])
    if t.dt.tz is not None:
        t = t.dt.tz_localize(None)
    if pol.restricted:
        per = t.dt.to_period("M")
        if len(inc) == 0:
            return pd.DataFrame({"period": pd.Series([], dtype="datetime64[ns]"),
                                 "period_end": pd.Series([], dtype="datetime64[ns]"),
                                 "count": pd.Series([], dtype="int64"), "suppressed": False})
        months = pd.period_range(per.min(), data_end(incidents).to_period("M"), freq="M")
        idx = (pd.PeriodIndex(per).asi8 - months[0].ordinal).astype(np.int64)
        out = keyed_group_counts(idx, inc["rkey"].to_numpy(), len(months))
        out.insert(0, "period_end", (months + 1).start_time)
        out.insert(0, "period", months.start_time)
        return publish(out, pol)
    r = release_date(data_end(incidents))
    step = pd.Timedelta(days=HISTORY_DAYS)
    t_ok = t < r
    first = t[t_ok].min() if t_ok.any() else r - step
    n_per = max(int(np.ceil((r - first) / step)), 1)
    starts = r - step * np.arange(n_per, 0, -1)
    idx = ((t[t_ok] - starts[0]) // step).to_numpy().astype(np.int64)
    out = keyed_group_counts(idx, inc["rkey"].to_numpy()[t_ok.to_numpy()], n_per)
    out.insert(0, "period_end", starts + step)
    out.insert(0, "period", starts)
    return publish(out, pol)
