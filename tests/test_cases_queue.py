# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""The follow-up queue: cases from events, deadlines, repeat overdoses and a case's whole life."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from app_helpers import END, RECENT, app_env, app_inputs, run_page  # noqa: F401

from cases import accounts, audit, queue

PW = "a long password"
T = pd.Timestamp("2026-03-10 12:00")


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "ops.duckdb"
    monkeypatch.setenv("GAPMAP_CASES_DB", str(path))
    return path


def events(rows) -> pd.DataFrame:
    """(event_id, hours before T, outcome, person_key) → minimal events."""
    return pd.DataFrame({
        "event_id": [r[0] for r in rows],
        "occurred_at": [T - pd.Timedelta(hours=r[1]) for r in rows],
        "lat": 36.07, "lon": -79.79,
        "outcome": [r[2] for r in rows],
        "source": "police", "sources": "ems+police",
        "person_key": [r[3] for r in rows],
    })


def test_sync_opens_one_case_per_nonfatal_event_once(db):
    ev = events([("ems:1", 10, "nonfatal", None), ("ems:2", 20, "fatal", None),
                 ("police:3", 30, "nonfatal", None), ("ems:old", 24 * 30, "nonfatal", None)])
    assert queue.sync_cases(ev, now=T) == 2  # fatal and >7 days old are not opened
    # the same events again (a re-ingest, merged duplicates keep their event_id): nothing new
    assert queue.sync_cases(pd.concat([ev, ev]), now=T) == 0
    cases = queue.load_all()["cases"]
    assert sorted(cases["case_id"]) == ["ems:1", "police:3"]
    assert (cases["status"] == "open").all() and (cases["received_at"] == T).all()


def test_deadlines_run_from_the_overdose_time_and_overdue_is_flagged(db):
    ev = events([("a", 2, "nonfatal", None), ("b", 30, "nonfatal", None),
                 ("c", 50, "nonfatal", None), ("d", 80, "nonfatal", None),
                 ("e", 90, "nonfatal", None)])
    queue.sync_cases(ev, now=T)
    queue.log_contact("e", T - pd.Timedelta(hours=60), "phone", "reached", "w", now=T)
    q = queue.queue_table(now=T).set_index("case_id")
    occ = q["occurred_at"]
    assert q.loc["a", "next_deadline"] == occ["a"] + pd.Timedelta(hours=24)
    assert q.loc["b", "next_deadline"] == occ["b"] + pd.Timedelta(hours=48)
    assert q.loc["c", "next_deadline"] == occ["c"] + pd.Timedelta(hours=72)
    assert pd.isna(q.loc["d", "next_deadline"])
    assert q["overdue"].to_dict() == {"a": False, "b": False, "c": False, "d": True,
                                      "e": False}  # e was reached
    assert q.loc["b", "flag"] == "past 24 h, not reached; no attempt yet"
    assert q.loc["c", "flag"] == "past 48 h, not reached; no attempt yet"
    assert q.loc["d", "flag"] == "OVERDUE (72 h passed); no attempt yet"
    assert q.loc["e", "first_contact"] == T - pd.Timedelta(hours=60)
    # by the next deadline: b at T+18 h, then c and a at T+22 h (older overdose first)
    assert list(queue.queue_table(now=T)["case_id"][:3]) == ["b", "c", "a"]


def test_two_overdoses_in_90_days_are_elevated_risk_and_listed_first(db):
    ev = events([("a", 1, "nonfatal", None), ("b", 5, "nonfatal", "K1"),
                 ("c", 6, "nonfatal", "K2")])
    queue.sync_cases(ev, now=T)
    old = events([("k1-old", 24 * 80, "nonfatal", "K1"), ("k2-old", 24 * 100, "nonfatal", "K2")])
    queue.sync_cases(old, since=T - pd.Timedelta(days=365), now=T)
    q = queue.queue_table(now=T)
    risk = dict(zip(q["case_id"], q["elevated_risk"], strict=True))
    assert risk == {"a": False, "b": True, "k1-old": True, "c": False, "k2-old": False}
    assert set(q["case_id"][:2]) == {"b", "k1-old"}  # 80 days apart: both flagged, first
    assert q.set_index("case_id").loc["b", "repeat_90d"] == 2
    # configurable window: 60 days → nobody
    assert not queue.queue_table(now=T, repeat_days=60)["elevated_risk"].any()


def test_bad_inputs_give_one_sentence(db):
    queue.sync_cases(events([("a", 1, "nonfatal", None)]), now=T)
    with pytest.raises(ValueError, match="mode must be one of"):
        queue.log_contact("a", T, "fax", "reached", "w")
    with pytest.raises(ValueError, match="cannot precede the overdose"):
        queue.log_contact("a", T - pd.Timedelta(hours=5), "phone", "reached", "w")
    with pytest.raises(ValueError, match="no case"):
        queue.assign("zzz", "w")
    with pytest.raises(ValueError, match="at most 280"):
        queue.add_note("a", "x" * 281, "w")
    with pytest.raises(ValueError, match="unknown service"):
        queue.log_services("a", ["hugs"], "w")
    with pytest.raises(ValueError, match="needs a reason"):
        queue.close_case("a", " ")


# ------------------------------------------------------------------ dashboard
def click(at, label: str):
    for b in at.button:
        if b.label == label:
            b.click().run()
            assert not at.exception, [e.value for e in at.exception]
            return at
    raise KeyError(f"no button {label!r}: {[b.label for b in at.button]}")


def test_a_case_whole_life_in_the_dashboard(db):
    accounts.add_user("olga", "outreach", PW)
    at = run_page()
    at.sidebar.text_input(key="login_user").input("olga")
    at.sidebar.text_input(key="login_pw").input(PW)
    at.sidebar.button[0].click().run()
    at.switch_page("app_pages/team/cases.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # open: the planted nonfatal overdoses of the last 72 h are in the queue
    table = at.dataframe[0].value
    for i in range(len(RECENT)):
        assert f"ems:R{i}" in set(table["case_id"])
    assert table["status"].eq("open").all()
    cid = "ems:R1"  # 5 h before END
    at.selectbox(key="case_pick").set_value(cid).run()
    # assign
    at.selectbox(key="case_worker").set_value("olga")
    click(at, "Assign")
    assert queue.load_all()["cases"].set_index("case_id").loc[cid, "assigned_to"] == "olga"
    # attempt (no answer), then reached in person
    occurred = pd.Timestamp(END - pd.Timedelta(hours=5))
    for hours, mode, outcome in ((1, "phone", "no answer"), (2, "in person", "reached")):
        t = occurred + pd.Timedelta(hours=hours)
        at.date_input(key="contact_date").set_value(t.date())
        at.time_input(key="contact_time").set_value(dt.time(t.hour, t.minute))
        at.selectbox(key="contact_mode").set_value(mode)
        at.selectbox(key="contact_outcome").set_value(outcome)
        click(at, "Record attempt")
    at.multiselect(key="case_services_pick").set_value(["naloxone kit", "referral: MOUD"])
    click(at, "Record services")
    assert any(queue.NAME_WARNING in w.value for w in at.warning)
    at.text_area(key="case_note").input("Prefers text; call back Friday.")
    click(at, "Add note")
    at.text_input(key="case_close_reason").input("linked to care")
    click(at, "Close case")
    t = queue.load_all()
    case = t["cases"].set_index("case_id").loc[cid]
    assert case["status"] == "closed" and case["close_reason"] == "linked to care"
    c = t["contacts"][t["contacts"]["case_id"] == cid].sort_values("attempted_at")
    assert c[["mode", "outcome", "worker"]].values.tolist() == [
        ["phone", "no answer", "olga"], ["in person", "reached", "olga"]]
    assert pd.Timestamp(c["attempted_at"].iloc[1]) == (occurred + pd.Timedelta(hours=2)).floor(
        "min")
    assert sorted(t["services"].loc[t["services"]["case_id"] == cid, "service"]) == [
        "naloxone kit", "referral: MOUD"]
    assert t["notes"]["text"].tolist() == ["Prefers text; call back Friday."]
    q = queue.queue_table(t, now=END).set_index("case_id")
    assert q.loc[cid, "first_contact"] - q.loc[cid, "occurred_at"] <= pd.Timedelta(hours=2)
    # every change and view is in the audit trail
    log = audit.read()
    upd = log[(log["action"] == "update") & (log["what"] == f"case:{cid}")]
    assert [d.split()[0] for d in upd["detail"]] == ["assign", "contact", "contact", "services",
                                                     "note", "close"]
    assert {"cases:queue", f"case:{cid}"} <= set(log.loc[log["action"] == "view", "what"])
    assert (log["username"] == "olga").all()


def test_route_sheet_orders_overdue_then_deadline_with_nearest_sites(db):
    from cases.route_sheet import route_sheet_pdf, route_table

    ev = events([("a", 2, "nonfatal", None), ("b", 30, "nonfatal", None),
                 ("d", 80, "nonfatal", None), ("x", 3, "nonfatal", None)])
    queue.sync_cases(ev, now=T)
    queue.close_case("x", "linked to care", now=T)
    sites = pd.DataFrame({"name": ["Box A", "Clinic B"], "kind": ["naloxone", "treatment"],
                          "lat": [36.07, 36.08], "lon": [-79.79, -79.79]})
    q = queue.queue_table(now=T)
    t = route_table(q, sites)
    assert t["case"].tolist() == ["d", "b", "a"]  # overdue, then T+18 h, then T+22 h
    assert t["deadline"].tolist()[0] == "OVERDUE"
    assert t["Naloxone"].tolist() == ["Box A (0.0 km)"] * 3
    assert t["Treatment"].iloc[0] == "Clinic B (1.1 km)"
    assert t["Syringe services"].iloc[0] == "—"
    pdf = route_sheet_pdf(q, sites, T)
    assert pdf.startswith(b"%PDF") and pdf == route_sheet_pdf(q, sites, T)  # deterministic
