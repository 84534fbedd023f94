"""The outreach product: recent nonfatal overdoses per area in the last 24/48/72 hours.

(Engineers: the working contract of this refactor is in products/CONTRACT.md — read it first.)

For post-overdose response teams (follow-up within 24–72 h). :func:`outreach_table` is the one
function every door calls: per H3 area, the nonfatal overdoses in the windows
``[end - H hours, end)`` for ``H`` in ``hours`` (cumulative: 48 h includes 24 h), counted with
cell keys and published by :func:`geo.privacy.publish` — perturbed, 1–9 hidden, and the nested
window rule (no two shown windows of an area differ by 1..k-1) — with the nearest resource of
each kind to the area's centre (resource data: public).

``end`` is the midnight after the day of the latest report (:func:`outreach_end`), never the
clock and never the exact time of an overdose (the restricted tier may pass ``query.end``).
The sidebar's time window does not apply (the windows are the last hours of data) and the
outcome filter is fixed to nonfatal; the source filter and the resolution apply.
The person-level follow-up list stays in :func:`layers.outreach.outreach_line_list`
(restricted tier only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng
from geo.privacy import (
    KEY_SUFFIX,
    PrivacyPolicy,
    as_policy,
    keyed_counts,
    publish,
    with_record_keys,
)
from layers.outreach import OUTREACH_HOURS, nearest_site_names
from products.counting import keyed_cell_counts
from products.query import Query, check_filters, check_resolution, data_end, select

__all__ = ["outreach_table", "outreach_totals", "outreach_end", "OUTREACH_HOURS"]


def outreach_end(incidents: pd.DataFrame, query: Query | None = None,
                 policy: PrivacyPolicy | str = "public") -> pd.Timestamp:
    """First instant excluded from the windows: midnight after the latest report's day.

    The restricted tier may set it with ``query.end``; public outputs always use the day
    boundary (a date, not the time of an overdose).
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    if pol.restricted and query is not None and query.end is not None:
        return pd.Timestamp(query.end)
    return data_end(incidents).normalize() + pd.Timedelta(days=1)


def _recent(incidents: pd.DataFrame, query: Query, pol: PrivacyPolicy, hours: Sequence[int]):
    hours = tuple(sorted(int(h) for h in hours))
    if not hours or hours[0] <= 0:
        raise ValueError(f"hours must be positive window lengths, got {hours}")
    check_resolution(query.res, pol)
    end = outreach_end(incidents, query, pol)
    # the sidebar's time window and outcomes do not apply here: last hours, nonfatal only
    # (sources and the drug / age band / sex filters do)
    sub = select(incidents, replace(query, outcomes=None,
                                    start=end - pd.Timedelta(hours=hours[-1]), end=end))
    sub = with_record_keys(sub[(sub["outcome"].astype("string") == "nonfatal").fillna(False)
                               .to_numpy(bool)])
    t = pd.to_datetime(sub["occurred_at"]).to_numpy()
    return hours, end, sub, t


def outreach_table(
    incidents: pd.DataFrame,
    resources: pd.DataFrame | None,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    hours: Sequence[int] = OUTREACH_HOURS,
    *,
    kinds: Sequence[str] = ("naloxone", "treatment", "ssp"),
) -> pd.DataFrame:
    """Nonfatal overdoses in the last ``hours`` per area, published, with the nearest resources.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    resources : DataFrame or None
        Canonical resource sites (adds ``nearest_<kind>`` and ``dist_m_<kind>``).
    query : Query
        Resolution and source filter (window and outcomes do not apply, see the module notes).
    policy : PrivacyPolicy or tier name
    hours : sequence of int
        Window lengths; columns ``n_<H>h``.

    Returns
    -------
    DataFrame
        One row per area with a nonfatal overdose in the longest window: ``h3``, ``n_<H>h``
        (published), nearest-site columns, ``suppressed``; largest counts first.
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    hours, end, sub, t = _recent(incidents, query, pol, hours)
    cells = keyed_cell_counts(sub, query.res, breakdown=())["h3"].to_numpy(np.uint64)
    table = pd.DataFrame({"h3": cells})
    for h in hours:
        inside = (t >= np.datetime64(end - pd.Timedelta(hours=h))) & (t < np.datetime64(end))
        c = keyed_cell_counts(sub.loc[inside], query.res, breakdown=(), cells=cells)
        table[f"n_{h}h"] = c["count"].to_numpy()
        table[f"n_{h}h{KEY_SUFFIX}"] = c[f"count{KEY_SUFFIX}"].to_numpy()
    cols = [f"n_{h}h" for h in hours]
    pub = publish(table, pol, count_columns=cols, nested=[cols])
    # hidden counts sort as k/2 (a public figure), so the order reveals nothing more
    order = [pd.to_numeric(pub[c]).astype("Float64").fillna(pol.k / 2) for c in cols]
    key = pd.DataFrame({c: o for c, o in zip(cols, order, strict=True)}).assign(h3=pub["h3"])
    pub = pub.loc[key.sort_values(cols + ["h3"], ascending=[False] * len(cols) + [True],
                                  kind="stable").index].reset_index(drop=True)
    if resources is not None and len(resources) and len(pub):
        lat, lon = cells_to_latlng(pub["h3"].to_numpy(np.uint64))
        near = nearest_site_names(lat, lon, resources, kinds)
        pub = pd.concat([pub.drop(columns="suppressed"), near, pub[["suppressed"]]], axis=1)
    return pub


def outreach_totals(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    hours: Sequence[int] = OUTREACH_HOURS,
) -> pd.DataFrame:
    """One published row: nonfatal overdoses in the whole area in each window (``n_<H>h``)."""
    pol = as_policy(policy)
    check_filters(query, pol)
    hours, end, sub, t = _recent(incidents, query, pol, hours)
    row = {}
    for h in hours:
        inside = (t >= np.datetime64(end - pd.Timedelta(hours=h))) & (t < np.datetime64(end))
        n, k = keyed_counts(np.zeros(int(inside.sum()), np.int64),
                            sub["rkey"].to_numpy()[inside], 1)
        row[f"n_{h}h"], row[f"n_{h}h{KEY_SUFFIX}"] = n, k
    cols = [f"n_{h}h" for h in hours]
    return publish(pd.DataFrame(row), pol, count_columns=cols, nested=[cols])
