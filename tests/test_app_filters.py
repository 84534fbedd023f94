# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest, issue 10: choosing a suspected drug in the sidebar changes the Gaps and Areas
tables to the filtered product's numbers (public tier: one drug, through the gate)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, load_incidents, run_page  # noqa: F401

from data import get_path
from geo.areas import load_areas
from geo.cells import cells_to_str
from geo.privacy import release_date
from layers.sites import load_resources
from products.areas import area_table
from products.gaps import gap_table
from products.query import Query


@pytest.fixture()
def sample_env(monkeypatch):
    """The bundled sample (it records suspected drugs; the synthetic app inputs do not)."""
    for name in ("incidents", "resources", "boundary", "candidates", "population"):
        monkeypatch.setenv(f"GAPMAP_{name.upper()}", str(get_path(name)))
    inc = load_incidents(get_path("incidents"))
    r = release_date(pd.to_datetime(inc["occurred_at"]).max())  # sidebar: last 52 weeks
    return inc, r


def _choose_drug(at, drug: str):
    at.selectbox(key="public_drugs").set_value(drug).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Filtered to suspected drug: {drug}" in i.value for i in at.info)
    return at


def test_gaps_page_table_follows_the_drug_filter(sample_env):
    inc, r = sample_env
    at = run_page("gaps")
    before = at.dataframe[0].value
    _choose_drug(at, "heroin")
    shown = at.dataframe[0].value
    bnd = gpd.read_file(get_path("boundary"))
    ref = gap_table(inc, load_resources([get_path("resources")]).sites,
                    Query(res=8, start=r - pd.Timedelta(days=364), end=r, drugs=("heroin",)),
                    "public", boundary=bnd)
    n = min(200, len(ref))
    assert shown["cell"].tolist() == cells_to_str(ref["h3"].to_numpy(np.uint64)).tolist()[:n]
    assert np.allclose(shown["gap score"], ref["gap_score"].head(n).round(3))
    assert shown["reason"].tolist() == ref["reason"].head(n).tolist()
    assert shown["cell"].tolist() != before["cell"].tolist()  # the table did change


def test_areas_page_table_follows_the_drug_filter(sample_env):
    inc, r = sample_env
    at = run_page("areas")
    before = at.dataframe[0].value
    _choose_drug(at, "fentanyl")
    shown = at.dataframe[0].value
    nb = load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood")
    q = Query(start=r - pd.Timedelta(days=364), end=r, drugs=("fentanyl",))
    ref = area_table(inc, nb, q, "public")
    assert shown["area"].tolist() == ref["area"].tolist()
    pd.testing.assert_series_equal(shown["count"], ref["count"], check_names=False)
    assert not shown["count"].equals(before["count"])
    exact = area_table(inc, nb, q, "restricted")["count"].to_numpy(float)
    v = pd.to_numeric(shown["count"]).to_numpy(float, na_value=np.nan)
    assert np.isnan(v[(exact >= 1) & (exact <= 9)]).all()  # 1-9 fentanyl overdoses: hidden
    assert (np.abs(v - exact)[~np.isnan(v)] <= 3).all()


def test_public_pages_with_one_drug_show_no_small_counts_or_times(sample_env):
    """The public sweep's checks on every page with the sidebar narrowed to one drug."""
    import json
    import re

    from app_helpers import ROOT
    from test_app_public_sweep import _check_deck, _check_vega
    from test_public_sweep import TIME, check_public_table

    pages = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
    for page in pages:
        at = run_page(page, session={"public_drugs": "heroin", "scan_on": False})
        if page not in ("data", "evaluation"):
            assert any("Filtered to suspected drug: heroin" in i.value for i in at.info), page
        for i, df in enumerate(at.dataframe):
            check_public_table(df.value, f"{page} table {i}")
        for i, el in enumerate(at.get("deck_gl_json_chart")):
            spec = json.loads(el.proto.json)
            # named places (towns from the places file) are public places, like sites
            spec["layers"] = [lyr for lyr in spec["layers"]
                              if not str(lyr.get("id", "")).endswith("places-dots")]
            _check_deck(spec, f"{page} map {i}")
        for i, el in enumerate(at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")):
            _check_vega(el, f"{page} chart {i}")
        for t in [m.value for m in at.markdown] + [c.value for c in at.caption]:
            assert not TIME.search(str(t)), f"{page}: time of day in {t!r}"
        for m in at.metric:
            if re.search(r"overdose|fatal|death|event|incident|case", m.label, re.I):
                v = str(m.value).replace(",", "")
                assert not re.fullmatch(r"[1-9]", v), f"{page}: metric {m.label} shows {v}"
