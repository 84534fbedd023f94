"""Overview: KPIs for the last 7 / 30 / 365 days vs the prior period, weekly trend, alerts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _app

f = _app.filters()
st.title("Overview")

kpis_mod = _app.optional("report.kpis")
if kpis_mod is None:
    _app.missing_library("KPIs", "report.kpis")
    st.stop()

tier = _app.tier()
kpi = _app.kpi_table(f, tier)
end = kpi["end"].iloc[0]
src = "all sources" if f.sources is None else ", ".join(f.sources)
st.caption(f"Windows end on {end:%Y-%m-%d} (last day with data); each compared with the period "
           f"of equal length just before it. Sources: {src}. Counts are de-duplicated events.")


def _fmt(v, unit="") -> str:
    return "<10 (suppressed)" if pd.isna(v) else f"{int(v):,}{unit}"


def _delta(v, unit="") -> str | None:
    return None if pd.isna(v) else f"{int(v):+,}{unit} vs prior"


for w, row in kpi.iterrows():
    st.subheader(f"Last {w} days ({row['start']:%Y-%m-%d} – {row['end']:%Y-%m-%d})")
    c = st.columns(4)
    c[0].metric(f"Overdoses, {w} d", _fmt(row["overdoses"]), _delta(row["overdoses_change"]),
                delta_color="inverse")
    c[1].metric(f"Fatal, {w} d", _fmt(row["fatal"]), _delta(row["fatal_change"]),
                delta_color="inverse")
    c[2].metric(f"Nonfatal, {w} d", _fmt(row["nonfatal"]), _delta(row["nonfatal_change"]),
                delta_color="inverse")
    pct = row["naloxone_given_pct"]
    dpct = row["naloxone_given_pct_change"]
    c[3].metric(f"Naloxone given, {w} d", "suppressed" if pd.isna(pct) else f"{pct:.1f}%",
                None if pd.isna(dpct) else f"{dpct:+.1f} pts vs prior")

st.subheader("Weekly overdoses, last 52 weeks")
trend = _app.weekly_table(f, tier)
chart = trend[["fatal", "nonfatal", "unknown"]].astype("Float64").astype(float)
chart.index.name = "week starting"
st.line_chart(chart, y_label="overdoses per week", x_label="week starting")
st.caption("7-day bins ending on the data end date. Weeks with 1–9 events in a series are "
           "suppressed in the public tier (gaps in the line).")

st.subheader("Current alerts")
_app.alerts_panel(f)
