"""Issue 9: the briefing fits its page (every text inside A4, measured with the renderer), says
"not recorded" for unknown fields, never compares against a period without data, and labels
every top area uniquely. A small fixture written for it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from geo.grid import index_incidents
from report.briefing import briefing_figure
from report.layout import outside
from report.sections import briefing_content


@pytest.fixture(scope="module")
def content():
    # 70 days of data, outcome and naloxone never recorded, in a small area
    rng = np.random.default_rng(5)
    n = 900
    t = pd.Timestamp("2026-09-01") + pd.to_timedelta(rng.uniform(0, 70 * 86400, n), "s")
    df = pd.DataFrame({"occurred_at": t.floor("min"), "outcome": "unknown",
                       "naloxone": "unknown", "lat": rng.normal(36.07, 0.01, n),
                       "lon": rng.normal(-79.79, 0.01, n), "source": "ems"})
    return briefing_content(index_incidents(df), tier="restricted")


def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts]
    return out


def test_not_recorded_and_no_data_in_the_kpis(content):
    k = content.kpis
    assert (k["outcome_status"] == "not recorded").all()
    assert (k.loc[365, "prior_status"] == "no data") and pd.isna(k.loc[365, "overdoses_change_pct"])
    fig = briefing_figure(content)
    try:
        texts = _texts(fig)
        assert sum(t == "not recorded" for t in texts) == 3 * len(k)  # fatal, nonfatal, naloxone
        assert "0%" not in texts and "prior: no data" in texts
        assert any("not recorded" in t and "unknown is not zero" in t for t in texts)
    finally:
        plt.close(fig)


def test_long_title_area_name_and_many_caveats_stay_on_the_page(content):
    title = "Monthly overdose surveillance and resource gap briefing for the county health board"
    area = "Greater Northern Piedmont Triad Regional Opioid Response Collaborative (pilot)"
    caveats = [f"Caveat {i}: " + "reports from partner agencies arrive late and are "
               "revised; treat the latest two weeks as provisional. " * 2 for i in range(14)]
    fig = briefing_figure(content, title=title, area_name=area, caveats=caveats)
    try:
        assert outside(fig) == []
        r = fig.canvas.get_renderer()
        page = fig.bbox
        for ax in fig.axes:
            for t in [*ax.texts, ax.title]:
                bb = t.get_window_extent(r)
                if t.get_text():
                    assert page.x0 <= bb.x0 and bb.x1 <= page.x1 and page.y0 <= bb.y0 \
                        and bb.y1 <= page.y1, t.get_text()[:40]
        for t in fig.texts:
            bb = t.get_window_extent(r)
            assert page.x0 <= bb.x0 and bb.x1 <= page.x1 and bb.y0 >= page.y0 and bb.y1 <= page.y1
        head = [t for t in fig.texts if t.get_text().replace("\n", " ").startswith("Monthly")]
        assert head and head[0].get_fontsize() >= 9
        assert any("more note(s) not shown" in t for t in _texts(fig))  # 14 long caveats
    finally:
        plt.close(fig)


def test_without_the_fit_the_long_title_would_run_off():
    """The check is real: the same title at 15 pt, unfitted, ends beyond the page."""
    from report.briefing import PAGE_SIZE

    fig = plt.figure(figsize=PAGE_SIZE)
    try:
        fig.text(0.04, 0.97, "Monthly overdose surveillance and resource gap briefing for the "
                 "county health board — Greater Northern Piedmont Triad Regional", fontsize=15,
                 fontweight="bold")
        assert outside(fig)
    finally:
        plt.close(fig)


def test_top_area_labels_are_unique(content):
    assert content.top["cell_centre"].is_unique
