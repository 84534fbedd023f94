"""Opening hours in OpenStreetMap ``opening_hours`` text: parse, "open at T", nights, weekends.

A schedule is a read-only boolean mask over the 10,080 minutes of a week (Monday 00:00 first).
Parsing is cached per distinct text, so evaluating thousands of sites costs one parse per
distinct string plus one fancy-indexing step.

Supported subset of the OSM syntax (anything else raises :class:`HoursError`):

* ``24/7``;
* day selectors ``Mo``..``Su``, ranges ``Mo-Fr`` (wrapping ``Fr-Mo`` too) and lists
  ``Mo,We,Fr`` / ``Mo-Fr,Su``; a rule without days applies to every day;
* time spans ``08:00-17:00``, several comma-separated ``08:00-12:00,13:00-17:00``, ``24:00`` as
  an end, and over-midnight spans ``22:00-02:00`` (the part after midnight belongs to the next
  day, as in OSM); a rule with days but no times means the whole day;
* ``off`` / ``closed`` (``Su off``, ``We off``), ``open``;
* several rules separated by ``;`` — a later rule *replaces* the hours of the days it names
  (OSM "normal rule" semantics: ``Mo-Fr 08:00-17:00; We off`` is closed all Wednesday).
  Hours that spill past midnight from the previous day are kept.

Not supported (raise): public/school holidays (``PH``, ``SH``), months, weeks, dates, sunrise/
sunset, ``+`` open ends, ``||`` fallback rules, comments.

Times are local wall-clock times of the site (naive timestamps). "Open now" is the current
time **in the study area's time zone** (:func:`local_now`), never the server's clock: the zone
is the ``tz`` argument (CLI ``--tz``), else the environment variable ``GAPMAP_TZ``, else
:data:`DEFAULT_TZ` (``America/New_York``, the bundled sample's zone). A tz-aware time given
to :func:`is_open` must be converted first (:func:`local_time`).

References
----------
OpenStreetMap wiki, Key:opening_hours/specification,
https://wiki.openstreetmap.org/wiki/Key:opening_hours/specification
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = [
    "HoursError",
    "DAYS",
    "WEEK_MINUTES",
    "parse_hours",
    "hours_error",
    "is_open",
    "open_nights",
    "open_weekends",
    "sites_open_at",
    "NIGHT_START",
    "NIGHT_END",
    "DEFAULT_TZ",
    "TZ_ENV",
    "study_tz",
    "local_time",
    "local_now",
]

#: Study-area time zone when neither ``tz`` nor ``$GAPMAP_TZ`` names one (the sample's).
DEFAULT_TZ = "America/New_York"
#: Environment variable naming the study area's IANA time zone.
TZ_ENV = "GAPMAP_TZ"

DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
DAY_MINUTES = 1440
WEEK_MINUTES = 7 * DAY_MINUTES
#: "Open nights" means open at some minute in [20:00, 24:00) or [00:00, 06:00) on any day.
NIGHT_START, NIGHT_END = 20 * 60, 6 * 60

_DAY_INDEX = {d.lower(): i for i, d in enumerate(DAYS)}
_DAY = r"(?:mo|tu|we|th|fr|sa|su)"
_DAYSPEC = rf"{_DAY}(?:\s*-\s*{_DAY})?"
_DAYS_RE = re.compile(rf"^\s*({_DAYSPEC}(?:\s*,\s*{_DAYSPEC})*)(?=\s|$)\s*", re.IGNORECASE)
_SPAN_RE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_UNSUPPORTED = {
    "ph": "public-holiday rules (PH)",
    "sh": "school-holiday rules (SH)",
    "||": "fallback rules (||)",
    "sunrise": "sunrise/sunset times",
    "sunset": "sunrise/sunset times",
    "dawn": "dawn/dusk times",
    "dusk": "dawn/dusk times",
}


class HoursError(ValueError):
    """Opening-hours text that this parser does not understand."""


def _parse_days(text: str, whole: str) -> list[int]:
    days: list[int] = []
    for part in text.split(","):
        ends = [p.strip().lower() for p in part.split("-")]
        if len(ends) == 1:
            days.append(_DAY_INDEX[ends[0]])
        else:
            a, b = _DAY_INDEX[ends[0]], _DAY_INDEX[ends[1]]
            span = (b - a) % 7
            days.extend((a + k) % 7 for k in range(span + 1))
    return sorted(set(days))


def _parse_minutes(h: str, m: str, text: str, *, end: bool) -> int:
    hh, mm = int(h), int(m)
    limit = 48 if end else 23
    if hh > limit or mm > 59 or (end and hh >= 24 and hh * 60 + mm > 2 * DAY_MINUTES):
        raise HoursError(f"opening hours {text!r}: time {h}:{m} is not a valid clock time")
    return hh * 60 + mm


def _parse_times(rest: str, text: str) -> list[tuple[int, int]]:
    spans = []
    for part in rest.split(","):
        part = part.strip()
        m = _SPAN_RE.match(part)
        if not m:
            raise HoursError(
                f"opening hours {text!r}: cannot read {part!r}; expected a time span like "
                "'08:00-17:00', 'off', or days like 'Mo-Fr'"
            )
        start = _parse_minutes(m.group(1), m.group(2), text, end=False)
        stop = _parse_minutes(m.group(3), m.group(4), text, end=True)
        if stop <= start:  # over midnight, e.g. 22:00-02:00
            stop += DAY_MINUTES
        spans.append((start, stop))
    return spans


def _check_supported(text: str) -> None:
    low = text.lower()
    for token, what in _UNSUPPORTED.items():
        if re.search(rf"(?<![a-z]){re.escape(token)}(?![a-z])", low):
            raise HoursError(f"opening hours {text!r}: {what} are not supported")
    if '"' in text:
        raise HoursError(f"opening hours {text!r}: comments in quotes are not supported")


@lru_cache(maxsize=4096)
def parse_hours(text: str) -> np.ndarray:
    """Parse OSM ``opening_hours`` text into a weekly minute mask.

    Parameters
    ----------
    text : str
        For example ``"Mo-Fr 08:00-17:00; Sa 10:00-14:00; Su off"`` or ``"24/7"``.

    Returns
    -------
    numpy.ndarray of bool, shape (10080,)
        ``True`` for each open minute of the week, Monday 00:00 first. Read-only (cached).

    Raises
    ------
    HoursError
        Empty or unsupported text, naming the part that could not be read.

    References
    ----------
    OpenStreetMap wiki, Key:opening_hours/specification.
    """
    if not isinstance(text, str) or not text.strip():
        raise HoursError(f"opening hours must be non-empty text, got {text!r}")
    _check_supported(text)
    per_day: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    rules = [r.strip() for r in text.split(";")]
    if not any(rules):
        raise HoursError(f"opening hours {text!r}: no rule found")
    for rule in rules:
        if not rule:
            continue
        if rule.replace(" ", "") == "24/7":
            for d in range(7):
                per_day[d] = [(0, DAY_MINUTES)]
            continue
        m = _DAYS_RE.match(rule)
        if m:
            days = _parse_days(m.group(1), text)
            rest = rule[m.end():].strip()
        else:
            days = list(range(7))
            rest = rule
        low = rest.lower()
        if low in ("off", "closed"):
            spans: list[tuple[int, int]] = []
        elif low in ("", "open"):
            spans = [(0, DAY_MINUTES)]
        else:
            spans = _parse_times(rest, text)
        for d in days:
            per_day[d] = list(spans)
    mask = np.zeros(WEEK_MINUTES, dtype=bool)
    for d, spans in enumerate(per_day):
        base = d * DAY_MINUTES
        for start, stop in spans:
            first = min(stop, DAY_MINUTES)
            mask[base + start: base + first] = True
            if stop > DAY_MINUTES:  # spill into the next day (Sunday → Monday wraps)
                nxt = ((d + 1) % 7) * DAY_MINUTES
                mask[nxt: nxt + (stop - DAY_MINUTES)] = True
    mask.setflags(write=False)
    return mask


def hours_error(text) -> str | None:
    """The parse error message for ``text``, or ``None`` if it parses (missing text is fine)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return None
    if isinstance(text, str) and not text.strip():
        return None
    try:
        parse_hours(str(text))
    except HoursError as exc:
        return str(exc)
    return None


def _masks(hours) -> tuple[np.ndarray, np.ndarray]:
    """(stacked masks of distinct texts + an all-closed row, row index per site)."""
    vals = pd.Series(hours, dtype="object") if not isinstance(hours, pd.Series) else hours
    vals = vals.astype("object").where(vals.notna(), None)
    texts = [v.strip() if isinstance(v, str) and v.strip() else None for v in vals.tolist()]
    uniq = sorted({t for t in texts if t is not None})
    pos = {t: i for i, t in enumerate(uniq)}
    stack = np.zeros((len(uniq) + 1, WEEK_MINUTES), dtype=bool)
    for t, i in pos.items():
        stack[i] = parse_hours(t)
    closed = len(uniq)
    idx = np.array([pos[t] if t is not None else closed for t in texts], dtype=np.int64)
    return stack, idx


def study_tz(tz: str | None = None) -> str:
    """The study area's IANA time zone: ``tz``, else ``$GAPMAP_TZ``, else :data:`DEFAULT_TZ`.

    Raises
    ------
    ValueError
        One sentence for an unknown zone name.
    """
    import os
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = tz or os.environ.get(TZ_ENV) or DEFAULT_TZ
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: give an IANA name such as "
                         "'America/New_York' or 'America/Chicago' (--tz or GAPMAP_TZ)") from None
    return str(name)


def local_time(when, tz: str | None = None) -> pd.Timestamp:
    """``when`` as a naive wall-clock time of the study area: a tz-aware time is converted
    to :func:`study_tz`; a naive one is taken as already local."""
    t = pd.Timestamp(when)
    if t.tz is not None:
        t = t.tz_convert(study_tz(tz)).tz_localize(None)
    return t


def local_now(tz: str | None = None) -> pd.Timestamp:
    """The current minute on the study area's wall clock (naive), for "open now"."""
    return pd.Timestamp.now(tz="UTC").tz_convert(study_tz(tz)).tz_localize(None).floor("min")


def _minute_of_week(when) -> np.ndarray:
    t = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(when)))
    if t.tz is not None:
        raise ValueError("when must be a naive local time (the site's wall clock), not tz-aware")
    return (t.day_of_week * DAY_MINUTES + t.hour * 60 + t.minute).to_numpy(np.int64)


def is_open(hours, when) -> np.ndarray:
    """Whether each site is open at ``when``.

    Parameters
    ----------
    hours : str or sequence of str
        OSM ``opening_hours`` per site; missing/empty text counts as *not known to be open*
        (``False``).
    when : timestamp-like, or a sequence of one per site
        Local wall-clock time(s).

    Returns
    -------
    numpy.ndarray of bool
        One value per site (a 1-element array for a single string).

    Raises
    ------
    HoursError
        If any text cannot be parsed.
    """
    scalar_text = isinstance(hours, str)
    stack, idx = _masks([hours] if scalar_text else hours)
    minute = _minute_of_week(when)
    if minute.size not in (1, idx.size):
        raise ValueError(
            f"when has {minute.size} times for {idx.size} sites; give one time or one per site"
        )
    return stack[idx, minute if minute.size > 1 else minute[0]]


def open_nights(hours) -> np.ndarray:
    """Open at some minute between 20:00 and 06:00 on any day (see :data:`NIGHT_START`)."""
    stack, idx = _masks([hours] if isinstance(hours, str) else hours)
    day = stack.reshape(-1, 7, DAY_MINUTES)
    night = day[:, :, NIGHT_START:].any(axis=(1, 2)) | day[:, :, :NIGHT_END].any(axis=(1, 2))
    return night[idx]


def open_weekends(hours) -> np.ndarray:
    """Open at some minute on Saturday or Sunday."""
    stack, idx = _masks([hours] if isinstance(hours, str) else hours)
    weekend = stack[:, 5 * DAY_MINUTES:].any(axis=1)
    return weekend[idx]


def sites_open_at(sites: pd.DataFrame, when) -> np.ndarray:
    """Sites open at ``when``: ``open_24_7`` is true, or their ``hours`` say open then.

    Returns a boolean array aligned with ``sites`` rows.
    """
    for c in ("hours", "open_24_7"):
        if c not in sites.columns:
            raise ValueError(f"sites need column {c!r} to filter by opening time; found "
                             f"{list(sites.columns)}")
    always = sites["open_24_7"].astype("boolean").fillna(False).to_numpy(bool)
    return always | is_open(sites["hours"], when)
