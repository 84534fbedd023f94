"""Words of the briefing's figures: published counts, changes, shares, and the KPI cells.

Suppressed counts print as ``suppr.`` (never their value); a field known for too few events
prints "not recorded" (:func:`products.overview.field_status`); a prior period before the
data start prints "prior: no data" and no change (see :mod:`products.overview`).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["SUPPRESSED", "NOT_RECORDED", "kpi_cells", "fmt_count", "fmt_change", "fmt_pct"]

SUPPRESSED = "suppr."


def _n(v, k: int) -> str:
    """A published count as text; suppressed values print as ``suppr.`` (not ``<k``: a value
    hidden by complementary suppression may be large)."""
    return SUPPRESSED if pd.isna(v) else f"{int(v):,}"


def _change(v, pct=None, unit: str = "") -> str:
    if pd.isna(v):
        return "–"
    s = f"{float(v):+,.1f}{unit}" if unit else f"{int(v):+,}"
    if pct is not None and not pd.isna(pct):
        s += f" ({float(pct):+.0f}%)"
    return s


def _pct(v) -> str:
    return "–" if pd.isna(v) else f"{float(v):.0f}%"


NOT_RECORDED = "not recorded"


def kpi_cells(r, k: int) -> list[tuple[str, str, str]]:
    """``(now, change, prior line)`` of the four KPI columns of one window: "not recorded" for
    a field unknown for most events (the share known when partial), "prior: no data" for a
    prior period before the data start (no change printed), "partial" with its share."""
    status = r.get("prior_status", "complete")
    cov = r.get("prior_days_covered_pct", 100.0)

    def prior(text: str) -> str:
        if status == "no data":
            return "prior: no data"
        if status == "partial":
            return f"prior {text} ({float(cov):.0f}% of days)"
        return f"prior {text}"

    out = [(_n(r["overdoses"], k), _change(r["overdoses_change"], r["overdoses_change_pct"]),
            prior(_n(r["prior_overdoses"], k)))]
    for field, figs in (("outcome", (("fatal", False), ("nonfatal", False))),
                        ("naloxone", (("naloxone_given_pct", True),))):
        st = r.get(f"{field}_status", "recorded")
        known = r.get(f"{field}_known_pct")
        for name, pct in figs:
            if st == NOT_RECORDED:
                out.append((NOT_RECORDED, "", f"{float(known):.0f}% known"))
                continue
            now = _pct(r[name]) if pct else _n(r[name], k)
            ch = (_change(r[f"{name}_change"], unit=" pts") if pct
                  else _change(r[f"{name}_change"]))
            before = prior(_pct(r[f"prior_{name}"]) if pct else _n(r[f"prior_{name}"], k))
            if st == "partial":
                before += f" · {float(known):.0f}% known"
            out.append((now, ch, before))
    return out




fmt_count, fmt_change, fmt_pct = _n, _change, _pct
