"""Overdose burden per analysis cell: the last 12 months, the 12 before, and the trend.

Windows are half-open on the left: recent = ``(as_of − 365 days, as_of]``, prior =
``(as_of − 730 days, as_of − 365 days]``. Trend ratio = (recent + 1) / (prior + 1) (the +1 keeps
small counts from swinging wildly); "rising" if ≥ 1.25, "falling" if ≤ 0.8, else "stable";
"none" when both windows are empty. Thresholds are our documented choice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.grid import cells_at

__all__ = ["TREND_RISING", "TREND_FALLING", "WINDOW_DAYS", "burden_table"]

TREND_RISING, TREND_FALLING = 1.25, 0.8
WINDOW_DAYS = 365


def burden_table(incidents: pd.DataFrame, cells, res: int, *, as_of=None,
                 window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Recent and prior counts and the trend per cell.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents with ``occurred_at`` and uint64 ``h3`` at a resolution ≥ ``res``.
    cells : array-like of uint64
        Analysis cells at ``res``; incidents in other cells are not counted.
    res : int
    as_of : timestamp, optional
        End of the recent window (inclusive); default the latest incident.
    window_days : int
        Window length (default 365: "last 12 months").

    Returns
    -------
    DataFrame
        Rows aligned with ``cells``: ``h3``, ``count_total`` (all incidents up to ``as_of``),
        ``count_12m`` (``(as_of − window, as_of]``), ``count_prior_12m`` (the window before),
        ``trend_ratio`` and ``trend``.
    """
    for c in ("occurred_at", "h3"):
        if c not in incidents.columns:
            raise ValueError(f"incidents are missing column {c!r}; found "
                             f"{list(incidents.columns)}. Load them through geo.ingest.")
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    cells = np.asarray(cells, dtype=np.uint64)
    t = incidents["occurred_at"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        t = pd.to_datetime(t, format="ISO8601")
    end = t.max() if as_of is None else pd.Timestamp(as_of)
    w = pd.Timedelta(days=window_days)
    order = np.argsort(cells, kind="stable")
    sc = cells[order]
    ic = cells_at(incidents, res)  # point-in-hexagon, not a roll-up of the base cell
    if sc.size:
        pos = np.minimum(np.searchsorted(sc, ic), sc.size - 1)
        inside, idx = sc[pos] == ic, order[pos]
    else:
        inside, idx = np.zeros(ic.size, bool), np.zeros(ic.size, np.int64)
    tv = t.to_numpy()

    def count(mask):
        m = inside & np.asarray(mask, bool)
        return np.bincount(idx[m], minlength=cells.size).astype(np.int64)

    if len(incidents) == 0 or pd.isna(end):
        zero = np.zeros(cells.size, np.int64)
        total = recent = prior = zero
    else:
        end64 = np.datetime64(end)
        total = count(tv <= end64)
        recent = count((tv > end64 - w) & (tv <= end64))
        prior = count((tv > end64 - 2 * w) & (tv <= end64 - w))
    ratio = (recent + 1.0) / (prior + 1.0)
    trend = np.where(ratio >= TREND_RISING, "rising",
                     np.where(ratio <= TREND_FALLING, "falling", "stable")).astype(object)
    trend[(recent == 0) & (prior == 0)] = "none"
    return pd.DataFrame({"h3": cells, "count_total": total, "count_12m": recent,
                         "count_prior_12m": prior, "trend_ratio": ratio, "trend": trend})
