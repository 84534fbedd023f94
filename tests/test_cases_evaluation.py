# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Program evaluation: hand-computed figures on a toy queue; the gate on every view."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, run_page  # noqa: F401
from test_public_sweep import check_public_table

from cases import evaluation as ev
from cases.queue import CASE_COLUMNS

H = pd.Timedelta(hours=1)


def toy() -> dict[str, pd.DataFrame]:
    """Four cases (hours after the overdose):

    c1 police 2026-01-05, received +2, attempts +3 no answer, +11 reached; naloxone, MOUD
       referral, confirmed linkage.
    c2 ems 2026-01-10, received +48, attempt +51 reached; naloxone.
    c3 ems 2026-02-01, received +100, attempt +101 no answer.
    c4 hospital 2026-02-02, received +24, no attempt.
    """
    occ = pd.to_datetime(["2026-01-05", "2026-01-10", "2026-02-01", "2026-02-02"])
    cases = pd.DataFrame({
        "case_id": ["c1", "c2", "c3", "c4"], "event_id": ["c1", "c2", "c3", "c4"],
        "occurred_at": occ, "source": ["police", "ems", "ems", "hospital"],
        "sources": ["police", "ems", "ems", "hospital"], "area": "88xx",
        "lat": [36.0, 36.1, 36.2, 36.3], "lon": -79.8, "person_key": None,
        "opened_at": occ + np.array([2, 48, 100, 24]) * H,
        "received_at": occ + np.array([2, 48, 100, 24]) * H,
        "assigned_to": "w", "status": "open", "closed_at": pd.NaT, "close_reason": None,
    })[CASE_COLUMNS]
    contacts = pd.DataFrame({
        "case_id": ["c1", "c1", "c2", "c3"],
        "attempted_at": [occ[0] + 3 * H, occ[0] + 11 * H, occ[1] + 51 * H, occ[2] + 101 * H],
        "mode": "phone", "outcome": ["no answer", "reached", "reached", "no answer"],
        "worker": "w", "recorded_at": occ[3]})
    services = pd.DataFrame({
        "case_id": ["c1", "c1", "c1", "c2"],
        "provided_at": occ[0],
        "service": ["naloxone kit", "referral: MOUD", "confirmed linkage", "naloxone kit"],
        "worker": "w"})
    return {"cases": cases, "contacts": contacts, "services": services,
            "notes": pd.DataFrame(columns=["case_id", "written_at", "worker", "text"])}


def test_summary_by_month_equals_hand_computed_values():
    s = ev.summary_table(toy(), "restricted", "month").set_index("month")
    jan, feb = s.loc["2026-01"], s.loc["2026-02"]
    assert [jan[c] for c in ("n_cases", "n_attempted", "n_reached", "n_reached_24h",
                             "n_reached_48h", "n_reached_72h")] == [2, 2, 2, 1, 1, 2]
    assert jan["median_h_attempt"] == 27  # (3 + 51) / 2
    assert jan["median_h_contact"] == 31  # (11 + 51) / 2
    assert (jan["share_reached"], jan["share_24h"], jan["share_48h"], jan["share_72h"]) == (
        1.0, 0.5, 0.5, 1.0)
    assert [feb[c] for c in ("n_cases", "n_attempted", "n_reached")] == [2, 1, 0]
    assert feb["median_h_attempt"] == 101 and np.isnan(feb["median_h_contact"])
    assert feb["share_reached"] == 0.0
    by_source = ev.summary_table(toy(), "restricted", "source").set_index("source")
    assert by_source["n_cases"].to_dict() == {"ems": 2, "hospital": 1, "police": 1}
    assert by_source.loc["police", "share_24h"] == 1.0


def test_distributions_services_and_timeliness_equal_hand_computed_values():
    d = ev.hours_distribution(toy(), "restricted", "contact")
    assert dict(zip(d["hours"], d["n_cases"], strict=True)) == {
        "0–24 h": 1, "24–48 h": 0, "48–72 h": 1, "over 72 h": 0, "never": 2}
    a = ev.hours_distribution(toy(), "restricted", "attempt")
    assert dict(zip(a["hours"], a["n_cases"], strict=True)) == {
        "0–24 h": 1, "24–48 h": 0, "48–72 h": 1, "over 72 h": 1, "never": 1}
    sv = ev.service_table(toy(), "restricted").set_index("service")
    assert sv.loc["naloxone kit", "n_cases"] == 2 and sv.loc["naloxone kit",
                                                             "share_of_reached"] == 1.0
    assert sv.loc["referral: MOUD", "share_of_reached"] == 0.5
    assert sv.loc["confirmed linkage", "n_cases"] == 1
    assert sv.loc["safety plan", "n_cases"] == 0
    t = ev.timeliness_table(toy(), "restricted").set_index("source")
    assert t.loc["ems", "median_lag_days"] == round((2 + 100 / 24) / 2, 1)  # 3.1
    assert t.loc["ems", "n_lag_1_3_days"] == 1 and t.loc["ems", "n_lag_3_7_days"] == 1
    assert t.loc["hospital", "n_lag_under_1_day"] == 1  # exactly 24 h: "under 1 day" is ≤ 1
    assert t.loc["police", "median_lag_days"] == round(2 / 24, 1)
    tr = ev.timeliness_trend(toy(), "restricted")
    assert tr[["source", "month", "n_cases"]].values.tolist() == [
        ["ems", "2026-01", 1], ["ems", "2026-02", 1], ["hospital", "2026-02", 1],
        ["police", "2026-01", 1]]


def test_repeat_overdoses_among_reached_and_not_reached():
    t = toy()
    c = t["cases"]
    # c1 (reached) and c3 (not reached, 27 days later) are one person; c2 (reached) and
    # c4 (not reached, 23 days later) another; a fifth case of c4's person 100 days on
    extra = c.iloc[[3]].assign(case_id="c5", event_id="c5",
                               occurred_at=c["occurred_at"].iloc[3] + pd.Timedelta(days=100))
    t["cases"] = pd.concat([c, extra], ignore_index=True).assign(
        person_key=["A", "B", "A", "B", "B"])
    r = ev.repeat_table(t, "restricted").set_index("group")
    assert r.loc["reached", ["n_cases", "n_repeat_30d", "n_repeat_90d"]].tolist() == [2, 2, 2]
    # not reached: c3 (no later), c4 (c5 100 days later: neither), c5 (none)
    assert r.loc["not reached", ["n_cases", "n_repeat_30d", "n_repeat_90d"]].tolist() == [
        3, 0, 0]
    assert r.loc["reached", "share_repeat_30d"] == 1.0


@pytest.fixture(scope="module")
def sample_tables():
    from cases.sample import synthetic_tables
    from data import get_path
    from geo.ingest import read_incidents

    inc = read_incidents(get_path("incidents")).incidents
    return synthetic_tables(inc, inc["occurred_at"].max())


def _views(tables, tier):
    out = {f"summary/{by}": ev.summary_table(tables, tier, by)
           for by in ("month", "source", "area", "all")}
    out["contact"] = ev.hours_distribution(tables, tier, "contact")
    out["attempt"] = ev.hours_distribution(tables, tier, "attempt")
    out["services"] = ev.service_table(tables, tier)
    out["timeliness"] = ev.timeliness_table(tables, tier)
    out["trend"] = ev.timeliness_trend(tables, tier)
    out["repeat"] = ev.repeat_table(tables, tier)
    return out


@pytest.mark.parametrize("tier", ["public", "partner"])
def test_counts_1_to_9_are_suppressed_in_every_aggregated_view(sample_tables, tier):
    exact = _views(sample_tables, "restricted")
    for name, pub in _views(sample_tables, tier).items():
        check_public_table(pub, name)
        ref = exact[name]
        for c in [c for c in pub.columns if c.startswith("n_")]:
            small = ref[c].between(1, 9).to_numpy()
            assert pub.loc[small, c].isna().all(), (name, c)  # every true 1–9 is hidden
            shown = pub[c].notna().to_numpy()
            assert (np.abs(pub.loc[shown, c].astype(float) - ref.loc[shown, c]) <= 3).all()
    s = _views(sample_tables, tier)["summary/source"]
    ok = s["n_reached"].notna() & s["n_cases"].notna()
    assert ok.any()
    # shares come from the published counts
    expect = (s.loc[ok, "n_reached"].astype(float) / s.loc[ok, "n_cases"].astype(float)).round(3)
    assert np.allclose(s.loc[ok, "share_reached"].astype(float), expect.clip(upper=1.0))


def test_a_small_toy_is_fully_hidden_in_public():
    s = ev.summary_table(toy(), "public", "month")
    assert s["n_cases"].isna().all() and s["share_reached"].isna().all()
    assert s["median_h_attempt"].isna().all()  # medians are hidden with their counts


def test_evaluation_page_public_and_restricted(monkeypatch, tmp_path):
    from cases import queue

    monkeypatch.setenv("GAPMAP_CASES_DB", str(tmp_path / "ops.duckdb"))
    at = run_page("evaluation")  # no cases yet (not the bundled sample)
    assert any("No follow-up cases yet" in i.value for i in at.info)
    t = toy()
    queue.insert_cases(t["cases"])
    at = run_page("evaluation")
    for df in at.dataframe:
        check_public_table(df.value, "evaluation")
    assert at.dataframe[0].value["n_cases"].isna().all()


def test_naloxone_log_import_and_kits_per_overdose(tmp_path, monkeypatch):
    from cases import naloxone as nal

    monkeypatch.setenv("GAPMAP_CASES_DB", str(tmp_path / "ops.duckdb"))
    csv = tmp_path / "kits.csv"
    csv.write_text("distributed_on,site,channel,lat,lon,kits\n"
                   "2026-01-05,Library,site,36.07,-79.79,30\n"
                   "2026-01-06,Van,team,36.07,-79.79,10\n"
                   "not a date,X,site,36.0,-79.0,1\n"
                   "2026-01-07,Y,drone,36.0,-79.0,1\n"
                   "2026-01-08,Z,event,36.0,-79.0,2.5\n")
    good, bad = nal.read_kits_csv(csv)
    assert good["kits"].tolist() == [30, 10]
    assert bad.values.tolist() == [[4, "bad date"],
                                   [5, "channel must be one of site, event, team"],
                                   [6, "kits must be a whole number ≥ 0"]]
    assert nal.add_kits(good, "olga") == 2
    kits = nal.load_kits()
    # 20 overdoses in the kits' cell, 3 in another cell (hidden in public)
    inc = pd.DataFrame({
        "occurred_at": pd.date_range("2026-01-01", periods=23, freq="6h"),
        "lat": [36.07] * 20 + [36.30] * 3, "lon": [-79.79] * 20 + [-79.50] * 3,
        "outcome": "nonfatal", "source": "ems"})
    r = nal.kits_per_overdose(kits, inc, 7, "restricted")
    assert r["count"].tolist() == [20, 3] and r["kits"].tolist() == [40, 0]
    assert r["kits_per_overdose"].tolist() == [2.0, 0.0]
    p = nal.kits_per_overdose(kits, inc, 7, "public")
    assert abs(int(p["count"].iloc[0]) - 20) <= 3 and pd.isna(p["count"].iloc[1])
    assert p["kits_per_overdose"].iloc[0] == round(40 / int(p["count"].iloc[0]), 2)
    assert pd.isna(p["kits_per_overdose"].iloc[1])
    early = nal.kits_per_overdose(kits, inc, 7, "restricted", end="2026-01-06")
    # [start, end): the van's kits of the 6th and the overdoses from the 6th on are excluded
    assert early[["count", "kits"]].values.tolist() == [[20, 30]]
