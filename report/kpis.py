"""Array core of the overview products (KPIs, weekly trend, top areas): keyed event counts.

The products themselves live in :mod:`products.overview` (one function per product, called by
the CLI, the dashboard and the briefing); this module only turns events into **keyed counts**
— every count comes with its cell key (the sum of the record keys of the events it counts,
:mod:`geo.privacy.cellkey`), so the privacy gate can perturb it consistently: the same events
give the same published number in every table and door.

Counting unit
-------------
If the table has ``event_id`` (set by de-duplication), each event counts once even when several
rows share it: its time is the earliest report, its outcome the most severe (fatal > nonfatal >
unknown) and naloxone "yes" if any report says so (see :mod:`report.events`). Without
``event_id`` every row is an event.

:func:`kpis`, :func:`weekly_trend` and :func:`top_areas` are kept for old callers: they call
the products unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.privacy import KEY_SUFFIX, keyed_counts
from report.events import (
    OUTCOME_CODES,
    EventArrays,
    _check,
    data_end,
    event_arrays,
    incident_events,
)

__all__ = [
    "PreparedEvents",
    "prepare_events",
    "select_events",
    "period_counts",
    "bin_counts",
    "cell_counts",
    "kpis",
    "weekly_trend",
    "top_areas",
    "incident_events",
    "data_end",
    "FIGURES",
]

#: Published figure → the gate's name (its breakdown families, for complementary suppression).
FIGURES = {"overdoses": "count", "fatal": "n_fatal", "nonfatal": "n_nonfatal",
           "unknown": "n_unknown", "naloxone_yes": "n_naloxone_yes",
           "naloxone_no": "n_naloxone_no", "naloxone_unknown": "n_naloxone_unknown"}
_OUTCOME_NAMES = ("n_fatal", "n_nonfatal", "n_unknown")
_NALOXONE_NAMES = ("n_naloxone_yes", "n_naloxone_no", "n_naloxone_unknown")


@dataclass(frozen=True)
class PreparedEvents:
    """Events of a whole data set, built once, with one row mask per source.

    ``source_masks`` is ``None`` when rows are reports of shared events (then a source filter
    re-collapses the filtered rows of ``frame``). ``last`` is the last incident time of the
    whole data set (release dates are built from it, never from a filtered subset).
    ``levels`` caches, per breakdown family (drug, age, sex), the level code of every row
    (:func:`products.breakdowns.levels_of`), computed on first use, so a drug / age band / sex
    filter is a numpy ``isin`` instead of a string mapping of every row.
    """

    events: EventArrays
    source_masks: dict | None
    last: pd.Timestamp
    frame: pd.DataFrame
    levels: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def aligned(self) -> bool:
        """One event per row of ``frame``, in row order (row masks apply to the events)."""
        return len(self.events) == len(self.frame)

    def people_mask(self, query) -> np.ndarray:
        """Rows of ``frame`` matching the query's ``drugs``, ``age_bands`` and ``sexes``."""
        from products.breakdowns import FILTERS, LEVELS, levels_of

        m = np.ones(len(self.frame), dtype=bool)
        for name, family in FILTERS.items():
            vals = getattr(query, name, None)
            if vals is None:
                continue
            codes = self.levels.get(family)
            if codes is None:
                codes = self.levels[family] = levels_of(self.frame, family)
            m &= np.isin(codes, [LEVELS[family].index(v) for v in vals])
        return m


def prepare_events(incidents: pd.DataFrame) -> PreparedEvents:
    """:class:`PreparedEvents` of canonical incidents (with record keys)."""
    from geo.schema import SOURCES

    if isinstance(incidents, PreparedEvents):
        return incidents
    _check(incidents, ("occurred_at",))
    ev = event_arrays(incidents)
    t = pd.to_datetime(incidents["occurred_at"])
    if t.notna().sum() == 0:
        raise ValueError("incidents have no valid occurred_at values")
    last = t.max()
    last = last.tz_localize(None) if getattr(last, "tz", None) is not None else last
    masks = None
    if len(ev) == len(incidents) and "source" in incidents.columns:
        masks = _source_masks(incidents, SOURCES)
    return PreparedEvents(ev, masks, pd.Timestamp(last), incidents)


def _source_masks(incidents: pd.DataFrame, sources) -> dict:
    """``{s: incident_mask(incidents, sources=(s,))}`` for every source, deciding each source
    on the few distinct source (combination) values once instead of on every row per source."""
    from geo.grid import incident_mask

    col = (incidents["sources"].fillna(incidents["source"]) if "sources" in incidents.columns
           else incidents["source"])
    codes, distinct = pd.factorize(col)
    few = pd.DataFrame({c: pd.Series(distinct, dtype=col.dtype) for c in ("source", "sources")
                        if c in incidents.columns})
    ok = codes >= 0
    pos = np.maximum(codes, 0)
    return {s: ok & incident_mask(few, sources=(s,))[pos] if len(few) else np.zeros(len(codes),
                                                                                     bool)
            for s in sources}


def _has_people(query) -> bool:
    return query is not None and any(getattr(query, n, None) is not None
                                     for n in ("drugs", "age_bands", "sexes"))


def select_events(prep: PreparedEvents, outcomes=None, sources=None, filters=None
                  ) -> EventArrays:
    """Events within the outcome and source filters (``None`` = all) and, when ``filters``
    (a :class:`products.query.Query`) is given, its drug / age band / sex filters.

    Rows are filtered before reports collapse to events (as :func:`products.query.select`
    does for every other product): an event counts when one of its reports matches.
    """
    ev = prep.events
    people = _has_people(filters)
    if sources is not None and "source" not in prep.frame.columns:
        raise ValueError("a source filter needs the incidents' 'source' column")
    if (sources is not None and prep.source_masks is None) or (people and not prep.aligned):
        from geo.grid import filter_incidents

        frame = prep.frame if sources is None else filter_incidents(prep.frame, sources=sources)
        if people:
            from products.breakdowns import filter_mask

            frame = frame.loc[filter_mask(frame, filters)]
        ev = event_arrays(frame)
    else:
        m = None
        if sources is not None:
            m = np.zeros(len(ev), dtype=bool)
            for s in sources:
                if s in prep.source_masks:
                    m |= prep.source_masks[s]
        if people:
            pm = prep.people_mask(filters)
            m = pm if m is None else m & pm
        if m is not None:
            ev = ev.subset(m)
    if outcomes is not None:
        keep = np.isin(ev.outcome, [OUTCOME_CODES.index(o) for o in outcomes])
        ev = ev.subset(keep)
    return ev


def _keys(ev: EventArrays) -> np.ndarray:
    if ev.rkey is None:
        raise ValueError("events carry no record keys: build them with report.events.event_arrays")
    return ev.rkey


def bin_counts(ev: EventArrays, codes: np.ndarray, size: int) -> pd.DataFrame:
    """Keyed counts per group code (``-1`` = not counted): totals, outcome and naloxone
    breakdowns under the gate's names, each with its ``__ckey`` column."""
    ok = codes >= 0
    c, rk = codes[ok].astype(np.int64), _keys(ev)[ok]
    out = {}
    n, k = keyed_counts(c, rk, size)
    out["count"], out[f"count{KEY_SUFFIX}"] = n, k
    for names, sub in ((_OUTCOME_NAMES, ev.outcome[ok]), (_NALOXONE_NAMES, ev.naloxone[ok])):
        n, k = keyed_counts(c * 3 + sub.astype(np.int64), rk, size * 3)
        for j, name in enumerate(names):
            out[name], out[f"{name}{KEY_SUFFIX}"] = n[j::3], k[j::3]
    return pd.DataFrame(out)


def period_counts(ev: EventArrays, periods: list[tuple[pd.Timestamp, pd.Timestamp]]
                  ) -> pd.DataFrame:
    """Keyed counts of the events in each ``[start, stop)`` of ``periods`` (one row each)."""
    parts = []
    for a, b in periods:
        m = ev.mask(a, b)
        parts.append(bin_counts(ev.subset(m), np.zeros(int(m.sum()), np.int64), 1))
    return pd.concat(parts, ignore_index=True)


def cell_counts(ev: EventArrays, m: np.ndarray, res: int, cells: np.ndarray | None = None
                ) -> pd.DataFrame:
    """Keyed counts per H3 cell (point-in-hexagon) of the events in mask ``m``.

    ``cells`` (sorted uint64) lists the rows; default the occupied cells.
    """
    at = ev.cells(res)[m]
    sub = ev.subset(m)
    grid = np.unique(at[at != 0]) if cells is None else np.asarray(cells, np.uint64)
    pos = np.searchsorted(grid, at)
    pos = np.where((at != 0) & (pos < grid.size), pos, -1)
    hit = pos >= 0
    hit[hit] = grid[pos[hit]] == at[hit]
    out = bin_counts(sub, np.where(hit, pos, -1), grid.size)
    out.insert(0, "h3", grid)
    return out


# ------------------------------------------------------------------ old entry points
def _query(end, days=None):
    from products.query import Query

    stop = None if end is None else pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
    start = None if stop is None or days is None else stop - pd.Timedelta(days=int(days))
    return Query(start=start, end=stop)


def kpis(incidents, end=None, windows=None, *, policy="public") -> pd.DataFrame:
    """:func:`products.overview.kpi_table` with ``end`` = last day included."""
    from products.overview import kpi_table

    return kpi_table(incidents, _query(end), policy, windows=windows)


def weekly_trend(incidents, end=None, weeks: int = 52, *, policy="public") -> pd.DataFrame:
    """:func:`products.overview.weekly_table` with ``end`` = last day included."""
    from products.overview import weekly_table

    return weekly_table(incidents, _query(end), policy, weeks=weeks)


def top_areas(incidents, res: int = 7, end=None, days: int = 365, n: int = 10, *,
              policy="public") -> pd.DataFrame:
    """:func:`products.overview.top_areas` with ``end`` = last day included."""
    from dataclasses import replace

    from products.overview import top_areas as _top

    q = replace(_query(end, days if end is not None else None), res=int(res))
    return _top(incidents, q, policy, n=n)
