"""The privacy gate: the only door out for anything public.

Every output that leaves the program in the public tier (dashboard in public mode, CSV /
Parquet / GeoJSON exports, the briefing PDF) passes through :func:`publish`. It

* refuses point-level tables (anything with ``lat``/``lon`` per incident, ids, exact times);
* refuses cells finer than the resolution floor;
* suppresses counts from 1 to ``k - 1`` (k = 10 by default: the CDC WONDER rule of
  suppressing sub-national counts 1–9), in every count-like column, and marks the row
  ``suppressed = True``. Zero is shown as zero: a true zero reveals no one.

The ``restricted`` tier returns the table unchanged (plus ``suppressed = False``); it is for
internal use behind a login. ``partner`` relaxes the resolution floor by configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.cells import cells_resolution, str_to_cells

__all__ = ["PrivacyPolicy", "TIERS", "publish", "PrivacyError", "POINT_COLUMNS", "FAMILY_PREFIXES",
           "nested_window_families"]

TIERS = ("public", "partner", "restricted")

#: Columns that identify a person-level record; never allowed through the public door.
POINT_COLUMNS = (
    "incident_id",
    "event_id",
    "lat",
    "lon",
    "latitude",
    "longitude",
    "occurred_at",
    "age_band",
    "sex",
)


#: Breakdown families whose members add up to ``count`` (see geo.grid.COUNT_COLUMNS). A lone
#: hidden member of a family could be recovered as ``count - sum(shown members)``, so the gate
#: hides a second member too (complementary suppression).
FAMILY_PREFIXES = {
    "outcome": ("n_fatal", "n_nonfatal", "n_unknown"),
    "naloxone": ("n_naloxone_yes", "n_naloxone_no", "n_naloxone_unknown"),
    "source": ("n_ems", "n_police", "n_hospital", "n_odmap", "n_other"),
}


class PrivacyError(ValueError):
    """A table was asked to leave in a tier whose rules it breaks."""


@dataclass(frozen=True)
class PrivacyPolicy:
    """Rules of one release tier.

    Parameters
    ----------
    tier : {"public", "partner", "restricted"}
    k : int
        Counts in ``1 .. k-1`` are suppressed (default 10: counts 1–9 hidden).
    min_res_floor : int
        Finest H3 resolution allowed out (public default 8, cells of ~0.74 km²).
    """

    tier: str = "public"
    k: int = 10
    min_res_floor: int = 8
    extra_count_columns: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {self.tier!r}")
        if not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"suppression threshold k must be a positive integer, got {self.k!r}")
        if not 0 <= self.min_res_floor <= 15:
            raise ValueError(f"resolution floor must be 0–15, got {self.min_res_floor}")

    @classmethod
    def for_tier(cls, tier: str, k: int = 10, res_floor: int | None = None) -> PrivacyPolicy:
        """Default policy of a tier (partner: floor 9; public: floor 8)."""
        floor = {"public": 8, "partner": 9, "restricted": 15}.get(tier, 8)
        return cls(tier=tier, k=k, min_res_floor=floor if res_floor is None else res_floor)


def _count_columns(df: pd.DataFrame, extra: tuple[str, ...]) -> list[str]:
    """Columns holding event counts: ``count``, ``n_*``, ``count_*``, ``*_count`` and extras."""
    cols = []
    for c in df.columns:
        name = str(c)
        if name in extra or name == "count" or name.startswith(("n_", "count_")) or name.endswith(
            "_count"
        ):
            if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
                cols.append(c)
    return cols


def publish(
    table: pd.DataFrame,
    policy: PrivacyPolicy | str = "public",
    *,
    cell_column: str = "h3",
    count_columns: list[str] | None = None,
    nested: list[list[str]] | None = None,
) -> pd.DataFrame:
    """Pass a table through the privacy gate of a tier.

    Parameters
    ----------
    table : DataFrame
        Aggregated rows (one per cell or area). Never mutated.
    policy : PrivacyPolicy or tier name
    cell_column : str
        Column of H3 cells (uint64 or hex strings) to check against the resolution floor,
        if present.
    count_columns : list of str, optional
        Columns to suppress; by default every count-like column (``count``, ``n_*``,
        ``count_*``, ``*_count``).
    nested : list of list of str, optional
        Families of cumulative counts over nested windows, narrowest first (e.g. the last 24,
        48 and 72 hours). Two shown members must not differ by 1..k-1, or subtracting them
        would reveal a small count; the narrower one is hidden. By default, columns named
        ``n_<H>h`` form one family ordered by ``H``.

    Returns
    -------
    DataFrame
        A copy, with small counts replaced by missing values (``<NA>``) and a boolean
        ``suppressed`` column; rates derived from a suppressed row must be recomputed or
        dropped by the caller *before* publishing (columns named ``rate*`` are blanked too).

    Raises
    ------
    PrivacyError
        If a public/partner table holds point-level columns or cells finer than the floor.
    """
    if isinstance(policy, str):
        policy = PrivacyPolicy.for_tier(policy)
    out = table.copy()
    if policy.tier == "restricted":
        out["suppressed"] = False
        return out
    points = [c for c in out.columns if str(c).lower() in POINT_COLUMNS]
    if points:
        raise PrivacyError(
            f"{policy.tier} output may not carry point-level columns {points}; aggregate to "
            "cells or areas first (restricted tier only for line lists)"
        )
    if cell_column in out.columns and len(out):
        cells = out[cell_column].to_numpy()
        if cells.dtype != np.uint64:
            cells = str_to_cells(cells.astype(str))
        finest = int(cells_resolution(cells).max())
        if finest > policy.min_res_floor:
            raise PrivacyError(
                f"{policy.tier} output at H3 resolution {finest} is finer than the floor "
                f"{policy.min_res_floor}; use --res {policy.min_res_floor} or coarser"
            )
    cols = count_columns if count_columns is not None else _count_columns(
        out, policy.extra_count_columns
    )
    values = {
        c: pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        for c in cols
    }
    hidden = {c: (v >= 1) & (v < policy.k) for c, v in values.items()}
    _complementary(values, hidden)
    families = nested if nested is not None else nested_window_families(out.columns)
    for fam in families:
        _nested(values, hidden, [c for c in fam if c in values], policy.k)
    small = np.zeros(len(out), dtype=bool)
    for c in cols:
        hide = hidden[c]
        small |= hide
        if hide.any():
            col = out[c].astype("Float64") if out[c].dtype.kind == "f" else out[c].astype("Int64")
            col[hide] = pd.NA
            out[c] = col
    # Rates built on small numerators are unstable and re-identifying: blank them with the row.
    for c in out.columns:
        if str(c).startswith("rate") and small.any():
            col = out[c].astype("Float64")
            col[small] = pd.NA
            out[c] = col
    out["suppressed"] = small
    return out


def _complementary(values: dict[str, np.ndarray], hidden: dict[str, np.ndarray]) -> None:
    """Hide a second family member wherever exactly one is hidden and ``count`` is shown.

    The second member is the smallest shown non-zero one (least information lost). Updates
    ``hidden`` in place (a private working dict, never the caller's table).
    """
    if "count" not in values:
        return
    total_shown = ~hidden["count"]
    for members in FAMILY_PREFIXES.values():
        present = [m for m in members if m in values]
        if len(present) < 2:
            continue
        vals = np.column_stack([values[m] for m in present])
        hid = np.column_stack([hidden[m] for m in present])
        lone = total_shown & (hid.sum(axis=1) == 1)
        if not lone.any():
            continue
        candidates = np.where(hid | ~(vals > 0), np.inf, vals)
        pick = np.argmin(candidates, axis=1)
        ok = lone & np.isfinite(candidates[np.arange(len(pick)), pick])
        for j, m in enumerate(present):
            hidden[m] = hidden[m] | (ok & (pick == j))


_WINDOW_RE = re.compile(r"^n_(\d+)h$")


def nested_window_families(columns) -> list[list[str]]:
    """Columns ``n_<H>h`` (cumulative counts over the last H hours), narrowest first."""
    found = sorted(
        (int(m.group(1)), str(c)) for c in columns if (m := _WINDOW_RE.match(str(c)))
    )
    return [[c for _, c in found]] if len(found) > 1 else []


def _nested(values: dict[str, np.ndarray], hidden: dict[str, np.ndarray], fam: list[str],
            k: int) -> None:
    """Hide the narrower of any two shown nested counts whose difference is in 1..k-1."""
    changed = True
    while changed:
        changed = False
        for a_i, a in enumerate(fam):
            for b in fam[a_i + 1:]:
                diff = values[b] - values[a]
                leak = ~hidden[a] & ~hidden[b] & (diff >= 1) & (diff < k)
                if leak.any():
                    hidden[a] = hidden[a] | leak
                    changed = True
