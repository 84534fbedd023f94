"""The alert table: detector flags → alerts people act on.

Rules (our documented design, after ODMAP's spike alerts and ESSENCE's alert lists):

* **One alert per ongoing cluster unless it grows.** Consecutive flagged days in one area form
  a run. The first day of a run is alerted; a later day of the same run is alerted again only
  when its observed count is larger than every earlier day of the run (the cluster grew).
  ``run_day`` numbers the days of the run (1 = first day).
* **Neighbour early warning.** Every emitted ``"alert"`` flags the areas adjacent to its area
  (H3 edge neighbours or touching polygons, from :func:`clustering.series.area_neighbours`) on
  the same day with ``method = "neighbour"``, ``severity = "warning"`` and ``trigger_area``
  naming the alerting area (the largest, if several) — unless that neighbour is flagged itself
  that day.

Columns: ``date, area, observed, expected, threshold, method, severity, statistic, run_day,
trigger_area``, sorted by date, then severity (alerts first), then area.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.ears import ears, ewma, fixed_threshold

__all__ = ["ALERT_COLUMNS", "METHODS", "detect", "alert_table"]

ALERT_COLUMNS = [
    "date", "area", "observed", "expected", "threshold", "method", "severity", "statistic",
    "run_day", "trigger_area",
]

#: Detector names accepted by :func:`detect`.
METHODS = ("C1", "C2", "C3", "EWMA", "threshold")


def detect(series: pd.DataFrame, method: str = "C2", **kw) -> pd.DataFrame:
    """Run one detector on a days × areas series.

    Parameters
    ----------
    series : DataFrame
        From :func:`clustering.series.incidents_to_daily`.
    method : {"C1", "C2", "C3", "EWMA", "threshold"}
        ``"threshold"`` needs ``threshold=`` (a number or a per-area Series).
    **kw
        Passed to the detector (``sd_floor``, ``k``, ``smoothing`` …).

    Returns
    -------
    DataFrame
        The detector's long table (see :mod:`clustering.ears`).
    """
    key = str(method)
    if key.upper() in ("C1", "C2", "C3"):
        return ears(series, key.upper(), **kw)
    if key.upper() == "EWMA":
        return ewma(series, **kw)
    if key.lower() == "threshold":
        if "threshold" not in kw:
            raise ValueError("method='threshold' needs threshold= (see suggest_threshold)")
        return fixed_threshold(series, kw.pop("threshold"), **kw)
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _runs(flags: pd.DataFrame) -> pd.DataFrame:
    """Add ``run_day`` and ``emit`` (re-alert only when growing) to flagged rows."""
    f = flags.sort_values(["area", "date"], kind="stable").reset_index(drop=True)
    if f.empty:
        return f.assign(run_day=pd.Series(dtype=np.int64), emit=pd.Series(dtype=bool))
    area_codes = pd.factorize(f["area"])[0]
    day = (f["date"].to_numpy("datetime64[D]")).astype(np.int64)
    new = np.ones(len(f), dtype=bool)
    new[1:] = (area_codes[1:] != area_codes[:-1]) | (day[1:] - day[:-1] != 1)
    run = np.cumsum(new) - 1
    f["run_day"] = (np.arange(len(f)) - np.flatnonzero(new)[run] + 1).astype(np.int64)
    obs = f["observed"].to_numpy(float)
    # the largest count earlier in the same run (-inf on its first day): a run's cumulative
    # maximum (one grouped pass, not a Python call per run) shifted one day down
    cm = pd.Series(obs).groupby(run).cummax().to_numpy(float)
    prior_max = np.r_[-np.inf, cm[:-1]]
    prior_max[new] = -np.inf
    f["emit"] = new | (obs > prior_max)
    return f


def alert_table(
    results: pd.DataFrame,
    *,
    series: pd.DataFrame | None = None,
    neighbours: pd.DataFrame | None = None,
    start=None,
    end=None,
) -> pd.DataFrame:
    """Build the alert table from detector results.

    Parameters
    ----------
    results : DataFrame
        Long detector output (:func:`detect`), with ``date, area, observed, expected,
        threshold, method, severity, statistic``. Not mutated.
    series : DataFrame, optional
        The days × areas counts, to report the observed count of neighbour-warned areas.
    neighbours : DataFrame, optional
        Adjacent pairs (``area``, ``neighbour``) from :func:`clustering.series.area_neighbours`;
        without it no neighbour warnings are made.
    start, end : date-like, optional
        Report only alerts on days in ``[start, end]`` (runs that began earlier still count as
        ongoing, so a cluster is not re-announced at the window edge).

    Returns
    -------
    DataFrame
        Columns :data:`ALERT_COLUMNS` (plus ``p`` and ``baseline_days`` when the detector
        gives them).

    References
    ----------
    ODMAP spike alerts (W/B HIDTA); NSSP ESSENCE alert lists.
    """
    need = {"date", "area", "observed", "expected", "threshold", "method", "severity", "statistic"}
    missing = need - set(results.columns)
    if missing:
        raise ValueError(f"results lack column(s) {sorted(missing)}; pass the output of detect()")
    if neighbours is not None and not {"area", "neighbour"} <= set(neighbours.columns):
        raise ValueError("neighbours must have columns 'area' and 'neighbour'")
    flagged = results[results["severity"].notna()]
    runs = _runs(flagged)
    alerts = runs[runs["emit"]].drop(columns=["emit", "sd"], errors="ignore")
    alerts = alerts.assign(trigger_area=pd.Series([None] * len(alerts), dtype=object).to_numpy())
    parts = [alerts]
    if neighbours is not None and len(neighbours) and len(alerts):
        src = alerts[alerts["severity"] == "alert"].sort_values(
            "observed", ascending=False, kind="stable")[["date", "area"]]
        nb = src.merge(neighbours, on="area", how="inner")
        flagged_keys = set(
            zip(flagged["date"].to_numpy(), flagged["area"].tolist(), strict=True))
        if len(nb):
            pairs = zip(nb["date"].to_numpy(), nb["neighbour"].tolist(), strict=True)
            own = np.array([(d, a) in flagged_keys for d, a in pairs])
            nb = nb[~own]
        if len(nb):
            # one warning per (day, neighbour); the trigger is the alerting neighbour with
            # the largest observed count (ties: the first in table order)
            nb = nb.drop_duplicates(["date", "neighbour"], keep="first")
            warn = pd.DataFrame({"date": nb["date"].to_numpy(),
                                 "area": nb["neighbour"].to_numpy(),
                                 "trigger_area": nb["area"].to_numpy()})
            if series is not None:
                pos_d = series.index.get_indexer(pd.DatetimeIndex(warn["date"]))
                pos_a = series.columns.get_indexer(pd.Index(warn["area"].tolist()))
                vals = series.to_numpy()
                ok = (pos_d >= 0) & (pos_a >= 0)
                obs = np.full(len(warn), np.nan)
                obs[ok] = vals[pos_d[ok], pos_a[ok]]
            else:
                obs = np.full(len(warn), np.nan)
            warn = warn.assign(observed=obs, expected=np.nan, threshold=np.nan,
                               method="neighbour", severity="warning", statistic=np.nan,
                               run_day=1)
            parts.append(warn)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else alerts
    if start is not None:
        out = out[out["date"] >= pd.Timestamp(start)]
    if end is not None:
        out = out[out["date"] <= pd.Timestamp(end)]
    out = out.assign(_sev=(out["severity"] != "alert").astype(int))
    out = out.sort_values(["date", "_sev", "area"], kind="stable").drop(columns="_sev")
    extra = [c for c in ("p", "baseline_days") if c in out.columns]
    cols = ALERT_COLUMNS + extra
    out = out.reindex(columns=cols).reset_index(drop=True)
    out["severity"] = out["severity"].astype("string")
    out["method"] = out["method"].astype("string")
    out["observed"] = out["observed"].astype("Int64")
    out["run_day"] = out["run_day"].astype("Int64")
    return out
