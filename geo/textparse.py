"""Vectorised readers of numbers and ISO dates in text columns, each the same as pandas' reader.

The ingest validates every value of every row (:mod:`geo.validate`); pandas' readers of text
(``pd.to_numeric``, ``pd.to_datetime``) turn each value into a Python object first. Here the
common spellings are read in C on the Arrow strings and only the other values go to pandas:

* :func:`to_float`: plain decimals (``-79.6``, ``36``, ``.5``) by Arrow's cast, correctly
  rounded as pandas' reader is (the results are identical bit for bit, -0.0 included);
* :func:`iso_datetimes`: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM`` and ``YYYY-MM-DD[T ]HH:MM:SS``
  with valid fields, from the bytes by NumPy (what ``pd.to_datetime(format="ISO8601")`` gives
  for them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["clean_text", "arrow_text", "arrow_codes", "to_float", "iso_datetimes", "blank_text",
           "stripped_or_missing", "text_buffers"]

#: text every float reader reads alike (correctly rounded): what Arrow's cast reads here
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.\d*|\.\d+|\d{1,18})$"
#: years read here: inside every resolution pandas may choose for the column (ns included)
_YEARS = (1678, 2261)


def clean_text(s: pd.Series) -> pd.Series:
    """Any column → ``string`` text, missing → ``""``, surrounding blanks stripped.

    Arrow text is only filled when it has missing values and only stripped when a value
    starts or ends with a byte that may be (part of) a blank (:func:`_may_need_strip`)."""
    data = arrow_text(s)
    if data is None:
        return s.astype("string").fillna("").str.strip()
    out = s.astype("string")
    if data.null_count:
        out = out.fillna("")
    if _may_need_strip(data):
        out = out.str.strip()
    return out


def arrow_text(s: pd.Series):
    """The Arrow array behind an Arrow-backed text Series (``None`` for other storage)."""
    arr = s.array
    return pa.array(arr) if isinstance(arr, pd.arrays.ArrowStringArray) else None


def text_buffers(data) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64, the bytes) of Arrow text: value ``i`` is
    ``bytes[offsets[i]:offsets[i + 1]]`` (a missing value may have any bytes)."""
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)
    if pa.types.is_string_view(data.type):
        data = data.cast(pa.large_string())
    off_type = np.int64 if pa.types.is_large_string(data.type) else np.int32
    offsets = np.frombuffer(data.buffers()[1], off_type)[data.offset:data.offset + len(data) + 1]
    buf = data.buffers()[2]
    raw = np.frombuffer(buf, np.uint8) if buf is not None else np.zeros(1, np.uint8)
    return offsets.astype(np.int64, copy=False), raw


def _may_need_strip(data) -> bool:
    """Whether a value starts or ends with a blank (ASCII controls and space) or a non-ASCII
    byte (perhaps a Unicode blank): ``False`` means stripping changes nothing."""
    if len(data) == 0:
        return False
    offsets, buf = text_buffers(data)
    start, end = offsets[:-1], offsets[1:]
    some = end > start
    if not some.all():
        start, end = start[some], end[some]
    if not start.size:
        return False
    edge = np.concatenate([buf[start], buf[end - 1]])
    return bool(np.any((edge <= 0x20) | (edge >= 0x7F)))


def arrow_codes(data) -> tuple[np.ndarray, list]:
    """(code per value, the distinct values, ``None`` last for missing values) of Arrow text."""
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks()
    enc = pc.dictionary_encode(data)
    values = enc.dictionary.to_pylist() + [None]
    return enc.indices.fill_null(len(values) - 1).to_numpy(zero_copy_only=False), values


def to_float(t: pd.Series) -> np.ndarray:
    """``pd.to_numeric(t, errors="coerce").to_numpy(float)`` of cleaned text, vectorised.

    Plain decimals go to Arrow's cast; everything else (blanks, ``1e5``, ``inf``, words) to
    pandas. Integer text reading as -0 (``-0``, ``-00``) depends on the rest of the column in
    pandas (0.0 when every value is an integer, else -0.0): then the whole column goes to pandas.
    """
    data = arrow_text(t)
    if data is None or len(t) == 0 or (
            pc.any(pc.starts_with(data, "-0")).as_py()
            and pc.any(pc.match_substring_regex(data, r"^-0+$")).as_py()):
        return pd.to_numeric(t, errors="coerce").to_numpy(float)
    out = _all_plain(data)
    if out is not None:
        return out
    plain = pc.match_substring_regex(data, _PLAIN_NUMBER)
    out = pc.cast(pc.if_else(plain, data, pa.scalar(None, data.type)), pa.float64())
    out = out.to_numpy(zero_copy_only=False).astype(float, copy=True)  # nulls → NaN
    rest = ~plain.to_numpy(zero_copy_only=False)
    if rest.any():
        out[rest] = pd.to_numeric(t[rest], errors="coerce").to_numpy(float)
    return out


def _all_plain(data) -> np.ndarray | None:
    """Arrow's cast of a column whose every value is a plain decimal, else ``None``.

    Without a regex: the cast reads every value or fails, and a value it reads that is not a
    plain decimal has an exponent (``e``/``E``), is a word (``inf``, ``nan``: an ``n`` each),
    has a ``+`` (looked at by the regex) or is an integer of more than 18 digits (at least 19
    bytes: those values are checked by the regex)."""
    offsets, buf = text_buffers(data)
    if data.null_count or offsets[-1] == offsets[0]:
        return None
    raw = buf[offsets[0]:offsets[-1]].tobytes()
    if any(c in raw for c in (b"e", b"E", b"n", b"N", b"+")):
        return None
    try:
        out = pc.cast(data, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # (blank, words, ...)
        return None
    long = np.flatnonzero(np.diff(offsets) >= 19)
    if long.size and not pc.all(pc.match_substring_regex(
            data.take(pa.array(long)), _PLAIN_NUMBER)).as_py():
        return None
    return out.to_numpy(zero_copy_only=False).astype(float, copy=True)


def _byte_columns(data: pa.Array, rows: np.ndarray, length: np.ndarray):
    """``at(pos)``: byte ``pos`` of each value at ``rows`` (uint8; any byte where the value is
    shorter). Values all of one length are read as a 2-D view of the buffer."""
    off_type = np.int64 if pa.types.is_large_string(data.type) else np.int32
    offsets = np.frombuffer(data.buffers()[1], off_type)[data.offset:data.offset + len(data) + 1]
    buf = np.frombuffer(data.buffers()[2], np.uint8)
    start = offsets[rows].astype(np.int64)
    if rows.size == len(data) and rows.size and np.all(length == length[0]):
        width = int(length[0])  # consecutive values: offsets are start + k * width
        mat = buf[start[0]:start[0] + rows.size * width].reshape(rows.size, width)
        return lambda pos: mat[:, pos] if pos < width else np.zeros(rows.size, np.uint8)
    last = max(buf.size - 1, 0)
    return lambda pos: buf[np.minimum(start + pos, last)]


def iso_datetimes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the values read, their ``datetime64[us]``) for cleaned text ``s``.

    Read: ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM``, ``YYYY-MM-DD[T ]HH:MM:SS`` (ASCII digits) with a
    real day of the month, hours < 24, minutes and seconds < 60, years 1678-2261. Everything
    else is left to the caller (pandas), as is everything when the text is not Arrow-backed.
    """
    data = arrow_text(s)
    n = len(s)
    fast = np.zeros(n, dtype=bool)
    if data is None or n == 0:
        return fast, np.empty(0, "datetime64[us]")
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks()
    length = pc.binary_length(data).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero((length == 10) | (length == 16) | (length == 19))
    if not rows.size:
        return fast, np.empty(0, "datetime64[us]")
    length = length[rows]
    at = _byte_columns(data, rows, length)

    def two(pos):  # (value, both bytes ASCII digits) at byte pos
        a, b = at(pos) - np.uint8(48), at(pos + 1) - np.uint8(48)
        return a.astype(np.int32) * 10 + b, (a <= 9) & (b <= 9)

    (cent, c_ok), (yy, y_ok) = two(0), two(2)
    (month, m_ok), (day, d_ok) = two(5), two(8)
    year = cent * 100 + yy
    ok = (c_ok & y_ok & m_ok & d_ok & (at(4) == 45) & (at(7) == 45)
          & (year >= _YEARS[0]) & (year <= _YEARS[1]) & (month >= 1) & (month <= 12) & (day >= 1))
    timed, full = length >= 16, length == 19
    secs = np.zeros(rows.size, np.int32)
    if timed.any():
        (hour, h_ok), (minute, mi_ok) = two(11), two(14)
        sep = at(10)
        t_ok = (((sep == 84) | (sep == 32)) & (at(13) == 58)  # "T" or " ", ":"
                & h_ok & mi_ok & (hour < 24) & (minute < 60))
        if full.any():
            sec, s_ok = two(17)
            t_ok &= ~full | (s_ok & (sec < 60) & (at(16) == 58))
            secs = np.where(full, sec, 0)
        ok &= ~timed | t_ok
        secs += np.where(timed, hour * 3600 + minute * 60, 0)
    month = np.clip(month, 1, 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= day <= _MONTH_DAYS[month - 1] + (leap & (month == 2))
    fast[rows[ok]] = True
    us = (_days_since_1970(year, month, day).astype(np.int64) * 86_400 + secs) * 1_000_000
    return fast, us[ok].astype("datetime64[us]")


_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], np.int32)


def _days_since_1970(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Proleptic Gregorian date → days since 1970-01-01 (H. Hinnant's ``days_from_civil``,
    for years ≥ 0)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    return era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468


def blank_text(n: int, index) -> pd.Series:
    """An absent column: ``n`` empty strings (Arrow-backed, no per-value Python)."""
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, np.int32)),
                                      pa.py_buffer(b""))
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def stripped_or_missing(s: pd.Series) -> pd.Series:
    """Text stripped, blank → missing (``string`` dtype)."""
    c = clean_text(s)
    data = arrow_text(c)
    if data is None:
        return c.where(c != "").astype("string")
    offsets, _ = text_buffers(data)
    if len(c) == 0 or np.all(offsets[1:] > offsets[:-1]):  # no blank value
        return c
    blank = pc.equal(data, "")
    out = pc.if_else(blank, pa.scalar(None, data.type), data)
    return pd.Series(pd.arrays.ArrowStringArray(out), index=s.index)
