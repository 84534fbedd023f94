# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the router and the Overview page (KPIs equal products.overview; filters apply)."""

from __future__ import annotations

import pandas as pd
from app_helpers import app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

from products.overview import kpi_table
from products.query import Query


def _shown(v) -> str:
    return "suppressed" if pd.isna(v) else f"{int(v):,}"


def test_overview_runs_and_kpis_equal_library(app_inputs):
    at = run_page()
    inc = load_incidents(app_inputs["incidents"])
    ref = kpi_table(inc, Query(), "public", windows=(364,))  # the default "Last 52 weeks"
    for label, col in (("Overdoses", "overdoses"), ("Fatal", "fatal"), ("Nonfatal", "nonfatal")):
        assert metric(at, f"{label}, 364 d") == _shown(ref.loc[364, col])
    assert int(metric(at, "Overdoses, 364 d").replace(",", "")) > 10  # a real number


def test_window_control_selects_the_kpi_window(app_inputs):
    at = run_page()
    at.sidebar.selectbox(key="window").set_value("Last week").run()
    assert not at.exception
    inc = load_incidents(app_inputs["incidents"])
    ref = kpi_table(inc, Query(), "public", windows=(7,))
    assert metric(at, "Overdoses, 7 d") == _shown(ref.loc[7, "overdoses"])
    assert not any(m.label.startswith("Overdoses, 364") for m in at.metric)


def test_small_counts_are_suppressed_in_public_tier(app_inputs):
    at = run_page()
    at.sidebar.selectbox(key="window").set_value("Last week").run()
    inc = load_incidents(app_inputs["incidents"])
    ref = kpi_table(inc, Query(end="2026-11-16"), "restricted", windows=(7,))
    fatal7 = int(ref.loc[7, "fatal"])
    assert 1 <= fatal7 <= 9  # the toy data is built so that this is a small count
    assert metric(at, "Fatal, 7 d") == "suppressed"


def test_source_and_outcome_filters_change_kpis(app_inputs):
    at = run_page()
    before = metric(at, "Overdoses, 364 d")
    at.sidebar.selectbox(key="public_source").set_value("police").run()
    assert not at.exception
    after = metric(at, "Overdoses, 364 d")
    inc = load_incidents(app_inputs["incidents"])
    ref = kpi_table(inc, Query(sources=("police",)), "public", windows=(364,))
    assert after == _shown(ref.loc[364, "overdoses"]) and after != before
    at.sidebar.selectbox(key="public_source").set_value("all").run()
    at.sidebar.selectbox(key="public_outcome").set_value("fatal").run()
    assert not at.exception
    ref = kpi_table(inc, Query(outcomes=("fatal",)), "public", windows=(364,))
    assert metric(at, "Overdoses, 364 d") == _shown(ref.loc[364, "overdoses"])
    assert metric(at, "Nonfatal, 364 d") == "0"


def test_public_filters_take_one_value_restricted_combines(app_inputs):
    """Public: all or one outcome/source (combinations would let noisy figures be averaged);
    the restricted tier keeps the multiselects, and the library refuses public combinations."""
    import pytest

    at = run_page()
    assert not [m for m in at.sidebar.multiselect if m.key in ("sources", "outcomes")]
    inc = load_incidents(app_inputs["incidents"])
    with pytest.raises(ValueError, match="all sources or one of them"):
        kpi_table(inc, Query(sources=("ems", "police")), "public", windows=(364,))
    at = run_page(session={"tier": "restricted"})
    at.sidebar.multiselect(key="sources").set_value(["ems", "police"]).run()
    assert not at.exception


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


def test_public_alerts_with_hidden_counts_are_withheld_and_said():
    at = run_page()
    infos = " ".join(i.value for i in at.info)
    tables = [d.value for d in at.dataframe if "severity" in d.value.columns]
    assert tables, "the alert table is shown"
    assert "suppressed" not in tables[0]["observed"].astype(str).tolist()
    assert "shown only in the restricted tier" in infos
