# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""The planning products (gaps, siting, outreach) through every door.

(a) restricted siting = an independent HiGHS optimum on the sample; the CLI summary, the
    dashboard and the product agree; the gap table's CLI rows = the briefing's top rows;
(b) public: the coverage curve is recomputed exactly from the published cell table (so it
    carries nothing the table does not); outreach has no count 1-9 and no time of day;
(c) window edges: a date-only 1 January incident is in a window starting 1 January, an
    incident at ``end`` is not.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from app_helpers import app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401
from scipy.optimize import Bounds, LinearConstraint, milp

from data import get_path
from geo.cells import cells_to_latlng
from geo.grid import cells_at
from geo.ingest import read_incidents
from geo.privacy import impute_hidden, release_date
from layers.coverage import coverage_matrix, covered_by_any
from layers.sites import load_resources
from layers.siting_plan import plan_sites
from products.gaps import gap_table
from products.hotspots import published_total
from products.outreach import outreach_end, outreach_table, outreach_totals
from products.query import Query, select
from products.siting import siting_plan


@pytest.fixture(scope="module")
def sample():
    inc = read_incidents(get_path("incidents")).incidents
    res = load_resources([get_path("resources")]).sites
    cand = pd.read_csv(get_path("candidates"), dtype={"site_id": "string"})
    return inc, res, cand


def _highs_optimum(inc, res, cand, q, k, radius):
    """Independent MCLP: scipy.optimize.milp (HiGHS) on exact point-in-hexagon counts."""
    at = cells_at(select(inc, q), q.res)
    cells, w = np.unique(at[at != 0], return_counts=True)
    lat, lon = cells_to_latlng(cells)
    cov = coverage_matrix(lat, lon, cand["lat"], cand["lon"], radius).tocsr()
    nal = res[res["kind"].astype(str) == "naloxone"]
    free = ~covered_by_any(lat, lon, nal["lat"], nal["lon"], radius)
    n, m = free.sum(), cov.shape[1]
    c = np.r_[np.zeros(m), -w[free].astype(float)]  # variables: x (sites), y (free cells)
    link = sp.hstack([-cov[free], sp.identity(n)])  # y_i <= sum_j C_ij x_j
    card = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n))])
    out = milp(c, constraints=[LinearConstraint(link, -np.inf, 0), LinearConstraint(card, k, k)],
               integrality=np.r_[np.ones(m), np.zeros(n)], bounds=Bounds(0, 1))
    assert out.success
    return -out.fun, float(w[~free].sum()), float(w.sum())


def test_restricted_exact_siting_equals_highs_optimum(sample):
    inc, res, cand = sample
    q = Query(res=8, start="2025-11-17", end="2026-11-16")
    plan = siting_plan(inc, res, cand, q, "restricted", 4, 400.0, True, curve=False)
    best, before, total = _highs_optimum(inc, res, cand, q, 4, 400.0)
    s = plan.summary
    assert s["status"] == "optimal" and s["objective"] == pytest.approx(best)
    assert s["covered_before"] == pytest.approx(before) and s["total_burden"] == total
    assert plan.sites["marginal_covered"].sum() == pytest.approx(best)


def test_siting_cli_dashboard_product_agree(app_inputs, tmp_path):
    from cli import main

    inc = load_incidents(app_inputs["incidents"])
    last = pd.to_datetime(inc["occurred_at"]).max().normalize()
    end = last + pd.Timedelta(days=1)  # restricted sidebar: "Last 365 days" to the data end
    q = Query(res=8, start=end - pd.Timedelta(days=365), end=end)
    plan = siting_plan(inc, load_resources([app_inputs["resources"]]).sites,
                       pd.read_csv(app_inputs["candidates"], dtype={"site_id": "string"}), q,
                       "restricted", 5, 400.0, False)
    at = run_page("siting", session={"tier": "restricted"})
    assert metric(at, "Covered with") == f"{plan.summary['coverage_pct_after']:.1f}%"
    assert metric(at, "Overdoses newly covered") == f"{plan.summary['objective']:,.0f}"
    assert at.dataframe[0].value["site_id"].tolist() == plan.sites["site_id"].tolist()
    out, summ = tmp_path / "s.csv", tmp_path / "s.json"
    assert main(["site", "--incidents", str(app_inputs["incidents"]), "--resources",
                 str(app_inputs["resources"]), "--candidates", str(app_inputs["candidates"]),
                 "--k", "5", "--radius-m", "400", "--tier", "restricted",
                 "--start", f"{q.start:%Y-%m-%d}", "--end", f"{q.end:%Y-%m-%d}",
                 "--out", str(out), "--summary", str(summ)]) == 0
    cli = json.loads(summ.read_text())
    for key in ("objective", "covered_before", "covered_after", "total_burden",
                "coverage_pct_after"):
        assert cli[key] == pytest.approx(plan.summary[key])
    assert pd.read_csv(out)["site_id"].tolist() == plan.sites["site_id"].tolist()


def test_gap_table_cli_equals_briefing_top_rows(app_inputs, tmp_path):
    from cli import main
    from report.sections import briefing_content

    inc = load_incidents(app_inputs["incidents"])
    sites = load_resources([app_inputs["resources"]]).sites
    end = release_date(pd.to_datetime(inc["occurred_at"]).max())
    out = tmp_path / "g.csv"
    assert main(["gaps", "--incidents", str(app_inputs["incidents"]), "--resources",
                 str(app_inputs["resources"]), "--boundary", str(app_inputs["boundary"]),
                 "--start", f"{end - pd.Timedelta(days=364):%Y-%m-%d}",
                 "--end", f"{end:%Y-%m-%d}", "--out", str(out)]) == 0
    cli = pd.read_csv(out)
    cli = cli[cli["gap_score"] > 0].head(6)
    content = briefing_content(inc, sites, str(app_inputs["boundary"]), tier="public", res=8)
    brief = content.gaps
    assert len(brief) == len(cli) > 0
    assert brief["gap_rank"].tolist() == cli["gap_rank"].tolist()
    assert brief["reason"].tolist() == cli["reason"].tolist()


def test_public_coverage_curve_is_a_function_of_the_published_table(sample):
    """The issue's case: last week, public. Recomputing from the published cells = the curve."""
    inc, res, cand = sample
    r = release_date(pd.to_datetime(inc["occurred_at"]).max())
    q = Query(res=8, start=r - pd.Timedelta(days=7), end=r)
    plan = siting_plan(inc, res, cand, q, "public", 5, 400.0, False)
    pub = plan.demand
    assert pub["count"].isna().any()  # hidden cells in a week
    total = published_total(select(inc, q), "public")
    weight = impute_hidden(pub["count"], 10, total)  # a reader can do this from public figures
    nal = res[res["kind"].astype(str) == "naloxone"]
    greedy = plan_sites(pub.assign(weight=weight), cand, int(plan.curve["k"].max()), 400.0,
                        existing=nal, weight="weight", method="greedy").result
    covered = greedy.covered_before + np.r_[0.0, np.cumsum(greedy.marginal)]
    assert plan.curve["covered_pct"].tolist() == [round(100 * c / weight.sum(), 1)
                                                  for c in covered]
    assert "covered" not in plan.curve.columns
    assert all(plan.summary[k] is None for k in ("covered_before", "objective", "upper_bound"))
    # shares of the public burden only: no per-site count, no "3 of 38"
    assert "marginal_covered" not in plan.sites.columns


def test_public_outreach_has_no_small_count_and_no_time(sample):
    inc, res, _ = sample
    for r in (6, 7, 8):
        t = outreach_table(inc, res, Query(res=r), "public")
        tot = outreach_totals(inc, Query(res=r), "public")
        for table in (t, tot):
            for c in ("n_24h", "n_48h", "n_72h"):
                v = pd.to_numeric(table[c]).dropna()
                assert not v.between(1, 9).any()
            assert not any(pd.api.types.is_datetime64_any_dtype(table[c]) for c in table)
    end = outreach_end(inc)
    assert end == end.normalize() == pd.Timestamp("2026-11-16")


def _edge_incidents(tmp_path):
    pd.DataFrame({
        "incident_id": ["jan1", "mid", "at_end"],
        "occurred_at": ["2026-01-01", "2026-01-15 13:20", "2026-02-01 00:00"],
        "lat": [36.07, 36.0701, 36.0702], "lon": [-79.79, -79.7901, -79.7902],
        "outcome": "fatal", "naloxone": "no", "source": "ems", "agency": "county ems",
    }).to_csv(tmp_path / "edge.csv", index=False)
    return read_incidents(tmp_path / "edge.csv").incidents


def test_window_edges_gaps_and_siting(tmp_path):
    inc = _edge_incidents(tmp_path)
    assert (inc["time_precision"].astype(str) == "day").sum() >= 1  # the date-only record
    pd.DataFrame({"site_id": ["n"], "name": ["Box"], "kind": ["naloxone"],
                  "subtype": ["naloxone_box"], "lat": [36.2], "lon": [-79.6]}).to_csv(
        tmp_path / "res.csv", index=False)
    sites = load_resources([tmp_path / "res.csv"]).sites
    q = Query(res=8, start="2026-01-01", end="2026-02-01")
    g = gap_table(inc, sites, q, "restricted", hotspots=None)
    assert int(g["count"].sum()) == 2  # 1 January (date only) in, 1 February 00:00 out
    assert g["reason"].iloc[0].startswith("2 overdoses in the 31 days to 2026-01-31")
    s = siting_plan(inc, sites, None, q, "restricted", 1, 400.0, False, curve=False)
    assert s.summary["total_burden"] == 2
    later = Query(res=8, start="2026-01-02", end="2026-02-02")
    assert int(gap_table(inc, sites, later, "restricted", hotspots=None)["count"].sum()) == 2
