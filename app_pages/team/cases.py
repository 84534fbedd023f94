"""Cases: the post-overdose follow-up queue (roles ``outreach`` and ``admin`` only).

Registered in the navigation only for those roles; the page checks the role itself too.
Every view, export and change is written to the audit trail.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _auth, _cases
from cases import accounts, queue

_auth.require_role("outreach", "admin")
me = _auth.username()

st.title("Follow-up cases")
now = _cases.clock()
opened = _cases.sync(now)
st.caption(
    f"Queue clock: {now:%Y-%m-%d %H:%M}"
    + (" (the data end: a file snapshot)" if _cases.source_key()[0] == "file" else "")
    + ". Every nonfatal overdose opens a case; deadlines are 24, 48 and 72 hours after the "
    "overdose. Elevated risk (two or more overdoses of one person key within 90 days) is "
    "listed first. Restricted: do not share; every view is audited."
    + (f" {opened} new case(s) opened now." if opened else ""))

tables = _cases.tables()
q = queue.queue_table(tables, now=now)
open_q = q[q["status"] == "open"]
c1, c2, c3, c4 = st.columns(4)
c1.metric("Open cases", f"{len(open_q):,}")
c2.metric("Overdue (72 h passed, not reached)", f"{int(open_q['overdue'].sum()):,}")
c3.metric("Elevated risk (open)", f"{int(open_q['elevated_risk'].sum()):,}")
c4.metric("Unassigned (open)", f"{int(open_q['assigned_to'].isna().sum()):,}")

left, right = st.columns([1, 1])
show = left.radio("Show", ["open", "mine (open)", "all"], horizontal=True, key="case_show")
view = {"open": open_q, "mine (open)": open_q[open_q["assigned_to"] == me], "all": q}[show]
cols = ["case_id", "flag", "occurred_at", "hours_since", "next_deadline", "sources", "area",
        "assigned_to", "n_attempts", "first_contact", "services", "status"]
_auth.audit_view("cases:queue", len(view), key=show)
st.dataframe(view[cols], hide_index=True, width="stretch", key="case_table")
if right.download_button("Export this list (CSV, restricted)", view[cols].to_csv(index=False),
                         file_name="gapmap_cases.csv", mime="text/csv", key="case_export"):
    _auth.audit("export", "cases:queue.csv", len(view))
if right.download_button("Route sheet of open cases (PDF, restricted)",
                         _cases.route_sheet(q, now), file_name=f"route_{now:%Y%m%d}.pdf",
                         mime="application/pdf", key="route_sheet"):
    _auth.audit("export", "cases:route_sheet.pdf", len(open_q))

st.subheader("Work a case")
if view.empty:
    st.info("No cases in this list.")
    st.stop()
case_id = st.selectbox("Case", view["case_id"].tolist(), key="case_pick")
case = q[q["case_id"] == case_id].iloc[0]
detail = queue.case_detail(case_id, tables)
_auth.audit_view(f"case:{case_id}", 1)
st.markdown(
    f"**{case_id}** — overdose {case['occurred_at']:%Y-%m-%d %H:%M} ({case['sources']}), "
    f"area {case['area']}, status **{case['status']}**, assigned to "
    f"**{case['assigned_to'] if pd.notna(case['assigned_to']) else 'nobody'}**"
    + (f", flag: **{case['flag']}**" if case["flag"] else "") + ".")
st.dataframe(detail["contacts"], hide_index=True, width="stretch", key="case_contacts")
st.dataframe(detail["services"], hide_index=True, width="stretch", key="case_services")


def _done(what: str, detail_text: str = "") -> None:
    _auth.audit("update", f"case:{case_id}", 1, f"{what} {detail_text}".strip())
    st.rerun()


a, b = st.columns(2)
with a.form("assign", clear_on_submit=False):
    users = accounts.list_users()
    workers = sorted(set(users.loc[users["role"].isin(["outreach", "admin"]) & users["active"],
                                   "username"]) | {me})
    worker = st.selectbox("Assign to", workers, index=workers.index(me), key="case_worker")
    if st.form_submit_button("Assign"):
        queue.assign(case_id, worker)
        _done("assign", worker)
with b.form("close"):
    reason = st.text_input("Reason for closing (e.g. linked to care, unreachable after 72 h)",
                           key="case_close_reason")
    if st.form_submit_button("Close case"):
        try:
            queue.close_case(case_id, reason, now=now)
            _done("close", reason)
        except ValueError as exc:
            st.error(str(exc))

with st.form("contact", clear_on_submit=True):
    st.markdown("**Record a contact attempt**")
    d1, d2, d3, d4 = st.columns(4)
    day = d1.date_input("Date", value=now.date(), key="contact_date")
    tod = d2.time_input("Time", value=now.time().replace(second=0, microsecond=0),
                        key="contact_time")
    mode = d3.selectbox("Mode", list(queue.MODES), key="contact_mode")
    outcome = d4.selectbox("Outcome", list(queue.CONTACT_OUTCOMES), key="contact_outcome")
    if st.form_submit_button("Record attempt"):
        try:
            queue.log_contact(case_id, pd.Timestamp.combine(day, tod), mode, outcome, me)
            _done("contact", f"{mode} {outcome}")
        except ValueError as exc:
            st.error(str(exc))

with st.form("services", clear_on_submit=True):
    st.markdown("**What was provided**")
    got = st.multiselect("Services", list(queue.SERVICES), key="case_services_pick")
    if st.form_submit_button("Record services"):
        try:
            queue.log_services(case_id, got, me, provided_at=now)
            _done("services", ", ".join(got))
        except ValueError as exc:
            st.error(str(exc))

with st.form("note", clear_on_submit=True):
    st.markdown("**Note** (short, restricted)")
    st.warning(queue.NAME_WARNING)
    text = st.text_area("Note", max_chars=queue.NOTE_MAX, key="case_note")
    if st.form_submit_button("Add note"):
        try:
            queue.add_note(case_id, text, me, now=now)
            _done("note")
        except ValueError as exc:
            st.error(str(exc))
if len(detail["notes"]):
    st.dataframe(detail["notes"], hide_index=True, width="stretch", key="case_notes")
