"""Issue 9, "showing only what the data holds" on the overview products: unknown is not zero,
no comparison against periods without data, unique area labels. Small hand-checkable fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from products.overview import (
    KNOWN_FULL_PCT,
    KNOWN_MIN_PCT,
    field_status,
    kpi_table,
    top_areas,
    unique_labels,
    weekly_table,
)
from products.query import Query


def _frame(days, outcome="unknown", naloxone="unknown", start="2026-09-01"):
    t = pd.Timestamp(start) + pd.to_timedelta(np.asarray(days), unit="D") + pd.Timedelta(hours=12)
    n = len(t)
    return pd.DataFrame({"occurred_at": t, "outcome": outcome, "naloxone": naloxone,
                         "lat": 36.07, "lon": -79.79, "source": "ems"})[:n]


def test_field_status_thresholds():
    assert KNOWN_MIN_PCT == 50 and KNOWN_FULL_PCT == 95
    assert field_status(0) == "not recorded"
    assert field_status(49.9) == "not recorded"
    assert field_status(50) == "partial"
    assert field_status(94.9) == "partial"
    assert field_status(95) == "recorded"
    assert field_status(pd.NA) == "recorded"  # hidden counts: we cannot tell


def test_unrecorded_outcome_and_naloxone_read_not_recorded():
    df = _frame(np.arange(60) % 30)  # 60 events in 30 days, nothing about outcome/naloxone
    k = kpi_table(df, Query(start="2026-09-16", end="2026-10-01"), "restricted")
    r = k.iloc[0]
    assert r["overdoses"] == 30 and r["fatal"] == 0
    assert r["outcome_known_pct"] == 0 and r["outcome_status"] == "not recorded"
    assert r["naloxone_known_pct"] == 0 and r["naloxone_status"] == "not recorded"
    assert pd.isna(r["fatal_change"]) and pd.isna(r["naloxone_given_pct_change"])
    assert r["overdoses_change"] == 0  # the total is still compared: both halves covered


def test_partial_outcome_gives_the_share_known():
    out = ["fatal"] * 2 + ["nonfatal"] * 6 + ["unknown"] * 2  # 80% known
    nal = ["yes"] * 10
    df = _frame(np.arange(10), outcome=out, naloxone=nal)
    r = kpi_table(df, Query(start="2026-09-01", end="2026-09-11"), "restricted").iloc[0]
    assert r["outcome_known_pct"] == 80.0 and r["outcome_status"] == "partial"
    assert r["naloxone_known_pct"] == 100.0 and r["naloxone_status"] == "recorded"


def test_prior_before_the_data_start_is_no_data_not_plus_500_percent():
    # data start 2026-09-01; 2 months of data; window = last 28 days, 364 days
    df = _frame(np.arange(61), outcome="nonfatal", naloxone="no")
    end = pd.Timestamp("2026-11-01")
    k = kpi_table(df, Query(end=end), "restricted", windows=(7, 28, 45, 365))
    assert k.loc[7, "prior_status"] == "complete" and k.loc[7, "overdoses_change"] == 0
    assert k.loc[28, "prior_status"] == "complete"
    # 45 days: prior = [2026-08-03, 2026-09-17): 16 of 45 days after the start
    assert k.loc[45, "prior_status"] == "partial"
    assert k.loc[45, "prior_days_covered_pct"] == round(100 * 16 / 45, 1)
    assert pd.isna(k.loc[45, "overdoses_change_pct"]) and pd.isna(k.loc[45, "overdoses_change"])
    assert k.loc[365, "prior_status"] == "no data" and k.loc[365, "prior_days_covered_pct"] == 0
    assert k.loc[365, "days_covered_pct"] == round(100 * 61 / 365, 1)
    assert pd.isna(k.loc[365, "overdoses_change_pct"])
    # public tier: same rule on release windows
    pub = kpi_table(df, Query(), "public", windows=(7, 364))
    assert pub.loc[364, "prior_status"] == "no data"
    assert pd.isna(pub.loc[364, "overdoses_change_pct"])


def test_weekly_trend_is_blank_before_the_data_start():
    df = _frame(np.arange(61), outcome="nonfatal")
    wk = weekly_table(df, Query(end="2026-11-01"), "restricted", weeks=20)
    first = pd.Timestamp("2026-09-01")
    before = wk.index + pd.Timedelta(days=7) <= first
    assert wk["no_data"].to_numpy().tolist() == before.tolist()
    assert wk.loc[before, "overdoses"].isna().all()
    assert (wk.loc[~before, "overdoses"] > 0).all()  # one a day: every covered week has some


def test_unique_labels_and_top_area_labels():
    assert unique_labels(["a", "b"], [1, 2]) == ["a", "b"]
    cells = [0x882A100D2DFFFFF, 0x882A100D2BFFFFF, 0x882A100D25FFFFF]
    out = unique_labels(["x", "x", "y"], cells)
    assert out == ["x ·0d2d", "x ·0d2b", "y"]
    # two res-8 cells a few hundred metres apart: their rounded centres often collide
    import h3

    c0 = h3.latlng_to_cell(35.98, -79.96, 8)
    ring = [c0, *h3.grid_ring(c0, 1)]
    pts = [h3.cell_to_latlng(c) for c in ring for _ in range(3)]
    df = pd.DataFrame({"occurred_at": pd.Timestamp("2026-10-01") + pd.to_timedelta(
        np.arange(len(pts)), unit="h"), "outcome": "nonfatal", "naloxone": "yes",
        "lat": [p[0] for p in pts], "lon": [p[1] for p in pts], "source": "ems"})
    top = top_areas(df, Query(res=8, end="2026-10-05"), "restricted", n=7)
    from products.overview import _centre

    assert not pd.Series(_centre(top["h3"].to_numpy(np.uint64))).is_unique  # rounded collide
    assert len(top) == 7 and top["cell_centre"].is_unique


def test_alerts_never_compare_against_days_before_the_first_record():
    from products.alerts import current_alerts

    # 6 overdoses a day from 2026-10-01, a spike of 30 on 2026-10-20
    days = np.r_[np.repeat(np.arange(25), 6), np.full(24, 19)]
    df = _frame(days, outcome="nonfatal", naloxone="yes", start="2026-10-01")
    early = current_alerts(df, Query(end="2026-10-06"), "restricted", method="C2",
                           areas=("jurisdiction",), days=7)
    assert early.empty and early.attrs["no_baseline"] >= 1  # the first day is not a "spike"
    late = current_alerts(df, Query(end="2026-10-22"), "restricted", method="C2",
                          areas=("jurisdiction",), days=7)
    hit = late[late["severity"] == "alert"]
    assert hit["date"].dt.strftime("%Y-%m-%d").tolist() == ["2026-10-20"]
    assert late.attrs["no_baseline"] == 0
