"""Panels of the one-page briefing (:mod:`report.briefing`): the top-areas table, the alert
and gap text boxes, and the small helpers they share with the page layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from report.kpi_text import NOT_RECORDED, _n
from report.maps import plt
from report.sections import BriefingContent

_INK, _GREY, _LIGHT = "#1a1a1a", "#555555", "#e6e6e6"


def _span_words(c: BriefingContent) -> str:
    """``"last 52 weeks"`` (public release window) or ``"last 365 days"``: the map's window."""
    q = getattr(c, "query", None)
    if q is None or q.start is None or q.end is None:
        return "last 12 months"
    days = int((q.end - q.start) / pd.Timedelta(days=1))
    return f"last {days // 7} weeks" if days % 7 == 0 else f"last {days} days"


def _outcome_recorded(c: BriefingContent) -> bool:
    st = c.kpis["outcome_status"] if "outcome_status" in c.kpis.columns else None
    return st is None or not (st == NOT_RECORDED).all()


def _table(ax, header: list[str], rows: list[list[str]], xs: list[float], top: float = 0.86,
           step: float = 0.085) -> None:
    for x, h in zip(xs, header, strict=True):
        ax.text(x, top, h, fontsize=6.5, fontweight="bold", va="center", transform=ax.transAxes)
    for i, row in enumerate(rows):
        y = top - (i + 1) * step
        for x, v in zip(xs, row, strict=True):
            ax.text(x, y, v, fontsize=6.5, va="center", transform=ax.transAxes, color=_INK)


def _top_areas(fig, c: BriefingContent) -> None:
    ax = fig.add_axes((0.64, 0.405, 0.33, 0.165))
    ax.axis("off")
    k = c.policy.k
    ax.text(0, 1.0, f"Top areas, {_span_words(c)} (H3 res {c.res})", fontsize=8.5,
            fontweight="bold", va="top", transform=ax.transAxes)
    fatal = _outcome_recorded(c)
    no_prior = c.top.attrs.get("prior_status") == "no data"
    names = c.top["cell_centre"].astype(str).tolist()
    if "label" in c.top.columns:  # the first area layer's name; two cells of one area: + id
        from products.overview import unique_labels

        first = [str(v).split(" · ")[0].split(" (near ")[0] for v in c.top["label"]]
        names = unique_labels([a or b for a, b in zip(first, names, strict=True)],
                              c.top["h3"].to_numpy(np.uint64))
    rows = [[str(int(r["rank"])), name[:26], _n(r["count"], k),
             _n(r["n_fatal"], k) if fatal else "n/r",
             "no data" if no_prior else _n(r["count_prior"], k)]
            for name, (_, r) in zip(names, c.top.iterrows(), strict=True)]
    if not rows:
        ax.text(0, 0.8, "No overdoses in the period.", fontsize=7, transform=ax.transAxes)
        return
    if not fatal:
        ax.text(0, -0.02, "n/r: outcome not recorded in these data.", fontsize=5.5,
                color=_GREY, transform=ax.transAxes, va="top")
    named = "label" in c.top.columns and c.top["label"].astype(str).str.len().gt(0).any()
    _table(ax, ["#", "Area" if named else "Area (cell centre)", "Overdoses", "Fatal",
                "Prior"], rows,
           [0.0, 0.06, 0.56, 0.775, 0.885] if named else [0.0, 0.06, 0.46, 0.69, 0.83])


def _place(r, fallback: str, width: int = 30, near: bool = True) -> str:
    """A row's area label (named areas, when configured) or its ``fallback`` column."""
    lab = r.get("label")
    text = str(lab) if isinstance(lab, str) and lab else str(r[fallback])
    if not near and text is not None and " (near " in text:
        text = text.split(" (near ")[0]
    return text if len(text) <= width else text[: width - 1] + "…"


def _text_box(fig, rect, title: str, lines: list[str], note: str) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    ax.add_patch(plt.Rectangle((0, 0), 1, 1, fill=False, edgecolor="#cccccc", lw=0.8,
                               transform=ax.transAxes))
    ax.text(0.03, 0.94, title, fontsize=8.5, fontweight="bold", va="top", transform=ax.transAxes)
    y = 0.80
    for line in lines:
        ax.text(0.03, y, line, fontsize=6, va="top", transform=ax.transAxes, color=_INK)
        y -= 0.085
    if note:
        ax.text(0.03, 0.05, note, fontsize=5.5, va="bottom", color=_GREY, transform=ax.transAxes)


def _alert_lines(c: BriefingContent) -> tuple[list[str], str]:
    if c.alerts is None:
        return ["Not available."], c.alerts_note
    if not len(c.alerts):
        return [f"No spike alerts in the last 7 days to {c.end:%d %b %Y}."], c.alerts_note
    k = c.policy.k
    lines = []
    for _, r in c.alerts.head(6).iterrows():
        if r["method"] == "neighbour":
            lines.append(f"{r['date']}  watch    {_place(r, 'area', 48)}: next to an alerting "
                         "area")
        else:
            exp = ("" if pd.isna(r["expected"]) else f" vs {r['expected']:.1f} expected")
            lines.append(f"{r['date']}  {r['severity']:8s} {_place(r, 'area', 48)}: "
                         f"{_n(r['count'], k)} "
                         f"overdoses{exp}")
    more = len(c.alerts) - 6
    if more > 0:
        lines.append(f"… and {more} more (see the dashboard)")
    return lines, c.alerts_note


def _gap_lines(c: BriefingContent) -> tuple[list[str], str]:
    if c.gaps is None:
        return ["Not available."], c.gaps_note
    import textwrap

    lines = []
    for _, r in c.gaps.head(4).iterrows():
        text = f"#{int(r['gap_rank'])} {_place(r, 'area', 48)}: {r['reason']}"
        wrapped = textwrap.wrap(text, width=78, subsequent_indent="    ")
        if len(wrapped) > 2:
            wrapped = [wrapped[0], wrapped[1][:74] + "…"]
        lines += wrapped
    return lines or ["No resource gaps flagged."], c.gaps_note
