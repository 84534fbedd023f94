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
           "stripped_or_missing"]

#: text every float reader reads alike (correctly rounded): what Arrow's cast reads here
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.\d*|\.\d+|\d{1,18})$"
#: years read here: inside every resolution pandas may choose for the column (ns included)
_YEARS = (1678, 2261)


def clean_text(s: pd.Series) -> pd.Series:
    """Any column → ``string`` text, missing → ``""``, surrounding blanks stripped."""
    return s.astype("string").fillna("").str.strip()


def arrow_text(s: pd.Series):
    """The Arrow array behind an Arrow-backed text Series (``None`` for other storage)."""
    arr = s.array
    return pa.array(arr) if isinstance(arr, pd.arrays.ArrowStringArray) else None


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
    plain = pc.match_substring_regex(data, _PLAIN_NUMBER)
    out = pc.cast(pc.if_else(plain, data, pa.scalar(None, data.type)), pa.float64())
    out = out.to_numpy(zero_copy_only=False).astype(float, copy=True)  # nulls → NaN
    rest = ~plain.to_numpy(zero_copy_only=False)
    if rest.any():
        out[rest] = pd.to_numeric(t[rest], errors="coerce").to_numpy(float)
    return out


def _byte_reader(data: pa.Array):
    """``at(start, pos)``: byte ``pos`` of the values starting at byte offsets ``start``
    (uint8), and the start offset of every value."""
    off_type = np.int64 if pa.types.is_large_string(data.type) else np.int32
    offsets = np.frombuffer(data.buffers()[1], off_type)[data.offset:data.offset + len(data) + 1]
    buf = np.frombuffer(data.buffers()[2], np.uint8)

    def at(start: np.ndarray, pos: int) -> np.ndarray:
        return buf[start + pos]

    return at, offsets[:-1].astype(np.int64)


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
    at, starts = _byte_reader(data)
    start, length = starts[rows], length[rows]

    def two(pos, sel=slice(None)):  # (value, both bytes ASCII digits) at byte pos
        a, b = at(start[sel], pos) - np.uint8(48), at(start[sel], pos + 1) - np.uint8(48)
        return a.astype(np.int64) * 10 + b, (a <= 9) & (b <= 9)

    (cent, c_ok), (yy, y_ok) = two(0), two(2)
    (month, m_ok), (day, d_ok) = two(5), two(8)
    year = cent * 100 + yy
    ok = (c_ok & y_ok & m_ok & d_ok & (at(start, 4) == 45) & (at(start, 7) == 45)
          & (year >= _YEARS[0]) & (year <= _YEARS[1]) & (month >= 1) & (month <= 12) & (day >= 1))
    secs = np.zeros(rows.size, np.int64)
    timed = np.flatnonzero(length >= 16)
    if timed.size:
        sep = at(start[timed], 10)
        t_ok = ((sep == 84) | (sep == 32)) & (at(start[timed], 13) == 58)  # "T" or " ", ":"
        for pos, unit, limit in ((11, 3600, 24), (14, 60, 60)):
            v, v_ok = two(pos, timed)
            t_ok &= v_ok & (v < limit)
            secs[timed] += v * unit
        ok[timed] &= t_ok
        full = np.flatnonzero(length == 19)
        if full.size:
            v, v_ok = two(17, full)
            ok[full] &= v_ok & (v < 60) & (at(start[full], 16) == 58)
            secs[full] += v
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    after = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok &= day <= after - first
    fast[rows[ok]] = True
    us = ((first + day - 1) * 86_400 + secs) * 1_000_000
    return fast, us[ok].astype("datetime64[us]")


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
    blank = pc.equal(data, "")
    if not pc.any(blank).as_py():
        return c
    out = pc.if_else(blank, pa.scalar(None, data.type), data)
    return pd.Series(pd.arrays.ArrowStringArray(out), index=s.index)
