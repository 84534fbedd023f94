"""Events as compact arrays: the counting unit of every KPI, trend and briefing table.

If the table has ``event_id`` (set by de-duplication), each event counts once even when several
rows share it: its time and cell are those of the earliest report, its outcome the most severe
(fatal > nonfatal > unknown) and naloxone "yes" if any report says so. Without ``event_id``
every row is an event.

Outcomes and naloxone status are held as small integer codes (no per-row strings), so a
window count over 1,000,000 events is a few vectorised comparisons.

A table loaded from the store has one row per event already: :func:`_distinct_ids` proves that
its ids are all different from a 64-bit fingerprint of each id read from the Arrow buffers (a
sort of numbers, no hashing of strings), so the collapse (factorizing every id) is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.grid import cells_at
from geo.privacy import with_record_keys

__all__ = ["EventArrays", "event_arrays", "as_events", "incident_events", "data_end",
           "end_day", "OUTCOME_CODES", "NALOXONE_CODES"]

#: code → label; lower code = more severe / more informative (used to merge reports)
OUTCOME_CODES = ("fatal", "nonfatal", "unknown")
NALOXONE_CODES = ("yes", "no", "unknown")


def _check(incidents: pd.DataFrame, need: tuple[str, ...]) -> None:
    if not isinstance(incidents, pd.DataFrame):
        raise TypeError(f"incidents must be a pandas DataFrame, got {type(incidents).__name__}")
    missing = [c for c in need if c not in incidents.columns]
    if missing:
        raise ValueError(
            f"incidents is missing column(s) {missing}; found {list(incidents.columns)}. "
            "Load incidents through geo.ingest so they have the canonical columns."
        )


def _codes(incidents: pd.DataFrame, column: str, labels: tuple[str, ...]) -> np.ndarray:
    n = len(incidents)
    codes = np.full(n, len(labels) - 1, dtype=np.int8)
    if column not in incidents.columns:
        return codes
    col = incidents[column]
    if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
        col = col.astype("string")
    for j, lab in enumerate(labels[:-1]):
        hit = (col == lab).to_numpy(dtype=bool, na_value=False)  # vectorised for arrow strings
        if not hit.any():  # maybe not lower-case: fall back to a normalised copy
            norm = col.astype("string").str.strip().str.lower()
            hit = (norm == lab).to_numpy(dtype=bool, na_value=False)
        codes[hit] = j
    return codes


_FOLD = np.uint64(0x9E3779B97F4A7C15)  # odd multiplier folding an id's 8-byte words
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
_MAX_ID_BYTES = 64  # longer ids: the fingerprint would cost as much as factorizing


def _fingerprints(a: pa.Array, big: bool) -> np.ndarray | None:
    """A uint64 per value of a (large) string array, a function of the value's bytes only
    (its length, then each 8-byte word masked to the value's bytes); None when too long."""
    n = len(a)
    bufs = a.buffers()
    width = 8 if big else 4
    off = np.frombuffer(bufs[1], dtype=np.int64 if big else np.int32, count=n + 1,
                        offset=a.offset * width).astype(np.int64)
    start, lens = off[:-1], np.diff(off)
    if n and int(lens.max()) > _MAX_ID_BYTES:
        return None
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    pad = np.concatenate([data, np.zeros(8, np.uint8)])  # the last word may read past the end
    # word g = the 8 bytes from byte g (unaligned, overlapping views of the same buffer)
    words = np.ndarray(shape=(pad.size - 7,), dtype="<u8", buffer=pad, strides=(1,))
    h = lens.astype(np.uint64)
    for k in range(0, int(lens.max()) if n else 0, 8):
        rem = np.clip(lens - k, 0, 8)
        shift = (np.minimum(rem, 7) * 8).astype(np.uint64)
        mask = np.where(rem >= 8, _ALL, (np.uint64(1) << shift) - np.uint64(1))
        w = words[np.minimum(start + k, pad.size - 8)] & mask
        h = np.where(rem > 0, h * _FOLD + w, h)  # words past a value's end leave it alone
    return h


def _distinct_ids(eid: pd.Series) -> bool:
    """True when no two present ``event_id`` values are equal, proven cheaply; False when that
    is not proven (the caller then factorizes the ids, as always).

    Only for Arrow-backed strings (what the store's load gives): equal ids have equal
    fingerprints (:func:`_fingerprints`), so sorted fingerprints that all differ prove the
    ids do. A repeated fingerprint (a repeated id, or two ids that happen to collide) proves
    nothing: False. Missing ids are events of their own and are left out.
    """
    if not isinstance(eid.array, pd.arrays.ArrowExtensionArray):
        return False
    ca = eid.array.__arrow_array__()
    if isinstance(ca, pa.Array):
        ca = pa.chunked_array([ca])
    if not (pa.types.is_string(ca.type) or pa.types.is_large_string(ca.type)):
        return False
    parts = []
    for a in ca.chunks:
        if not len(a):
            continue
        h = _fingerprints(a, pa.types.is_large_string(ca.type))
        if h is None:
            return False
        if a.null_count:
            h = h[a.is_valid().to_numpy(zero_copy_only=False)]
        parts.append(h)
    if not parts:
        return True
    h = np.sort(np.concatenate(parts))
    return bool((h[1:] != h[:-1]).all())


@dataclass(frozen=True)
class EventArrays:
    """One entry per event: time (datetime64[ns]), outcome and naloxone codes, cell (or None)
    and location (``lat``/``lon`` in degrees, or None), which :meth:`cell_counts` indexes,
    and the record key ``rkey`` (:func:`geo.privacy.with_record_keys`; an event's key is its
    earliest report's) from which published counts get their cell keys."""

    t: np.ndarray
    outcome: np.ndarray
    naloxone: np.ndarray
    h3: np.ndarray | None
    lat: np.ndarray | None = None
    lon: np.ndarray | None = None
    rkey: np.ndarray | None = None
    _cells: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.t.size)

    def subset(self, m: np.ndarray) -> EventArrays:
        """The events in boolean mask ``m`` (a new value; this one is not changed)."""
        sub = EventArrays(t=self.t[m], outcome=self.outcome[m], naloxone=self.naloxone[m],
                           h3=None if self.h3 is None else self.h3[m],
                           lat=None if self.lat is None else self.lat[m],
                           lon=None if self.lon is None else self.lon[m],
                           rkey=None if self.rkey is None else self.rkey[m])
        sub._cells.update({r: c[m] for r, c in self._cells.items()})
        return sub

    def mask(self, start: pd.Timestamp, stop: pd.Timestamp) -> np.ndarray:
        """Events with ``start <= t < stop``."""
        return (self.t >= np.datetime64(start, "ns")) & (self.t < np.datetime64(stop, "ns"))

    def counts(self, m: np.ndarray) -> dict:
        """Totals of the events in mask ``m`` by outcome and naloxone status."""
        o = np.bincount(self.outcome[m], minlength=3)
        nal = np.bincount(self.naloxone[m], minlength=3)
        return {"overdoses": int(m.sum()), "fatal": int(o[0]), "nonfatal": int(o[1]),
                "unknown": int(o[2]), "naloxone_yes": int(nal[0]), "naloxone_no": int(nal[1]),
                "naloxone_unknown": int(nal[2])}

    def cell_counts(self, m: np.ndarray, res: int) -> pd.DataFrame:
        """Events in mask ``m`` per H3 cell at ``res``: ``h3``, ``count``, ``n_fatal``,
        ``n_nonfatal``, ``n_unknown`` (sorted by cell; cells 0 = no location are dropped).

        Each event counts in the hexagon that contains its location (point-in-hexagon, from
        ``lat``/``lon``); only arrays without a location fall back to the parent of ``h3``."""
        cells = self.cells(res)[m]
        out_codes = self.outcome[m]
        ok = cells != 0
        uniq, inv = np.unique(cells[ok], return_inverse=True)
        mat = np.bincount(inv * 3 + out_codes[ok], minlength=uniq.size * 3).reshape(-1, 3)
        return pd.DataFrame({"h3": uniq, "count": mat.sum(axis=1), "n_fatal": mat[:, 0],
                             "n_nonfatal": mat[:, 1], "n_unknown": mat[:, 2]})

    def cells(self, res: int) -> np.ndarray:
        """Cell at ``res`` containing each event (uint64, 0 = no location), computed once."""
        res = int(res)
        got = self._cells.get(res)
        if got is None:
            if self.lat is not None and self.lon is not None:
                got = cells_at(pd.DataFrame({"lat": self.lat, "lon": self.lon}, copy=False), res)
            elif self.h3 is not None:
                got = cells_at(pd.DataFrame({"h3": self.h3}, copy=False), res)
            else:
                raise ValueError("incidents have no location ('lat'/'lon' or 'h3'): "
                                 "load them through geo.ingest")
            self._cells[res] = got
        return got

    def frame(self) -> pd.DataFrame:
        """As a DataFrame (``occurred_at``, ``outcome``, ``naloxone``, ``h3``)."""
        out = pd.DataFrame({
            "occurred_at": self.t,
            "outcome": pd.array(np.asarray(OUTCOME_CODES, dtype=object)[self.outcome],
                                dtype="string"),
            "naloxone": pd.array(np.asarray(NALOXONE_CODES, dtype=object)[self.naloxone],
                                 dtype="string"),
        })
        if self.h3 is not None:
            out["h3"] = self.h3
        return out


def event_arrays(incidents: pd.DataFrame) -> EventArrays:
    """Collapse reports to events (see module notes) and encode them as arrays.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents with at least ``occurred_at``; ``outcome``, ``naloxone``,
        ``event_id`` and ``h3`` are used when present; ``rkey`` is taken from
        :func:`geo.privacy.with_record_keys` (computed from the full rows when absent, so pass
        the canonical table, not a few of its columns). Never mutated.

    Returns
    -------
    EventArrays
        In input row order when no rows share an event; otherwise one entry per event.
    """
    _check(incidents, ("occurred_at",))
    t = pd.to_datetime(incidents["occurred_at"])
    if getattr(t.dt, "tz", None) is not None:
        t = t.dt.tz_localize(None)
    t = t.to_numpy(dtype="datetime64[ns]")
    rkey = with_record_keys(incidents)["rkey"].to_numpy(np.int64)
    oc = _codes(incidents, "outcome", OUTCOME_CODES)
    nc = _codes(incidents, "naloxone", NALOXONE_CODES)
    h3 = incidents["h3"].to_numpy(np.uint64) if "h3" in incidents.columns else None
    pre = {int(c[4:]): incidents[c].to_numpy(np.uint64) for c in incidents.columns
           if isinstance(c, str) and c.startswith("h3_r") and c[4:].isdigit()}  # add_cells
    lat = lon = None
    if "lat" in incidents.columns and "lon" in incidents.columns:
        lat = pd.to_numeric(incidents["lat"], errors="coerce").to_numpy(float, na_value=np.nan)
        lon = pd.to_numeric(incidents["lon"], errors="coerce").to_numpy(float, na_value=np.nan)
    # ids proven all different (a store's load): every row is an event already
    if "event_id" in incidents.columns and not _distinct_ids(incidents["event_id"]):
        eid = incidents["event_id"]
        keys, uniques = pd.factorize(eid, use_na_sentinel=True)
        na = keys < 0
        if na.any():  # reports without an event id are events of their own
            keys = keys.copy()
            keys[na] = len(uniques) + np.arange(int(na.sum()))
        if len(uniques) + int(na.sum()) < keys.size:  # some events have several reports
            order = np.lexsort((t, keys))  # by event, earliest report first
            k = keys[order]
            first = np.r_[True, k[1:] != k[:-1]]
            starts = np.flatnonzero(first)
            t, h3 = t[order][starts], None if h3 is None else h3[order][starts]
            if lat is not None:  # the earliest report's location, as its cell
                lat, lon = lat[order][starts], lon[order][starts]
            pre = {r: c[order][starts] for r, c in pre.items()}
            rkey = rkey[order][starts]
            oc = np.minimum.reduceat(oc[order], starts)
            nc = np.minimum.reduceat(nc[order], starts)
    ev = EventArrays(t=t, outcome=oc, naloxone=nc, h3=h3, lat=lat, lon=lon, rkey=rkey)
    ev._cells.update(pre)  # precomputed point-in-hexagon cells: no re-indexing per filter
    return ev


def as_events(incidents) -> EventArrays:
    """``incidents`` as :class:`EventArrays`: collapsed from a DataFrame, or passed through.

    Callers that compute several tables from the same events (the dashboard) build the arrays
    once and pass them to :func:`report.kpis.kpis` and friends.
    """
    if isinstance(incidents, EventArrays):
        return incidents
    return event_arrays(incidents)


def incident_events(incidents: pd.DataFrame) -> pd.DataFrame:
    """One row per event (see module notes) as a DataFrame.

    Returns
    -------
    DataFrame
        Columns ``occurred_at``, ``outcome``, ``naloxone`` (missing → "unknown") and ``h3``
        if present.
    """
    return event_arrays(incidents).frame()


def data_end(incidents: pd.DataFrame) -> pd.Timestamp:
    """Last calendar day present in the data (midnight), the default ``end`` of every window."""
    if isinstance(incidents, EventArrays):
        t = pd.Series(incidents.t.astype("datetime64[us]"))  # same unit as a loaded table
    else:
        _check(incidents, ("occurred_at",))
        t = pd.to_datetime(incidents["occurred_at"])
    if t.notna().sum() == 0:
        raise ValueError("incidents has no valid occurred_at values; cannot infer end — pass end=")
    last = t.max()
    if getattr(last, "tz", None) is not None:
        last = last.tz_localize(None)
    return last.normalize()


def end_day(incidents: pd.DataFrame, end=None) -> pd.Timestamp:
    """``end`` as a day (midnight), or the last day in the data when ``end`` is None."""
    if end is None:
        return data_end(incidents)
    try:
        return pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"end must be a date like '2026-11-15', got {end!r}") from exc
