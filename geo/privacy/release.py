"""Fixed release windows: the only periods a public table may cover.

Perturbation alone does not stop an attacker who can ask for many windows that differ by one
day: averaging many noisy differences converges on the hidden count. So public releases cover
**complete weeks (Monday–Sunday) ending at the release date** and only a fixed menu of lengths:

* the release date ``R`` is the Monday 00:00 at or before the day after the last incident
  (the last complete week of data; a partial week is never published);
* a public window is ``[R - L, R)`` or its prior period ``[R - 2L, R - L)`` for ``L`` in
  :data:`RELEASE_DAYS` (7, 28, 91 and 364 days);
* a public series (weekly trend, a cell's history) is a fixed partition into 7- or 28-day
  periods ending at ``R``.

Times are never published: only dates (``publish`` turns any datetime column into a date).
"""

from __future__ import annotations

import pandas as pd

from geo.privacy.policy import PrivacyPolicy, as_policy

__all__ = [
    "RELEASE_DAYS",
    "DEFAULT_RELEASE_DAYS",
    "release_date",
    "release_window",
    "release_windows",
    "check_window",
    "ReleaseError",
]

RELEASE_DAYS = (7, 28, 91, 364)
DEFAULT_RELEASE_DAYS = 364


class ReleaseError(ValueError):
    """A public table was asked for a window outside the fixed release windows."""


def _ts(value) -> pd.Timestamp:
    t = pd.Timestamp(value)
    return t.tz_localize(None) if t.tzinfo is not None else t


def release_date(data_end) -> pd.Timestamp:
    """The release date ``R``: Monday 00:00 at or before the day after ``data_end``.

    ``data_end`` is the last incident time (or the last day with data). Sunday 2026-11-15 gives
    Monday 2026-11-16; Saturday 2026-11-14 gives Monday 2026-11-09 (the incomplete week is held
    back until it is complete).
    """
    stop = _ts(data_end).normalize() + pd.Timedelta(days=1)
    return stop - pd.Timedelta(days=int(stop.day_of_week))


def release_window(data_end, days: int = DEFAULT_RELEASE_DAYS, prior: bool = False
                   ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` of the release window of ``days`` days (or its prior period)."""
    if days not in RELEASE_DAYS:
        raise ReleaseError(f"public windows are {', '.join(map(str, RELEASE_DAYS))} days long, "
                           f"got {days}")
    end = release_date(data_end) - (pd.Timedelta(days=days) if prior else pd.Timedelta(0))
    return end - pd.Timedelta(days=days), end


def release_windows(data_end) -> pd.DataFrame:
    """Every allowed public window: ``days``, ``period`` (current/prior), ``start``, ``end``."""
    rows = []
    for d in RELEASE_DAYS:
        for prior in (False, True):
            s, e = release_window(data_end, d, prior)
            rows.append({"days": d, "period": "prior" if prior else "current",
                         "start": s, "end": e})
    return pd.DataFrame(rows)


def check_window(policy: PrivacyPolicy | str, start, end, data_end
                 ) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The ``[start, end)`` a table of this tier covers, checked against the release rules.

    Restricted: returned unchanged. Public/partner: ``None``/``None`` gives the default
    release window (the last 364 days to the release date); otherwise the pair must be one of
    :func:`release_windows`, else :class:`ReleaseError` lists the allowed windows.
    """
    pol = as_policy(policy)
    if pol.restricted:
        return (None if start is None else _ts(start), None if end is None else _ts(end))
    if start is None and end is None:
        return release_window(data_end, DEFAULT_RELEASE_DAYS)
    allowed = release_windows(data_end)
    r = release_date(data_end)
    s = None if start is None else _ts(start)
    e = r if end is None else _ts(end)
    if s is not None:
        hit = (allowed["start"] == s) & (allowed["end"] == e)
        if hit.any():
            return s, e
    cur = allowed[allowed["period"] == "current"]
    menu = "; ".join(f"--start {a:%Y-%m-%d} ({d} days)" for d, a in
                     zip(cur["days"], cur["start"], strict=True))
    raise ReleaseError(
        f"{pol.tier} outputs cover fixed release windows of whole weeks ending on the release "
        f"date {r:%Y-%m-%d} (data through {r - pd.Timedelta(days=1):%Y-%m-%d}): --end "
        f"{r:%Y-%m-%d} with {menu}, or the period before one of them; for any other window "
        "use the restricted tier"
    )
