"""Dates of incident exports: text (ISO 8601 and the usual US spellings) or typed timestamps.

:func:`parse_datetimes` is the date reader of :func:`geo.validate.validate_rows`: plain ISO
values are read from their bytes (:func:`geo.textparse.iso_datetimes`), the others by pandas
(ISO 8601 with a trailing UTC offset dropped, keeping the local wall-clock time, then each of
:data:`_FALLBACK_FORMATS`); a value without a time of day is date-only.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.textparse import arrow_text, iso_datetimes, text_buffers
from geo.textparse import clean_text as _clean

__all__ = ["parse_datetimes"]

_FALLBACK_FORMATS = (
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
    "%Y/%m/%d", "%d-%b-%Y %H:%M", "%d-%b-%Y",
)
#: a UTC offset or ``Z`` after the time (a blank before it allowed: ``10:20:00 Z``); dropped,
#: keeping the local wall time
_TZ = re.compile(r"(?<=\d)\s*(?:Z|[+-]\d{2}:?\d{2})$")
#: the same test without a look-behind: vectorised by Arrow (RE2), not Python's re per value
_TZ_FIND = r"\d\s*(?:Z|[+-]\d{2}:?\d{2})$"


def parse_datetimes(date: pd.Series, time: pd.Series | None = None):
    """Parse date (and optional time) text.

    Returns
    -------
    (timestamps, has_time, blank)
        ``datetime64[us]`` Series with NaT where unparsable, boolean array "a time of day was
        given", boolean array "the value was blank".
    """
    if time is None and pd.api.types.is_datetime64_any_dtype(date):  # typed (Parquet) input
        ts = date.dt.tz_localize(None) if getattr(date.dt, "tz", None) is not None else date
        blank = ts.isna().to_numpy()
        ts = ts.astype("datetime64[us]")
        # A typed timestamp always carries a time of day, 00:00 included: a record at exact
        # midnight is not date-only, even when the whole column is at midnight (a date-only
        # column is typed as a date, read as text "YYYY-MM-DD"; Excel: geo.readers).
        has_time = ~blank
        return ts, has_time, blank
    s = _clean(date)
    if time is not None:
        t = _clean(time)
        s = (s + " " + t).str.strip()
    fast, fast_ts = iso_datetimes(s)  # plain ISO values, read from their bytes
    data = arrow_text(s)
    if data is None or not fast.any():
        blank = (s == "").to_numpy()
        has_colon = s.str.contains(":", regex=False).to_numpy()
        return _text_dates(s, has_colon, blank), has_colon, blank
    offsets, _ = text_buffers(data)  # (the cleaned text has no missing value)
    length = np.diff(offsets)
    blank = length == 0
    has_colon = length >= 16  # what a plain ISO value has: a time "HH:MM" after the date
    if not fast.all():  # the others are looked at
        others = np.flatnonzero(~fast)
        has_colon[others] = pc.match_substring(data.take(pa.array(others)), ":").to_numpy(
            zero_copy_only=False)
    else:
        return pd.Series(fast_ts, index=s.index), has_colon, blank
    ts = np.full(len(s), np.datetime64("NaT"), "datetime64[us]")
    ts[fast] = fast_ts
    rest = ~fast & ~blank
    if rest.any():  # the others as before, beside one plain value (pandas' mixed-zone check)
        sub = pd.concat([s[rest], pd.Series(["2000-01-01 00:00:00"], dtype=s.dtype)],
                        ignore_index=True)
        got = _text_dates(sub, np.append(has_colon[rest], True), np.zeros(len(sub), bool))
        ts[rest] = got.to_numpy()[:-1]
    return pd.Series(ts, index=s.index), has_colon, blank


def _text_dates(s: pd.Series, has_colon: np.ndarray, blank: np.ndarray) -> pd.Series:
    """Cleaned date text → ``datetime64[us]`` (NaT where unparsable): ISO 8601 (offset
    dropped), then each of :data:`_FALLBACK_FORMATS` on what is left."""
    tz = has_colon & s.str.contains(_TZ_FIND, regex=True).fillna(False).to_numpy(bool)
    if tz.any():  # only rows that carry an offset pay for the replacement
        s = s.copy()
        s[tz] = s[tz].str.replace(_TZ, "", regex=True)
    s = s.str.replace("T", " ", regex=False).where(has_colon, s)
    text = s.where(~pd.Series(blank, index=s.index))
    try:
        ts = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except ValueError:  # zones pandas will not put in one column (e.g. "10:20 UTC" beside naive)
        ts = _dates_one_by_one(text)
    todo = ts.isna().to_numpy() & ~blank
    for fmt in _FALLBACK_FORMATS:
        if not todo.any():
            break
        sub = pd.to_datetime(s[todo], format=fmt, errors="coerce")
        got = sub.notna().to_numpy()
        if got.any():
            idx = np.flatnonzero(todo)[got]
            ts.iloc[idx] = sub[got].to_numpy()
            todo[idx] = False
    return ts.astype("datetime64[us]")


def _dates_one_by_one(text: pd.Series) -> pd.Series:
    """ISO 8601 text → naive timestamps value by value (each distinct value once): a zone
    pandas left on a value is dropped keeping its wall time, as the offsets above; NaT where
    unparsable (the row is then rejected with its line, never the whole file)."""
    codes, uniques = pd.factorize(text)
    out = []
    for v in uniques:
        t = pd.to_datetime(v, format="ISO8601", errors="coerce")
        out.append(t.tz_localize(None) if t is not pd.NaT and t.tzinfo is not None else t)
    got = np.array([np.datetime64("NaT") if t is pd.NaT else t.to_datetime64() for t in out]
                   + [np.datetime64("NaT")], dtype="datetime64[us]")
    return pd.Series(got[codes], index=text.index)  # code -1 (missing) → the trailing NaT
