"""The briefing's optional second page: the follow-up program's evaluation figures.

Every figure comes from :mod:`cases.evaluation` (aggregated, through the privacy gate of the
briefing's tier), so in public counts are perturbed and 1–9 printed as ``suppr.``; shares are
computed from the published counts. Nothing here counts or discloses anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geo.privacy import PrivacyPolicy, as_policy
from report.maps import plt

__all__ = ["EvaluationContent", "evaluation_content", "evaluation_figure", "load_case_tables"]

_INK, _GREY = "#1a1a1a", "#555555"
SUPPRESSED = "suppr."


@dataclass(frozen=True)
class EvaluationContent:
    """Published evaluation tables for one tier (each from :mod:`cases.evaluation`)."""

    policy: PrivacyPolicy
    overall: pd.DataFrame      # summary_table(by="all")
    by_month: pd.DataFrame     # summary_table(by="month"), the last six months
    hours: pd.DataFrame        # hours_distribution("contact")
    services: pd.DataFrame     # service_table
    timeliness: pd.DataFrame   # timeliness_table (store records, or cases)
    repeat: pd.DataFrame       # repeat_table
    origin: str = ""


def evaluation_content(tables: dict[str, pd.DataFrame], policy: PrivacyPolicy | str = "public",
                       *, receipts: pd.DataFrame | None = None, origin: str = ""
                       ) -> EvaluationContent:
    """Compute the page's published tables from the case tables (and the store's receipts)."""
    from cases import evaluation as ev

    pol = as_policy(policy)
    if tables is None or not len(tables.get("cases", ())):
        raise ValueError("no follow-up cases: the evaluation page needs the cases database "
                         "(or the bundled sample's synthetic cases)")
    lag = receipts if receipts is not None and len(receipts) else tables
    month = ev.summary_table(tables, pol, "month").sort_values("month").tail(6)
    return EvaluationContent(pol, ev.summary_table(tables, pol, "all"), month,
                             ev.hours_distribution(tables, pol, "contact"),
                             ev.service_table(tables, pol), ev.timeliness_table(lag, pol),
                             ev.repeat_table(tables, pol), origin)


def load_case_tables(incidents: pd.DataFrame, *, sample: bool = False, now=None
                     ) -> tuple[dict[str, pd.DataFrame] | None, str]:
    """The case tables for the page: the cases database, else (on the sample) synthetic ones."""
    from cases import db, queue

    if db.exists():
        t = queue.load_all()
        if len(t["cases"]):
            return t, "the cases database"
    if sample:
        from cases.sample import synthetic_tables

        clock = pd.Timestamp(now) if now is not None else pd.Timestamp(
            incidents["occurred_at"].max()).ceil("min")
        return synthetic_tables(incidents, clock), "synthetic sample cases"
    return None, ""


def _n(v) -> str:
    return SUPPRESSED if pd.isna(v) else f"{int(v):,}"


def _pct(v) -> str:
    return "–" if pd.isna(v) else f"{100 * float(v):.1f}%"


def _num(v, unit: str) -> str:
    return "–" if pd.isna(v) else f"{float(v):.1f} {unit}"


def _block(fig, rect, title: str, header: list[str], rows: list[list[str]], note: str = ""):
    ax = fig.add_axes(rect)
    ax.axis("off")
    ax.text(0, 1, title, fontsize=10, fontweight="bold", color=_INK, va="top",
            transform=ax.transAxes)
    n = len(header)
    xs = [0.0] + [0.34 + 0.66 * i / max(n - 1, 1) for i in range(n - 1)]
    step = min(0.12, 0.8 / max(len(rows) + 1, 1))
    y = 0.86
    for i, x in enumerate(xs):
        ax.text(x, y, header[i], fontsize=7, color=_GREY, va="top", transform=ax.transAxes)
    for r in rows:
        y -= step
        for i, x in enumerate(xs):
            ax.text(x, y, r[i], fontsize=7.5, color=_INK, va="top", transform=ax.transAxes)
    if note:
        ax.text(0, y - step, note, fontsize=6.5, color=_GREY, va="top", style="italic",
                transform=ax.transAxes)


def evaluation_figure(c: EvaluationContent, *, title: str = "Follow-up program evaluation",
                      area_name: str | None = None):
    """The second page's matplotlib figure (A4; the caller closes it)."""
    from report.briefing import PAGE_SIZE
    from report.layout import fit_texts

    fig = plt.figure(figsize=PAGE_SIZE)
    try:
        restricted = c.policy.restricted
        tier = (f"{c.policy.tier.upper()} — small counts suppressed, others perturbed (±3)"
                if not restricted else "RESTRICTED — internal use only, exact counts")
        fig.text(0.96, 0.992, tier, fontsize=7.5, va="top", ha="right",
                 color="#C00000" if restricted else _GREY)
        fig.text(0.04, 0.972, title + (f" — {area_name}" if area_name else ""), fontsize=15,
                 fontweight="bold", color=_INK, va="top")
        fig.text(0.04, 0.945, f"From {c.origin or 'the follow-up cases'}. Shares are computed "
                 "from the published counts; hours and days are medians.", fontsize=7,
                 color=_GREY, va="top")
        o = c.overall.iloc[0] if len(c.overall) else pd.Series(dtype=object)
        _block(fig, (0.04, 0.80, 0.92, 0.12), "Reach (all cases)",
               ["", "cases", "reached", "in 24 h", "in 48 h", "in 72 h", "median to contact"],
               [["", _n(o.get("n_cases")), _pct(o.get("share_reached")),
                 _pct(o.get("share_24h")), _pct(o.get("share_48h")), _pct(o.get("share_72h")),
                 _num(o.get("median_h_contact"), "h")]])
        _block(fig, (0.04, 0.63, 0.92, 0.16), "Reach by month of the overdose",
               ["month", "cases", "reached", "in 24 h", "in 72 h", "median to attempt"],
               [[str(r.month), _n(r.n_cases), _pct(r.share_reached), _pct(r.share_24h),
                 _pct(r.share_72h), _num(r.median_h_attempt, "h")]
                for r in c.by_month.itertuples()])
        _block(fig, (0.04, 0.50, 0.44, 0.12), "Hours from overdose to first contact",
               ["hours", "cases"], [[str(r.hours), _n(r.n_cases)]
                                    for r in c.hours.itertuples()])
        _block(fig, (0.52, 0.50, 0.44, 0.12), "Repeat overdose (linked cases)",
               ["group", "cases", "in 30 d", "in 90 d"],
               [[str(r.group), _n(r.n_cases), _pct(r.share_repeat_30d),
                 _pct(r.share_repeat_90d)] for r in c.repeat.itertuples()],
               "A description, not a causal effect.")
        _block(fig, (0.04, 0.30, 0.92, 0.19), "Services accepted (share of reached cases)",
               ["service", "cases", "share of reached"],
               [[str(r.service), _n(r.n_cases), _pct(r.share_of_reached)]
                for r in c.services.itertuples()])
        unit = "n_records" if "n_records" in c.timeliness.columns else "n_cases"
        _block(fig, (0.04, 0.12, 0.92, 0.16), "Data timeliness: overdose to receipt, per source",
               ["source", "records" if unit == "n_records" else "cases", "median",
                "90th percentile"],
               [[str(r["source"]), _n(r[unit]), _num(r["median_lag_days"], "days"),
                 _num(r["p90_lag_days"], "days")] for _, r in c.timeliness.iterrows()],
               "Receipt: when each record reached the incident store." if unit == "n_records"
               else "Receipt: when the case entered the follow-up queue.")
        fig.text(0.04, 0.03, "These figures describe the program; differences between groups "
                 "are not causal effects of follow-up. " + (
                     "Counts perturbed (±3) and 1–9 suppressed (suppr.)."
                     if not restricted else ""), fontsize=6.5, color=_GREY, va="bottom")
        fit_texts(fig)
    except Exception:
        plt.close(fig)
        raise
    return fig
