"""report.kpis: hand counts on a constructed table, exact window edges, privacy, equivalences."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest

from geo.grid import index_incidents
from geo.privacy import PrivacyError
from report.kpis import data_end, incident_events, kpis, top_areas, weekly_trend


def _rows(spec):
    """spec: list of (timestamp, outcome, naloxone, repeat)."""
    rows = []
    for ts, outcome, nal, rep in spec:
        rows += [{"occurred_at": pd.Timestamp(ts), "outcome": outcome, "naloxone": nal}] * rep
    df = pd.DataFrame(rows)
    df["lat"] = 36.07
    df["lon"] = -79.79
    return df


# End 2026-11-15: 7-day window = Nov 9..15, prior = Nov 2..8; 30-day = Oct 17..Nov 15,
# prior = Sep 17..Oct 16.
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


def test_kpis_hand_counts_and_exact_boundaries():
    df = _rows(SPEC)
    out = kpis(df, end="2026-11-15", windows=(7, 30), policy="restricted")
    w7, w30 = out.loc[7], out.loc[30]
    assert w7["start"] == pd.Timestamp("2026-11-09") and w7["end"] == pd.Timestamp("2026-11-15")
    assert w7["prior_start"] == pd.Timestamp("2026-11-02")
    assert w7["prior_end"] == pd.Timestamp("2026-11-08")
    assert (w7["overdoses"], w7["fatal"], w7["nonfatal"], w7["naloxone_yes"]) == (47, 12, 35, 32)
    assert w7["naloxone_given_pct"] == pytest.approx(100 * 32 / 47)
    assert (w7["prior_overdoses"], w7["prior_fatal"], w7["prior_nonfatal"]) == (14, 3, 11)
    assert w7["prior_naloxone_given_pct"] == pytest.approx(0.0)
    assert w7["overdoses_change"] == 47 - 14
    assert w7["fatal_change"] == 9
    assert w7["overdoses_change_pct"] == pytest.approx(100 * 33 / 14)
    assert w7["naloxone_given_pct_change"] == pytest.approx(100 * 32 / 47)
    # 30 days: 47 + 14 + 30 + 10 = 101 current; 25 + 14 = 39 prior
    assert (w30["overdoses"], w30["fatal"], w30["nonfatal"]) == (101, 15, 56)
    assert w30["naloxone_yes"] == 12 + 20 + 30 + 10
    assert (w30["prior_overdoses"], w30["prior_fatal"], w30["prior_nonfatal"]) == (39, 25, 14)
    assert w30["prior_start"] == pd.Timestamp("2026-09-17")
    assert not out["suppressed"].any()


def test_kpis_public_suppresses_small_counts_and_what_reveals_them():
    df = _rows(SPEC)
    out = kpis(df, end="2026-11-15", windows=(7,))
    w7 = out.loc[7]
    assert pd.isna(w7["prior_fatal"])           # 3 → suppressed
    assert pd.isna(w7["fatal_change"])          # 12 − 3 would reveal it
    # complementary suppression: 14 − 11 − 0 would reveal the 3, so nonfatal (11) goes too
    assert pd.isna(w7["prior_nonfatal"])
    assert w7["fatal"] == 12 and w7["prior_overdoses"] == 14
    # prior naloxone "yes" is 0 (shown) but "not given" is 14: share 0 % is not suppressed
    assert w7["prior_naloxone_given_pct"] == pytest.approx(0.0)
    assert bool(w7["suppressed"])


def test_kpis_public_blanks_share_when_complement_is_small():
    # 20 overdoses, 17 given naloxone, 2 not, 1 unknown → "not given" (3) would be revealed
    # by the share even though "no" and "unknown" are both hidden
    df = _rows([("2026-11-15 10:00", "nonfatal", "yes", 17),
                ("2026-11-15 11:00", "nonfatal", "no", 2),
                ("2026-11-15 12:00", "nonfatal", "unknown", 1)])
    out = kpis(df, windows=(7,))
    assert out.loc[7, "overdoses"] == 20 and out.loc[7, "naloxone_yes"] == 17
    assert pd.isna(out.loc[7, "naloxone_given_pct"])
    raw = kpis(df, windows=(7,), policy="restricted")
    assert raw.loc[7, "naloxone_given_pct"] == pytest.approx(85.0)


def test_end_defaults_to_last_date_in_data_not_today():
    df = _rows(SPEC)
    assert data_end(df) == pd.Timestamp("2026-11-15")
    a = kpis(df, windows=(7, 30), policy="restricted")
    b = kpis(df, end="2026-11-15", windows=(7, 30), policy="restricted")
    pd.testing.assert_frame_equal(a, b)
    # an explicit later end shifts the window: data after end are excluded
    c = kpis(df, end="2026-11-14", windows=(7,), policy="restricted")
    assert c.loc[7, "overdoses"] == 35 + 11  # Nov 8..14: no 12 fatal of Nov 15, plus Nov 8 rows


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
    out = kpis(df, windows=(7,), policy="restricted")
    assert (out.loc[7, "overdoses"], out.loc[7, "fatal"], out.loc[7, "naloxone_yes"]) == (2, 1, 1)


def test_inputs_not_mutated():
    df = _rows(SPEC)
    before = df.copy()
    kpis(df)
    weekly_trend(df)
    pd.testing.assert_frame_equal(df, before)


def test_weekly_trend_bins_and_equivalence_with_kpis():
    df = _rows(SPEC)
    wt = weekly_trend(df, end="2026-11-15", weeks=8, policy="restricted")
    assert len(wt) == 8
    assert wt.index[-1] == pd.Timestamp("2026-11-09") and wt["week_end"].iloc[-1] == pd.Timestamp(
        "2026-11-15")
    assert wt.index[0] == pd.Timestamp("2026-09-21")
    # invariant: outcomes add up to the total of each week
    assert (wt["fatal"] + wt["nonfatal"] + wt["unknown"] == wt["overdoses"]).all()
    # last week equals the 7-day KPI; the last 4 weeks equal a 28-day KPI
    k = kpis(df, end="2026-11-15", windows=(7, 28), policy="restricted")
    assert wt["overdoses"].iloc[-1] == k.loc[7, "overdoses"]
    assert wt["overdoses"].iloc[-2] == k.loc[7, "prior_overdoses"]
    assert wt["overdoses"].iloc[-4:].sum() == k.loc[28, "overdoses"]
    pub = weekly_trend(df, end="2026-11-15", weeks=8)
    assert pd.isna(pub.loc["2026-11-02", "fatal"])  # the 3 of Nov 2


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.Timestamp("2026-11-15 23:00") - pd.to_timedelta(rng.integers(0, 700 * 1440, n), "min")
    df = pd.DataFrame({
        "occurred_at": t,
        "lat": 36.07 + rng.normal(0, 0.04, n),
        "lon": -79.79 + rng.normal(0, 0.04, n),
        "outcome": rng.choice(["fatal", "nonfatal", "unknown"], n, p=[0.1, 0.8, 0.1]),
        "naloxone": rng.choice(["yes", "no", "unknown"], n),
    })
    return index_incidents(df)


def test_top_areas_equals_reference_groupby_with_h3py():
    df = _points(3000)
    out = top_areas(df, res=7, days=365, n=5, policy="restricted")
    start = pd.Timestamp("2026-11-15") - pd.Timedelta(days=364)
    recent = df[df["occurred_at"] >= start]
    ref_cells = [h3.latlng_to_cell(a, o, 7)  # point-in-hexagon, not the parent of res 11
                 for a, o in zip(recent["lat"], recent["lon"], strict=True)]
    ref = pd.Series(ref_cells).value_counts()
    ref = ref.rename_axis("cell").reset_index(name="n")
    ref["int"] = [h3.str_to_int(c) for c in ref["cell"]]
    ref = ref.sort_values(["n", "int"], ascending=[False, True]).head(5)
    assert list(out["h3"]) == list(ref["int"].astype(np.uint64))
    assert list(out["count"]) == list(ref["n"])
    assert list(out["rank"]) == [1, 2, 3, 4, 5]
    assert (out["n_fatal"] + out["n_nonfatal"] <= out["count"]).all()


def test_top_areas_public_floor_and_suppression():
    df = _points(800)
    with pytest.raises(PrivacyError, match="finer than the floor"):
        top_areas(df, res=9)
    pub = top_areas(df, res=7, n=30)
    small = pub["count"].isna()
    raw = top_areas(df, res=7, n=30, policy="restricted")
    assert ((raw["count"][small] >= 1) & (raw["count"][small] <= 9)).all()
    assert (pub["count"].dropna() >= 10).all()
    assert "lat" not in pub.columns and "lon" not in pub.columns


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df: kpis(df, windows=(0,)), "windows must be positive"),
        (lambda df: kpis(df, windows=()), "at least one window"),
        (lambda df: kpis(df, end="not a date"), "end must be a date"),
        (lambda df: kpis(df.drop(columns="occurred_at")), "missing column"),
        (lambda df: weekly_trend(df, weeks=0), "weeks must be a positive"),
        (lambda df: top_areas(df.drop(columns="h3")), r"missing column\(s\) \['h3'\]"),
        (lambda df: top_areas(df, n=0), "n must be a positive"),
        (lambda df: kpis(df, policy="secret"), "tier must be one of"),
    ],
)
def test_bad_arguments_raise_clearly(call, match):
    df = _points(50)
    with pytest.raises(ValueError, match=match):
        call(df)


def test_reports_without_event_id_are_events_of_their_own():
    df = pd.DataFrame({
        "occurred_at": pd.to_datetime(["2026-11-10 10:00", "2026-11-10 10:20",
                                       "2026-11-12 08:00", "2026-11-13 08:00"]),
        "outcome": ["nonfatal", "nonfatal", "fatal", "unknown"],
        "naloxone": ["no", "no", "yes", None],
        "event_id": ["e1", "e1", None, None],
    })
    ev = incident_events(df).sort_values("occurred_at").reset_index(drop=True)
    assert len(ev) == 3
    assert list(ev["outcome"]) == ["nonfatal", "fatal", "unknown"]
    assert list(ev["naloxone"]) == ["no", "yes", "unknown"]
    # reference: pandas drop_duplicates on the event id, rows without one kept
    ref = pd.concat([df[df["event_id"].notna()].drop_duplicates("event_id"),
                     df[df["event_id"].isna()]])
    assert len(ref) == len(ev)


def test_precomputed_events_and_source_masks_equal_the_table_path():
    """The dashboard's fast path (event arrays + per-source masks) gives the same KPIs."""
    from geo.grid import filter_incidents, incident_mask
    from report.events import as_events

    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame({
        "occurred_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 320, n), "D"),
        "outcome": rng.choice(["fatal", "nonfatal"], n, p=[0.2, 0.8]),
        "naloxone": rng.choice(["yes", "no", "unknown"], n),
        "source": rng.choice(["ems", "police", "hospital"], n),
    })
    df["sources"] = np.where(rng.random(n) < 0.3, "ems+police", df["source"])
    ev = as_events(df)
    for chosen in (("ems",), ("police", "hospital"), ("hospital",)):
        m = np.zeros(n, dtype=bool)
        for s in chosen:
            m |= incident_mask(df, sources=(s,))
        fast = kpis(ev.subset(m), windows=(7, 30, 365), policy="restricted")
        slow = kpis(filter_incidents(df, sources=chosen), windows=(7, 30, 365),
                    policy="restricted")
        pd.testing.assert_frame_equal(fast, slow)
        pd.testing.assert_frame_equal(
            weekly_trend(ev.subset(m), policy="restricted"),
            weekly_trend(filter_incidents(df, sources=chosen), policy="restricted"),
        )
