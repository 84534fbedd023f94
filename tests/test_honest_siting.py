"""Issue 9: siting stops adding sites when the next one covers nothing, and says so."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest

from layers.siting_plan import plan_sites


@pytest.mark.parametrize("method", ["heuristic", "exact", "greedy"])
def test_plan_stops_when_the_next_site_covers_nothing(method):
    # two demand cells 5 km apart; candidates on each (and a useless far one)
    a = h3.latlng_to_cell(36.00, -79.80, 8)
    b = h3.latlng_to_cell(36.045, -79.80, 8)
    demand = pd.DataFrame({"h3": [int(a, 16), int(b, 16)], "count": [7.0, 3.0]})
    demand["h3"] = demand["h3"].astype(np.uint64)
    pts = [h3.cell_to_latlng(a), h3.cell_to_latlng(b), (36.3, -79.5), h3.cell_to_latlng(a)]
    cand = pd.DataFrame({"site_id": ["A", "B", "far", "A2"], "lat": [p[0] for p in pts],
                         "lon": [p[1] for p in pts], "open_24_7": True})
    plan = plan_sites(demand, cand, 4, 400.0, method=method)
    assert plan.sites["site_id"].tolist() == ["A", "B"]
    assert plan.sites["marginal_covered"].tolist() == [7.0, 3.0]
    assert plan.summary["n_chosen"] == 2 and plan.summary["stopped_early"]
    assert "Stopped after 2 of 4 site(s)" in plan.summary["note"]
    assert plan.summary["covered_after"] == 10.0
    full = plan_sites(demand, cand, 2, 400.0, method=method)
    assert not full.summary["stopped_early"] and full.summary["note"] == ""
