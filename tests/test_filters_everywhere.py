"""Issue 10: the drug / age band / sex filters reach every product door.

Restricted tier: a product run with a filter equals the same product run on incidents
pre-filtered here by a plain pandas mask (not :func:`products.query.select`). Public tier:
combined filters are refused by every door; one drug is published through the gate (no count
1–9, every shown count within ±3 of the exact filtered count). CLI: ``gapmap areas --drug``
equals a shapely point-in-polygon count; bad values are one argparse sentence (exit 2).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from test_public_sweep import check_public_table

import cli
from data import get_path
from geo.areas import load_areas
from geo.ingest import read_incidents
from geo.privacy import gate as gate_module
from geo.privacy import release_date
from layers.sites import load_resources
from products.alerts import current_alerts
from products.area_gaps import area_gap_table
from products.areas import area_table
from products.breakdowns import breakdown_table
from products.clusters import cell_history, density_table
from products.gaps import gap_table
from products.hotspots import hotspot_table
from products.outreach import outreach_table
from products.overview import kpi_table, top_areas, weekly_table
from products.query import Query
from products.siting import siting_plan
from report.sections import briefing_content

DAY = pd.Timedelta(days=1)
COLS = {"drugs": "suspected_drug", "age_bands": "age_band", "sexes": "sex"}


def people_mask(df: pd.DataFrame, **filters) -> np.ndarray:
    """Plain pandas: rows whose drug / age band / sex is one of the given values (blank =
    "unknown"; the sample's values are already the canonical levels)."""
    m = np.ones(len(df), bool)
    for name, vals in filters.items():
        v = df[COLS[name]].astype("string").str.strip().str.lower().fillna("")
        m &= v.replace("", "unknown").isin(vals).to_numpy(bool)
    return m


@pytest.fixture(scope="module")
def inc():
    return read_incidents(get_path("incidents")).incidents


@pytest.fixture(scope="module")
def sites():
    return load_resources([get_path("resources")]).sites


@pytest.fixture(scope="module")
def nb():
    return load_areas(get_path("neighbourhoods"), "name", kind="neighbourhood")


@pytest.fixture(scope="module")
def window(inc):
    end = pd.to_datetime(inc["occurred_at"]).max().normalize() + DAY
    return end - 364 * DAY, end


FILTERS = {"drugs": ("fentanyl", "heroin"), "sexes": ("male",)}  # restricted may combine


def _num(s) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(float, na_value=np.nan)


def test_mask_is_not_trivial(inc):
    m = people_mask(inc, **FILTERS)
    assert 0.2 * len(inc) < m.sum() < 0.8 * len(inc)


def test_restricted_cell_products_equal_prefiltered(inc, window, sites):
    start, end = window
    sub = inc.loc[people_mask(inc, **FILTERS)]
    q, q0 = Query(res=8, start=start, end=end, **FILTERS), Query(res=8, start=start, end=end)
    bnd = gpd.read_file(get_path("boundary"))
    a = hotspot_table(inc, q, "restricted", boundary=bnd)
    b = hotspot_table(sub, q0, "restricted", boundary=bnd)
    pd.testing.assert_frame_equal(a, b)
    assert a["count"].sum() < hotspot_table(inc, q0, "restricted", boundary=bnd)["count"].sum()
    g, g0 = (gap_table(inc, sites, q, "restricted", boundary=bnd),
             gap_table(sub, sites, q0, "restricted", boundary=bnd))
    assert g["h3"].tolist() == g0["h3"].tolist()
    assert np.array_equal(_num(g["count"]), _num(g0["count"]))
    assert np.allclose(_num(g["gap_score"]), _num(g0["gap_score"]))
    d, d0 = (density_table(inc, q, "restricted", method="dbscan", eps_m=250.0, min_samples=10),
             density_table(sub, q0, "restricted", method="dbscan", eps_m=250.0, min_samples=10))
    pd.testing.assert_frame_equal(d, d0)
    cell = int(a.sort_values("count", ascending=False)["h3"].iloc[0])
    pd.testing.assert_frame_equal(cell_history(inc, q, "restricted", cell),
                                  cell_history(sub, q0, "restricted", cell))
    s, s0 = (siting_plan(inc, sites, None, q, "restricted", 3, 800.0, curve=False),
             siting_plan(sub, sites, None, q0, "restricted", 3, 800.0, curve=False))
    pd.testing.assert_frame_equal(s.demand, s0.demand)
    assert s.sites["site_id"].tolist() == s0.sites["site_id"].tolist()


def test_restricted_area_products_equal_prefiltered(inc, window, sites, nb):
    start, end = window
    m = people_mask(inc, **FILTERS)
    sub = inc.loc[m]
    q, q0 = Query(start=start, end=end, **FILTERS), Query(start=start, end=end)
    a, b = area_table(inc, nb, q, "restricted"), area_table(sub, nb, q0, "restricted")
    pd.testing.assert_frame_equal(a, b)
    # and a count by hand: points of the filtered incidents inside each polygon
    t = pd.to_datetime(inc["occurred_at"])
    win = inc.loc[m & ((t >= start) & (t < end)).to_numpy()]
    pts = shapely.points(win["lon"].to_numpy(float), win["lat"].to_numpy(float))
    polys = gpd.read_file(get_path("neighbourhoods")).set_index("name").geometry
    hand = [int(shapely.contains(polys[n], pts).sum()) for n in a["area"]]
    assert _num(a["count"]).astype(int).tolist() == hand
    ga, gb = (area_gap_table(inc, sites, nb, q, "restricted"),
              area_gap_table(sub, sites, nb, q0, "restricted"))
    pd.testing.assert_frame_equal(ga, gb)


def test_restricted_overview_alerts_outreach_equal_prefiltered(inc, window, sites):
    start, end = window
    sub = inc.loc[people_mask(inc, **FILTERS)]
    q, q0 = Query(start=start, end=end, **FILTERS), Query(start=start, end=end)
    k, k0 = kpi_table(inc, q, "restricted"), kpi_table(sub, q0, "restricted")
    for c in ("overdoses", "fatal", "nonfatal", "naloxone_yes", "prior_overdoses"):
        assert np.array_equal(_num(k[c]), _num(k0[c])), c
    t = pd.to_datetime(sub["occurred_at"])
    assert int(k["overdoses"].iloc[0]) == int(((t >= start) & (t < end)).sum())
    w, w0 = weekly_table(inc, q, "restricted"), weekly_table(sub, q0, "restricted")
    assert np.array_equal(_num(w["overdoses"]), _num(w0["overdoses"]))
    top, top0 = top_areas(inc, q, "restricted"), top_areas(sub, q0, "restricted")
    pd.testing.assert_frame_equal(top.drop(columns="count_prior"),
                                  top0.drop(columns="count_prior"))
    qe, qe0 = Query(end=end, **FILTERS), Query(end=end)
    al = current_alerts(inc, qe, "restricted", method="C2", res=7, days=28)
    al0 = current_alerts(sub, qe0, "restricted", method="C2", res=7, days=28)
    key = ["date", "area", "method"]
    pd.testing.assert_frame_equal(al.sort_values(key).reset_index(drop=True)[key + ["observed"]],
                                  al0.sort_values(key).reset_index(drop=True)[key + ["observed"]])
    o, o0 = (outreach_table(inc, sites, Query(end=end, **FILTERS), "restricted", hours=(720,)),
             outreach_table(sub, sites, Query(end=end), "restricted", hours=(720,)))
    pd.testing.assert_frame_equal(o, o0)
    assert al["observed"].sum() > 0 and o["n_720h"].sum() > 0  # not two empty tables


def test_overview_filter_on_reports_of_shared_events():
    """Rows that are reports of one event: the event counts when one report matches (the
    rows are filtered before they collapse, as select() does for every other product)."""
    t = pd.Timestamp("2026-03-02 10:00")
    df = pd.DataFrame({
        "incident_id": ["a1", "a2", "b1", "c1", "c2"],
        "event_id": ["A", "A", "B", "C", "C"],
        "occurred_at": [t, t + pd.Timedelta(hours=1), t, t, t],
        "lat": 36.0, "lon": -79.8, "outcome": "nonfatal", "naloxone": "yes",
        "source": ["ems", "police", "ems", "ems", "ems"],
        "suspected_drug": ["fentanyl", None, "heroin", "heroin", "fentanyl"],
        "age_band": "25-34", "sex": "male",
    })
    q = Query(start=pd.Timestamp("2026-03-01"), end=pd.Timestamp("2026-03-08"))
    count = lambda **f: int(kpi_table(df, Query(start=q.start, end=q.end, **f),  # noqa: E731
                                      "restricted")["overdoses"].iloc[0])
    assert count() == 3
    assert count(drugs=("fentanyl",)) == 2  # A (a1) and C (c2)
    assert count(drugs=("heroin",)) == 2  # B and C (c1)
    assert count(drugs=("unknown",)) == 1  # A (a2)
    assert count(drugs=("cocaine",)) == 0
    assert count(drugs=("fentanyl",), sources=("police",)) == 0  # a2 is police, no drug


def test_overview_filter_one_row_per_event_uses_cached_levels(inc):
    """The dashboard's prepared events (one row per event): the same counts as a mask."""
    from report.kpis import prepare_events, select_events

    prep = prepare_events(inc)
    assert prep.aligned
    for f in ({"drugs": ("fentanyl",)}, {"age_bands": ("unknown", "65+")},
              {"sexes": ("female",), "drugs": ("cocaine", "heroin")}):
        ev = select_events(prep, None, ("ems",), filters=Query(**f))
        want = people_mask(inc, **f) & (inc["source"].astype(str) == "ems").to_numpy()
        assert len(ev) == int(want.sum()), f
    assert set(prep.levels) == {"drug", "age", "sex"}  # computed once, kept


def test_restricted_briefing_honours_the_filters(inc, window):
    start, end = window
    f = {"drugs": ("fentanyl",), "age_bands": ("25-34", "35-44")}
    c = briefing_content(inc, tier="restricted", end=end, **f)
    assert c.query.drugs == ("fentanyl",) and c.query.age_bands == ("25-34", "35-44")
    assert "suspected drug fentanyl · age band 25-34/35-44" in c.query.describe()
    sub = inc.loc[people_mask(inc, **f)]
    k0 = kpi_table(sub, Query(end=end), "restricted")
    assert np.array_equal(_num(c.kpis["overdoses"]), _num(k0["overdoses"]))
    again = briefing_content(inc, tier="restricted", end=end, query=Query(**f))
    assert np.array_equal(_num(again.kpis["overdoses"]), _num(c.kpis["overdoses"]))
    m = hotspot_table(sub, Query(res=8, start=end - 365 * DAY, end=end), "restricted")
    assert int(c.map_table["count"].sum()) == int(m["count"].sum())


# ------------------------------------------------------------------ public tier
def test_public_refuses_combined_filters_at_every_door(inc, sites, nb):
    two = Query(drugs=("fentanyl", "heroin"))
    doors = {
        "hotspots": lambda: hotspot_table(inc, two, "public"),
        "gaps": lambda: gap_table(inc, sites, two, "public"),
        "areas": lambda: area_table(inc, nb, two, "public"),
        "area gaps": lambda: area_gap_table(inc, sites, nb, two, "public"),
        "kpis": lambda: kpi_table(inc, two, "public"),
        "weekly": lambda: weekly_table(inc, two, "public"),
        "top": lambda: top_areas(inc, two, "public"),
        "breakdown": lambda: breakdown_table(inc, two, "public"),
        "alerts": lambda: current_alerts(inc, two, "public"),
        "outreach": lambda: outreach_table(inc, sites, two, "public"),
        "siting": lambda: siting_plan(inc, sites, None, two, "public", 3, 800.0),
        "briefing": lambda: briefing_content(inc, tier="public", drugs=("fentanyl", "heroin")),
        "partner": lambda: area_table(inc, nb, Query(sexes=("male", "female")), "partner"),
    }
    for name, door in doors.items():
        with pytest.raises(ValueError, match="by all (drugs|sexes) or one of them"):
            door()
        assert name


def _within_gate(public, exact, where):
    """Shown counts: hidden where the exact count is 1–9, else within ±3 of it."""
    p, r = _num(public), _num(exact)
    assert not (((r >= 1) & (r <= 9)) & ~np.isnan(p)).any(), f"{where}: 1–9 shown"
    shown = ~np.isnan(p)
    assert shown.any(), f"{where}: nothing shown"
    assert (np.abs(p[shown] - r[shown]) <= 3).all(), f"{where}: more than ±3 off"
    assert (p[shown & (r == 0)] == 0).all(), f"{where}: zero perturbed"


def test_public_single_drug_goes_through_the_gate(inc, sites, nb, monkeypatch):
    calls = []
    real = gate_module._check_points_and_floor

    def spy(out, pol, cell_column):
        calls.append(pol.tier)
        return real(out, pol, cell_column)

    monkeypatch.setattr(gate_module, "_check_points_and_floor", spy)
    r = release_date(pd.to_datetime(inc["occurred_at"]).max())
    one = {"drugs": ("fentanyl",)}
    q, qr = Query(**one), Query(start=r - 364 * DAY, end=r, **one)
    pub = area_table(inc, nb, q, "public")
    check_public_table(pub, "areas")
    _within_gate(pub["count"], area_table(inc, nb, qr, "restricted")["count"], "areas")
    hs = hotspot_table(inc, Query(res=8, **one), "public")
    check_public_table(hs, "hotspots")
    ex = hotspot_table(inc, Query(res=8, start=qr.start, end=qr.end, **one), "restricted")
    _within_gate(hs.set_index("h3")["count"], ex.set_index("h3")["count"].reindex(hs["h3"]),
                 "hotspots")
    g = gap_table(inc, sites, Query(res=8, **one), "public")
    check_public_table(g, "gaps")
    k = kpi_table(inc, q, "public")
    check_public_table(k.reset_index(), "kpis")
    kr = kpi_table(inc, Query(end=r, **one), "restricted", windows=(7, 28, 364))
    _within_gate(k["overdoses"], kr["overdoses"], "kpis")
    assert calls and set(calls) == {"public"}
    # the filter changed the published figures (not the unfiltered table relabelled)
    assert not np.array_equal(_num(pub["count"]),
                              _num(area_table(inc, nb, Query(), "public")["count"]))


# ------------------------------------------------------------------ CLI
def test_cli_areas_drug_equals_point_in_polygon_count(tmp_path):
    out = tmp_path / "a.csv"
    assert cli.main(["areas", "--incidents", str(get_path("incidents")), "--areas",
                     str(get_path("neighbourhoods")), "--area-name", "name", "--tier",
                     "restricted", "--drug", "fentanyl", "--out", str(out)]) == 0
    got = pd.read_csv(out).set_index("area")["count"]
    # independent: the raw export, de-duplicated by the ingest (events), in pandas + shapely
    inc = read_incidents(get_path("incidents")).incidents
    fen = inc.loc[inc["suspected_drug"].astype("string").eq("fentanyl").fillna(False)]
    pts = shapely.points(fen["lon"].to_numpy(float), fen["lat"].to_numpy(float))
    polys = gpd.read_file(get_path("neighbourhoods")).set_index("name").geometry
    for name, poly in polys.items():
        assert int(got[name]) == int(shapely.contains(poly, pts).sum()), name
    assert got.sum() < len(inc)


def test_cli_filters_public_one_value_and_combinations(tmp_path, capsys):
    base = ["--incidents", str(get_path("incidents")), "--out"]
    out = tmp_path / "c.csv"
    assert cli.main(["cells", *base, str(out), "--drug", "fentanyl", "--sex", "male"]) == 0
    check_public_table(pd.read_csv(out), "cells --drug")
    capsys.readouterr()
    assert cli.main(["hotspots", *base, str(tmp_path / "h.csv"), "--drug", "fentanyl,heroin"]) == 2
    err = capsys.readouterr().err
    assert "public outputs filter by all drugs or one of them" in err
    assert "Traceback" not in err
    # the restricted tier combines (repeat the option or give a comma list)
    assert cli.main(["cells", *base, str(out), "--tier", "restricted", "--drug", "fentanyl",
                     "--drug", "heroin", "--age", "25-34,35-44"]) == 0
    inc = read_incidents(get_path("incidents")).incidents
    want = people_mask(inc, drugs=("fentanyl", "heroin"), age_bands=("25-34", "35-44"))
    assert int(pd.read_csv(out)["count"].sum()) == int(want.sum())


@pytest.mark.parametrize("argv, words", [
    (["--drug", "fentanil"], "unknown suspected drug 'fentanil': choose from fentanyl, "),
    (["--age", "30-40"], "unknown age band '30-40': choose from 0-14, 15-24"),
    (["--sex", "x"], "unknown sex 'x': choose from female, male, other, unknown"),
    (["--outcome", "dead"], "unknown outcome 'dead': choose from fatal, nonfatal, unknown"),
    (["--sources", "fire"], "unknown source 'fire': choose from ems, police, hospital"),
])
def test_cli_bad_filter_value_is_one_sentence(argv, words, tmp_path, capsys):
    for cmd in ("cells", "areas", "alerts", "brief", "site", "gaps", "hotspots"):
        with pytest.raises(SystemExit) as exc:
            cli.main([cmd, "--incidents", "x.csv", *argv, "--out", str(tmp_path / "o.csv")])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert words in err, (cmd, err)
        assert "Traceback" not in err


def test_levels_of_maps_spellings_blanks_and_missing_values():
    """Hand-checkable: each distinct spelling is mapped once, then spread to its rows."""
    from products.breakdowns import LEVELS, levels_of

    df = pd.DataFrame({
        "suspected_drug": ["Fentanyl", " meth ", None, "", "kratom", "fentanyl + xylazine",
                           "Fentanyl", np.nan],
        "age_band": ["65 +", "<15", None, "25-34", "25-34", "", "abc", "65+"],
        "sex": pd.Series(["M", "f", None, "Other", "male", "", "M", "x"], dtype="category"),
    })
    name = {fam: [LEVELS[fam][c] for c in levels_of(df, fam)] for fam in LEVELS}
    assert name["drug"] == ["fentanyl", "methamphetamine", "unknown", "unknown", "other",
                            "fentanyl+xylazine", "fentanyl", "unknown"]
    assert name["age"] == ["65+", "0-14", "unknown", "25-34", "25-34", "unknown", "unknown",
                           "65+"]
    assert name["sex"] == ["male", "female", "unknown", "other", "male", "unknown", "male",
                           "unknown"]
    empty = pd.DataFrame({"suspected_drug": [None, None], "sex": [np.nan, np.nan]})
    assert levels_of(empty, "drug").tolist() == [LEVELS["drug"].index("unknown")] * 2
    assert levels_of(empty.iloc[:0], "sex").tolist() == []
