"""The spike alerts' series pieces: rows read, cell keys, baselines, area labels.

Helpers of :func:`products.alerts.current_alerts` (which publishes what they build): the rows
the daily series can count (:func:`_series_rows`), the days × areas sums of record keys beside
each series (:func:`_key_series`), each alert's baseline total, key and length
(:func:`_baseline`), the areas' public labels (:func:`_label`) and the rows whose baseline would
start before the first record (:func:`_drop_before_data`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from clustering.series import _assign
from geo.cells import cells_to_str
from geo.privacy.cellkey import KEY_MOD

WHOLE_AREA = "whole area"
_DAY = pd.Timedelta(days=1)
#: EARS baseline: days [t - lag - 6, t - lag] (C1 lag 1; C2/C3 lag 3, the guard band).
_EARS_LAG = {"C1": 1, "C2": 3, "C3": 3}

#: the columns the daily series, their cells (geo.grid.cells_at, geo.areas.area_located) and
#: their keys read; plus every precomputed ``h3_r<res>`` column
_SERIES_COLUMNS = ("occurred_at", "h3", "lat", "lon", "location_precision", "area", "rkey")


def _series_rows(sub: pd.DataFrame, first, last) -> pd.DataFrame:
    """The rows of ``sub`` that the series from ``first`` to ``last`` (days) can count, with
    the evening before ``first`` (the 24-hour counts look back one day), in their order, and
    only the columns the series read: the series and their keys are the same as from ``sub``,
    built from a few months of rows instead of every day of the data. Left whole when the
    times carry a time zone."""
    t = sub["occurred_at"]
    if not len(sub) or not (pd.api.types.is_datetime64_dtype(t)
                            and getattr(t.dt, "tz", None) is None):
        return sub
    lo = pd.Timestamp(first).floor("D") - _DAY
    hi = pd.Timestamp(last).floor("D") + _DAY
    keep = ((t >= lo) & (t < hi)).to_numpy(bool)
    cols = [c for c in sub.columns if c in _SERIES_COLUMNS
            or (isinstance(c, str) and c.startswith("h3_r"))]
    return sub[cols][keep]


def _key_series(sub, area, res, polygons, id_column, start, last, series) -> np.ndarray:
    """Days × areas cell keys aligned with ``series`` (sum of the record keys counted)."""
    rows, d, j, labels, _ = _assign(sub, area, res, polygons, id_column, None, start, last)
    A = series.shape[1]
    pos = pd.Index(labels).get_indexer(series.columns)  # series column → label index
    col = np.full(labels.size, -1, np.int64)  # label index → series column
    col[pos[pos >= 0]] = np.arange(A)[pos >= 0]
    ok = col[j] >= 0
    rk = sub["rkey"].to_numpy(np.float64)[rows][ok]
    s = np.bincount(d[ok] * A + col[j][ok], weights=rk, minlength=series.shape[0] * A)
    return np.mod(s, KEY_MOD).astype(np.int64).reshape(series.shape)


def _baseline(tab, series, keys, start_day) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline total, its key and length per alert row (NaN/0 without a baseline)."""
    n = len(tab)
    tot, key, L = np.full(n, np.nan), np.zeros(n, np.int64), np.full(n, np.nan)
    x = series.to_numpy(np.int64)
    cs = np.vstack([np.zeros((1, x.shape[1]), np.int64), np.cumsum(x, axis=0)])
    ck = np.vstack([np.zeros((1, x.shape[1]), np.int64), np.cumsum(keys, axis=0)])
    t = ((pd.to_datetime(tab["date"]) - start_day) / _DAY).to_numpy(np.int64)
    a = series.columns.get_indexer(pd.Index(tab["area_raw"].tolist()))
    for i, m in enumerate(tab["method"].astype(str)):
        if m in _EARS_LAG:
            hi, length = t[i] - _EARS_LAG[m] + 1, 7
        elif m == "EWMA" and pd.notna(tab["baseline_days"].iloc[i]):
            length = int(tab["baseline_days"].iloc[i])
            hi = t[i] - 2
        else:
            continue
        lo = hi - length
        if lo < 0 or a[i] < 0:
            continue
        tot[i] = cs[hi, a[i]] - cs[lo, a[i]]
        key[i] = (ck[hi, a[i]] - ck[lo, a[i]]) % KEY_MOD
        L[i] = length
    return tot, key, L


def _label(values, kind) -> list:
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif kind == "h3":
            out.append(cells_to_str(np.array([v], np.uint64))[0])
        elif kind == "jurisdiction":
            out.append(WHOLE_AREA)
        else:
            out.append(str(v))
    return out


def _drop_before_data(tab: pd.DataFrame, sub: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows whose baseline starts before the first record are not alerts (a baseline of days
    without data is not zero): dropped, and counted (``attrs["no_baseline"]``)."""
    if not len(tab) or not len(sub):
        return tab, 0
    first = pd.to_datetime(sub["occurred_at"]).min()
    first = (first.tz_localize(None) if getattr(first, "tz", None) else first).normalize()
    m = tab["method"].astype(str)
    lag = m.map(lambda v: _EARS_LAG.get(v, 3)).to_numpy(float)  # neighbour: as C2
    length = np.where(m == "EWMA", pd.to_numeric(tab["baseline_days"]).fillna(7).to_numpy(float)
                      + 1, 7.0)
    begin = pd.to_datetime(tab["date"]).dt.normalize() - pd.to_timedelta(lag - 1 + length,
                                                                          unit="D")
    ok = ((begin >= first) | (m == "threshold")).to_numpy()
    return tab[ok].reset_index(drop=True), int((~ok).sum())
