"""Record fingerprints without per-value Python objects: exactly pandas' hashes, computed faster.

A record's fingerprint (its key in the store, :data:`geo.ingest.FINGERPRINT_COLUMNS`) is
``pd.util.hash_pandas_object(columns, index=False)`` with ``occurred_at`` as int64, then
re-hashed with the ``area`` name when there is one. The keys of stored records must never
change, so :func:`row_fingerprints` gives the same uint64s by the same arithmetic:

* text is hashed with pandas' SipHash-2-4 (key ``"0123456789123456"``) over the UTF-8 bytes,
  then pandas' 64-bit mixer; here SipHash runs in NumPy over the Arrow buffer, all values of
  one block count at once (:func:`siphash_strings`). Low-cardinality columns hash their
  distinct values only (the validator's codes when it has them, else Arrow's
  ``dictionary_encode``); a missing value is ``2**64 - 1``, as pandas sets it;
* numbers and times: their bits, mixed (floats: one NaN, -0.0 as 0.0), as pandas;
* a column that is missing throughout hashes to one constant (pandas' own, from one row);
* the columns are combined with CPython's tuple-hash recurrence, as pandas does.

Anything else is hashed by pandas itself (``pandas.util.hash_array``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.util import hash_array

from geo.privacy.rowhash import _spread as _spread_into  # one copy of the mixer

__all__ = ["row_fingerprints", "hash_text", "siphash_strings", "combine"]

_KEY = b"0123456789123456"  # pandas' default hash key
_K0 = int.from_bytes(_KEY[:8], "little")
_K1 = int.from_bytes(_KEY[8:], "little")
_U64MAX = np.uint64(0xFFFFFFFFFFFFFFFF)
#: bytes kept of the last (partial) 8-byte word, by the number of bytes left (0-7)
_TAIL_MASK = np.array([(1 << (8 * r)) - 1 for r in range(8)], dtype=np.uint64)
_SAMPLE = 4096  # values looked at to choose between hashing all values and distinct ones
_BLOCK = 32_768  # values hashed together (five uint64 arrays of this size fit in L2)


def _rotl(x: np.ndarray, b: int, tmp: np.ndarray) -> None:
    """``x = rotate_left(x, b)`` in place."""
    np.right_shift(x, np.uint64(64 - b), out=tmp)
    np.left_shift(x, np.uint64(b), out=x)
    np.bitwise_or(x, tmp, out=x)


def _sipround(v0, v1, v2, v3, tmp) -> None:
    np.add(v0, v1, out=v0)
    _rotl(v1, 13, tmp)
    np.bitwise_xor(v1, v0, out=v1)
    _rotl(v0, 32, tmp)
    np.add(v2, v3, out=v2)
    _rotl(v3, 16, tmp)
    np.bitwise_xor(v3, v2, out=v3)
    np.add(v0, v3, out=v0)
    _rotl(v3, 21, tmp)
    np.bitwise_xor(v3, v0, out=v3)
    np.add(v2, v1, out=v2)
    _rotl(v1, 17, tmp)
    np.bitwise_xor(v1, v2, out=v1)
    _rotl(v2, 32, tmp)


def _siphash_group(words, start: np.ndarray, length: np.ndarray, nblocks: int) -> np.ndarray:
    """SipHash-2-4 of values that all have ``nblocks`` full 8-byte words (``words[p]``: the
    little-endian word at byte ``p``), :data:`_BLOCK` values at a time (the state stays in
    cache)."""
    if start.size <= _BLOCK:
        return _siphash_block(words, start, length, nblocks)
    out = np.empty(start.size, np.uint64)
    for a in range(0, start.size, _BLOCK):
        b = a + _BLOCK
        out[a:b] = _siphash_block(words, start[a:b], length[a:b], nblocks)
    return out


def _siphash_block(words, start: np.ndarray, length: np.ndarray, nblocks: int) -> np.ndarray:
    n = start.size
    v0 = np.full(n, _K0 ^ 0x736F6D6570736575, np.uint64)
    v1 = np.full(n, _K1 ^ 0x646F72616E646F6D, np.uint64)
    v2 = np.full(n, _K0 ^ 0x6C7967656E657261, np.uint64)
    v3 = np.full(n, _K1 ^ 0x7465646279746573, np.uint64)
    tmp = np.empty(n, np.uint64)
    for j in range(nblocks + 1):
        m = words[start + 8 * j]
        if j == nblocks:  # the tail: bytes left, and the length in the top byte
            m &= _TAIL_MASK[length & 7]
            m |= (length.astype(np.uint64) & np.uint64(0xFF)) << np.uint64(56)
        np.bitwise_xor(v3, m, out=v3)
        _sipround(v0, v1, v2, v3, tmp)
        _sipround(v0, v1, v2, v3, tmp)
        np.bitwise_xor(v0, m, out=v0)
    np.bitwise_xor(v2, np.uint64(0xFF), out=v2)
    for _ in range(4):
        _sipround(v0, v1, v2, v3, tmp)
    np.bitwise_xor(v0, v1, out=v0)
    np.bitwise_xor(v2, v3, out=v2)
    return np.bitwise_xor(v0, v2, out=v0)


def siphash_strings(arr: pa.Array) -> np.ndarray:
    """pandas' SipHash of each value's UTF-8 bytes (before its mixer), for Arrow text
    (``string``/``large_string``; a missing value is hashed as an empty one)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    out = np.empty(n, np.uint64)
    if n == 0:
        return out
    if pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], off_type)[arr.offset:arr.offset + n + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = arr.buffers()[2]
    raw = np.frombuffer(data, np.uint8)[lo:hi] if data is not None and hi > lo else \
        np.empty(0, np.uint8)
    padded = np.zeros(raw.size + 16, np.uint8)  # room for the last word's read
    padded[:raw.size] = raw
    # every unaligned little-endian uint64 of the buffer: words[p] reads bytes p..p+7
    words = np.ndarray(shape=(raw.size + 8,), dtype="<u8", buffer=padded, strides=(1,))
    start = offsets[:-1].astype(np.int64) - lo
    length = np.diff(offsets).astype(np.int64)
    nblocks = length >> 3
    top = int(nblocks.max())
    if top == int(nblocks.min()):
        out[:] = _siphash_group(words, start, length, top)
        return out
    for b in np.unique(nblocks).tolist():
        rows = np.flatnonzero(nblocks == b)
        out[rows] = _siphash_group(words, start[rows], length[rows], b)
    return out


def _spread(v: np.ndarray) -> np.ndarray:
    """pandas' redistribution of 64-bit ints (the end of ``hash_array``), in place."""
    return _spread_into(v, np.empty_like(v))


def _label_hashes(labels) -> np.ndarray:
    """pandas' hash of each label (str, or ``None`` for missing → ``2**64 - 1``)."""
    arr = pa.array(list(labels), pa.large_string())
    return hash_text(arr)


def hash_text(arr) -> np.ndarray:
    """``pandas.util.hash_array`` of an Arrow-backed text column (missing → ``2**64 - 1``):
    distinct values once when they repeat, else every value directly."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    n = len(arr)
    if n == 0:
        return np.empty(0, np.uint64)
    if arr.null_count == n:
        return np.full(n, _U64MAX, np.uint64)
    sample = arr.slice(0, _SAMPLE)
    if len(pc.unique(sample)) * 2 > len(sample):  # mostly distinct: hash them all
        h = _spread(siphash_strings(arr))
        if arr.null_count:
            h[arr.is_null().to_numpy(zero_copy_only=False)] = _U64MAX
        return h
    enc = pc.dictionary_encode(arr)
    dict_h = _spread(siphash_strings(enc.dictionary))
    codes = enc.indices
    if codes.null_count == 0:
        return dict_h[codes.to_numpy()]
    dict_h = np.append(dict_h, _U64MAX)
    return dict_h[codes.fill_null(len(dict_h) - 1).to_numpy()]


def _constant(col: pd.Series) -> np.uint64 | None:
    """The hash of every value when a column is missing throughout, else ``None``."""
    if len(col) and not isinstance(col.dtype, np.dtype) and bool(col.isna().all()):
        return np.uint64(hash_array(col.array[:1], "utf8", _KEY.decode(), categorize=True)[0])
    return None


def _column_hash(col: pd.Series, coded=None):
    """``hash_array`` of one column (an array, or one uint64 for a constant column).
    ``coded``: (code per row, labels) that give the column's values (``labels[codes]``)."""
    if coded is not None:
        codes, labels = coded
        codes = np.asarray(codes)
        if codes.size and codes.min() == codes.max():  # one value throughout
            return _label_hashes(labels)[int(codes[0])]
        return _label_hashes(labels)[codes]
    const = _constant(col)
    if const is not None:
        return const
    dtype = col.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return hash_text(col.array.__arrow_array__())
    if isinstance(dtype, np.dtype) and dtype.kind in "iuMm" and dtype.itemsize == 8:
        return _spread(col.to_numpy().view(np.uint64).copy())
    if isinstance(dtype, np.dtype) and dtype == np.float64:
        raw = col.to_numpy()
        v = raw.view(np.uint64).copy()
        v[np.isnan(raw)] = np.array(np.nan).view(np.uint64)
        v[v == np.array(-0.0).view(np.uint64)] = 0
        return _spread(v)
    return hash_array(col._values, "utf8", _KEY.decode(), categorize=True)


def combine(hashes: list, n: int) -> np.ndarray:
    """pandas' ``combine_hash_arrays`` of column hashes (arrays or uint64 constants)."""
    num = len(hashes)
    out = np.full(n, 0x345678, np.uint64)
    if num == 0:
        return out + np.uint64(97531)
    mult = np.uint64(1000003)
    with np.errstate(over="ignore"):
        for i, h in enumerate(hashes):
            np.bitwise_xor(out, h, out=out)
            np.multiply(out, mult, out=out)
            mult += np.uint64(82520 + 2 * (num - i))
        out += np.uint64(97531)
    return out


def row_fingerprints(records: pd.DataFrame, columns, coded: dict | None = None) -> np.ndarray:
    """``pd.util.hash_pandas_object(records[columns], index=False)`` (datetimes as int64), then
    the ``area`` rule of :func:`geo.ingest._fingerprint`. ``coded``: column → (codes, labels)
    for columns whose values are ``labels[codes]`` (hashed once per label)."""
    coded = coded or {}
    n = len(records)
    hashes = []
    for c in columns:
        col = records[c]
        if isinstance(col.dtype, np.dtype) and col.dtype.kind == "M":
            col = col.astype("int64")
        hashes.append(_column_hash(col, coded.get(c)))
    fp = combine(hashes, n)
    if "area" in records.columns:  # records with an area name: the name is part of the record
        area = records["area"]
        has = area.notna().to_numpy(dtype=bool)
        if has.any():
            sub = area[has]
            hashes = [_spread(fp[has].copy()),
                      hash_text(sub.array.__arrow_array__())
                      if isinstance(sub.dtype, pd.StringDtype) and sub.dtype.storage == "pyarrow"
                      else hash_array(sub.to_numpy(object), "utf8", _KEY.decode())]
            fp[has] = combine(hashes, int(has.sum()))
    return fp
