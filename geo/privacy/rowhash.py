"""Row hashes and identical-row ordinals for record keys, without per-row Python objects.

:func:`hash_rows` returns exactly ``pd.util.hash_pandas_object(frame, index=False,
hash_key=key)`` (the record keys of :mod:`geo.privacy.cellkey` are built on it and must never
change), and :func:`ordinals` exactly ``Series(h).groupby(h, sort=False).cumcount()``. They are
faster on a 1M-event load because

* a low-cardinality Arrow string column is hashed through its dictionary (Arrow's
  ``dictionary_encode``, its few distinct strings hashed by pandas' own hasher, then one
  ``take``) with no null bookkeeping when it has no nulls: the values pandas gives, as pandas
  hashes a categorical by hashing its categories and taking by code;
* numbers and times are hashed with pandas' integer mixer done in place, and the columns are
  combined in place (CPython's tuple-hash recurrence, as pandas does);
* the ordinal of identical rows comes from one sort of the hashes: almost every row is unique,
  so only rows whose hash occurs more than once are numbered (a stable sort keeps their order).

Any column of another type is hashed by pandas itself (``pandas.util.hash_array``), so every
frame gets pandas' values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.util import hash_array

__all__ = ["hash_rows", "ordinals"]

_U64MAX = np.uint64(0xFFFFFFFFFFFFFFFF)


def _spread(v: np.ndarray) -> np.ndarray:
    """pandas' redistribution of 64-bit ints (the end of ``hash_array``), in place."""
    with np.errstate(over="ignore"):
        v ^= v >> np.uint64(30)
        v *= np.uint64(0xBF58476D1CE4E5B9)
        v ^= v >> np.uint64(27)
        v *= np.uint64(0x94D049BB133111EB)
        v ^= v >> np.uint64(31)
    return v


def _hash_strings(chunked: pa.ChunkedArray, key: str) -> np.ndarray:
    """pandas' hash of an Arrow string column: its dictionary hashed, then taken by code."""
    enc = pc.dictionary_encode(chunked)  # one dictionary shared by all chunks
    if enc.num_chunks == 0:
        return np.empty(0, dtype=np.uint64)
    dictionary = enc.chunk(0).dictionary.to_numpy(zero_copy_only=False)
    hashed = hash_array(dictionary, "utf8", key, categorize=False)
    idx = [c.indices for c in enc.iterchunks()]
    codes = idx[0] if len(idx) == 1 else pa.concat_arrays(idx)
    if codes.null_count == 0:
        return hashed.take(codes.to_numpy())
    out = hashed.take(codes.fill_null(0).to_numpy()) if len(hashed) else (
        np.zeros(len(codes), dtype=np.uint64))
    out[codes.is_null().to_numpy(zero_copy_only=False)] = _U64MAX
    return out


def _hash_column(col: pd.Series, key: str) -> np.ndarray:
    """``pandas.util.hash_array`` of one column (a fresh uint64 array)."""
    values, dtype = col.array, col.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        data = values._pa_array
        if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
            return _hash_strings(data, key)
    if isinstance(dtype, np.dtype):
        raw = col.to_numpy(copy=False)
        if dtype.kind == "M":
            return _spread(raw.view(np.uint64).copy())
        if dtype == np.float64:
            v = raw.view(np.uint64).copy()
            v[np.isnan(raw)] = np.array(np.nan).view(np.uint64)
            v[v == np.array(-0.0).view(np.uint64)] = 0
            return _spread(v)
    return hash_array(col._values, "utf8", key, categorize=True)


def hash_rows(frame: pd.DataFrame, key: str) -> np.ndarray:
    """``pd.util.hash_pandas_object(frame, index=False, hash_key=key)`` as a uint64 array."""
    num = frame.shape[1]
    if num == 0:
        return np.full(len(frame), 0x345678 + 97531, dtype=np.uint64)
    out = np.full(len(frame), 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    with np.errstate(over="ignore"):
        for i in range(num):
            out ^= _hash_column(frame.iloc[:, i], key)
            out *= mult
            mult += np.uint64(82520 + 2 * (num - i))
        out += np.uint64(97531)
    return out


def ordinals(h: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows have the same hash (uint64; mostly zeros)."""
    h = np.asarray(h, dtype=np.uint64)
    out = np.zeros(h.size, dtype=np.uint64)
    if h.size < 2:
        return out
    s = np.sort(h)
    same = s[1:] == s[:-1]
    if not same.any():
        return out
    dup = np.unique(s[1:][same])
    pos = np.searchsorted(dup, h).clip(0, dup.size - 1)
    rows = np.flatnonzero(dup[pos] == h)  # rows whose hash occurs more than once, in order
    order = np.argsort(h[rows], kind="stable")
    sub = h[rows][order]
    n = np.arange(sub.size)
    first = np.maximum.accumulate(np.where(np.r_[True, sub[1:] != sub[:-1]], n, 0))
    out[rows[order]] = (n - first).astype(np.uint64)
    return out
