"""The privacy gate: the only door out for anything public.

Every output that leaves the program in the public (or partner) tier — dashboard in public
mode, CSV / Parquet / GeoJSON exports, the briefing PDF — passes :func:`publish`, which

* refuses point-level tables (incident ids, coordinates, exact times, age, sex);
* refuses cells finer than the resolution floor;
* perturbs every count by the cell-key method (:mod:`geo.privacy.cellkey`): each count column
  ``c`` must come with its cell keys in ``c__ckey`` (aggregate with
  :func:`geo.privacy.cellkey.keyed_counts`); a count without keys is refused;
* suppresses counts whose true or perturbed value is 1 .. k-1 (k = 10: the CDC WONDER rule),
  hides a second member of a breakdown family where one alone is hidden (complementary
  suppression) and the narrower of two nested windows that differ by 1 .. k-1;
* blanks every derived column declared to depend on a hidden count (``derived=``; columns
  named ``rate*`` depend on the row's counts by default);
* turns datetime columns into dates (no exact times in public).

Derived values a product shows in public (Gi* z and q, rates, gap scores, coverage shares,
alert baselines) are computed **from published counts only** (hidden ones imputed with
:func:`impute_hidden`, a function of public figures), so nothing derived can be solved back for
a hidden count.

The ``restricted`` tier returns the table unchanged (plus ``suppressed = False``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from geo.cells import cells_resolution, str_to_cells
from geo.privacy.cellkey import KEY_SUFFIX, perturb
from geo.privacy.policy import PrivacyPolicy, as_policy

__all__ = [
    "PrivacyError",
    "POINT_COLUMNS",
    "FAMILY_PREFIXES",
    "publish",
    "publish_counts",
    "impute_hidden",
    "nested_window_families",
    "count_columns",
]

#: Columns that identify a person-level record; never allowed through the public door.
POINT_COLUMNS = (
    "incident_id",
    "event_id",
    "rkey",
    "lat",
    "lon",
    "latitude",
    "longitude",
    "occurred_at",
    "age_band",
    "sex",
)

#: Breakdown families whose members add up to ``count`` (see geo.grid.COUNT_COLUMNS).
FAMILY_PREFIXES = {
    "outcome": ("n_fatal", "n_nonfatal", "n_unknown"),
    "naloxone": ("n_naloxone_yes", "n_naloxone_no", "n_naloxone_unknown"),
    "source": ("n_ems", "n_police", "n_hospital", "n_odmap", "n_other"),
    # products.breakdowns (suspected drug, age band, sex; a test checks the names agree)
    "drug": ("n_drug_fentanyl", "n_drug_fentanyl_xylazine", "n_drug_heroin",
             "n_drug_opioid_unspecified", "n_drug_cocaine", "n_drug_methamphetamine",
             "n_drug_polysubstance", "n_drug_other", "n_drug_unknown"),
    "age": ("n_age_0_14", "n_age_15_24", "n_age_25_34", "n_age_35_44", "n_age_45_54",
            "n_age_55_64", "n_age_65plus", "n_age_unknown"),
    "sex": ("n_sex_female", "n_sex_male", "n_sex_other", "n_sex_unknown"),
}


class PrivacyError(ValueError):
    """A table was asked to leave in a tier whose rules it breaks."""


def count_columns(df: pd.DataFrame, extra: tuple[str, ...] = ()) -> list[str]:
    """Columns holding event counts: ``count``, ``n_*``, ``count_*``, ``*_count`` and extras."""
    cols = []
    for c in df.columns:
        name = str(c)
        if name.endswith(KEY_SUFFIX):
            continue
        if name in extra or name == "count" or name.startswith(("n_", "count_")) or name.endswith(
            "_count"
        ):
            if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
                cols.append(c)
    return cols


def publish_counts(n, ckey, policy: PrivacyPolicy | str) -> tuple[np.ndarray, np.ndarray]:
    """Array core of the gate for one count vector: ``(published, hidden)``.

    ``published`` is float (NaN where hidden); restricted returns ``n`` unchanged.
    """
    pol = as_policy(policy)
    n = np.asarray(n, dtype=float)
    if pol.restricted:
        return n.copy(), np.zeros(n.shape, dtype=bool)
    known = ~np.isnan(n)
    ni = np.where(known, n, 0).astype(np.int64)
    p = perturb(ni, np.asarray(ckey, dtype=np.int64)).astype(float)
    hidden = known & (((ni >= 1) & (ni < pol.k)) | ((p >= 1) & (p < pol.k)))
    out = np.where(known & ~hidden, p, np.nan)
    return out, hidden


def impute_hidden(published, k: int, total: float | None = None) -> np.ndarray:
    """Published counts with hidden ones filled from public figures only.

    A hidden count is between 1 and k-1; it is filled with the average a reader could work out
    from public figures, ``(total - shown) / n_hidden`` clipped to ``[1, k-1]`` (``k / 2``
    without a published ``total``). Public derived statistics use this, so they reveal nothing
    the published table does not.
    """
    v = np.asarray(pd.to_numeric(pd.Series(published)).to_numpy(dtype=float, na_value=np.nan))
    miss = np.isnan(v)
    if not miss.any():
        return v
    fill = k / 2.0
    if total is not None and np.isfinite(total):
        fill = (float(total) - np.nansum(v)) / miss.sum()
    return np.where(miss, float(np.clip(fill, 1, k - 1)), v)


def _check_points_and_floor(out: pd.DataFrame, pol: PrivacyPolicy, cell_column: str) -> None:
    points = [c for c in out.columns if str(c).lower() in POINT_COLUMNS]
    if points:
        raise PrivacyError(
            f"{pol.tier} output may not carry point-level columns {points}; aggregate to "
            "cells or areas first (restricted tier only for line lists)"
        )
    if cell_column in out.columns and len(out):
        cells = out[cell_column].to_numpy()
        if cells.dtype != np.uint64:
            cells = str_to_cells(cells.astype(str))
        finest = int(cells_resolution(cells).max())
        if finest > pol.min_res_floor:
            raise PrivacyError(
                f"{pol.tier} output at H3 resolution {finest} is finer than the floor "
                f"{pol.min_res_floor}; use --res {pol.min_res_floor} or coarser"
            )


def publish(
    table: pd.DataFrame,
    policy: PrivacyPolicy | str = "public",
    *,
    cell_column: str = "h3",
    count_columns: list[str] | None = None,
    nested: list[list[str]] | None = None,
    derived: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Pass a table through the privacy gate of a tier.

    Parameters
    ----------
    table : DataFrame
        Aggregated rows (one per cell, area, period …). Never mutated. Each count column ``c``
        comes with its cell keys in ``c__ckey`` (dropped on the way out).
    policy : PrivacyPolicy or tier name
    cell_column : str
        Column of H3 cells (uint64 or hex strings) checked against the resolution floor.
    count_columns : list of str, optional
        Columns to perturb and suppress; default every count-like column (``count``, ``n_*``,
        ``count_*``, ``*_count``).
    nested : list of list of str, optional
        Families of cumulative counts over nested windows, narrowest first; default: columns
        ``n_<H>h`` ordered by ``H``. Two shown members never differ by 1..k-1.
    derived : dict, optional
        ``{column: [count columns it is computed from]}``: blanked where any source is hidden.
        Columns named ``rate*`` default to every count column of the row.

    Returns
    -------
    DataFrame
        A copy: counts perturbed, hidden ones ``<NA>``, derived values blanked with them,
        datetimes as dates, key columns dropped, and a boolean ``suppressed`` column.

    Raises
    ------
    PrivacyError
        Point-level columns, cells finer than the floor, or a count without cell keys.
    """
    pol = as_policy(policy)
    keys = [c for c in table.columns if str(c).endswith(KEY_SUFFIX)]
    out = table.drop(columns=keys)
    if pol.restricted:
        out["suppressed"] = False
        return out
    _check_points_and_floor(out, pol, cell_column)
    cols = list(count_columns) if count_columns is not None else globals()["count_columns"](
        out, pol.extra_count_columns)
    missing = [c for c in cols if f"{c}{KEY_SUFFIX}" not in table.columns]
    if missing:
        raise PrivacyError(
            f"count column(s) {missing} reached the {pol.tier} gate without cell keys: count "
            "with geo.privacy.keyed_counts so every count can be perturbed"
        )
    values, hidden = {}, {}
    for c in cols:
        n = pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        values[c], hidden[c] = publish_counts(n, table[f"{c}{KEY_SUFFIX}"].to_numpy(), pol)
    _complementary(values, hidden)
    families = nested if nested is not None else nested_window_families(out.columns)
    for fam in families:
        _nested(values, hidden, [c for c in fam if c in values], pol.k)
    small = np.zeros(len(out), dtype=bool)
    for c in cols:
        small |= hidden[c]
        col = pd.array(np.where(hidden[c], np.nan, values[c]), dtype="Float64")
        out[c] = col.round().astype("Int64")
    deps = dict(derived or {})
    for c in out.columns:
        if str(c).startswith("rate") and c not in deps:
            deps[c] = cols
    for c, sources in deps.items():
        if c not in out.columns:
            continue
        mask = np.zeros(len(out), dtype=bool)
        for s in sources:
            if s in hidden:
                mask |= hidden[s]
            elif s in out.columns:
                mask |= out[s].isna().to_numpy()
        if mask.any():
            out[c] = out[c].mask(mask)
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.normalize()
    out["suppressed"] = small
    return out


def _complementary(values: dict[str, np.ndarray], hidden: dict[str, np.ndarray]) -> None:
    """Hide a second family member wherever exactly one is hidden and ``count`` is shown."""
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
        candidates = np.where(hid | ~(np.nan_to_num(vals) > 0), np.inf, vals)
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
