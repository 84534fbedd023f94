"""Overview products: KPIs against the prior period, the weekly trend, the top areas.

One function per product, called unchanged by the dashboard's Overview page, the briefing and
old callers of :mod:`report.kpis`; each returns a table that has passed the privacy gate.

**Windows.** ``[start, end)`` everywhere. In the public and partner tiers every window is a
fixed release window (:mod:`geo.privacy.release`): ``L`` days to the release date ``R`` (the
Monday after the last complete week of data) for ``L`` in 7, 28, 91, 364, compared with the
``L`` days before it; the weekly trend is 7-day bins ending at ``R``. The restricted tier uses
the query's window (default: windows ending the day after the last incident).

**Public figures.** Every count is keyed by its events' record keys and perturbed by the gate,
so the same events give the same published number everywhere (the 7-day KPI equals the last
weekly value; a 364-day total minus the 52 weekly values is a sum of independent noises, not
the hidden remainder). Naloxone shares and changes are computed from the **published** counts
and are blank where either side is hidden. Dates, never times.

**Unknown is not zero.** An export that never recorded outcome or naloxone would otherwise
read "Fatal 0 / Naloxone given 0%". Each KPI row carries the share of events whose outcome
(``outcome_known_pct``) and naloxone status (``naloxone_known_pct``) is known, from published
counts, and a status: ``"not recorded"`` when less than :data:`KNOWN_MIN_PCT` (50%) is known
(renderers print "not recorded" instead of the figure, and its change is blank),
``"partial"`` below :data:`KNOWN_FULL_PCT` (95%: the share known is printed next to the
figure), else ``"recorded"``.

**No comparison against periods without data.** ``days_covered_pct`` and
``prior_days_covered_pct`` are the shares of a period's days on or after the first day of the
data (of the chosen sources; outcome filters do not move it); ``prior_status`` is
``"no data"`` (0%), ``"partial"`` or ``"complete"``. Changes (``*_change``,
``overdoses_change_pct``) are blank unless both periods are completely covered — never
"+508%" against a period that predates the data. The weekly trend leaves weeks that end
before the first day blank (``no_data``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng
from geo.privacy import (
    PrivacyPolicy,
    as_policy,
    check_window,
    publish,
    release_date,
    release_window,
)
from products.query import Query, check_filters, check_resolution
from report.kpis import FIGURES, cell_counts, period_counts, prepare_events, select_events

__all__ = ["kpi_table", "weekly_table", "top_areas", "window_end", "PUBLIC_WINDOWS",
           "RESTRICTED_WINDOWS", "KNOWN_MIN_PCT", "KNOWN_FULL_PCT", "field_status",
           "data_start", "unique_labels"]

#: Default KPI windows (days) per tier.
PUBLIC_WINDOWS = (7, 28, 364)
RESTRICTED_WINDOWS = (7, 30, 365)
_DAY = pd.Timedelta(days=1)
_COUNTS = ("overdoses", "fatal", "nonfatal", "naloxone_yes")
_FROM_GATE = {v: k for k, v in FIGURES.items()}
#: A field known for less than this share (%) of events reads "not recorded".
KNOWN_MIN_PCT = 50.0
#: A field known for less than this share (%) prints the share known next to its figure.
KNOWN_FULL_PCT = 95.0


def field_status(known_pct) -> str:
    """``"not recorded"`` (< :data:`KNOWN_MIN_PCT` known), ``"partial"`` (<
    :data:`KNOWN_FULL_PCT`) or ``"recorded"`` (also when the share is unknown: hidden counts)."""
    if known_pct is None or pd.isna(known_pct):
        return "recorded"
    if float(known_pct) < KNOWN_MIN_PCT:
        return "not recorded"
    return "partial" if float(known_pct) < KNOWN_FULL_PCT else "recorded"


def data_start(prep, sources=None) -> pd.Timestamp:
    """First day (midnight) of the records of the chosen ``sources`` (default all): a source
    that started reporting later has no data before its start. Outcome filters do not move
    it (a rare outcome's first event is not the start of the data)."""
    prep = prepare_events(prep)
    t = select_events(prep, None, sources).t if sources is not None else prep.events.t
    if not len(t):
        t = prep.events.t
    return pd.Timestamp(np.min(t)).normalize()


def _covered_pct(start: pd.Timestamp, stop: pd.Timestamp, first: pd.Timestamp) -> float:
    """Share (%) of the days of ``[start, stop)`` on or after ``first``."""
    total = (stop - start) / _DAY
    if total <= 0:
        return 0.0
    covered = max(0.0, min(total, (stop - max(start, first)) / _DAY))
    return round(100.0 * covered / total, 1)


def _known_pct(pub: pd.DataFrame, unknown: str, known: tuple[str, ...]) -> pd.Series:
    """Share (%) of events whose field is known, from published counts: 100 − unknown/total,
    or known/total when the unknown count is hidden; blank when the total is hidden or 0."""
    tot = pd.to_numeric(pub["overdoses"]).astype("Float64")
    unk = pd.to_numeric(pub[unknown]).astype("Float64")
    kn = sum(pd.to_numeric(pub[c]).astype("Float64") for c in known)
    share = (100.0 - 100.0 * unk / tot.where(tot > 0)).where(unk.notna(),
                                                           100.0 * kn / tot.where(tot > 0))
    return share.clip(0.0, 100.0).round(1).astype("Float64")


def _whole(name: str, v, lo: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
        raise ValueError(f"{name} must be a positive whole number, got {v!r}")
    return int(v)


def window_end(prep, query: Query, pol: PrivacyPolicy) -> pd.Timestamp:
    """First instant after the query's window: the release date in public, else ``query.end``
    or the day after the last incident."""
    if pol.restricted:
        return query.end if query.end is not None else prep.last.normalize() + _DAY
    r = release_date(prep.last)
    if query.end is not None and query.end != r:
        check_window(pol, query.start, query.end, prep.last)  # raises the ReleaseError sentence
    return r


def _periods(prep, query: Query, pol: PrivacyPolicy, windows) -> list[tuple]:
    """``(days, start, end, prior_start)`` of every KPI window, checked for the tier."""
    end = window_end(prep, query, pol)
    if windows is None and query.start is not None:
        if not pol.restricted:
            check_window(pol, query.start, query.end, prep.last)
        length = end - query.start
        return [(int(round(length / _DAY)), query.start, end, query.start - length)]
    if windows is None:
        windows = RESTRICTED_WINDOWS if pol.restricted else PUBLIC_WINDOWS
    out = []
    for w in tuple(windows) or ():
        w = _whole("windows", w)
        if not pol.restricted:
            s, e = release_window(prep.last, w)  # ReleaseError unless w is a release length
            out.append((w, s, e, s - (e - s)))
        else:
            out.append((w, end - w * _DAY, end, end - 2 * w * _DAY))
    if not out:
        raise ValueError("windows must list at least one window length in days, e.g. (7, 28, 364)")
    return out


def _published(table: pd.DataFrame, pol: PrivacyPolicy) -> pd.DataFrame:
    counts = [c for c in FIGURES.values() if c in table.columns]
    return publish(table, pol, count_columns=counts).rename(columns=_FROM_GATE)


def _share(num: pd.Series, den: pd.Series) -> pd.Series:
    """100·num/den from published counts; blank where either side is hidden or den is 0."""
    n = pd.to_numeric(num).astype("Float64")
    d = pd.to_numeric(den).astype("Float64")
    return (100.0 * n / d.where(d > 0)).astype("Float64")


def kpi_table(incidents, query: Query, policy: PrivacyPolicy | str = "public", *,
              windows=None) -> pd.DataFrame:
    """Overdose KPIs per window against the prior period of equal length, published.

    Parameters
    ----------
    incidents : DataFrame or report.kpis.PreparedEvents
        Canonical de-duplicated incidents (or the same prepared once, as the dashboard does).
    query : Query
        Window ``[start, end)`` and filters. With ``query.start`` (and ``windows=None``) the
        table has one row: that window against the one before it.
    policy : PrivacyPolicy or tier name
    windows : sequence of int, optional
        Window lengths in days ending at the window end (public: 7/28/91/364 to the release
        date; default 7, 28, 364 in public, 7, 30, 365 restricted).

    Returns
    -------
    DataFrame
        Indexed by ``window_days``: ``start``, ``end`` (``[start, end)``), ``last_day``,
        ``overdoses``, ``fatal``, ``nonfatal``, ``naloxone_yes``, ``naloxone_given_pct``,
        ``prior_start``, ``prior_end``, ``prior_last_day``, ``prior_*``, ``*_change``,
        ``naloxone_given_pct_change`` (points), ``overdoses_change_pct``, ``suppressed``;
        ``outcome_known_pct``, ``naloxone_known_pct`` (and ``prior_`` ones),
        ``outcome_status``, ``naloxone_status`` (:func:`field_status` of the current window),
        ``days_covered_pct``, ``prior_days_covered_pct`` and ``prior_status``
        (``"no data"``, ``"partial"``, ``"complete"``; see the module notes). Changes are
        blank unless both periods are completely covered and the field is recorded.
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    prep = prepare_events(incidents)
    first = data_start(prep, query.sources)
    ev = select_events(prep, query.outcomes, query.sources, filters=query)
    periods = _periods(prep, query, pol, windows)
    spans = []
    for w, s, e, ps in periods:
        spans += [(w, "current", s, e), (w, "prior", ps, s)]
    long = period_counts(ev, [(a, b) for _, _, a, b in spans])
    long.insert(0, "window_days", [w for w, *_ in spans])
    long.insert(1, "period", [p for _, p, *_ in spans])
    long.insert(2, "start", [a for *_, a, _ in spans])
    long.insert(3, "end", [b for *_, b in spans])
    pub = _published(long, pol)
    pub["last_day"] = pub["end"] - _DAY
    pub["naloxone_given_pct"] = _share(pub["naloxone_yes"], pub["overdoses"])
    pub["outcome_known_pct"] = _known_pct(pub, "unknown", ("fatal", "nonfatal"))
    pub["naloxone_known_pct"] = _known_pct(pub, "naloxone_unknown", ("naloxone_yes",
                                                                    "naloxone_no"))
    pub["days_covered_pct"] = [_covered_pct(a, b, first)
                               for a, b in zip(pub["start"], pub["end"], strict=True)]
    cur = pub[pub["period"] == "current"].set_index("window_days")
    pri = pub[pub["period"] == "prior"].set_index("window_days")
    figures = [*_COUNTS, "naloxone_given_pct", "outcome_known_pct", "naloxone_known_pct",
               "days_covered_pct"]
    out = cur[["start", "end", "last_day", *figures]].copy()
    for c in ("start", "end", "last_day"):
        out[f"prior_{c}"] = pri[c]
    for f in figures:
        out[f"prior_{f}"] = pri[f]
    for f in _COUNTS:  # published − published: <NA> when either side is hidden
        out[f"{f}_change"] = out[f].astype("Int64") - out[f"prior_{f}"].astype("Int64")
    out["naloxone_given_pct_change"] = (out["naloxone_given_pct"].astype("Float64")
                                        - out["prior_naloxone_given_pct"].astype("Float64"))
    prior_n = out["prior_overdoses"].astype("Float64")
    out["overdoses_change_pct"] = (100.0 * out["overdoses_change"].astype("Float64")
                                   / prior_n.where(prior_n > 0)).astype("Float64")
    out["outcome_status"] = [field_status(v) for v in out["outcome_known_pct"]]
    out["naloxone_status"] = [field_status(v) for v in out["naloxone_known_pct"]]
    pc = out["prior_days_covered_pct"].astype(float)
    out["prior_status"] = np.where(pc <= 0, "no data", np.where(pc < 100, "partial", "complete"))
    whole = (pc >= 100) & (out["days_covered_pct"].astype(float) >= 100)
    changes = [f"{f}_change" for f in _COUNTS] + ["naloxone_given_pct_change",
                                                  "overdoses_change_pct"]
    for c in changes:
        out[c] = out[c].where(whole)
    for field, cols in (("outcome", ("fatal_change", "nonfatal_change")),
                        ("naloxone", ("naloxone_yes_change", "naloxone_given_pct_change"))):
        known = ((out[f"{field}_status"] != "not recorded")
                 & (out[f"prior_{field}_known_pct"].map(field_status) != "not recorded"))
        for c in cols:
            out[c] = out[c].where(known)
    out["suppressed"] = cur["suppressed"] | pri["suppressed"]
    out.index.name = "window_days"
    return out


def weekly_table(incidents, query: Query, policy: PrivacyPolicy | str = "public",
                 weeks: int = 52) -> pd.DataFrame:
    """Weekly overdoses by outcome: ``weeks`` 7-day bins ending at the window end, published.

    Public: the bins end at the release date (whole Monday–Sunday weeks). The query's outcome
    and source filters apply.

    Returns
    -------
    DataFrame
        Oldest first, indexed by ``week_start``; ``last_day``, ``overdoses``, ``fatal``,
        ``nonfatal``, ``unknown``, ``suppressed``, ``no_data`` (the week ends before the
        first day of the data: its counts are blank, not 0).
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    weeks = _whole("weeks", weeks)
    prep = prepare_events(incidents)
    ev = select_events(prep, query.outcomes, query.sources, filters=query)
    end = window_end(prep, query, pol)
    starts = end - pd.to_timedelta(np.arange(weeks, 0, -1) * 7, unit="D")
    first = np.datetime64(starts[0], "ns")
    m = ev.mask(starts[0], end)
    codes = np.full(len(ev), -1, np.int64)
    codes[m] = (ev.t[m] - first) // np.timedelta64(7, "D")
    from report.kpis import bin_counts

    table = bin_counts(ev, codes, weeks)
    table = table[[c for c in table.columns if "naloxone" not in c]]
    table.insert(0, "week_start", starts)
    table.insert(1, "last_day", starts + pd.Timedelta(days=6))
    out = _published(table, pol)
    # weeks that end before the first day of the data: "no data", not zero
    first = data_start(prep, query.sources)
    out["no_data"] = (out["week_start"] + pd.Timedelta(days=7) <= first).to_numpy()
    for c in ("overdoses", "fatal", "nonfatal", "unknown"):
        if c in out.columns:
            out[c] = out[c].astype("Int64").mask(out["no_data"])
    return out.set_index("week_start")


def _centre(cells: np.ndarray) -> list[str]:
    lat, lon = cells_to_latlng(cells)
    return [f"{abs(a):.2f}{'N' if a >= 0 else 'S'} {abs(o):.2f}{'E' if o >= 0 else 'W'}"
            for a, o in zip(lat, lon, strict=True)]


def unique_labels(labels, cells) -> list[str]:
    """``labels`` made unique: a label shared by several cells (two cells of one res-8 area
    round to the same "35.98N 79.96W") gets the cell's short hex id, e.g.
    ``"35.98N 79.96W ·2d3"`` (the distinguishing digits of its H3 index), or the whole id."""
    labels = [str(v) for v in labels]
    hexes = [format(int(c), "x") for c in np.asarray(cells, np.uint64)]
    seen: dict[str, int] = {}
    for v in labels:
        seen[v] = seen.get(v, 0) + 1
    out = []
    for v, h in zip(labels, hexes, strict=True):
        out.append(v if seen[v] == 1 else f"{v} ·{h.rstrip('f')[-4:]}")
    if len(set(out)) < len(out):  # short ids collide too: the whole id
        out = [v if seen[v] == 1 else f"{v} ·{h}" for v, h in zip(labels, hexes, strict=True)]
    return out


def top_areas(incidents, query: Query, policy: PrivacyPolicy | str = "public", *,
              n: int = 10) -> pd.DataFrame:
    """The H3 cells (point-in-hexagon at ``query.res``) with most overdoses in the window.

    Public: the window is a release window (default the last 364 days to the release date)
    and areas are ranked by their **published** count (hidden ones last; ties by cell).

    Returns
    -------
    DataFrame
        ``rank``, ``h3`` (uint64), ``cell_centre`` (the cell's centre, not an incident; unique:
        :func:`unique_labels`),
        ``count``, ``n_fatal``, ``n_nonfatal``, ``count_prior`` (same cell, prior period of
        equal length; blank when that period is before the data start), ``suppressed``.
        ``attrs["prior_status"]`` (``"no data"``, ``"partial"``, ``"complete"``) and
        ``attrs["prior_days_covered_pct"]`` say how much of the prior period has data.
    """
    pol = as_policy(policy)
    check_filters(query, pol)
    n = _whole("n", n)
    res = check_resolution(query.res, pol)
    prep = prepare_events(incidents)
    ev = select_events(prep, query.outcomes, query.sources, filters=query)
    end = window_end(prep, query, pol)
    start = query.start
    if start is None:  # default: the last year (52 whole weeks in public)
        start = end - (365 if pol.restricted else 364) * _DAY
    if not pol.restricted:
        start, end = check_window(pol, start, end, prep.last)
    cur = cell_counts(ev, ev.mask(start, end), res)
    prior = cell_counts(ev, ev.mask(start - (end - start), start), res, cells=cur["h3"].to_numpy())
    table = cur[["h3", "count", "count__ckey", "n_fatal", "n_fatal__ckey", "n_nonfatal",
                 "n_nonfatal__ckey"]].assign(count_prior=prior["count"].to_numpy(),
                                             count_prior__ckey=prior["count__ckey"].to_numpy())
    pub = publish(table, pol, count_columns=["count", "n_fatal", "n_nonfatal", "count_prior"])
    rank_by = pub["count"].astype("Float64").fillna(-1).to_numpy(float)
    order = np.lexsort((pub["h3"].to_numpy(np.uint64), -rank_by))[:n]
    out = pub.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    cells = out["h3"].to_numpy(np.uint64)
    out.insert(2, "cell_centre", pd.array(unique_labels(_centre(cells), cells), dtype="string"))
    out = out[["rank", "h3", "cell_centre", "count", "n_fatal", "n_nonfatal", "count_prior",
               "suppressed"]]
    first = data_start(prep, query.sources)
    cov = _covered_pct(start - (end - start), start, first)
    out.attrs["prior_days_covered_pct"] = cov
    out.attrs["prior_status"] = "no data" if cov <= 0 else "partial" if cov < 100 else "complete"
    if cov <= 0:  # no data in the prior period: not "0 last year"
        out["count_prior"] = out["count_prior"].astype("Int64").mask(np.ones(len(out), bool))
    return out

