"""report.kpis (keyed array core) and the overview products in the restricted tier: hand counts
on a constructed table, exact [start, end) edges, event collapse, equivalences."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest

from geo.grid import index_incidents
from geo.privacy import key_sum, with_record_keys
from products.overview import kpi_table, top_areas, weekly_table
from products.query import Query
from report.kpis import data_end, incident_events, kpis, prepare_events, select_events


def _rows(spec):
    """spec: list of (timestamp, outcome, naloxone, repeat)."""
    rows = []
    for ts, outcome, nal, rep in spec:
        rows += [{"occurred_at": pd.Timestamp(ts), "outcome": outcome, "naloxone": nal}] * rep
    df = pd.DataFrame(rows)
    df["lat"] = 36.07
    df["lon"] = -79.79
    df["source"] = "ems"
    return df


# Window end 2026-11-16 (first instant excluded): 7-day window = Nov 9..15, prior = Nov 2..8;
# 30-day = Oct 17..Nov 15, prior = Sep 17..Oct 16.
SPEC = [
    ("2026-11-15 23:59:59", "fatal", "yes", 12),    # last instant of the window
    ("2026-11-09 00:00:00", "nonfatal", "yes", 20),  # first instant of the window
    ("2026-11-09 00:00:00", "nonfatal", "no", 15),
    ("2026-11-08 23:59:59", "nonfatal", "no", 11),   # last instant of the prior 7 days
    ("2026-11-02 00:00:00", "fatal", "unknown", 3),  # first instant of the prior 7 days
    ("2026-11-01 23:59:59", "unknown", "yes", 30),   # outside both 7-day periods; in 30-day
    ("2026-10-17 00:00:00", "nonfatal", "yes", 10),  # first day of the 30-day window
    ("2026-10-16 23:59:59", "fatal", "no", 25),      # last day of the 30-day prior period
    ("2026-09-17 00:00:00", "nonfatal", "yes", 14),  # first day of the 30-day prior period
    ("2026-09-16 23:59:59", "fatal", "yes", 50),     # before everything
]
END = pd.Timestamp("2026-11-16")


def test_kpis_hand_counts_and_exact_boundaries():
    out = kpi_table(_rows(SPEC), Query(end=END), "restricted", windows=(7, 30))
    w7, w30 = out.loc[7], out.loc[30]
    assert w7["start"] == pd.Timestamp("2026-11-09") and w7["end"] == END
    assert w7["last_day"] == pd.Timestamp("2026-11-15")
    assert w7["prior_start"] == pd.Timestamp("2026-11-02")
    assert w7["prior_end"] == pd.Timestamp("2026-11-09")
    assert (w7["overdoses"], w7["fatal"], w7["nonfatal"], w7["naloxone_yes"]) == (47, 12, 35, 32)
    assert w7["naloxone_given_pct"] == pytest.approx(100 * 32 / 47)
    assert (w7["prior_overdoses"], w7["prior_fatal"], w7["prior_nonfatal"]) == (14, 3, 11)
    assert w7["prior_naloxone_given_pct"] == pytest.approx(0.0)
    assert w7["overdoses_change"] == 47 - 14 and w7["fatal_change"] == 9
    assert w7["overdoses_change_pct"] == pytest.approx(100 * 33 / 14)
    assert w7["naloxone_given_pct_change"] == pytest.approx(100 * 32 / 47)
    assert (w30["overdoses"], w30["fatal"], w30["nonfatal"]) == (101, 15, 56)
    assert w30["naloxone_yes"] == 12 + 20 + 30 + 10
    assert (w30["prior_overdoses"], w30["prior_fatal"], w30["prior_nonfatal"]) == (39, 25, 14)
    assert w30["prior_start"] == pd.Timestamp("2026-09-17")
    assert not out["suppressed"].any()


def test_query_window_gives_one_row_against_its_prior():
    df = _rows(SPEC)
    out = kpi_table(df, Query(start="2026-11-09", end=END), "restricted")
    assert list(out.index) == [7]
    ref = kpi_table(df, Query(end=END), "restricted", windows=(7,))
    pd.testing.assert_frame_equal(out, ref)


def test_end_defaults_to_the_day_after_the_last_incident_not_today():
    df = _rows(SPEC)
    assert data_end(df) == pd.Timestamp("2026-11-15")
    a = kpi_table(df, Query(), "restricted", windows=(7, 30))
    b = kpi_table(df, Query(end=END), "restricted", windows=(7, 30))
    pd.testing.assert_frame_equal(a, b)
    # an earlier end excludes its own day: the 12 fatal of Nov 15 drop out
    c = kpi_table(df, Query(end="2026-11-15"), "restricted", windows=(7,))
    assert c.loc[7, "overdoses"] == 35 + 11


def test_event_id_counts_each_event_once_with_most_severe_outcome():
    df = pd.DataFrame({
        "occurred_at": pd.to_datetime(["2026-11-10 10:30", "2026-11-10 10:00", "2026-11-11 09:00"]),
        "outcome": ["fatal", "nonfatal", "nonfatal"],
        "naloxone": ["no", "yes", "no"],
        "event_id": ["e1", "e1", "e2"],
        "source": ["hospital", "ems", "police"],
    })
    ev = incident_events(df)
    assert len(ev) == 2
    e1 = ev.sort_values("occurred_at").iloc[0]
    assert e1["occurred_at"] == pd.Timestamp("2026-11-10 10:00")  # earliest report
    assert e1["outcome"] == "fatal" and e1["naloxone"] == "yes"
    out = kpi_table(df, Query(), "restricted", windows=(7,))
    assert (out.loc[7, "overdoses"], out.loc[7, "fatal"], out.loc[7, "naloxone_yes"]) == (2, 1, 1)
    # an event's record key is its earliest report's
    keys = with_record_keys(df)["rkey"].to_numpy()
    assert sorted(prepare_events(df).events.rkey) == sorted([keys[1], keys[2]])


def test_inputs_not_mutated():
    df = _rows(SPEC)
    before = df.copy()
    kpi_table(df, Query(), "public")
    weekly_table(df, Query(), "public")
    kpis(df, policy="restricted")
    pd.testing.assert_frame_equal(df, before)


def test_weekly_bins_and_equivalence_with_kpis():
    df = _rows(SPEC)
    wt = weekly_table(df, Query(end=END), "restricted", weeks=8)
    assert len(wt) == 8
    assert wt.index[-1] == pd.Timestamp("2026-11-09")
    assert wt["last_day"].iloc[-1] == pd.Timestamp("2026-11-15")
    assert wt.index[0] == pd.Timestamp("2026-09-21")
    assert (wt["fatal"] + wt["nonfatal"] + wt["unknown"] == wt["overdoses"]).all()
    k = kpi_table(df, Query(end=END), "restricted", windows=(7, 28))
    assert wt["overdoses"].iloc[-1] == k.loc[7, "overdoses"]
    assert wt["overdoses"].iloc[-2] == k.loc[7, "prior_overdoses"]
    assert wt["overdoses"].iloc[-4:].sum() == k.loc[28, "overdoses"]


def test_keyed_counts_carry_the_key_of_exactly_the_events_counted():
    from report.kpis import period_counts

    df = with_record_keys(_rows(SPEC))
    ev = prepare_events(df).events
    tab = period_counts(ev, [(pd.Timestamp("2026-11-09"), END)])
    inside = df[(df["occurred_at"] >= "2026-11-09") & (df["occurred_at"] < END)]
    assert tab.loc[0, "count"] == len(inside) == 47
    assert tab.loc[0, "count__ckey"] == key_sum(inside["rkey"].to_numpy())
    fatal = inside[inside["outcome"] == "fatal"]
    assert tab.loc[0, "n_fatal__ckey"] == key_sum(fatal["rkey"].to_numpy())


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2026-11-15 23:00") - pd.to_timedelta(rng.integers(0, 700 * 1440, n), "min")
    df = pd.DataFrame({
        "occurred_at": t,
        "lat": 36.07 + rng.normal(0, 0.04, n),
        "lon": -79.79 + rng.normal(0, 0.04, n),
        "outcome": rng.choice(["fatal", "nonfatal", "unknown"], n, p=[0.1, 0.8, 0.1]),
        "naloxone": rng.choice(["yes", "no", "unknown"], n),
        "source": "ems",
    })
    return index_incidents(df)


def test_top_areas_equals_reference_groupby_with_h3py():
    df = _points(3000)
    out = top_areas(df, Query(res=7, start="2025-11-16", end=END), "restricted", n=5)
    recent = df[(df["occurred_at"] >= "2025-11-16") & (df["occurred_at"] < END)]
    ref_cells = [h3.latlng_to_cell(a, o, 7)  # point-in-hexagon, not the parent of res 11
                 for a, o in zip(recent["lat"], recent["lon"], strict=True)]
    ref = pd.Series(ref_cells).value_counts().rename_axis("cell").reset_index(name="n")
    ref["int"] = [h3.str_to_int(c) for c in ref["cell"]]
    ref = ref.sort_values(["n", "int"], ascending=[False, True]).head(5)
    assert list(out["h3"]) == list(ref["int"].astype(np.uint64))
    assert list(out["count"]) == list(ref["n"])
    assert list(out["rank"]) == [1, 2, 3, 4, 5]
    assert (out["n_fatal"] + out["n_nonfatal"] <= out["count"]).all()


def test_top_areas_public_floor_and_suppression():
    df = _points(800)
    with pytest.raises(ValueError, match="finer than the public floor"):
        top_areas(df, Query(res=9), "public")
    pub = top_areas(df, Query(res=7), "public", n=30)
    raw = top_areas(df, Query(res=7, start="2025-11-17", end=END), "restricted", n=500)
    exact = raw.set_index("h3")["count"]
    hidden = pub[pub["count"].isna()]
    assert ((exact[hidden["h3"]] >= 1) & (exact[hidden["h3"]] <= 9)).all()
    shown = pub.dropna(subset=["count"])
    assert (shown["count"] >= 10).all()
    assert (abs(shown["count"].to_numpy() - exact[shown["h3"]].to_numpy()) <= 3).all()
    assert "lat" not in pub.columns and "lon" not in pub.columns


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df: kpi_table(df, Query(), "restricted", windows=(0,)), "positive whole"),
        (lambda df: kpi_table(df, Query(), "restricted", windows=()), "at least one window"),
        (lambda df: kpi_table(df, Query(end="not a date"), "restricted"), "end must be a date"),
        (lambda df: kpi_table(df.drop(columns="occurred_at"), Query()), "missing column"),
        (lambda df: weekly_table(df, Query(), weeks=0), "weeks must be a positive"),
        (lambda df: top_areas(df, Query(res=7), n=0), "n must be a positive"),
        (lambda df: kpi_table(df, Query(), "secret"), "tier must be one of"),
        (lambda df: kpi_table(df, Query(), "public", windows=(30,)), "public windows are"),
    ],
)
def test_bad_arguments_raise_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call(_points(50))


def test_prepared_events_and_source_masks_equal_the_table_path():
    """The dashboard's prepared events (per-source masks) give the same tables as filtering."""
    from geo.grid import filter_incidents

    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({
        "occurred_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 320, n), "D"),
        "outcome": rng.choice(["fatal", "nonfatal"], n, p=[0.2, 0.8]),
        "naloxone": rng.choice(["yes", "no", "unknown"], n),
        "source": rng.choice(["ems", "police", "hospital"], n),
        "lat": 36.07, "lon": -79.79,
    })
    df["sources"] = np.where(rng.random(n) < 0.3, "ems+police", df["source"])
    prep = prepare_events(df)
    end = pd.Timestamp("2026-11-20")
    for chosen in (("ems",), ("police", "hospital"), ("hospital",)):
        q = Query(end=end, sources=chosen)
        # public filters take one source (or all): combinations are restricted-only
        for tier in ("restricted", "public") if len(chosen) == 1 else ("restricted",):
            fast = kpi_table(prep, q if tier == "restricted" else Query(sources=chosen), tier)
            slow = kpi_table(df, q if tier == "restricted" else Query(sources=chosen), tier)
            pd.testing.assert_frame_equal(fast, slow)
        ref = kpi_table(with_record_keys(filter_incidents(df, sources=chosen)), Query(end=end),
                        "restricted")
        pd.testing.assert_frame_equal(kpi_table(prep, q, "restricted"), ref)
    assert len(select_events(prep, outcomes=("fatal",))) == (df["outcome"] == "fatal").sum()
