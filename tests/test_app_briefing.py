# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Briefing page (KPIs equal report.kpis, the PDF download, widgets change it)."""

from __future__ import annotations

import pandas as pd
from app_helpers import app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

from geo.grid import filter_incidents
from report.kpis import kpis


def _shown(v) -> str:
    return "suppressed" if pd.isna(v) else f"{int(v):,}"


def _download(at):
    (btn,) = [b for b in at.get("download_button") if b.proto.label.startswith("Download briefing")]
    return btn


def test_briefing_page_kpis_equal_library_and_offer_a_pdf(app_inputs):
    at = run_page("briefing")
    ref = kpis(load_incidents(app_inputs["incidents"]), policy="public")
    for w, label in ((7, "7 days"), (30, "30 days"), (365, "12 months")):
        assert metric(at, f"Overdoses, last {label}") == _shown(ref.loc[w, "overdoses"])
        assert metric(at, f"Fatal, last {label}") == _shown(ref.loc[w, "fatal"])
    assert metric(at, "Fatal, last 7 days") == "suppressed"  # the toy data's small count
    btn = _download(at)
    assert btn.proto.label == "Download briefing (PDF)"
    assert at.image, "the map preview is shown"


def test_end_date_and_source_filter_change_the_briefing(app_inputs):
    at = run_page("briefing")
    before = metric(at, "Overdoses, last 30 days")
    at.date_input(key="brief_end").set_value(pd.Timestamp("2026-10-15").date()).run()
    assert not at.exception
    inc = load_incidents(app_inputs["incidents"])
    ref = kpis(inc, end="2026-10-15", policy="public")
    after = metric(at, "Overdoses, last 30 days")
    assert after == _shown(ref.loc[30, "overdoses"]) and after != before
    at.sidebar.multiselect(key="sources").set_value(["police"]).run()
    assert not at.exception
    ref = kpis(filter_incidents(inc, sources=["police"]), end="2026-10-15", policy="public")
    assert metric(at, "Overdoses, last 12 months") == _shown(ref.loc[365, "overdoses"])
