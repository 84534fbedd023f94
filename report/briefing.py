"""The one-page leadership briefing (PDF): KPIs, map, trend, top areas, alerts, gaps, caveats.

:func:`build_briefing` computes every section with :func:`report.sections.briefing_content`
(all tables through the privacy gate for the public tier) and lays them out on one A4 page with
matplotlib. The output is deterministic: the same data give the same bytes (no creation date
in the PDF metadata).

Suppressed counts are printed as ``suppr.``, never as their value; a change against
the prior period is printed only when both sides are shown.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from report.briefing_panels import (  # noqa: F401  (_alert_lines/_gap_lines: tests)
    _GREY,
    _INK,
    _LIGHT,
    _alert_lines,
    _gap_lines,
    _outcome_recorded,
    _span_words,
    _text_box,
    _top_areas,
)
from report.kpi_text import NOT_RECORDED, SUPPRESSED, _change, _n, _pct  # noqa: F401
from report.kpi_text import kpi_cells as _kpi_cells
from report.maps import figure_to_png, plot_cells, plt
from report.sections import BriefingContent, briefing_content

__all__ = ["build_briefing", "render_briefing", "briefing_figure", "briefing_map_png",
           "DEFAULT_CAVEATS", "PAGE_SIZE"]

PAGE_SIZE = (8.27, 11.69)  # A4 portrait, inches
DEFAULT_CAVEATS = (
    "Suspected overdoses reported by EMS, police, hospitals and ODMAP, de-duplicated across "
    "sources (one event if reports are within ±60 min and ≤300 m and from different sources; "
    "our documented design choice).",
    "Reporting lag: the latest days are usually incomplete, so recent falls may be artefacts.",
)
_WINDOW_NAMES = {7: "Last 7 days", 28: "Last 4 weeks", 30: "Last 30 days",
                 91: "Last 13 weeks", 364: "Last 52 weeks", 365: "Last 12 months"}


# ------------------------------------------------------------------ formatting: report.kpi_text


def _days(a: pd.Timestamp, b: pd.Timestamp) -> str:
    return f"{a:%d %b %Y} – {b:%d %b %Y}"


# ------------------------------------------------------------------ sections
def _header(fig, c: BriefingContent, title: str, area_name: str | None) -> None:
    from report.layout import fit_text

    restricted = c.policy.restricted
    tier = (f"{c.policy.tier.upper()} — small counts suppressed, others perturbed (±3)"
            if not restricted else "RESTRICTED — internal use only, exact counts")
    fig.text(0.96, 0.992, tier, fontsize=7.5, va="top", ha="right",
             color="#C00000" if restricted else _GREY,
             fontweight="bold" if restricted else "normal")
    # a long title or area name shrinks (to 9 pt), then wraps, within the header's height
    head = fig.text(0.04, 0.972, title + (f" — {area_name}" if area_name else ""), fontsize=15,
                    fontweight="bold", color=_INK, va="top")
    bb = fit_text(head, fig, min_size=9.0)
    to_fig = fig.transFigure.inverted()
    budget = 0.972 - 0.943  # the title's room above the date/filters line
    while (0.972 - to_fig.transform((0, bb.y0))[1]) > budget and head.get_fontsize() > 5:
        head.set_fontsize(head.get_fontsize() - 0.5)
        bb = head.get_window_extent(fig.canvas.get_renderer())
    y = min(0.950, to_fig.transform((0, bb.y0))[1] - 0.003)
    line = f"Data through {c.end:%d %B %Y}"
    # the filters, window and tier of everything on the page, inside the page
    query = getattr(c, "query", None)
    if query is not None:
        line += "   ·   Filters: " + query.describe()
    fig.text(0.04, y, line, fontsize=7, color=_GREY, va="top")


def _kpi_table(fig, c: BriefingContent) -> None:
    ax = fig.add_axes((0.04, 0.795, 0.92, 0.13))
    ax.axis("off")
    k = c.policy.k
    cols = ["Overdoses", "Fatal", "Nonfatal", "Naloxone given"]
    xs = [0.0, 0.25, 0.45, 0.63, 0.81]
    ax.text(0, 0.97, "Key figures vs the prior period of equal length", fontsize=9.5,
            fontweight="bold", va="top", transform=ax.transAxes)
    for x, name in zip(xs[1:], cols, strict=True):
        ax.text(x, 0.74, name, fontsize=8, fontweight="bold", va="center", transform=ax.transAxes)
    rows = list(c.kpis.index)
    for i, w in enumerate(rows):
        r = c.kpis.loc[w]
        y = 0.50 - i * 0.23
        if i % 2 == 0:
            ax.add_patch(plt.Rectangle((0, y - 0.11), 1, 0.22, color="#f4f4f4",
                                       transform=ax.transAxes, zorder=0))
        name = _WINDOW_NAMES.get(int(w), f"Last {int(w)} days")
        ax.text(0.005, y + 0.035, name, fontsize=8, fontweight="bold", va="center",
                transform=ax.transAxes)
        last = r["last_day"] if "last_day" in r else r["end"]
        span = (f"{r['start']:%d %b} – {last:%d %b %Y}" if r["start"].year == last.year
                else _days(r["start"], last))
        ax.text(0.005, y - 0.06, span, fontsize=6,
                color=_GREY, va="center", transform=ax.transAxes)
        for x, (now, ch, prior) in zip(xs[1:], _kpi_cells(r, k), strict=True):
            unrec = now == NOT_RECORDED
            ax.text(x, y + (0.03 if unrec else 0), now, fontsize=7.5 if unrec else 11,
                    fontweight="bold", va="center", color=_GREY if unrec else _INK,
                    transform=ax.transAxes)
            if ch:
                ax.text(x + 0.075, y + 0.03, ch, fontsize=6.5, va="center", color=_INK,
                        transform=ax.transAxes)
            ax.text(x if unrec else x + 0.075, y - 0.045, prior, fontsize=6, va="center",
                    color=_GREY, transform=ax.transAxes)


def _map(fig, c: BriefingContent) -> None:
    ax = fig.add_axes((0.04, 0.405, 0.55, 0.36))
    t = c.map_table
    cells = t["h3"].to_numpy(np.uint64)
    if c.map_mode == "class":
        plot_cells(ax, cells, classes=t["class"].to_numpy(object), boundary=c.boundary,
                   k=c.policy.k, legend_title="Gi* hot/cold spots")
        what = "Hot/cold spots (Gi*, FDR)"
    else:
        plot_cells(ax, cells, counts=t["count"], boundary=c.boundary, k=c.policy.k)
        what = "Overdoses per cell"
    ax.set_title(f"{what}, {_span_words(c)}", fontsize=8.5, fontweight="bold", loc="left")


def _trend(fig, c: BriefingContent) -> None:
    ax = fig.add_axes((0.68, 0.625, 0.29, 0.14))
    w = c.weekly
    x = w.index.to_numpy()
    tot = pd.to_numeric(w["overdoses"]).astype(float).to_numpy()
    fat = pd.to_numeric(w["fatal"]).astype(float).to_numpy()
    ax.plot(x, tot, color="#0072B2", lw=1.3, label="All overdoses")
    if _outcome_recorded(c):  # an unrecorded outcome is not a line of zeros
        ax.plot(x, fat, color="#D55E00", lw=1.3, label="Fatal")
    else:
        fat = np.zeros_like(tot)
    ax.set_ylim(bottom=0)
    ax.set_title("Weekly overdoses, last 52 weeks", fontsize=8.5, fontweight="bold", loc="left")
    ax.tick_params(labelsize=6)
    ax.xaxis.set_major_formatter(plt.matplotlib.dates.DateFormatter("%b %y"))
    ax.xaxis.set_major_locator(plt.matplotlib.dates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.set_ylabel("overdoses / week", fontsize=6)
    ax.grid(axis="y", color=_LIGHT, lw=0.6)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    ax.legend(fontsize=6, frameon=False, loc="upper left", ncol=2)
    no_data = w["no_data"].to_numpy(bool) if "no_data" in w.columns else np.zeros(len(w), bool)
    gaps = []
    if no_data.any():
        gaps.append(f"no data before {w.index[~no_data][0]:%d %b %Y}" if (~no_data).any()
                    else "no data")
    if (np.isnan(tot) & ~no_data).any() or (np.isnan(fat) & ~no_data).any():
        gaps.append(f"weeks with 1–{c.policy.k - 1} events are suppressed")
    if gaps:
        ax.text(0, -0.22, "Gaps: " + "; ".join(gaps) + ".",
                fontsize=5.5, color=_GREY, transform=ax.transAxes, va="top")


def _footer(fig, c: BriefingContent, caveats) -> None:
    k = c.policy.k
    if c.policy.tier != "restricted":
        rule = (f"Privacy: counts from 1 to {k - 1} are suppressed (the CDC WONDER rule) and a "
                f"second value where it would reveal one (\"{SUPPRESSED}\"); other counts are "
                "perturbed by up to ±3 (cell-key method, so totals and breakdowns need not add "
                "up exactly); whole weeks only; hot spots, shares and changes are computed from "
                "these published figures; no individual locations or times; no area smaller "
                f"than H3 resolution {c.policy.min_res_floor}.")
    else:
        rule = ("RESTRICTED tier: counts are NOT suppressed. Do not share outside the agency; "
                f"the public version suppresses counts from 1 to {k - 1}.")
    texts = [rule, *c.notes, *caveats]  # data notes first: they are kept when space runs out
    ax = fig.add_axes((0.04, 0.012, 0.92, 0.128))
    ax.axis("off")
    ax.text(0, 1.0, "Data caveats and privacy", fontsize=8, fontweight="bold", va="top",
            transform=ax.transAxes)
    from report.layout import paragraphs

    paragraphs(ax, texts, top=0.86, size=6.0)  # wrapped to the measured width, shrunk to fit


# ------------------------------------------------------------------ public API
def render_briefing(content: BriefingContent, *, title: str = "Overdose surveillance briefing",
                    area_name: str | None = None, caveats=DEFAULT_CAVEATS,
                    evaluation=None) -> bytes:
    """Lay out published briefing content on one A4 page and return the PDF bytes.

    ``evaluation`` (optional): a :class:`report.evaluation_page.EvaluationContent` of the same
    tier, laid out as a second page.
    """
    meta = {"CreationDate": None, "ModDate": None, "Producer": "gapmap", "Creator": "gapmap"}
    fig = briefing_figure(content, title=title, area_name=area_name, caveats=caveats)
    buf = io.BytesIO()
    try:
        if evaluation is None:
            fig.savefig(buf, format="pdf", metadata=meta)
        else:
            from matplotlib.backends.backend_pdf import PdfPages

            from report.evaluation_page import evaluation_figure

            with PdfPages(buf, metadata=meta) as pages:
                pages.savefig(fig)
                fig2 = evaluation_figure(evaluation, area_name=area_name)
                try:
                    pages.savefig(fig2)
                finally:
                    plt.close(fig2)
    finally:
        plt.close(fig)
    return buf.getvalue()


def briefing_figure(content: BriefingContent, *, title: str = "Overdose surveillance briefing",
                    area_name: str | None = None, caveats=DEFAULT_CAVEATS):
    """The briefing's matplotlib figure (one A4 page; the caller closes it). Every text is
    measured and shrunk or wrapped to lie inside the page (:func:`report.layout.fit_texts`)."""
    from report.layout import fit_texts

    fig = plt.figure(figsize=PAGE_SIZE)
    try:
        _header(fig, content, title, area_name)
        _kpi_table(fig, content)
        _map(fig, content)
        _trend(fig, content)
        _top_areas(fig, content)
        alert_lines, alert_note = _alert_lines(content)
        _text_box(fig, (0.04, 0.155, 0.45, 0.22), "Current alerts", alert_lines, alert_note)
        gap_lines, gap_note = _gap_lines(content)
        _text_box(fig, (0.51, 0.155, 0.45, 0.22), "Resource gaps", gap_lines, gap_note)
        _footer(fig, content, caveats)
        fit_texts(fig)
    except Exception:
        plt.close(fig)
        raise
    return fig


def build_briefing(
    incidents: pd.DataFrame,
    resources: pd.DataFrame | None = None,
    boundary=None,
    *,
    tier: str = "public",
    res: int = 8,
    end=None,
    outcomes: tuple[str, ...] | None = None,
    sources: tuple[str, ...] | None = None,
    k: int | None = None,
    title: str = "Overdose surveillance briefing",
    area_name: str | None = None,
    synthetic: bool = False,
    caveats=DEFAULT_CAVEATS,
    geography=None,
    travel: str | None = None,
    roads=None,
    evaluation_tables=None,
    receipts=None,
    drugs: tuple[str, ...] | None = None,
    age_bands: tuple[str, ...] | None = None,
    sexes: tuple[str, ...] | None = None,
) -> bytes:
    """Build the one-page leadership briefing as PDF bytes.

    Parameters
    ----------
    incidents : DataFrame
        Canonical de-duplicated incidents (geo/schema.py columns, uint64 ``h3``).
    resources : DataFrame, optional
        Canonical resource sites, for the resource-gaps section.
    boundary : shapely geometry or GeoDataFrame, optional
        Study area (map outline and zero-filled analysis grid).
    tier : {"public", "restricted"}
        Public (default): everything through :func:`geo.privacy.publish`.
    res : int
        H3 resolution of the map, top areas and area alerts (default 8; public ≤ 8).
    end : date-like, optional
        First day excluded (``[start, end)``); default the day after the last incident
        (public: the release date, the Monday after the last complete week).
    outcomes, sources, drugs, age_bands, sexes : tuple of str, optional
        Filters applied to every section and printed on the page (public: all or one).
    k : int, optional
        Suppression threshold (default 10: counts 1–9 hidden).
    title, area_name : str
        Page title and optional jurisdiction name.
    synthetic : bool
        Add the caveat that the data are the bundled synthetic sample.
    geography : (list of AreaLayer, DataFrame or None), optional
        Area layers and places naming the top areas, alerts and gaps
        (:func:`report.sections.briefing_content`).
    caveats : sequence of str
        Data caveats printed at the foot of the page.
    evaluation_tables : dict of DataFrame, optional
        The follow-up case tables (:func:`cases.queue.load_all`): adds a second page with the
        program's evaluation figures (:mod:`report.evaluation_page`, same tier); ``receipts``
        (the store's records with their receipt time) feed its data-timeliness table.

    Returns
    -------
    bytes
        A one-page PDF.

    References
    ----------
    Getis and Ord (1992); Benjamini and Hochberg (1995); CDC WONDER suppression rule.
    """
    content = briefing_content(incidents, resources, boundary, tier=tier, res=res, end=end, k=k,
                               outcomes=outcomes, sources=sources, geography=geography,
                               travel=travel, roads=roads, drugs=drugs, age_bands=age_bands,
                               sexes=sexes)
    notes = list(caveats)
    if synthetic:
        notes.insert(0, "SYNTHETIC SAMPLE DATA (data/README.md) — not real people or events.")
    evaluation = None
    if evaluation_tables is not None:
        from report.evaluation_page import evaluation_content

        evaluation = evaluation_content(evaluation_tables, content.policy, receipts=receipts)
    return render_briefing(content, title=title, area_name=area_name, caveats=notes,
                           evaluation=evaluation)


def briefing_map_png(content: BriefingContent, dpi: int = 110) -> bytes:
    """The briefing's map alone as PNG bytes (for a preview)."""
    fig, ax = plt.subplots(figsize=(6, 6))
    t = content.map_table
    cells = t["h3"].to_numpy(np.uint64)
    if content.map_mode == "class":
        plot_cells(ax, cells, classes=t["class"].to_numpy(object), boundary=content.boundary,
                   k=content.policy.k, legend_title="Gi* hot/cold spots")
    else:
        plot_cells(ax, cells, counts=t["count"], boundary=content.boundary, k=content.policy.k)
    fig.tight_layout()
    return figure_to_png(fig, dpi=dpi)
