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


def _spread(v: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """pandas' redistribution of 64-bit ints (the end of ``hash_array``), in place in ``v``
    (``tmp``: scratch of the same size)."""
    with np.errstate(over="ignore"):
        for shift, mult in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            np.bitwise_xor(v, np.right_shift(v, np.uint64(shift), out=tmp), out=v)
            np.multiply(v, np.uint64(mult), out=v)
        np.bitwise_xor(v, np.right_shift(v, np.uint64(31), out=tmp), out=v)
    return v


def _hash_strings(chunked: pa.ChunkedArray, key: str, out: np.ndarray) -> np.ndarray:
    """pandas' hash of an Arrow string column: its dictionary hashed, then taken by code."""
    enc = pc.dictionary_encode(chunked)  # one dictionary shared by all chunks
    if enc.num_chunks == 0:
        return out
    dictionary = enc.chunk(0).dictionary.to_numpy(zero_copy_only=False)
    hashed = hash_array(dictionary, "utf8", key, categorize=False)
    idx = [c.indices for c in enc.iterchunks()]
    codes = idx[0] if len(idx) == 1 else pa.concat_arrays(idx)
    if codes.null_count == 0:
        return np.take(hashed, codes.to_numpy(), out=out)
    if len(hashed):
        np.take(hashed, codes.fill_null(0).to_numpy(), out=out)
    else:
        out[:] = 0
    out[codes.is_null().to_numpy(zero_copy_only=False)] = _U64MAX
    return out


def _hash_column(col: pd.Series, key: str, out: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """``pandas.util.hash_array`` of one column, written to ``out`` when its type is one of
    the fast ones (``tmp``: scratch), else a fresh array."""
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        data = col.array.__arrow_array__()  # its Arrow data, not a copy
        if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
            return _hash_strings(data, key, out)
    if isinstance(dtype, np.dtype) and (dtype.kind == "M" or dtype == np.float64):
        raw = col.to_numpy(copy=False)
        np.copyto(out, raw.view(np.uint64))
        if dtype.kind == "f":  # one bit pattern for NaN, and -0.0 hashed as 0.0 (as pandas)
            out[np.isnan(raw)] = np.array(np.nan).view(np.uint64)
            out[out == np.array(-0.0).view(np.uint64)] = 0
        return _spread(out, tmp)
    return hash_array(col._values, "utf8", key, categorize=True)


def hash_rows(frame: pd.DataFrame, key: str) -> np.ndarray:
    """``pd.util.hash_pandas_object(frame, index=False, hash_key=key)`` as a uint64 array."""
    num = frame.shape[1]
    if num == 0:
        return np.full(len(frame), 0x345678 + 97531, dtype=np.uint64)
    out = np.full(len(frame), 0x345678, dtype=np.uint64)
    col, tmp = np.empty_like(out), np.empty_like(out)
    mult = np.uint64(1000003)
    with np.errstate(over="ignore"):
        for i in range(num):
            out ^= _hash_column(frame.iloc[:, i], key, col, tmp)
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
