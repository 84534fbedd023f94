# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Briefing page (KPIs equal the product, sidebar filters apply, PDF download)."""

from __future__ import annotations

import pandas as pd
from app_helpers import app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

from geo.privacy import with_record_keys
from report.sections import briefing_content


def _shown(v) -> str:
    return "suppressed" if pd.isna(v) else f"{int(v):,}"


def _download(at):
    (btn,) = [b for b in at.get("download_button") if b.proto.label.startswith("Download briefing")]
    return btn


def test_briefing_page_kpis_equal_the_briefing_content_and_offer_a_pdf(app_inputs):
    at = run_page("briefing")
    inc = with_record_keys(load_incidents(app_inputs["incidents"]))
    ref = briefing_content(inc, tier="public", res=8).kpis
    for w, label in ((7, "7 days"), (28, "4 weeks"), (364, "52 weeks")):
        assert metric(at, f"Overdoses, last {label}") == _shown(ref.loc[w, "overdoses"])
        assert metric(at, f"Fatal, last {label}") == _shown(ref.loc[w, "fatal"])
    assert metric(at, "Fatal, last 7 days") == "suppressed"  # the toy data's small count
    btn = _download(at)
    assert btn.proto.label == "Download briefing (PDF)"
    assert at.image, "the map preview is shown"
    text = " ".join(c.value for c in at.caption)
    assert "all outcomes · all sources · H3 res 8" in text


def test_sidebar_filters_and_resolution_apply_to_the_briefing(app_inputs):
    at = run_page("briefing")
    before = metric(at, "Overdoses, last 52 weeks")
    at.sidebar.selectbox(key="public_source").set_value("police").run()
    assert not at.exception
    inc = with_record_keys(load_incidents(app_inputs["incidents"]))
    ref = briefing_content(inc, tier="public", res=8, sources=("police",)).kpis
    after = metric(at, "Overdoses, last 52 weeks")
    assert after == _shown(ref.loc[364, "overdoses"]) and after != before
    text = " ".join(c.value for c in at.caption)
    assert "source police" in text, "the filter is said on the page"
