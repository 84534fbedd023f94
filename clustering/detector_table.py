"""The table contract shared by the spike detectors of :mod:`clustering.ears`.

Input: the wide, zero-filled table of :func:`clustering.series.incidents_to_daily` (days ×
areas), checked by :func:`check_series`. Output: one long row per (date, area) on which a
detector is defined, with the columns of :data:`RESULT_COLUMNS`, built by :func:`long_table`.
:func:`window_moments` gives the rolling baseline mean and sd every detector uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "RESULT_COLUMNS",
    "check_series",
    "check_positive",
    "window_moments",
    "long_table",
    "severity_codes",
]

RESULT_COLUMNS = [
    "date", "area", "observed", "expected", "sd", "statistic", "threshold", "method", "severity",
]


def check_series(series: pd.DataFrame) -> np.ndarray:
    """The counts of a days × areas table as a float array, after checking its shape and values."""
    if not isinstance(series, pd.DataFrame) or not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(
            "series must be a DataFrame with a daily DatetimeIndex (days × areas); build it "
            "with clustering.series.incidents_to_daily"
        )
    idx = series.index
    if len(idx) > 1 and not (np.diff(idx.values) == np.timedelta64(1, "D")).all():
        raise ValueError("series index must be consecutive days (zero-filled, no gaps)")
    x = series.to_numpy(dtype=float)
    if np.isnan(x).any() or (x < 0).any():
        raise ValueError("series must hold non-negative counts without missing values")
    return x


def check_positive(name: str, v: float, allow_zero: bool = False) -> float:
    """``v`` as a float, after checking it is a finite number > 0 (or ≥ 0)."""
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {v!r}")
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'≥' if allow_zero else '>'} 0, got {v!r}")
    return float(v)


def window_moments(x: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """Mean and sample sd of ``x[lo:hi]`` per row t (vectorised, from cumulative sums).

    Whole counts use exact int64 sums, so ``n·Σx² − (Σx)²`` carries no rounding error.
    """
    T, A = x.shape
    whole = bool(np.all(x == np.round(x))) and (x.size == 0 or x.max() < 2**20)
    v = x.astype(np.int64) if whole else x
    cs = np.vstack([np.zeros((1, A), v.dtype), np.cumsum(v, axis=0)])
    cs2 = np.vstack([np.zeros((1, A), v.dtype), np.cumsum(v * v, axis=0)])
    n = (hi - lo)[:, None]
    s1 = cs[hi] - cs[lo]
    s2 = cs2[hi] - cs2[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = (n * s2 - s1 * s1) / (n * (n - 1)) if whole else (s2 - n * mean**2) / (n - 1)
    return mean, np.sqrt(np.clip(var, 0.0, None))


_SEVERITY = ["alert", "warning"]


def long_table(
    series, method, observed, expected, sd, statistic, threshold, severity
) -> pd.DataFrame:
    """Long table of the days with a baseline; ``severity`` holds codes 0 alert, 1 warning, -1."""
    T, A = observed.shape
    ok = np.isfinite(expected).ravel()
    n = int(ok.sum())
    dates = np.repeat(series.index.values, A)[ok]
    areas = np.tile(np.asarray(series.columns), T)[ok]
    return pd.DataFrame({
        "date": pd.DatetimeIndex(dates),
        "area": areas,
        "observed": observed.ravel()[ok].astype(np.int64),
        "expected": expected.ravel()[ok],
        "sd": sd.ravel()[ok],
        "statistic": statistic.ravel()[ok],
        "threshold": threshold.ravel()[ok],
        "method": pd.Categorical.from_codes(np.zeros(n, np.int8), [method]),
        "severity": pd.Categorical.from_codes(severity.ravel()[ok].astype(np.int8), _SEVERITY),
    })


def severity_codes(alarm: np.ndarray) -> np.ndarray:
    """Severity codes for :func:`long_table`: 0 (alert) where ``alarm``, else -1 (none)."""
    return np.where(alarm, 0, -1).astype(np.int8)
