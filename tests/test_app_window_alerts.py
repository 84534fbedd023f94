# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Custom date range (restricted only), alerts with a chosen look-back and the alert map."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
from app_helpers import app_env, app_inputs, load_incidents, run_page  # noqa: F401

from products.alerts import current_alerts
from products.query import Query

R = {"tier": "restricted", "scan_on": False}


def test_custom_range_is_offered_only_in_the_restricted_tier(app_inputs):
    at = run_page(session={"scan_on": False})
    assert "Custom range…" not in at.sidebar.selectbox(key="window").options
    assert any("Custom date ranges are restricted-tier only" in c.value
               for c in at.sidebar.caption)
    assert not [d for d in at.date_input if d.key == "custom_range"]

    at = run_page(session=R)
    assert "Custom range…" in at.sidebar.selectbox(key="window").options
    at.sidebar.selectbox(key="window").set_value("Custom range…").run()
    at.date_input(key="custom_range").set_value((dt.date(2026, 10, 5),
                                                 dt.date(2026, 10, 11))).run()
    assert not at.exception
    inc = load_incidents(app_inputs["incidents"])
    t = pd.to_datetime(inc["occurred_at"])
    want = int(((t >= "2026-10-05") & (t < "2026-10-12")).sum())
    heads = [s.value for s in at.subheader]
    assert any("2026-10-05 – 2026-10-11" in h for h in heads), heads
    (m,) = [x for x in at.metric if x.label.startswith("Overdoses, 7 d")]
    assert m.value == f"{want:,}"


def test_alert_look_back_and_map_equal_the_product(monkeypatch):
    from data import get_path
    from geo.ingest import read_incidents

    monkeypatch.setenv("GAPMAP_INCIDENTS", str(get_path("incidents")))
    at = run_page(session={**R, "alert_days": 91})
    inc = read_incidents(get_path("incidents")).incidents
    end = pd.to_datetime(inc["occurred_at"]).max().normalize() + pd.Timedelta(days=1)
    ref = current_alerts(inc, Query(end=end), "restricted", method="C2", res=7, days=91)
    assert any("Current alerts (last 91 days" in s.value for s in at.subheader)
    spec = [json.loads(el.proto.json) for el in at.get("deck_gl_json_chart")]
    layers = [ly for s in spec for ly in s["layers"] if ly.get("id") == "alert-cells"]
    assert layers, "no alert map"
    drawn = {row["h3"] for row in layers[0]["data"]}
    assert drawn == set(ref.loc[ref["area_type"] == "h3", "area"])
