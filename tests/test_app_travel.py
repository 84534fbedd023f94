# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: travel mode on the Gaps and Siting pages (issue 11) — figures equal the products."""

from __future__ import annotations

import pytest
from app_helpers import app_env, app_inputs, deck_spec, layer, metric, run_page  # noqa: F401

from data import DATA_DIR
from data._roads import ROADS_FILE


@pytest.fixture
def sample_env(app_env, monkeypatch):
    for name in ("incidents", "resources", "candidates", "boundary"):
        suffix = "geojson" if name == "boundary" else "csv"
        monkeypatch.setenv(f"GAPMAP_{name.upper()}", str(DATA_DIR / f"sample_{name}.{suffix}"))
    monkeypatch.setenv("GAPMAP_ROADS", str(DATA_DIR / ROADS_FILE))


R = {"tier": "restricted"}


def test_gaps_page_walk_mode(sample_env):
    at = run_page("gaps", session={**R, "gap_travel": "walk"})
    assert not at.exception
    spec = deck_spec(at)
    outline = layer(spec, "reach-naloxone")
    assert outline["@@type"] == "PolygonLayer" and len(outline["data"]) > 0
    table = at.dataframe[0].value
    assert (table["access measured by"] == "walking time on streets").all()
    col = table["walk to naloxone (min)"]
    assert col.str.fullmatch(r"\d+ min|no route").all()
    assert any("walking time on streets" in m.value for m in at.markdown)


def test_siting_page_walk_mode_equals_the_product(sample_env):
    at = run_page("siting", session={**R, "site_travel": "walk", "site_minutes": 10})
    assert not at.exception
    import pandas as pd

    from geo.ingest import read_incidents
    from products.query import Query
    from products.siting import siting_plan

    inc = read_incidents(DATA_DIR / "sample_incidents.csv").incidents
    res = pd.read_csv(DATA_DIR / "sample_resources.csv")
    cand = pd.read_csv(DATA_DIR / "sample_candidates.csv", dtype={"site_id": "string"})
    shown = at.dataframe[0].value
    assert (shown["coverage measured by"] == "walking time on streets").all()
    spec = deck_spec(at)
    assert layer(spec, "reach-chosen")["data"] and layer(spec, "reach-existing")["data"]
    end = inc["occurred_at"].max().normalize() + pd.Timedelta(days=1)
    q = Query(res=8, start=end - pd.Timedelta(days=365), end=end)  # the sidebar's default
    ref = siting_plan(inc, res, cand, q, "restricted", k=5,
                      travel="walk", roads=DATA_DIR / ROADS_FILE, minutes=10, curve=False)
    assert shown["site_id"].tolist() == ref.sites["site_id"].tolist()
    assert metric(at, "Covered with") == f"{ref.summary['coverage_pct_after']:.1f}%"
    assert any("looks covered in a straight line" in m.value for m in at.info)
