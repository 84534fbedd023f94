"""Spike detectors on daily series: fixed 24-hour threshold, EARS C1/C2/C3 and EWMA.

Every detector takes the wide, zero-filled table of :func:`clustering.series.incidents_to_daily`
(days × areas), works on all areas at once with rolling windows in numpy (no per-day Python
loop), and returns a long table with one row per (date, area) on which the detector is defined:

``date, area, observed, expected, sd, statistic, threshold, method, severity``

``threshold`` is always a *count*: the day alarms when ``observed`` exceeds it (``>=`` for the
fixed threshold). ``severity`` is ``"alert"``, ``"warning"`` or missing and ``method`` the
detector's name (both categorical, so a table for thousands of areas over years stays light).
Days without a full baseline are left out. The input check and the long table are in
:mod:`clustering.detector_table`.

Exact definitions
-----------------
* **Fixed threshold** (ODMAP style): alert when the day's value is ``>= threshold``; give it
  the busiest-24-hours series of :func:`clustering.series.incidents_to_rolling_24h` for
  ODMAP's "last 24 hours" rule (or calendar-day counts). The suggested threshold of an area
  is ``max(2, ceil(mean + 3·sd))`` of its values over the last 30 days (sd with ``ddof=1``)
  — our documented choice; ODMAP lets each jurisdiction set its own.
* **EARS C1**: baseline ``x[t-7] … x[t-1]``; ``C1 = (x_t − mean) / sd``; alarm when
  ``C1 > 3`` (``x_t > mean + 3·sd``).
* **EARS C2**: baseline ``x[t-9] … x[t-3]`` (2-day guard band); same rule.
* **EARS C3**: ``C3_t = Σ_{i=0..2} max(0, C2_{t-i} − 1)``; alarm when ``C3 > 2``.
* **sd floor**: ``sd = max(sample sd (ddof=1), sd_floor)``, default 0.5, so a run of zeros
  does not make the first single case an alarm (R ``surveillance::earsC`` calls it
  ``minSigma``, default 0). ``surveillance`` also uses ``qnorm(1 − alpha)`` = 3.09 (alpha =
  0.001) in place of the CDC's 3; pass ``k=3.09`` to match it.
* **EWMA** (NSSP-ESSENCE, as CDC's ``Rnssp::alert_ewma``): ``Z_t = λ x_t + (1 − λ) Z_{t−1}``
  (λ = 0.4; 0.9 for sudden spikes; both with ``smoothing=(0.4, 0.9)``), baseline of 28 days
  before a 2-day guard band, ``T = (Z_t − mean)/σ`` with ESSENCE's σ (the variance of
  ``Z_t − mean`` plus a small-count floor), one-sided Student-t p with ``L − 1`` df; alert
  ``p < 0.01``, warning ``p < 0.05``. Full formula in :func:`ewma`.

References
----------
Hutwagner L, Thompson W, Seeman GM, Treadwell T. The bioterrorism preparedness and response
Early Aberration Reporting System (EARS). J Urban Health 2003;80(2 Suppl 1):i89–96.
Fricker RD, Hegler BL, Dunfee DA. Comparing syndromic surveillance detection methods: EARS'
versus a CUSUM-based methodology. Stat Med 2008;27:3407–29.
Burkom H. Development, adaptation, and assessment of alerting algorithms for biosurveillance.
Johns Hopkins APL Technical Digest 2003;24(4):335–42 (ESSENCE EWMA).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.detector_table import (
    RESULT_COLUMNS,
    check_positive,
    check_series,
    long_table,
    severity_codes,
    window_moments,
)

__all__ = [
    "RESULT_COLUMNS",
    "ears_c1",
    "ears_c2",
    "ears_c3",
    "ears",
    "ewma",
    "fixed_threshold",
    "suggest_threshold",
]


def _baseline(x: np.ndarray, lag: int, length: int, sd_floor: float):
    """Mean and floored sample sd of ``x[t-lag-length+1 … t-lag]`` for every t (NaN if short)."""
    T, A = x.shape
    t = np.arange(T)
    hi = np.clip(t - lag + 1, 0, T)
    lo = np.clip(hi - length, 0, T)
    mean, sd = window_moments(x, lo, hi)
    short = (t - lag - length + 1) < 0
    mean[short] = np.nan
    sd[short] = np.nan
    return mean, np.maximum(sd, sd_floor)


def _c_stat(x, lag, sd_floor):
    mean, sd = _baseline(x, lag, 7, sd_floor)
    return mean, sd, (x - mean) / sd


def _ears_c(series: pd.DataFrame, name: str, lag: int, sd_floor: float, k: float):
    """C1 (lag 1) and C2 (lag 3, the 2-day guard band): alarm when x_t > mean + k·sd."""
    x = check_series(series)
    sd_floor = check_positive("sd_floor", sd_floor)
    k = check_positive("k", k)
    mean, sd, stat = _c_stat(x, lag, sd_floor)
    return long_table(series, name, x, mean, sd, stat, mean + k * sd, severity_codes(stat > k))


def ears_c1(series: pd.DataFrame, *, sd_floor: float = 0.5, k: float = 3.0) -> pd.DataFrame:
    """EARS C1: 7-day baseline right before the day; alarm when ``x_t > mean + k·sd``.

    Parameters
    ----------
    series : DataFrame
        Days × areas counts from :func:`clustering.series.incidents_to_daily`. Not mutated.
    sd_floor : float
        Smallest sd used (default 0.5).
    k : float
        Alarm level in sds (CDC: 3).

    Returns
    -------
    DataFrame
        Long table (see module doc), ``method = "C1"``.

    References
    ----------
    Hutwagner et al. 2003; CDC EARS; R ``surveillance::earsC(method = "C1")``.
    """
    return _ears_c(series, "C1", 1, sd_floor, k)


def ears_c2(series: pd.DataFrame, *, sd_floor: float = 0.5, k: float = 3.0) -> pd.DataFrame:
    """EARS C2: 7-day baseline t−9 … t−3 (2-day guard band); alarm when ``x_t > mean + k·sd``.

    Parameters and returns as :func:`ears_c1` (``method = "C2"``).

    References
    ----------
    Hutwagner et al. 2003; R ``surveillance::earsC(method = "C2")``.
    """
    return _ears_c(series, "C2", 3, sd_floor, k)


def ears_c3(series: pd.DataFrame, *, sd_floor: float = 0.5, h: float = 2.0) -> pd.DataFrame:
    """EARS C3: ``Σ_{i=0..2} max(0, C2_{t−i} − 1)``; alarm when above ``h`` (CDC: 2).

    ``threshold`` is the count the day must exceed given the two previous days:
    ``mean + sd·(1 + h − R)`` with ``R = Σ_{i=1,2} max(0, C2_{t−i} − 1)``, or 0 when ``R > h``
    already (any count then alarms). Defined from the 12th day of the series on.

    References
    ----------
    Hutwagner et al. 2003; R ``surveillance::earsC(method = "C3")``.
    """
    x = check_series(series)
    sd_floor = check_positive("sd_floor", sd_floor)
    h = check_positive("h", h)
    mean, sd, c2 = _c_stat(x, 3, sd_floor)
    part = np.maximum(0.0, c2 - 1.0)  # NaN where C2 undefined
    prev = np.full_like(part, np.nan)
    prev[2:] = part[1:-1] + part[:-2]
    c3 = part + prev
    thr = np.where(prev > h, 0.0, mean + sd * (1.0 + h - prev))
    expected = np.where(np.isfinite(c3), mean, np.nan)
    return long_table(series, "C3", x, expected, sd, c3, thr, severity_codes(c3 > h))


def ears(series: pd.DataFrame, method: str = "C1", **kw) -> pd.DataFrame:
    """Dispatch to :func:`ears_c1`, :func:`ears_c2` or :func:`ears_c3` by name."""
    fns = {"C1": ears_c1, "C2": ears_c2, "C3": ears_c3}
    key = str(method).upper()
    if key not in fns:
        raise ValueError(f"EARS method must be one of {sorted(fns)}, got {method!r}")
    return fns[key](series, **kw)


def _ewma_sigma(sd, L, lam, g, t_warn):
    """ESSENCE σ of the EWMA statistic from the baseline sd (Rnssp ``alert_ewma``)."""
    corr = np.sqrt(lam / (2 - lam) + 1 / L - 2 * (1 - lam) ** (g + 1) * (1 - (1 - lam) ** L) / L)
    k = lam / t_warn
    const = (0.1289 - (0.2414 - 0.1826 * (1 - lam) ** 4) * np.log(10 * 0.05)) * k
    return np.maximum(k * (1 + 0.5 * (1 - lam) ** 2), sd * corr + const)


def ewma(
    series: pd.DataFrame,
    *,
    smoothing: float | tuple[float, ...] = 0.4,
    baseline: int = 28,
    guard: int = 2,
    min_baseline: int = 11,
    alert_p: float = 0.01,
    warning_p: float = 0.05,
) -> pd.DataFrame:
    """NSSP-ESSENCE EWMA detector, as CDC's ``Rnssp::alert_ewma`` computes it.

    For each day t (vectorised over areas; one pass over days for the recursion):

    * baseline: days ``t−g−L … t−g−1`` with ``L = min(baseline, t−g)`` (it grows from
      ``min_baseline`` = 11 to 28 days at the start of a series); mean ``m``, sample sd ``s``,
      ``df = L − 1``;
    * ``Z_t = λ x_t + (1 − λ) Z_{t−1}``, ``Z_0 = x_0``;
    * ``σ = max((λ/u)(1 + ½(1−λ)²), s·c + (0.1289 − (0.2414 − 0.1826(1−λ)⁴)·ln 0.5)·λ/u)``
      with ``c = √(λ/(2−λ) + 1/L − 2(1−λ)^{g+1}(1 − (1−λ)^L)/L)`` and ``u`` the 95% Student-t
      quantile (df): the variance of ``Z_t − m`` plus ESSENCE's small-count floor;
    * ``T = (Z_t − m)/σ``, ``p = 1 − F_t(T; df)``; alert when ``p < 0.01``, warning when
      ``p < 0.05``;
    * an outlying ``Z_t`` (``|T|`` above the 99% quantile) is pulled back to that limit before
      the next day, so one spike does not mask the days after it.

    Parameters
    ----------
    series : DataFrame
        Days × areas counts. Not mutated.
    smoothing : float or tuple of float
        λ in (0, 1): 0.4 for gradual rises (default), 0.9 for sudden ones; a tuple such as
        ``(0.4, 0.9)`` runs both and keeps the smaller p (ESSENCE's pairing).
    baseline, guard, min_baseline : int
        Longest baseline (28), guard band (2) and shortest baseline tested (11 days).
    alert_p, warning_p : float
        One-sided p-value levels for ``"alert"`` (0.01) and ``"warning"`` (0.05).

    Returns
    -------
    DataFrame
        Long table (module doc); ``statistic`` is ``T``, ``sd`` the baseline sd, plus ``p`` and
        ``baseline_days`` (L); ``threshold`` is the smallest count that would alert that day;
        ``method = "EWMA"``.

    References
    ----------
    Burkom 2003; CDC NSSP, ``Rnssp::alert_ewma`` (B = 28, g = 2, w1 = 0.4, w2 = 0.9);
    Lucas & Saccucci, Technometrics 1990;32(1):1–12.
    """
    x = check_series(series)
    lams = tuple(np.atleast_1d(np.asarray(smoothing, dtype=float)).tolist()) if not isinstance(
        smoothing, bool) else ()
    if not lams or any(not 0 < v < 1 for v in lams):
        raise ValueError(f"smoothing must be in (0, 1) (e.g. 0.4 or (0.4, 0.9)), got {smoothing!r}")
    checks = (("baseline", baseline, 3), ("guard", guard, 0), ("min_baseline", min_baseline, 3))
    for name, v, lo in checks:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise ValueError(f"{name} must be an integer ≥ {lo}, got {v!r}")
    if min_baseline > baseline:
        raise ValueError(f"min_baseline ({min_baseline}) must not exceed baseline ({baseline})")
    if not 0 < alert_p <= warning_p < 1:
        raise ValueError(
            f"need 0 < alert_p ≤ warning_p < 1, got alert_p={alert_p!r}, warning_p={warning_p!r}"
        )
    T, A = x.shape
    t = np.arange(T)
    hi = t - guard  # baseline is [lo, hi)
    lo = np.maximum(0, hi - baseline)
    L = (hi - lo).astype(float)
    ok = L >= min_baseline
    Lc = np.where(ok, L, np.nan)[:, None]
    mean, sd = window_moments(x, np.clip(lo, 0, T), np.clip(hi, 0, T))
    mean[~ok] = np.nan
    sd[~ok] = np.nan
    dof = np.where(ok, L - 1, np.nan)[:, None]
    # Student t via scipy.special (stdtr/stdtrit: the same floats as scipy.stats.t, which costs
    # ~1 s to import), imported here: C1-C3, the dashboard's default detectors, need no scipy
    from scipy import special

    with np.errstate(invalid="ignore"):
        t_warn = np.round(special.stdtrit(dof, 1 - 0.05), 5)  # = stats.t.ppf(0.95, dof)
        t_alert = np.round(special.stdtrit(dof, 1 - 0.01), 5)
        t_exact = -special.stdtrit(dof, alert_p)  # = stats.t.isf(alert_p, dof)
    best_p = np.full((T, A), np.inf)
    stat = np.full((T, A), np.nan)
    thr = np.full((T, A), np.inf)
    for lam in lams:
        sigma = _ewma_sigma(sd, Lc, lam, guard, t_warn)
        ts = np.full((T, A), np.nan)
        prev = x[0] if T else None
        for i in range(T):  # recursion over days, vectorised over areas
            zi = x[i] if i == 0 else lam * x[i] + (1 - lam) * prev
            if ok[i]:
                ts[i] = (zi - mean[i]) / sigma[i]
                out = np.abs(ts[i]) > t_alert[i]
                zi = np.where(out, mean[i] + np.sign(ts[i]) * t_alert[i] * sigma[i], zi)
                thr_i = (mean[i] + t_exact[i] * sigma[i] - (1 - lam) * prev) / lam
                thr[i] = np.minimum(thr[i], thr_i)
            prev = zi
        p = special.stdtr(dof, -ts)  # = stats.t.sf(ts, dof), the same floats
        better = np.nan_to_num(p, nan=np.inf) < best_p
        best_p = np.where(better, p, best_p)
        stat = np.where(better, ts, stat)
    p = np.where(np.isfinite(best_p), best_p, np.nan)
    sev = np.where(p < alert_p, 0, np.where(p < warning_p, 1, -1)).astype(np.int8)
    thr = np.where(np.isfinite(thr), thr, np.nan)
    res = long_table(series, "EWMA", x, mean, sd, stat, thr, sev)
    keep = np.isfinite(mean).ravel()
    res["p"] = p.ravel()[keep]
    res["baseline_days"] = np.repeat(L.astype(np.int64), A)[keep]
    return res


def suggest_threshold(
    series: pd.DataFrame, *, days: int = 30, end=None, minimum: int = 2
) -> pd.Series:
    """Suggested 24-hour threshold per area: ``max(minimum, ceil(mean + 3·sd))`` of the last days.

    Parameters
    ----------
    series : DataFrame
        Days × areas counts.
    days : int
        Look-back length (30).
    end : date-like, optional
        Last day of the look-back (inclusive); default the last day of the series.
    minimum : int
        Lowest threshold ever suggested (2: one incident is never a spike).

    Returns
    -------
    Series
        Integer threshold per area (indexed like the series columns).
    """
    x = check_series(series)
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 2:
        raise ValueError(f"days must be an integer ≥ 2, got {days!r}")
    if isinstance(minimum, bool) or not isinstance(minimum, int | np.integer) or minimum < 1:
        raise ValueError(f"minimum must be a positive integer, got {minimum!r}")
    stop = len(series) if end is None else int(
        series.index.searchsorted(pd.Timestamp(end), "right"))
    win = x[max(0, stop - days): stop]
    if len(win) < 2:
        raise ValueError(f"need at least 2 days before end={end!r} to suggest a threshold")
    thr = np.ceil(win.mean(axis=0) + 3 * win.std(axis=0, ddof=1))
    return pd.Series(np.maximum(minimum, thr).astype(np.int64), index=series.columns,
                     name="threshold")


def fixed_threshold(series: pd.DataFrame, threshold, *, days: int = 30) -> pd.DataFrame:
    """Alert on every day whose total is ``>= threshold`` (ODMAP-style 24-hour spike).

    Parameters
    ----------
    series : DataFrame
        Days × areas counts.
    threshold : int or Series
        One threshold for all areas, or one per area (e.g. :func:`suggest_threshold`).
    days : int
        Length of the trailing window whose mean is reported as ``expected`` (30).

    Returns
    -------
    DataFrame
        Long table for every day (``expected`` is the mean of the previous ``days`` days,
        missing on the first day); ``statistic`` is ``observed / threshold``;
        ``method = "threshold"``.
    """
    x = check_series(series)
    if isinstance(threshold, pd.Series):
        missing = set(series.columns) - set(threshold.index)
        if missing:
            raise ValueError(f"threshold has no value for areas {sorted(missing)[:5]}")
        thr = threshold.reindex(series.columns).to_numpy(float)
    else:
        thr = np.full(x.shape[1], check_positive("threshold", threshold))
    if (thr <= 0).any() or not np.isfinite(thr).all():
        raise ValueError("threshold must be positive for every area")
    T, A = x.shape
    csum = np.vstack([np.zeros((1, A)), np.cumsum(x, axis=0)])
    t = np.arange(T)
    lo = np.maximum(0, t - days)
    n = (t - lo).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = (csum[t] - csum[lo]) / n[:, None]
    expected[0] = np.nan
    thr2 = np.broadcast_to(thr, x.shape)
    out = long_table(series, "threshold", x, np.where(np.isfinite(expected), expected, -1.0),
                np.full(x.shape, np.nan), x / thr2, thr2, severity_codes(x >= thr2))
    out.loc[out["expected"] < 0, "expected"] = np.nan
    return out
