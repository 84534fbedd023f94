# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the router and the Overview page (KPIs equal report.kpis; filters change them)."""

from __future__ import annotations

import pandas as pd
from app_helpers import app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

from geo.grid import filter_incidents
from report.kpis import kpis


def _shown(v) -> str:
    return "suppressed" if pd.isna(v) else f"{int(v):,}"


def test_overview_runs_and_kpis_equal_library(app_inputs):
    at = run_page()
    inc = load_incidents(app_inputs["incidents"])
    ref = kpis(inc, policy="public")
    for w in (7, 30, 365):
        assert metric(at, f"Overdoses, {w} d") == _shown(ref.loc[w, "overdoses"])
        assert metric(at, f"Fatal, {w} d") == _shown(ref.loc[w, "fatal"])
        assert metric(at, f"Nonfatal, {w} d") == _shown(ref.loc[w, "nonfatal"])
    # the toy data has 30-day totals in the tens: a real number, not a placeholder
    assert int(metric(at, "Overdoses, 30 d").replace(",", "")) > 10


def test_small_counts_are_suppressed_in_public_tier(app_inputs):
    at = run_page()
    inc = load_incidents(app_inputs["incidents"])
    ref = kpis(inc, policy="restricted")
    fatal7 = int(ref.loc[7, "fatal"])
    assert 1 <= fatal7 <= 9  # the toy data is built so that this is a small count
    assert metric(at, "Fatal, 7 d") == "suppressed"
    assert str(fatal7) != metric(at, "Fatal, 7 d")


def test_source_filter_changes_kpis(app_inputs):
    at = run_page()
    before = metric(at, "Overdoses, 365 d")
    at.sidebar.multiselect(key="sources").set_value(["police"]).run()
    assert not at.exception
    after = metric(at, "Overdoses, 365 d")
    inc = load_incidents(app_inputs["incidents"])
    ref = kpis(filter_incidents(inc, sources=["police"]), policy="public")
    assert after == _shown(ref.loc[365, "overdoses"])
    assert after != before


def test_weekly_trend_and_alerts_render():
    at = run_page()
    assert any("Weekly overdoses" in s.value for s in at.subheader)
    assert any("Current alerts" in s.value for s in at.subheader)
    # switching the detector reruns without error
    at.selectbox(key="alert_method").set_value("C1").run()
    assert not at.exception


def test_every_page_in_the_navigation_runs():
    from app_helpers import ROOT

    pages = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
    assert {"overview", "hotspots", "gaps", "siting", "outreach", "data"} <= set(pages)
    for page in pages:
        at = run_page(page)  # asserts no exception
        assert at.title, page  # every page has a title
