"""Rules applied to the rows of one file before cross-source de-duplication.

Three documented rules, each reported by count in the ingest summary (README, section
*ingest*):

**Exclusions** (``--exclude COLUMN=VALUE``, repeatable): rows whose ``COLUMN`` equals one of the
given values (case and surrounding blanks ignored) are set aside as ``excluded`` — cancelled
calls, false alarms, a disposition code. Several values for one column are alternatives; several
columns are alternatives too (a row matching any is excluded). In a numeric column (Parquet,
Excel) a number matches numerically (``--exclude code=3`` matches ``3.0``).

**Identical rows.** When a row has an incident id, an exact repeat of an earlier row (same id,
same values) is the same record exported twice and is rejected as ``duplicate of line N``.
Without an id, identical rows are **separate incidents** — two overdoses on one block on one
day, several people at one scene — and are kept; the summary counts them (``identical``).
``drop_identical`` (``--drop-identical``) sets them aside instead (``dropped_identical``).
The k-th repeat gets its own fingerprint (the row's values plus k), so re-ingesting an
overlapping export still adds nothing twice.

**Same-source near-duplicates** (``--same-source-window-min M --same-source-radius-m R``;
**off by default**): CAD systems log several responses to one scene. When on, a row with a time
of day is set aside as ``near-duplicate of line N`` when an earlier *kept* row of the same
source and the same agency (blank agency matches blank) lies within ``M`` minutes and ``R``
metres of it (great-circle). Rows are taken in time order (ties by line), so a long series of
responses is thinned greedily rather than chained into one. Date-only rows never match.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.cells import EARTH_RADIUS_M, haversine_m, latlon_to_xyz

__all__ = ["parse_exclusions", "excluded_rows", "repeat_index", "near_duplicates"]


def parse_exclusions(items) -> dict[str, list[str]]:
    """``["COL=VALUE", ...]`` (or a dict) → ``{column: [values]}``; one-sentence errors."""
    if isinstance(items, dict):
        return {str(k): [str(x) for x in (v if isinstance(v, list | tuple) else [v])]
                for k, v in items.items()}
    out: dict[str, list[str]] = {}
    for item in items or []:
        col, sep, val = str(item).partition("=")
        if not sep or not col.strip():
            raise ValueError(f"--exclude {item!r}: write it as COLUMN=VALUE, e.g. "
                             "--exclude Disposition=Cancelled")
        out.setdefault(col.strip(), []).append(val.strip())
    return out


def excluded_rows(raw: pd.DataFrame, rules: dict[str, list[str]]) -> tuple[np.ndarray, list]:
    """Mask of rows matching any rule, and the rule text (``"COL=VALUE"``) per matched row.

    Raises
    ------
    ValueError
        A rule names a column the input does not have (the message lists the columns).
    """
    n = len(raw)
    mask = np.zeros(n, dtype=bool)
    why = np.full(n, "", dtype=object)
    visible = [str(c) for c in raw.columns if not str(c).startswith("__")]
    for col, values in rules.items():
        if col not in raw.columns:
            raise ValueError(f"--exclude {col}=...: column {col!r} is not in the input; "
                             f"columns found: {visible}")
        column = raw[col]
        low = column.astype("string").fillna("").str.strip().str.lower().to_numpy(object)
        numeric = (pd.api.types.is_numeric_dtype(column)
                   and not pd.api.types.is_bool_dtype(column))
        num = column.to_numpy(dtype=float, na_value=np.nan) if numeric else None
        for v in values:
            hit = low == v.lower()
            if numeric:  # a typed column (Parquet, Excel): 3 matches 3.0
                try:
                    hit = hit | (num == float(v))
                except ValueError:
                    pass
            hit &= ~mask
            why[hit] = f"{col}={v}"
            mask |= hit
    return mask, why


def repeat_index(fp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each fingerprint: how many equal ones come before it, and the position of the first.

    Returns
    -------
    k : ndarray of int64
        0 for the first occurrence, 1 for the first repeat, ...
    first : ndarray of int64
        Position of the first occurrence.
    """
    k = pd.Series(fp).groupby(fp, sort=False).cumcount().to_numpy(np.int64)
    if not k.any():  # the usual case: no repeats, nothing more to find
        return k, np.arange(fp.size, dtype=np.int64)
    first = pd.Series(np.arange(fp.size)).groupby(fp, sort=False).transform("min")
    return k, first.to_numpy(np.int64)


def near_duplicates(records: pd.DataFrame, lines: np.ndarray, *, window_min: float,
                    radius_m: float) -> np.ndarray:
    """Line of the earlier kept row each row repeats (0 where none): the same-source rule.

    Parameters
    ----------
    records : DataFrame
        Canonical records (``occurred_at``, ``time_precision``, ``lat``, ``lon``, ``source``,
        ``agency``), one per row considered.
    lines : ndarray of int
        Line number of each record (reported in the reason).
    window_min, radius_m : float
        The rule's time window (minutes, ≥ 0) and radius (metres, > 0).
    """
    if not np.isfinite(window_min) or window_min < 0:
        raise ValueError(f"same-source window must be ≥ 0 minutes, got {window_min!r}")
    if not np.isfinite(radius_m) or radius_m <= 0:
        raise ValueError(f"same-source radius must be > 0 metres, got {radius_m!r}")
    n = len(records)
    out = np.zeros(n, dtype=np.int64)
    timed = (records["time_precision"].astype("string").fillna("day") != "day").to_numpy()
    idx = np.flatnonzero(timed)
    if idx.size < 2:
        return out
    key = (records["source"].astype("string").fillna("") + "\x1f"
           + records["agency"].astype("string").fillna("")).to_numpy(object)[idx]
    group = pd.factorize(key)[0].astype(float)
    t_min = records["occurred_at"].to_numpy("datetime64[us]")[idx].astype(np.int64) / 6e7
    lat = records["lat"].to_numpy(float)[idx]
    lon = records["lon"].to_numpy(float)[idx]
    xyz = latlon_to_xyz(lat, lon) * EARTH_RADIUS_M
    scale = radius_m / window_min if window_min > 0 else 0.0
    big = 1e9 * max(radius_m, 1.0)  # different groups never within reach
    t_off = t_min - t_min.min()
    pts = np.column_stack([xyz, t_off * scale if scale else np.zeros_like(t_off), group * big])
    pairs = cKDTree(pts).query_pairs(radius_m * (1 + 1e-9), p=np.inf, output_type="ndarray")
    if not len(pairs):
        return out
    a, b = pairs[:, 0], pairs[:, 1]
    dt = np.abs(t_min[a] - t_min[b])
    dist = haversine_m(lat[a], lon[a], lat[b], lon[b])
    keep = (dt <= window_min) & (dist <= radius_m) & (group[a] == group[b])
    if window_min == 0:
        keep &= dt == 0
    a, b = a[keep], b[keep]
    if not a.size:
        return out
    order = np.lexsort((lines[idx], t_min))  # time order, ties by line
    rank = np.empty(idx.size, dtype=np.int64)
    rank[order] = np.arange(idx.size)
    early, late = np.where(rank[a] < rank[b], a, b), np.where(rank[a] < rank[b], b, a)
    partners: dict[int, list[int]] = {}
    for e, lt in zip(early.tolist(), late.tolist(), strict=True):
        partners.setdefault(lt, []).append(e)
    dropped = np.zeros(idx.size, dtype=bool)
    for pos in order.tolist():  # greedy: drop if an earlier *kept* row is close
        cands = [e for e in partners.get(pos, ()) if not dropped[e]]
        if cands:
            first = min(cands, key=lambda e: rank[e])
            dropped[pos] = True
            out[idx[pos]] = lines[idx[first]]
    return out
