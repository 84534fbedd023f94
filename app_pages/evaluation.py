"""Evaluation: how fast the follow-up program reaches people, what they accept, whose data
arrives late. Aggregated (no person rows) and published through the privacy gate of the
current tier (:mod:`cases.evaluation`)."""

from __future__ import annotations

import streamlit as st

from app_pages import _cases
from app_pages._ui import policy
from cases import evaluation as ev

pol = policy()
st.title("Program evaluation")
tables, origin = _cases.evaluation_tables()
if tables is None:
    st.info("No follow-up cases yet: the Cases page (outreach accounts) opens a case for every "
            "nonfatal overdose; these figures fill in as contacts are recorded.")
    st.stop()
st.caption(f"From {origin}. {pol.label}. Shares are computed from the published counts; "
           "medians are whole hours, hidden with the count they describe. Receipt time is "
           "when a case entered the queue (the store keeps no per-record receipt time).")

by = st.radio("Group by", ["month", "source", "area", "all"], horizontal=True, key="eval_by",
              help="area: H3 cells at resolution 8 (about 0.7 km²).")
st.subheader("Reach: hours from overdose to first attempt and first contact")
summary = ev.summary_table(tables, pol, by)
st.dataframe(summary, hide_index=True, width="stretch")
left, right = st.columns(2)
with left:
    st.markdown("**Hours to first contact** (cases per bin)")
    dist = ev.hours_distribution(tables, pol, "contact")
    st.dataframe(dist, hide_index=True, width="stretch")
with right:
    st.markdown("**Hours to first attempt** (cases per bin)")
    st.dataframe(ev.hours_distribution(tables, pol, "attempt"), hide_index=True,
                 width="stretch")

st.subheader("Services accepted, referrals and confirmed linkage")
st.dataframe(ev.service_table(tables, pol), hide_index=True, width="stretch")

st.subheader("Repeat overdose within 30 / 90 days: reached and not reached")
st.dataframe(ev.repeat_table(tables, pol), hide_index=True, width="stretch")
st.caption("Only cases with a pseudonymous person key can be linked. A description, not a "
           "causal effect: people who are reached differ from those who are not.")

st.subheader("Data timeliness: days from overdose to receipt, per source")
st.dataframe(ev.timeliness_table(tables, pol), hide_index=True, width="stretch")
trend = ev.timeliness_trend(tables, pol)
st.markdown("**Median lag by month** (days; blank where the month's count is hidden)")
wide = trend.pivot(index="month", columns="source", values="median_lag_days")
st.line_chart(wide.astype(float))
st.caption("These figures describe the program; differences between groups are not causal "
           "effects of follow-up.")
