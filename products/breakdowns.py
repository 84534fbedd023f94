"""Breakdowns by suspected drug, age band and sex: filters and the weekly breakdown table.

The canonical incident columns ``suspected_drug``, ``age_band`` and ``sex`` are free text
from the source systems; here each is mapped onto a fixed list of levels (:data:`LEVELS`) so
that a family of columns (``n_drug_fentanyl`` …) always adds up to ``count`` — the gate's
complementary suppression (:data:`geo.privacy.gate.FAMILY_PREFIXES`) relies on that: a blank
value is ``"unknown"``, a drug outside the list is ``"other"``.

:func:`breakdown_table` is the one product: weekly counts of de-duplicated events by level,
keyed by their record keys and published through :func:`geo.privacy.publish` (public: ±3
perturbation, 1–9 suppressed, complementary suppression inside each week's family; weeks are
7-day bins ending at the release date). Filters of :class:`products.query.Query`
(``drugs``, ``age_bands``, ``sexes``) are applied by :func:`products.query.select` through
:func:`filter_mask`, so every product that selects through the query honours them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from geo.privacy import KEY_SUFFIX, as_policy, keyed_counts, publish, with_record_keys

__all__ = ["LEVELS", "COLUMNS", "FILTERS", "FAMILIES", "levels_of", "filter_mask",
           "breakdown_table", "column_name"]

#: family → levels (the last is the catch-all for blanks).
LEVELS = {
    "drug": ("fentanyl", "fentanyl+xylazine", "heroin", "opioid (unspecified)", "cocaine",
             "methamphetamine", "polysubstance", "other", "unknown"),
    "age": ("0-14", "15-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown"),
    "sex": ("female", "male", "other", "unknown"),
}
#: family → incident column
COLUMNS = {"drug": "suspected_drug", "age": "age_band", "sex": "sex"}
#: Query field → family
FILTERS = {"drugs": "drug", "age_bands": "age", "sexes": "sex"}
#: family → output column prefix (geo.privacy.gate.FAMILY_PREFIXES lists the same names)
FAMILIES = {"drug": "n_drug_", "age": "n_age_", "sex": "n_sex_"}
_DAY = pd.Timedelta(days=1)
_SYNONYMS = {"drug": {"": "unknown", "opioid": "opioid (unspecified)",
                      "fentanyl + xylazine": "fentanyl+xylazine", "meth": "methamphetamine"},
             "age": {"": "unknown", "<15": "0-14", "65 +": "65+"},
             "sex": {"": "unknown", "m": "male", "f": "female"}}


def column_name(family: str, level: str) -> str:
    """Output column of one level, e.g. ``n_drug_fentanyl_xylazine``, ``n_age_65plus``."""
    slug = re.sub(r"[^a-z0-9]+", "_", level.replace("+", "_").lower()).strip("_")
    if level.endswith("+"):
        slug = level[:-1].replace("-", "_") + "plus"
    return f"{FAMILIES[family]}{slug}"


def levels_of(incidents: pd.DataFrame, family: str) -> np.ndarray:
    """Level code (index into ``LEVELS[family]``) of every row."""
    if family not in LEVELS:
        raise ValueError(f"unknown breakdown {family!r}: choose from {list(LEVELS)}")
    levels = LEVELS[family]
    col = COLUMNS[family]
    n = len(incidents)
    if col not in incidents.columns:
        return np.full(n, len(levels) - 1, dtype=np.int64)
    # map the distinct values, not every row (a 1M-row column holds a few dozen spellings)
    raw, uniques = pd.factorize(incidents[col], use_na_sentinel=True)
    s = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
    s = s.str.strip().str.lower().fillna("").replace(_SYNONYMS[family])
    codes = pd.Index(list(levels)).get_indexer(s.to_numpy(object)).astype(np.int64)
    fallback = levels.index("other") if "other" in levels and family == "drug" else len(levels) - 1
    codes[codes < 0] = fallback
    # a missing value (factorize's -1: the last entry) is a blank: "unknown"
    return np.append(codes, levels.index("unknown"))[raw]


def filter_mask(incidents: pd.DataFrame, query) -> np.ndarray:
    """Rows matching the query's ``drugs``, ``age_bands`` and ``sexes`` filters."""
    mask = np.ones(len(incidents), dtype=bool)
    for name, family in FILTERS.items():
        vals = getattr(query, name, None)
        if vals is None:
            continue
        want = [LEVELS[family].index(v) for v in vals]
        mask &= np.isin(levels_of(incidents, family), want)
    return mask


def breakdown_table(incidents: pd.DataFrame, query, policy="public", *, by: str = "drug",
                    weeks: int = 12) -> pd.DataFrame:
    """Weekly counts by suspected drug, age band or sex, published for the tier.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents.
    query : products.query.Query
        Filters (all of them, including ``drugs``/``age_bands``/``sexes``) and ``end``
        (restricted; default the day after the last incident). Public: the weeks end at the
        release date whatever the query's window.
    policy : PrivacyPolicy or tier name
    by : {"drug", "age", "sex"}
    weeks : int
        Number of 7-day bins (1 to 104).

    Returns
    -------
    DataFrame
        One row per week, oldest first: ``week_start``, ``last_day`` (dates), ``count`` and one
        column per level (:func:`column_name`); public counts perturbed, 1–9 and complementary
        cells blank, ``suppressed``. ``attrs["levels"]`` maps columns to level names.
    """
    from products.query import check_filters, data_end, select

    pol = as_policy(policy)
    check_filters(query, pol)
    if by not in LEVELS:
        raise ValueError(f"by must be one of {list(LEVELS)}, got {by!r}")
    if isinstance(weeks, bool) or not isinstance(weeks, int | np.integer) or not 1 <= weeks <= 104:
        raise ValueError(f"weeks must be a whole number from 1 to 104, got {weeks!r}")
    last = data_end(incidents)
    if pol.restricted:
        end = query.end if query.end is not None else last.normalize() + _DAY
    else:
        from geo.privacy import release_date

        end = release_date(last)
    start = end - 7 * int(weeks) * _DAY
    from dataclasses import replace

    sub = with_record_keys(select(incidents, replace(query, start=start, end=end)))
    t = pd.to_datetime(sub["occurred_at"])
    t = t.dt.tz_localize(None) if getattr(t.dt, "tz", None) is not None else t
    week = ((t - start) // (7 * _DAY)).to_numpy(np.int64)
    lev = levels_of(sub, by)
    L = len(LEVELS[by])
    rk = sub["rkey"].to_numpy()
    out = pd.DataFrame({"week_start": [start + 7 * i * _DAY for i in range(weeks)]})
    out["last_day"] = out["week_start"] + 6 * _DAY
    n, k = keyed_counts(week, rk, weeks)
    out["count"], out[f"count{KEY_SUFFIX}"] = n, k
    n, k = keyed_counts(week * L + lev, rk, weeks * L)
    n, k = n.reshape(-1, L), k.reshape(-1, L)
    names = [column_name(by, lv) for lv in LEVELS[by]]
    for j, name in enumerate(names):
        out[name], out[f"{name}{KEY_SUFFIX}"] = n[:, j], k[:, j]
    pub = publish(out, pol, count_columns=["count", *names])
    pub.attrs["levels"] = dict(zip(names, LEVELS[by], strict=True))
    pub.attrs["by"] = by
    return pub
