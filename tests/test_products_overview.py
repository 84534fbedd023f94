# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""products.overview on the sample and the app inputs: exact restricted values, one truth for
the dashboard and the briefing, the public rules and the differencing attacks they stop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

from geo.privacy import release_date
from products.overview import kpi_table, top_areas, weekly_table
from products.query import Query


@pytest.fixture(scope="module")
def sample():
    from data import get_path
    from geo.ingest import read_incidents

    return read_incidents(get_path("incidents")).incidents


def _days(df):
    return pd.to_datetime(df["occurred_at"]).dt.floor("D")


def test_restricted_kpis_and_weekly_equal_a_pandas_hand_count(sample):
    assert sample["event_id"].is_unique  # one row per event: a plain groupby is the reference
    end = pd.Timestamp("2026-11-16")
    k = kpi_table(sample, Query(end=end), "restricted", windows=(7, 30, 365))
    t = pd.to_datetime(sample["occurred_at"])
    for w in (7, 30, 365):
        cur = sample[(t >= end - pd.Timedelta(days=w)) & (t < end)]
        ref = cur.groupby("outcome").size()
        assert k.loc[w, "overdoses"] == len(cur)
        assert k.loc[w, "fatal"] == ref.get("fatal", 0)
        assert k.loc[w, "nonfatal"] == ref.get("nonfatal", 0)
        assert k.loc[w, "naloxone_yes"] == (cur["naloxone"] == "yes").sum()
        prior = sample[(t >= end - pd.Timedelta(days=2 * w)) & (t < end - pd.Timedelta(days=w))]
        assert k.loc[w, "prior_overdoses"] == len(prior)
    wk = weekly_table(sample, Query(end=end), "restricted")
    week = ((end - _days(sample)).dt.days - 1) // 7  # 0 = the last week
    ref = sample[(week >= 0) & (week < 52)].groupby(week).size()
    assert wk["overdoses"].to_numpy()[::-1].tolist() == ref.reindex(range(52), fill_value=0
                                                                      ).tolist()
    # the outcome filter applies to the trend
    fat = weekly_table(sample, Query(end=end, outcomes=("fatal",)), "restricted")
    assert (fat["overdoses"] == wk["fatal"]).all()


def test_window_edges_last_day_before_end_counts_end_does_not():
    df = pd.DataFrame({
        "occurred_at": pd.to_datetime(["2026-11-15 23:59:59", "2026-11-16 00:00:00",
                                       "2026-11-09 00:00:00", "2026-11-08 23:59:59"]),
        "outcome": "nonfatal", "naloxone": "yes", "lat": 36.07, "lon": -79.79,
        "source": "ems",
    })
    k = kpi_table(df, Query(start="2026-11-09", end="2026-11-16"), "restricted")
    assert k.loc[7, "overdoses"] == 2 and k.loc[7, "prior_overdoses"] == 1
    w = weekly_table(df, Query(end="2026-11-16"), "restricted", weeks=2)
    assert w["overdoses"].tolist() == [1, 2]
    top = top_areas(df, Query(res=7, start="2026-11-09", end="2026-11-16"), "restricted")
    assert top["count"].tolist() == [2] and top["count_prior"].tolist() == [1]


def _no_small(values) -> None:
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    assert not ((v >= 1) & (v <= 9)).any(), v[(v >= 1) & (v <= 9)].tolist()


def test_public_tables_show_no_count_1_to_9_and_no_time(sample):
    k = kpi_table(sample, Query(), "public")
    assert list(k.index) == [7, 28, 364]
    r = release_date(sample["occurred_at"].max())
    assert (k["end"] == r).all()  # release windows end at the release date
    w = weekly_table(sample, Query(), "public")
    top = top_areas(sample, Query(res=8), "public", n=20)
    for tab in (k, w, top):
        for c in tab.columns:
            if str(c).startswith(("overdoses", "fatal", "nonfatal", "unknown", "naloxone_yes",
                                  "prior_overdoses", "prior_fatal", "prior_nonfatal",
                                  "prior_naloxone_yes", "count", "n_")) and "pct" not in c \
                    and "change" not in c:  # a change of published counts may be small
                _no_small(tab[c])
            if pd.api.types.is_datetime64_any_dtype(tab[c]):
                assert (tab[c] == tab[c].dt.normalize()).all(), c  # dates, never times
    assert (w.index == w.index.normalize()).all()
    # shares and changes are blank wherever a side is hidden
    for side in ("naloxone_yes", "overdoses"):
        assert k.loc[k[side].isna(), "naloxone_given_pct"].isna().all()
    for f in ("overdoses", "fatal", "nonfatal"):
        hid = k[f].isna() | k[f"prior_{f}"].isna()
        assert k.loc[hid, f"{f}_change"].isna().all()


def test_public_share_and_change_are_computed_from_published_counts(sample):
    k = kpi_table(sample, Query(), "public")
    ok = k["naloxone_given_pct"].notna()
    assert ok.any()
    np.testing.assert_allclose(k.loc[ok, "naloxone_given_pct"].astype(float),
                               100 * k.loc[ok, "naloxone_yes"].astype(float)
                               / k.loc[ok, "overdoses"].astype(float))
    ch = k["overdoses_change"].notna()
    assert (k.loc[ch, "overdoses_change"] == k.loc[ch, "overdoses"] - k.loc[ch, "prior_overdoses"]
            ).all()


def test_attack_year_minus_weeks_does_not_give_the_hidden_remainder(sample):
    """364-day total − Σ published weeks ≠ Σ hidden weeks: published numbers are perturbed,
    and the same events give the same published number in the KPI and the trend."""
    hits, tries = 0, 0
    for q in (Query(), Query(outcomes=("fatal",)), Query(outcomes=("nonfatal",)),
              Query(sources=("ems",)), Query(sources=("police",))):
        k = kpi_table(sample, q, "public")
        w = weekly_table(sample, q, "public")
        wr = weekly_table(sample, Query(end=k["end"].iloc[0], outcomes=q.outcomes,
                                        sources=q.sources), "restricted")
        # same events, same published number: the 7-day KPI is the last week
        assert k.loc[7, "overdoses"] is pd.NA and w["overdoses"].iloc[-1] is pd.NA or \
            k.loc[7, "overdoses"] == w["overdoses"].iloc[-1]
        shown = w["overdoses"].notna()
        busy = shown & (wr["overdoses"] > 0)
        if busy.sum() >= 5:  # shown non-zero weeks are perturbed, not exact
            assert (w.loc[busy, "overdoses"] != wr.loc[busy, "overdoses"]).sum() > 0
        if pd.isna(k.loc[364, "overdoses"]) or shown.all():
            continue
        tries += 1
        guess = int(k.loc[364, "overdoses"]) - int(w.loc[shown, "overdoses"].sum())
        hits += guess == int(wr.loc[~shown, "overdoses"].sum())
    assert tries >= 2 and hits < tries


def test_dashboard_kpis_equal_the_briefing(sample, app_inputs):
    from report.sections import briefing_content

    inc = load_incidents(app_inputs["incidents"])
    content = briefing_content(inc, res=7)
    at = run_page()  # public default window: the last 52 weeks
    row = content.kpis.loc[364]
    for label, col in (("Overdoses", "overdoses"), ("Fatal", "fatal"), ("Nonfatal", "nonfatal")):
        v = row[col]
        assert metric(at, f"{label}, 364 d") == ("suppressed" if pd.isna(v) else f"{int(v):,}")
    # restricted: the dashboard's "Last 365 days" = the briefing's 365-day row
    at = run_page(session={"tier": "restricted"})
    r = briefing_content(inc, res=7, tier="restricted").kpis.loc[365]
    assert metric(at, "Overdoses, 365 d") == f"{int(r['overdoses']):,}"
    assert metric(at, "Fatal, 365 d") == f"{int(r['fatal']):,}"
