# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""products.breakdowns: weekly counts by suspected drug / age band / sex equal a pandas count,
the public tier perturbs, suppresses 1–9 and suppresses complementarily, the public filter
rule covers the new filters, the planted fentanyl+xylazine batch shows on the Overview."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, run_page  # noqa: F401

from geo.privacy import with_record_keys
from geo.privacy.gate import FAMILY_PREFIXES
from products.alerts import current_alerts
from products.breakdowns import LEVELS, breakdown_table, column_name
from products.query import Query, check_filters

BATCH = pd.Timestamp("2026-10-05")  # data/README.md: S1, 2026-10-05 … 10-11, 80% fentanyl+xylazine


@pytest.fixture(scope="module")
def sample():
    from data import get_path
    from geo.ingest import read_incidents

    return with_record_keys(read_incidents(get_path("incidents")).incidents)


def test_gate_families_name_the_product_columns():
    for fam, levels in LEVELS.items():
        assert [column_name(fam, lv) for lv in levels] == list(FAMILY_PREFIXES[fam])


@pytest.mark.parametrize("by", ["drug", "age", "sex"])
def test_restricted_weekly_counts_equal_a_pandas_count(sample, by):
    tab = breakdown_table(sample, Query(), "restricted", by=by, weeks=12)
    col = {"drug": "suspected_drug", "age": "age_band", "sex": "sex"}[by]
    t = pd.to_datetime(sample["occurred_at"])
    end = t.max().normalize() + pd.Timedelta(days=1)
    assert tab["week_start"].iloc[-1] == end - pd.Timedelta(days=7)
    for _, r in tab.iterrows():
        inweek = (t >= r["week_start"]) & (t < r["week_start"] + pd.Timedelta(days=7))
        vals = sample.loc[inweek, col].fillna("unknown")
        assert r["count"] == inweek.sum()
        for name, level in tab.attrs["levels"].items():
            if level == "other":
                want = (~vals.isin(LEVELS[by])).sum()
            else:
                want = (vals == level).sum()
            assert r[name] == want, (r["week_start"], level)
        assert sum(r[n] for n in tab.attrs["levels"]) == r["count"]


def test_planted_batch_is_the_peak_week_of_fentanyl_xylazine(sample):
    for tier in ("restricted", "public"):
        tab = breakdown_table(sample, Query(), tier, weeks=12)
        fx = tab["n_drug_fentanyl_xylazine"].astype("Float64")
        peak = tab.loc[fx.fillna(0).to_numpy(float).argmax(), "week_start"]
        assert peak == BATCH, tier
        assert fx[tab["week_start"] == BATCH].iloc[0] >= 12  # 25 planted, 80% of them


def test_public_has_no_1_to_9_and_hides_a_second_cell(sample):
    exact = breakdown_table(sample, Query(), "restricted", weeks=20)
    pub = breakdown_table(sample, Query(), "public", weeks=20)
    names = list(pub.attrs["levels"])
    vals = pub[["count", *names]].astype("Float64").to_numpy(float, na_value=np.nan)
    shown = vals[~np.isnan(vals)]
    assert not ((shown >= 1) & (shown <= 9)).any()
    assert (np.abs(pub["count"].astype(float) - exact["count"]) <= 3).all()
    # complementary suppression: a shown total never has exactly one hidden member
    hid = pub[names].isna().sum(axis=1)
    assert not ((hid == 1) & pub["count"].notna()).any()


def test_drug_filter_and_the_public_rule(sample):
    q = Query(drugs=("fentanyl+xylazine",))
    tab = breakdown_table(sample, q, "restricted", weeks=12)
    others = [c for c in tab.attrs["levels"] if c != "n_drug_fentanyl_xylazine"]
    assert (tab[others] == 0).all().all()
    assert (tab["count"] == tab["n_drug_fentanyl_xylazine"]).all()
    with pytest.raises(ValueError, match="all drugs or one"):
        check_filters(Query(drugs=("fentanyl", "heroin")), "public")
    with pytest.raises(ValueError, match="unknown sexes"):
        Query(sexes=("x",))
    check_filters(Query(drugs=("fentanyl", "heroin")), "restricted")


def test_bad_batch_alert_on_the_drug_filtered_query(sample):
    tab = current_alerts(sample, Query(drugs=("fentanyl+xylazine",)), "restricted",
                         method="C2", res=7, days=91)
    whole = tab[(tab["area"] == "whole area") & (tab["severity"] == "alert")]
    days = pd.to_datetime(whole["date"])
    assert ((days >= BATCH) & (days < BATCH + pd.Timedelta(days=7))).any()


def test_overview_shows_the_planted_batch(monkeypatch):
    from data import get_path

    monkeypatch.setenv("GAPMAP_INCIDENTS", str(get_path("incidents")))
    for tier in ("public", "restricted"):
        at = run_page(session={"tier": tier, "scan_on": False})
        tab = next(d.value for d in at.dataframe
                   if "fentanyl+xylazine" in d.value.columns and "week_start" in d.value.columns)
        row = tab[tab["week_start"] == f"{BATCH:%Y-%m-%d}"].iloc[0]
        assert int(row["fentanyl+xylazine"]) >= 12
        others = tab[tab["week_start"] != f"{BATCH:%Y-%m-%d}"]["fentanyl+xylazine"]
        assert all(str(v) == "<10" or int(v) < 5 for v in others)
        if tier == "restricted":
            warn = [w.value for w in at.warning]
            assert any("fentanyl+xylazine spike alert" in w for w in warn), warn


def test_hotspots_page_takes_the_drug_filter(monkeypatch, sample):
    from data import get_path

    got = {}

    def fake(label, data, file_name=None, *args, **kwargs):
        got[str(file_name)] = data() if callable(data) else data
        return False

    import io

    import streamlit

    monkeypatch.setattr(streamlit, "download_button", fake)
    monkeypatch.setenv("GAPMAP_INCIDENTS", str(get_path("incidents")))
    at = run_page("hotspots", session={"tier": "restricted", "drugs": ["fentanyl+xylazine"]})
    assert any("Filtered to suspected drug: fentanyl+xylazine" in i.value for i in at.info)
    tab = pd.read_csv(io.BytesIO(got["gapmap_hotspots.csv"]))
    t = pd.to_datetime(sample["occurred_at"])
    end = t.max().normalize() + pd.Timedelta(days=1)
    inwin = (t >= end - pd.Timedelta(days=365)) & (t < end)
    want = int((inwin & (sample["suspected_drug"] == "fentanyl+xylazine")).sum())
    assert int(tab["count"].sum()) == want
