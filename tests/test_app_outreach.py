# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Outreach page (counts only in public tier, line list only after login)."""

from __future__ import annotations

import re

import numpy as np
from app_helpers import (  # noqa: F401,E501
    RECENT,
    app_env,
    app_inputs,
    deck_spec,
    layer,
    load_incidents,
    metric,
    run_page,
)

from products.outreach import outreach_table
from products.query import Query


def test_public_outreach_shows_suppressed_counts_and_no_line_list(app_inputs):
    at = run_page("outreach")
    for h in (24, 48, 72):
        n = sum(1 for hh, _, _ in RECENT if hh - 2 < h)
        assert 1 <= n <= 9
        assert metric(at, f"Nonfatal overdoses, last {h} h") == "suppressed"
    assert any("restricted tier" in i.value for i in at.info)
    assert "outreach_line_list" not in [getattr(d, "key", None) for d in at.dataframe]
    for d in at.dataframe:  # no person-level columns anywhere
        assert not {"lat", "lon", "occurred_at", "hours_ago"} & set(d.value.columns)
    spec = deck_spec(at)
    areas = layer(spec, "outreach-cells")["data"]
    ref = outreach_table(load_incidents(app_inputs["incidents"]), None, Query(res=8), "public")
    assert len(areas) == len(ref)
    assert all("suppressed" in a["tip"] or "72 h: 0" in a["tip"] for a in areas)
    # a date, never the time of an overdose
    text = " ".join(c.value for c in at.caption)
    assert "Data through 2026-11-15" in text
    assert not re.search(r"\b\d{1,2}:\d{2}\b", text)
    shown = at.dataframe[0].value
    for h in (24, 48, 72):
        assert not shown[f"last {h} h"].isin([str(n) for n in range(1, 10)]).any()


def test_restricted_outreach_shows_line_list(app_inputs):
    at = run_page("outreach", session={"tier": "restricted"})
    assert metric(at, "Nonfatal overdoses, last 72 h") == str(len(RECENT))
    assert metric(at, "Nonfatal overdoses, last 24 h") == str(sum(h - 2 < 24 for h, _, _ in RECENT))
    lst = at.dataframe[1].value
    assert len(lst) == len(RECENT)
    newest = min(h for h, _, _ in RECENT)  # "as of" is the latest report, not the clock
    assert np.allclose(sorted(lst["hours_ago"]), sorted(float(h - newest) for h, _, _ in RECENT))
    pts = layer(deck_spec(at), "restricted-incidents")["data"]
    assert len(pts) == len(RECENT)  # the points appear only after login
    at.radio(key="outreach_hours").set_value(24).run()
    assert len(at.dataframe[1].value) == sum(h - 2 < 24 for h, _, _ in RECENT)
