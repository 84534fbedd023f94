# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Siting page (restricted: equals an independent MCLP solve on exact counts;
public: equals products.siting.siting_plan, shares of the published burden only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from app_helpers import END, app_env, app_inputs, deck_spec, layer, load_incidents, metric, run_page  # noqa: F401,E501

from geo.cells import cells_to_latlng
from geo.grid import filter_incidents, incidents_to_cells
from layers.coverage import coverage_matrix, covered_by_any
from layers.siting import solve_mclp


def _reference(app_inputs, k=5, radius=400, res=8):
    inc = load_incidents(app_inputs["incidents"])
    end = pd.Timestamp(END.date()) + pd.Timedelta(days=1)
    demand = incidents_to_cells(
        filter_incidents(inc, start=end - pd.Timedelta(days=365), end=end), res
    )
    lat, lon = cells_to_latlng(demand["h3"].to_numpy(np.uint64))
    cand = pd.read_csv(app_inputs["candidates"])
    res_sites = pd.read_csv(app_inputs["resources"])
    nal = res_sites[res_sites["kind"] == "naloxone"]
    cov = coverage_matrix(lat, lon, cand["lat"], cand["lon"], radius)
    existing = covered_by_any(lat, lon, nal["lat"], nal["lon"], radius)
    out = solve_mclp(demand["count"].to_numpy(float), cov, k, existing=existing, method="heuristic")
    return out, cand


R = {"tier": "restricted"}


def test_siting_equals_library(app_inputs):
    at = run_page("siting", session=R)
    ref, cand = _reference(app_inputs)
    assert metric(at, "Overdoses covered now") == f"{ref.coverage_pct_before:.1f}%"
    assert metric(at, "Covered with") == f"{ref.coverage_pct_after:.1f}%"
    shown = at.dataframe[0].value
    assert shown["site_id"].tolist() == cand["site_id"].iloc[ref.chosen].tolist()
    assert shown["order"].tolist() == list(range(1, len(ref.chosen) + 1))
    chosen = layer(deck_spec(at), "chosen")
    assert len(chosen["data"]) == len(ref.chosen)
    assert "#1:" in chosen["data"][0]["tip"]


def test_widgets_change_the_plan(app_inputs):
    at = run_page("siting", session=R)
    at.slider(key="site_k").set_value(2).run()
    assert not at.exception
    ref, cand = _reference(app_inputs, k=2)
    assert len(at.dataframe[0].value) == 2
    assert metric(at, "Covered with") == f"{ref.coverage_pct_after:.1f}%"
    at.checkbox(key="site_247").set_value(True).run()
    subtypes = set(at.dataframe[0].value["subtype"])
    assert subtypes <= {"fire_station", "convenience_store"}  # the 24/7 hosts of the toy data


def test_exact_solve_and_download(app_inputs):
    at = run_page("siting", session=R)
    at.toggle(key="site_exact").set_value(True).run()
    assert not at.exception
    ref, _ = _reference(app_inputs)
    # exact ≥ heuristic coverage
    assert float(metric(at, "Covered with").rstrip("%")) >= round(ref.coverage_pct_after, 1) - 1e-9
    assert any("Method: exact, optimal" in c.value for c in at.caption)
    assert [b.key for b in at.get("download_button")].count("site_csv") == 1


def test_public_siting_equals_product_and_shows_shares_only(app_inputs):
    from geo.privacy import release_date
    from products.query import Query
    from products.siting import siting_plan

    at = run_page("siting")
    inc = load_incidents(app_inputs["incidents"])
    end = release_date(pd.to_datetime(inc["occurred_at"]).max())
    plan = siting_plan(inc, pd.read_csv(app_inputs["resources"]),
                       pd.read_csv(app_inputs["candidates"], dtype={"site_id": "string"}),
                       Query(res=8, start=end - pd.Timedelta(days=364), end=end), "public", 5,
                       400.0, False)
    s = plan.summary
    assert metric(at, "Overdoses covered now") == f"{s['coverage_pct_before']:.1f}%"
    assert metric(at, "Overdoses newly covered") == f"{s['objective_pct']:.1f}%"
    shown = at.dataframe[0].value
    assert shown["site_id"].tolist() == plan.sites["site_id"].tolist()
    assert "newly covered overdoses" not in shown.columns
    assert shown["newly covered (% of burden)"].tolist() == plan.sites["marginal_pct"].tolist()
    help_text = [m.proto.help for m in at.metric if m.label == "Overdoses covered now"][0]
    assert " of " not in help_text or "published burden" in help_text  # no "3 of 38 overdoses"
