"""Alert products: current spike alerts and space-time scan clusters, one pipeline each.

Called unchanged by ``gapmap alerts``, the dashboard's Overview page and the briefing.

**Spike alerts** (:func:`current_alerts`): daily series per area (:mod:`clustering.series`),
one detector (:func:`clustering.alerts.detect`) and the alert rules of
:func:`clustering.alerts.alert_table`, reported for the days ``[end - days, end)``.

**Public figures.** A day's ``observed`` count in an area and the ``baseline`` total behind
``expected`` (the detector's baseline days) are counts of events, keyed by their record keys
and perturbed by the gate. ``expected`` is the published baseline total divided by the
baseline days, so ``expected × baseline_days`` is a published, perturbed count — never an
exact small one; ``threshold`` is that expected plus the detector's margin (EARS) and is blank
for EWMA (its margin carries the exact recent counts). ``expected``, ``threshold`` and
``baseline`` are blank wherever the observed count or the baseline is hidden; ``statistic``
and ``p`` (functions of the exact counts) are restricted-tier only. Windows end at the release
date; dates, never times.

The series' rows, cell keys and baselines, and the rows dropped for want of a baseline, are
built in :mod:`products.alert_series`.

**Scan** (:func:`scan_table`): Kulldorff's prospective space-time permutation scan
(:func:`clustering.scan.space_time_scan`); public: ``observed`` and ``zone_count`` keyed and
perturbed, ``expected``/``p``/``recurrence_days`` blank for clusters with a hidden count,
``llr`` restricted only (with ``expected`` it solves back for the exact observed count).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from clustering.alerts import METHODS, alert_table, detect
from clustering.series import area_neighbours, incidents_to_daily, incidents_to_rolling_24h
from geo.cells import cells_to_str
from geo.grid import cells_at
from geo.privacy import (
    KEY_SUFFIX,
    PrivacyPolicy,
    as_policy,
    check_window,
    publish,
    publish_counts,
    with_record_keys,
)
from geo.privacy.cellkey import KEY_MOD
from products.alert_series import (
    _DAY,
    _EARS_LAG,
    WHOLE_AREA,
    _baseline,
    _drop_before_data,
    _key_series,
    _label,
    _series_rows,
)
from products.query import Query, check_filters, check_resolution, data_end, select

__all__ = ["current_alerts", "scan_table", "alert_window", "ALERT_COLUMNS", "SCAN_COLUMNS",
           "WHOLE_AREA"]

ALERT_COLUMNS = ["date", "area", "area_type", "severity", "method", "observed", "expected",
                 "threshold", "baseline", "baseline_days", "statistic", "p", "run_day",
                 "trigger_area"]
SCAN_COLUMNS = ["rank", "centre", "cells", "n_cells", "start", "end", "days", "observed",
                "expected", "llr", "p", "recurrence_days", "zone_count"]
_HISTORY_DAYS = 120  # series days before the report window (room for every baseline)


def alert_window(incidents: pd.DataFrame, query: Query, policy: PrivacyPolicy | str,
                 days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` reported: the ``days`` days to ``query.end`` (restricted default: the
    day after the last incident); public: a release window (``days`` in 7/28/91/364)."""
    pol = as_policy(policy)
    check_filters(query, pol)
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise ValueError(f"days must be a whole number ≥ 1, got {days!r}")
    last = data_end(incidents)
    if pol.restricted:
        end = query.end if query.end is not None else last.normalize() + _DAY
        return end - int(days) * _DAY, end
    from geo.privacy import release_date

    end = query.end if query.end is not None else release_date(last)
    return check_window(pol, end - int(days) * _DAY, end, last)


def _selected(incidents: pd.DataFrame, query: Query) -> pd.DataFrame:
    return select(with_record_keys(incidents), replace(query, start=None, end=None))


def current_alerts(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    method: str = "C2",
    res: int = 7,
    days: int = 7,
    *,
    areas=("jurisdiction", "h3"),
    polygons=None,
    id_column: str | None = None,
    neighbours: bool = True,
    threshold=None,
    **detector,
) -> pd.DataFrame:
    """Spike alerts of the days ``[end - days, end)``, published for the tier.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents (the full table: record keys come from its rows).
    query : Query
        ``end`` and the outcome/source filters (``start`` is not used: see ``days``).
    policy : PrivacyPolicy or tier name
    method : {"C1", "C2", "C3", "EWMA", "threshold"}
        Detector (``threshold``: the ODMAP 24-hour rule, restricted tier only).
    res : int
        H3 resolution of the cell areas (public ≤ the floor).
    days : int
        Days reported (public: 7, 28, 91 or 364, ending at the release date).
    areas : iterable of {"jurisdiction", "h3", "polygon"}
        Series to run (default the whole area and the H3 cells).
    polygons, id_column
        User areas for ``"polygon"`` (GeoDataFrame with a CRS; id column).
    neighbours : bool
        Early warnings for areas next to an alerting area.
    threshold : float or Series, optional
        For ``method="threshold"`` (default: suggested per area from the 30 days before).
    **detector
        Passed to the detector (``sd_floor``, ``smoothing`` …).

    Returns
    -------
    DataFrame
        :data:`ALERT_COLUMNS`: ``date`` (day), ``area`` (``"whole area"``, H3 hex or polygon
        id), ``area_type``, ``severity``, ``method``, ``observed``, ``expected``,
        ``threshold``, ``baseline`` (events in the baseline days), ``baseline_days``,
        ``statistic``, ``p``, ``run_day``, ``trigger_area``, ``suppressed``. Rows whose
        baseline would start before the first record are dropped (days without data are not
        a zero baseline); ``attrs["no_baseline"]`` counts them.
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    if str(method) not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "threshold" and not pol.restricted:
        raise ValueError("the 24-hour threshold method is restricted-tier only (its busiest-24-"
                         "hours counts cannot be keyed); use C1, C2, C3 or EWMA, or log in")
    areas = tuple(areas)
    if "h3" in areas:
        res = check_resolution(res, pol)
    start, end = alert_window(incidents, query, pol, days)
    sub = _selected(incidents, query)
    first, last = start - _HISTORY_DAYS * _DAY, end - _DAY
    win = _series_rows(sub, first, last)
    build = incidents_to_rolling_24h if method == "threshold" else incidents_to_daily
    parts = []
    for area in areas:
        kw = {"res": res if area == "h3" else None, "polygons": polygons,
              "id_column": id_column}
        series = build(win, area=area, start=first, end=last, **kw)
        if method == "threshold":
            from clustering.ears import suggest_threshold

            thr = threshold if threshold is not None else suggest_threshold(
                series, days=30, end=start - _DAY)
            results = detect(series, "threshold", threshold=thr)
        else:
            results = detect(series, method, **detector)
        nb = (area_neighbours(series.columns, polygons=polygons, id_column=id_column)
              if neighbours and area != "jurisdiction" else None)
        tab = alert_table(results, series=series, neighbours=nb, start=start, end=last)
        if "baseline_days" not in tab.columns:
            tab["baseline_days"] = np.nan
        tab = tab.rename(columns={"area": "area_raw"})
        keys = (_key_series(win, area, kw["res"], polygons, id_column, first, last, series)
                if method != "threshold" else np.zeros(series.shape, np.int64))
        di = series.index.get_indexer(pd.DatetimeIndex(tab["date"]))
        ai = series.columns.get_indexer(pd.Index(tab["area_raw"].tolist()))
        tab["observed__ckey"] = np.where((di >= 0) & (ai >= 0), keys[di, ai], 0)
        base, bkey, L = _baseline(tab, series, keys, series.index[0])
        tab["baseline"], tab["baseline__ckey"] = base, bkey
        tab["baseline_days"] = np.where(np.isfinite(L), L, tab["baseline_days"])
        tab["area"] = _label(tab["area_raw"].tolist(), area)
        tab["trigger_area"] = _label(tab["trigger_area"].tolist(), area)
        tab["area_type"] = area
        parts.append(tab.drop(columns="area_raw"))
    tab = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    tab, no_base = _drop_before_data(tab, sub)
    out = _publish_alerts(tab, pol)
    out.attrs["no_baseline"] = no_base
    return out


def _publish_alerts(tab: pd.DataFrame, pol: PrivacyPolicy) -> pd.DataFrame:
    if "p" not in tab.columns:
        tab["p"] = np.nan
    tab["date"] = pd.to_datetime(tab["date"]).dt.normalize()
    for c in ("expected", "threshold", "statistic", "p", "baseline", "baseline_days"):
        tab[c] = pd.to_numeric(tab[c]).astype(float)
    tab["observed"] = pd.to_numeric(tab["observed"]).astype(float)
    if not pol.restricted:
        base_pub, _ = publish_counts(tab["baseline"].to_numpy(float),
                                     tab["baseline__ckey"].to_numpy(), pol)
        exp_pub = base_pub / tab["baseline_days"].to_numpy(float)
        margin = tab["threshold"].to_numpy(float) - tab["expected"].to_numpy(float)
        ears = tab["method"].astype(str).isin(list(_EARS_LAG)).to_numpy()
        zero = tab["threshold"].to_numpy(float) == 0  # C3: any count alarms
        tab["threshold"] = np.where(ears, np.where(zero, 0.0, exp_pub + margin), np.nan)
        tab["expected"] = exp_pub
        tab["statistic"] = np.nan
        tab["p"] = np.nan
    blank = {c: ["observed", "baseline"] for c in ("expected", "threshold", "statistic", "p")}
    blank["baseline_days"] = ["observed"]
    pub = publish(tab[ALERT_COLUMNS + ["observed__ckey", "baseline__ckey"]], pol,
                  cell_column="area_h3", count_columns=["observed", "baseline"], derived=blank)
    withheld = 0
    if not pol.restricted:
        # an alert is a statistic of its day's count: where that count is hidden, the public
        # cannot see the alert either (it would say "a few events here that day")
        hid = pub["observed"].isna().to_numpy()
        withheld = int(hid.sum())
        pub = pub.loc[~hid]
    pub["observed"] = pub["observed"].astype("Int64")
    for c in ("area", "trigger_area", "area_type", "severity", "method"):
        pub[c] = pd.array([None if v is None or v is pd.NA or (isinstance(v, float) and
                                                              np.isnan(v)) else str(v)
                           for v in pub[c].tolist()], dtype="string")
    pub["baseline"] = pd.to_numeric(pub["baseline"]).round().astype("Int64")
    pub["baseline_days"] = pd.to_numeric(pub["baseline_days"]).round().astype("Int64")
    pub = pub.reset_index(drop=True)
    pub.attrs["withheld"] = withheld  # alerts whose day count is hidden (public tier)
    return pub


def scan_table(
    incidents: pd.DataFrame,
    query: Query,
    policy: PrivacyPolicy | str = "public",
    res: int = 8,
    replicates: int = 999,
    seed: int = 0,
    *,
    days: int = 28,
    **scan,
) -> pd.DataFrame:
    """Space-time permutation scan clusters of the ``days`` days to the window end, published.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents (full table).
    query : Query
        ``end`` and filters; public: the study window is a release window.
    res, replicates, seed, days
        Scan locations' H3 resolution, Monte Carlo replicates, seed, study window (days).
    **scan
        ``max_radius_m``, ``max_days``, ``min_cases``, ``max_clusters``.

    Returns
    -------
    DataFrame
        :data:`SCAN_COLUMNS`: ``centre`` and ``cells`` (``;``-joined) as H3 hex, ``start``,
        ``end`` (``[start, end)``, days), ``observed``, ``expected``, ``llr``, ``p``,
        ``recurrence_days``, ``zone_count`` (zone events over the study window),
        ``suppressed``.
    """
    from clustering.scan import space_time_scan

    pol = as_policy(policy)
    check_filters(query, pol)
    res = check_resolution(res, pol)
    start, end = alert_window(incidents, query, pol, days)
    sub = _selected(incidents, query)
    result = space_time_scan(sub, res=res, end=end - _DAY, days=int(days),
                             replicates=int(replicates), seed=seed, **scan)
    cl = result.clusters
    rows = []
    if len(cl):
        at = cells_at(sub, res)
        t = pd.to_datetime(sub["occurred_at"]).to_numpy("datetime64[ns]")
        rk = sub["rkey"].to_numpy(np.int64)
        in_study = (t >= np.datetime64(start, "ns")) & (t < np.datetime64(end, "ns"))
        for _, c in cl.iterrows():
            inside = np.isin(at, np.asarray(c["cells"], np.uint64))
            a = pd.Timestamp(c["start"])
            b = pd.Timestamp(c["end"]) + _DAY
            m = inside & (t >= np.datetime64(a, "ns")) & (t < np.datetime64(b, "ns"))
            z = inside & in_study
            rows.append({
                "rank": int(c["rank"]),
                "centre": cells_to_str(np.array([c["centre"]], np.uint64))[0],
                "cells": ";".join(cells_to_str(np.asarray(c["cells"], np.uint64))),
                "n_cells": int(c["n_cells"]), "start": a, "end": b, "days": int(c["days"]),
                "observed": int(m.sum()), f"observed{KEY_SUFFIX}": int(rk[m].sum() % KEY_MOD),
                "expected": float(c["expected"]), "llr": float(c["llr"]), "p": float(c["p"]),
                "recurrence_days": float(c["recurrence_days"]),
                "zone_count": int(z.sum()), f"zone_count{KEY_SUFFIX}": int(rk[z].sum() % KEY_MOD),
            })
    tab = pd.DataFrame(rows, columns=SCAN_COLUMNS + [f"observed{KEY_SUFFIX}",
                                                     f"zone_count{KEY_SUFFIX}"])
    for c in ("observed", "zone_count", "rank", "n_cells", "days"):
        tab[c] = tab[c].astype("int64")
    for c in ("expected", "llr", "p", "recurrence_days"):
        tab[c] = tab[c].astype(float)
    for c in ("start", "end"):
        tab[c] = pd.to_datetime(tab[c])
    if not pol.restricted:
        tab["llr"] = np.nan
        tab["expected"] = tab["expected"].round(1)
    derived = {c: ["observed", "zone_count"] for c in ("expected", "llr", "p", "recurrence_days")}
    pub = publish(tab, pol, cell_column="centre_h3", count_columns=["observed", "zone_count"],
                  derived=derived)
    return pub.reset_index(drop=True)
