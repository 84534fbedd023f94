"""Key performance indicators for leadership: totals per window against the prior period.

Three tables, all computed from canonical de-duplicated incidents (columns of
:mod:`geo.schema`) and all passed through the privacy gate :func:`geo.privacy.publish`
(public tier by default):

* :func:`kpis` — one row per window (last 7 / 30 / 365 days): overdoses, fatal, nonfatal,
  naloxone given %, the same for the prior period of equal length, and the change;
* :func:`weekly_trend` — weekly counts by outcome (7-day bins ending on ``end``);
* :func:`top_areas` — the H3 cells with most overdoses in a window.

Dates
-----
``end`` is the **last day included** and defaults to the last date in the data (for the
bundled sample, 2026-11-15), *not* today's date: surveillance data arrive with a reporting lag,
and a window ending today would show a false drop. A window of ``w`` days covers the calendar
days ``end - w + 1 … end`` (timestamps ``[end - w + 1 day, end + 1 day)``); its prior period is
the ``w`` days immediately before it.

Counting unit
-------------
If the table has ``event_id`` (set by de-duplication), each event counts once even when several
rows share it: its time is the earliest report, its outcome the most severe (fatal > nonfatal >
unknown) and naloxone "yes" if any report says so. Without ``event_id`` every row is an event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng
from geo.privacy import PrivacyPolicy, publish
from report.events import _check, as_events, data_end, end_day, event_arrays, incident_events

__all__ = ["kpis", "weekly_trend", "top_areas", "incident_events", "data_end", "DEFAULT_WINDOWS"]


DEFAULT_WINDOWS = (7, 30, 365)
_COUNTS = ("overdoses", "fatal", "nonfatal", "naloxone_yes")
#: our column → the privacy gate's breakdown-family name (see geo.privacy.FAMILY_PREFIXES)
_GATE_NAMES = {"overdoses": "count", "fatal": "n_fatal", "nonfatal": "n_nonfatal",
               "unknown": "n_unknown", "naloxone_yes": "n_naloxone_yes",
               "naloxone_no": "n_naloxone_no", "naloxone_unknown": "n_naloxone_unknown"}
_FROM_GATE = {v: k for k, v in _GATE_NAMES.items()}


# ------------------------------------------------------------------ validation helpers
def _policy(policy: PrivacyPolicy | str) -> PrivacyPolicy:
    if isinstance(policy, PrivacyPolicy):
        return policy
    if isinstance(policy, str):
        return PrivacyPolicy.for_tier(policy)
    raise TypeError(f"policy must be a PrivacyPolicy or a tier name, got {policy!r}")


def _check_windows(windows) -> tuple[int, ...]:
    out = tuple(windows)
    if not out:
        raise ValueError("windows must list at least one window length in days, e.g. (7, 30, 365)")
    for w in out:
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1:
            raise ValueError(f"windows must be positive whole numbers of days, got {w!r}")
    return tuple(int(w) for w in out)


# ------------------------------------------------------------------ KPIs
def kpis(
    incidents: pd.DataFrame,
    end=None,
    windows=DEFAULT_WINDOWS,
    *,
    policy: PrivacyPolicy | str = "public",
) -> pd.DataFrame:
    """Overdose KPIs for the last ``w`` days against the prior ``w`` days.

    Parameters
    ----------
    incidents : DataFrame or EventArrays
        Canonical de-duplicated incidents (``occurred_at``, ``outcome``, ``naloxone``; counted
        by ``event_id`` when present), or events already built by
        :func:`report.events.as_events` (reused across tables).
    end : date-like, optional
        Last day included. Default: the last date in the data (not today; see module notes).
    windows : sequence of int
        Window lengths in days (default 7, 30, 365).
    policy : PrivacyPolicy or tier name
        Privacy gate applied to every count (default ``"public"``: counts 1–9 become ``<NA>``;
        a percentage or change built on a suppressed count is blanked too).

    Returns
    -------
    DataFrame
        Indexed by ``window_days``; columns ``start``, ``end`` (first and last day included),
        ``overdoses``, ``fatal``, ``nonfatal``, ``naloxone_yes``, ``naloxone_given_pct``
        (share of overdoses with naloxone "yes", 0–100), ``prior_start``, ``prior_end``,
        ``prior_*`` for each figure, ``*_change`` (current − prior; percentage points for the
        naloxone share), ``overdoses_change_pct`` (relative change, %), ``suppressed``.

    References
    ----------
    CDC WONDER small-count suppression (counts 1–9) via :func:`geo.privacy.publish`.
    """
    ev = as_events(incidents)
    windows = _check_windows(windows)
    pol = _policy(policy)
    last = end_day(ev, end)

    rows = []
    stop = last + pd.Timedelta(days=1)
    for w in windows:
        start = stop - pd.Timedelta(days=w)
        pstart = start - pd.Timedelta(days=w)
        for period, a, b in (("current", start, stop), ("prior", pstart, start)):
            rows.append({"window_days": w, "period": period, "start": a,
                         "end": b - pd.Timedelta(days=1), **ev.counts(ev.mask(a, b))})
    long = pd.DataFrame(rows)
    # Publish under the gate's own family names so its complementary suppression applies
    # (a lone hidden fatal count could otherwise be recovered as total − nonfatal − unknown).
    pub = publish(long.rename(columns=_GATE_NAMES), pol).rename(columns=_FROM_GATE)
    # the naloxone share reveals the "yes" count and the "not given" count (total − yes):
    # blank it if either is suppressed
    num = pd.to_numeric(pub["naloxone_yes"]).astype("Float64")
    den = pd.to_numeric(pub["overdoses"]).astype("Float64")
    pct = (100.0 * num / den.where(den > 0)).astype("Float64")
    not_given = (long["overdoses"] - long["naloxone_yes"]).to_numpy()
    if pol.tier != "restricted":
        pct[(not_given >= 1) & (not_given < pol.k)] = pd.NA
    pub["naloxone_given_pct"] = pct

    cur = pub[pub["period"] == "current"].set_index("window_days").drop(columns="period")
    pri = pub[pub["period"] == "prior"].set_index("window_days").drop(columns="period")
    figures = [*_COUNTS, "naloxone_given_pct"]
    out = cur[["start", "end", *figures]].copy()
    out["prior_start"] = pri["start"]
    out["prior_end"] = pri["end"]
    for f in figures:
        out[f"prior_{f}"] = pri[f]
    for f in _COUNTS:
        # a difference with a suppressed side would reveal it: Int64 arithmetic keeps <NA>
        out[f"{f}_change"] = out[f].astype("Int64") - out[f"prior_{f}"].astype("Int64")
    out["naloxone_given_pct_change"] = (
        out["naloxone_given_pct"].astype("Float64")
        - out["prior_naloxone_given_pct"].astype("Float64")
    )
    prior_n = out["prior_overdoses"].astype("Float64")
    out["overdoses_change_pct"] = (
        100.0 * out["overdoses_change"].astype("Float64") / prior_n.where(prior_n > 0)
    ).astype("Float64")
    out["suppressed"] = cur["suppressed"] | pri["suppressed"]
    out.index.name = "window_days"
    return out


# ------------------------------------------------------------------ weekly trend
def weekly_trend(
    incidents: pd.DataFrame,
    end=None,
    weeks: int = 52,
    *,
    policy: PrivacyPolicy | str = "public",
) -> pd.DataFrame:
    """Weekly overdose counts by outcome over the last ``weeks`` weeks.

    Weeks are 7-day bins ending on ``end`` (so the last bin is a full week, never a partial
    calendar week that would look like a drop).

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    end : date-like, optional
        Last day included (default: last date in the data).
    weeks : int
        Number of weeks (default 52).
    policy : PrivacyPolicy or tier name
        Privacy gate (default public: weekly counts 1–9 become ``<NA>``).

    Returns
    -------
    DataFrame
        One row per week, oldest first, indexed by ``week_start`` (first day of the bin);
        columns ``week_end`` (last day), ``overdoses``, ``fatal``, ``nonfatal``, ``unknown``,
        ``suppressed``.
    """
    ev = as_events(incidents)
    if isinstance(weeks, bool) or not isinstance(weeks, int | np.integer) or weeks < 1:
        raise ValueError(f"weeks must be a positive whole number, got {weeks!r}")
    pol = _policy(policy)
    last = end_day(ev, end)
    stop = last + pd.Timedelta(days=1)
    first = stop - pd.Timedelta(days=7 * int(weeks))
    m = ev.mask(first, stop)
    wk = (ev.t[m] - np.datetime64(first, "ns")) // np.timedelta64(7, "D")
    mat = np.bincount(wk.astype(np.int64) * 3 + ev.outcome[m],
                      minlength=3 * int(weeks)).reshape(int(weeks), 3)
    starts = first + pd.to_timedelta(np.arange(int(weeks)) * 7, unit="D")
    table = pd.DataFrame({
        "week_start": starts,
        "week_end": starts + pd.Timedelta(days=6),
        "overdoses": mat.sum(axis=1),
        "fatal": mat[:, 0],
        "nonfatal": mat[:, 1],
        "unknown": mat[:, 2],
    })
    pub = publish(table.rename(columns=_GATE_NAMES), pol).rename(columns=_FROM_GATE)
    return pub.set_index("week_start")


# ------------------------------------------------------------------ top areas
def top_areas(
    incidents: pd.DataFrame,
    res: int = 7,
    end=None,
    days: int = 365,
    n: int = 10,
    *,
    policy: PrivacyPolicy | str = "public",
) -> pd.DataFrame:
    """The H3 cells with most overdoses in the last ``days`` days, with the prior period.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents with uint64 ``h3`` (base resolution).
    res : int
        H3 resolution of the areas (default 7, ~5 km²; public output must be ≤ the floor, 8).
    end : date-like, optional
        Last day included (default: last date in the data).
    days : int
        Window length (default 365).
    n : int
        Number of areas (default 10). Ties are broken by cell id, so the result is
        deterministic.
    policy : PrivacyPolicy or tier name
        Privacy gate (default public: counts 1–9 become ``<NA>``; cells finer than the floor
        raise :class:`geo.privacy.PrivacyError`).

    Returns
    -------
    DataFrame
        ``rank`` (1 = most), ``h3`` (uint64), ``cell_centre`` (e.g. ``"36.07N 79.79W"``, the
        cell's centre, not an incident location), ``count``, ``n_fatal``, ``n_nonfatal``,
        ``count_prior`` (same cell, prior ``days`` days), ``suppressed``.
    """
    _check(incidents, ("occurred_at", "h3"))
    for name, v in (("days", days), ("n", n)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive whole number, got {v!r}")
    pol = _policy(policy)
    last = end_day(incidents, end)
    ev = event_arrays(incidents)
    stop = last + pd.Timedelta(days=1)
    start = stop - pd.Timedelta(days=int(days))
    pstart = start - pd.Timedelta(days=int(days))
    cur = ev.mask(start, stop)
    cols = ["rank", "h3", "cell_centre", "count", "n_fatal", "n_nonfatal", "count_prior"]
    if not cur.any():
        empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in cols})
        empty["h3"] = empty["h3"].astype(np.uint64)
        empty["cell_centre"] = empty["cell_centre"].astype("string")
        return publish(empty, pol)
    cells = ev.cell_counts(cur, res)
    cells = cells.sort_values(["count", "h3"], ascending=[False, True], kind="stable").head(int(n))
    prior = ev.cell_counts(ev.mask(pstart, start), res)
    pmap = pd.Series(prior["count"].to_numpy(), index=prior["h3"].to_numpy(np.uint64))
    count_prior = pmap.reindex(cells["h3"].to_numpy(np.uint64)).fillna(0).astype(np.int64)
    lat, lon = cells_to_latlng(cells["h3"].to_numpy(np.uint64))
    centre = [f"{abs(a):.2f}{'N' if a >= 0 else 'S'} {abs(o):.2f}{'E' if o >= 0 else 'W'}"
              for a, o in zip(lat, lon, strict=True)]
    table = pd.DataFrame({
        "rank": np.arange(1, len(cells) + 1),
        "h3": cells["h3"].to_numpy(np.uint64),
        "cell_centre": pd.array(centre, dtype="string"),
        "count": cells["count"].to_numpy(),
        "n_fatal": cells["n_fatal"].to_numpy(),
        "n_nonfatal": cells["n_nonfatal"].to_numpy(),
        "count_prior": count_prior.to_numpy(),
    })
    return publish(table, pol)
