"""The ``reason`` text of the gap score (:mod:`layers.gaps`): why a cell ranks where it does, in
words a coalition member reads ("38 overdoses in the last 12 months, rising; nearest naloxone
1.9 km"). Hidden counts are never printed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from layers.access import DEFAULT_GROUPS, AccessGroup

__all__ = ["explain_gaps"]


def _fmt_m(d: float) -> str:
    if d < 1000:
        return f"{int(round(d / 10.0) * 10)} m"
    return f"{d / 1000:.1f}".removesuffix(".0") + " km"


def explain_gaps(
    table: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    *,
    hot_column: str | None = None,
    groups: Sequence[AccessGroup] = DEFAULT_GROUPS,
    suppress_below: int | None = None,
    period: str = "in the last 12 months",
    absent: Mapping[str, str] | None = None,
) -> pd.Series:
    """The ``reason`` text of each cell, e.g. "38 overdoses in the last 12 months, rising;
    nearest naloxone 1.9 km; no 24/7 naloxone within 1 km; nearest Medicaid buprenorphine 6.4 km".

    Access groups whose name ends in ``_24_7`` are phrased against their reach ("no 24/7
    naloxone within 1 km"); the others as the nearest distance. Counts 1..k-1 become "fewer
    than k" when ``suppress_below=k``; a missing count (hidden by the privacy gate) is never
    printed. ``period`` names the burden window ("in the last 12 months", "in 4 weeks to …").
    A group without any site reads "no <label> site in the data" unless ``absent`` gives its
    words (e.g. ``{"treatment": "no any MOUD site open now"}`` when sites exist but are closed
    or filtered out).
    """
    from layers.gaps import DEFAULT_WEIGHTS

    absent = dict(absent or {})
    w = DEFAULT_WEIGHTS if weights is None else weights
    if suppress_below is not None and (not isinstance(suppress_below, int) or suppress_below < 1):
        raise ValueError(f"suppress_below must be a positive integer, got {suppress_below!r}")
    by_name = {g.name: g for g in groups}
    shown = [g for name, g in by_name.items()
             if w.get(name, 0) > 0 and f"dist_m_{name}" in table.columns]
    recent = (pd.to_numeric(table["count_12m"]).to_numpy(dtype=float, na_value=np.nan)
              if "count_12m" in table.columns else None)
    hidden_text = (f"fewer than {suppress_below} overdoses" if suppress_below is not None
                   else "a suppressed number of overdoses")
    trend = table["trend"].astype(str).to_numpy() if "trend" in table.columns else None
    hot = (table[hot_column].astype("string").str.lower().str.startswith("hot").fillna(False)
           .to_numpy(bool) if hot_column else None)
    # plain Python floats and lists in the per-cell loop (numpy scalars cost ~10x per use)
    dists = {g.name: table[f"dist_m_{g.name}"].to_numpy(float).tolist() for g in shown}
    recent = None if recent is None else recent.tolist()
    trend = None if trend is None else trend.tolist()
    hot = None if hot is None else hot.tolist()
    words = {g.name: (g.label or g.name, _fmt_m(g.reach_m)) for g in shown}
    reasons = []
    for i in range(len(table)):
        parts = []
        if recent is not None:
            if math.isnan(recent[i]):  # hidden by the privacy gate
                head = f"{hidden_text} {period}"
            elif (n := int(round(recent[i]))) == 0:
                head = f"no overdoses {period}"
            elif suppress_below is not None and n < suppress_below:
                head = f"{hidden_text} {period}"
            else:
                head = f"{n} overdose{'s' if n != 1 else ''} {period}"
            if trend is not None and trend[i] in ("rising", "falling", "stable"):
                head += f", {trend[i]}"
            parts.append(head)
        if hot is not None and hot[i]:
            parts.append("Gi* hot spot")
        for g in shown:
            d = dists[g.name][i]
            label, reach = words[g.name]
            if g.name.endswith("_24_7"):
                parts.append(f"no {label} within {reach}" if d > g.reach_m
                             else f"{label} {_fmt_m(d)} away")
            elif not math.isfinite(d):
                parts.append(absent.get(g.name, f"no {label} site in the data"))
            else:
                parts.append(f"nearest {label} {_fmt_m(d)}")
        reasons.append("; ".join(parts))
    return pd.Series(reasons, index=table.index, dtype="string")
