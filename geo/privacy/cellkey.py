"""Cell-key perturbation (the Australian Bureau of Statistics' TableBuilder method).

Every incident event carries a permanent **record key**, a 20-bit integer drawn from a keyed
hash of the record (its time, location, outcome and sources, plus an ordinal for identical
rows). A published count's **cell key** is the sum of the record keys of the events it counts,
modulo 2^20; the count is published as ``n + noise(n, cell_key)`` with a noise of -3..+3 from
a fixed table. So

* the same set of events gives the same published value in every table, window, resolution and
  door (asking again, or asking for an equivalent table, reveals nothing new);
* two different sets give independent noises, so the difference of two published counts
  (parent minus children, two overlapping windows, a total minus its breakdowns) is the true
  difference plus the difference of two or more noises: never exactly the hidden count.

The hash is keyed by a salt: set ``GAPMAP_PRIVACY_SALT`` (any secret text) on a deployment so
nobody outside can compute record keys; the built-in default suits the synthetic sample only.

References
----------
Fraser, B. & Wooton, J. (2005). A proposed method for confidentialising tabular output to
protect against differencing. UNECE Work Session on Statistical Data Confidentiality.
Thompson, G., Broadfoot, S. & Elazar, D. (2013). Methodology for the automatic
confidentialisation of statistical outputs from remote servers at the Australian Bureau of
Statistics. UNECE Work Session on Statistical Data Confidentiality.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pandas as pd

from geo.privacy.rowhash import hash_rows, ordinals

__all__ = [
    "KEY_BITS",
    "KEY_MOD",
    "KEY_SUFFIX",
    "NOISE_VALUES",
    "NOISE_PROBS",
    "record_keys",
    "with_record_keys",
    "keyed_counts",
    "key_sum",
    "noise",
    "perturb",
]

KEY_BITS = 20
KEY_MOD = 1 << KEY_BITS
#: A count column ``c`` carries its cell keys in column ``c + KEY_SUFFIX``.
KEY_SUFFIX = "__ckey"
#: The perturbation table: noise -3..+3, zero mean, variance 2.1.
NOISE_VALUES = np.array([-3, -2, -1, 0, 1, 2, 3], dtype=np.int64)
NOISE_PROBS = np.array([0.05, 0.10, 0.20, 0.30, 0.20, 0.10, 0.05])
_CUM = np.cumsum(NOISE_PROBS)
_DEFAULT_SALT = "gapmap-synthetic-sample-salt"
_IDENTITY = ("occurred_at", "lat", "lon", "outcome", "source", "sources", "agency")


def _salt() -> str:
    text = os.environ.get("GAPMAP_PRIVACY_SALT", "").strip() or _DEFAULT_SALT
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def record_keys(incidents: pd.DataFrame) -> np.ndarray:
    """Record key (int64 in ``[0, 2**20)``) of every row, from a salted hash of its content.

    Rows with identical content (several people at one scene, a file without ids) get distinct
    keys through an ordinal. Never mutates ``incidents``.
    """
    h = content_hashes(incidents)
    return keys_from_hashes(h, ordinals(h))


def content_hashes(incidents: pd.DataFrame) -> np.ndarray:
    """The salted content hash (uint64) of every row: :func:`record_keys` before the ordinal.

    Row by row, so a partitioned frame can be keyed part by part (:mod:`geo.distributed_events`
    adds the ordinals of identical rows across parts).
    """
    cols = [c for c in _IDENTITY if c in incidents.columns]
    if not cols:
        raise ValueError(
            "cannot key records: none of the columns "
            f"{list(_IDENTITY)} is present (found {list(incidents.columns)})"
        )
    # pd.util.hash_pandas_object(incidents[cols], index=False, hash_key=_salt()), faster
    return hash_rows(incidents[cols], _salt())


def keys_from_hashes(h: np.ndarray, ordinal: np.ndarray) -> np.ndarray:
    """Record keys from content hashes and the ordinal of each row among identical ones."""
    h = np.asarray(h, dtype=np.uint64)
    ordinal = np.asarray(ordinal, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(h ^ (ordinal * np.uint64(0xD6E8FEB86659FD93)))
    return (h >> np.uint64(64 - KEY_BITS)).astype(np.int64)


def with_record_keys(incidents: pd.DataFrame) -> pd.DataFrame:
    """A copy with an ``rkey`` column (or ``incidents`` itself if it already has one)."""
    if "rkey" in incidents.columns:
        return incidents
    return incidents.assign(rkey=record_keys(incidents))


def keyed_counts(codes: np.ndarray, rkey: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts and cell keys of group ``codes`` (ints in ``0..size-1``): one ``bincount`` each.

    The key sum is exact in float64 for up to 2^33 records (keys < 2^20).
    """
    codes = np.asarray(codes, dtype=np.int64)
    n = np.bincount(codes, minlength=size)
    s = np.bincount(codes, weights=np.asarray(rkey, dtype=np.float64), minlength=size)
    return n.astype(np.int64), np.mod(s, KEY_MOD).astype(np.int64)


def key_sum(rkey: np.ndarray) -> int:
    """Cell key of one set of records."""
    return int(np.asarray(rkey, dtype=np.int64).sum() % KEY_MOD)


def noise(n: np.ndarray, ckey: np.ndarray) -> np.ndarray:
    """The perturbation of counts ``n`` with cell keys ``ckey`` (0 for ``n == 0``)."""
    n = np.asarray(n, dtype=np.int64)
    ckey = np.asarray(ckey, dtype=np.int64)
    with np.errstate(over="ignore"):
        u = _mix(ckey.astype(np.uint64) * np.uint64(KEY_MOD) + n.astype(np.uint64))
    uniform = (u >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    out = NOISE_VALUES[np.searchsorted(_CUM, uniform, side="right").clip(0, len(_CUM) - 1)]
    return np.where(n > 0, out, 0)


def perturb(n: np.ndarray, ckey: np.ndarray) -> np.ndarray:
    """Published value of counts ``n``: ``n + noise`` (never below 0; zero stays zero)."""
    n = np.asarray(n, dtype=np.int64)
    return np.maximum(n + noise(n, ckey), 0)
