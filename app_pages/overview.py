"""Overview: KPIs for the last 7 / 30 / 365 days vs the prior period, weekly trend, alerts."""

from __future__ import annotations

import numpy as np
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
st.caption(
    f"Windows end on {end:%Y-%m-%d} (last day with data); each compared with the period "
    f"of equal length just before it. Sources: {src}. Counts are de-duplicated events."
    + (
        " Public tier: 'suppressed' = 1–9 events, or a value hidden because it would reveal "
        "one; '–' = a share that would reveal a suppressed count."
        if tier == "public"
        else ""
    )
)


def _fmt(v, unit="") -> str:
    return "suppressed" if pd.isna(v) else f"{int(v):,}{unit}"


def _delta(v, unit="") -> str | None:
    return None if pd.isna(v) else f"{int(v):+,}{unit} vs prior"


for w, row in kpi.iterrows():
    st.subheader(f"Last {w} days ({row['start']:%Y-%m-%d} – {row['end']:%Y-%m-%d})")
    c = st.columns(4)
    c[0].metric(
        f"Overdoses, {w} d",
        _fmt(row["overdoses"]),
        _delta(row["overdoses_change"]),
        delta_color="inverse",
    )
    c[1].metric(
        f"Fatal, {w} d", _fmt(row["fatal"]), _delta(row["fatal_change"]), delta_color="inverse"
    )
    c[2].metric(
        f"Nonfatal, {w} d",
        _fmt(row["nonfatal"]),
        _delta(row["nonfatal_change"]),
        delta_color="inverse",
    )
    pct = row["naloxone_given_pct"]
    dpct = row["naloxone_given_pct_change"]
    c[3].metric(
        f"Naloxone given, {w} d",
        "–" if pd.isna(pct) else f"{pct:.1f}%",
        None if pd.isna(dpct) else f"{dpct:+.1f} pts vs prior",
    )

st.subheader("Weekly overdoses, last 52 weeks")
trend = _app.weekly_table(f, tier)
cols = ["overdoses", "fatal", "nonfatal"] if tier == "restricted" else ["overdoses"]
chart = trend[cols].astype("Float64").astype(float).rename(columns={"overdoses": "all overdoses"})
chart.index.name = "week starting"
st.line_chart(chart, y_label="overdoses per week", x_label="week starting")
st.caption(
    "7-day bins ending on the data end date. "
    + (
        "Public tier: the fatal/nonfatal split of a week is shown only in the restricted "
        "tier (weekly fatal counts are small and suppressed); weeks with 1–9 overdoses are "
        "gaps in the line."
        if tier == "public"
        else "Restricted tier: unsuppressed."
    )
)

st.subheader(f"Current alerts (last {_app.ALERT_DAYS} days to {end:%Y-%m-%d})")
if _app.optional("clustering.alerts") is None:
    _app.missing_library("Spike alerts", "clustering.alerts")
else:
    method = st.columns(3)[0].selectbox(
        "Detector",
        ["C2", "C1", "C3", "EWMA"],
        key="alert_method",
        help="CDC EARS C1/C2/C3 (7-day baseline; C2/C3 with a 2-day guard "
        "band) or ESSENCE-style EWMA, on daily counts.",
    )
    raw = _app.alerts(f, method)
    if raw.empty:
        st.success(f"No spikes flagged by {method} in the last {_app.ALERT_DAYS} days.")
    else:
        from geo.cells import cells_to_str, str_to_cells

        cells = raw[raw["area_type"] == "h3"]
        whole = raw[raw["area_type"] != "h3"]
        parts = []
        if len(whole):
            pub = _app.show_table(whole.drop(columns=["area_type"]), count_columns=["observed"])
            parts.append(pub.assign(area="whole study area"))
        if len(cells):
            a = cells["area"].to_numpy()
            c = cells.assign(
                h3=a.astype(np.uint64) if not isinstance(a[0], str) else str_to_cells(a)
            )
            pub = _app.show_table(c.drop(columns=["area", "area_type"]), count_columns=["observed"])
            pub["area"] = [
                f"cell {h} (res {_app.ALERT_RES})" for h in cells_to_str(pub["h3"].to_numpy())
            ]
            parts.append(pub.drop(columns=["h3"]))
        show = pd.concat(parts, ignore_index=True)
        show["observed"] = [
            "suppressed" if pd.isna(v) else f"{int(v)}" for v in show["observed"]
        ]
        show["trigger_area"] = [
            ""
            if pd.isna(v)
            else (v if isinstance(v, str) else cells_to_str(np.array([v], np.uint64))[0])
            for v in show["trigger_area"]
        ]
        cols = [
            "date",
            "area",
            "severity",
            "method",
            "observed",
            "expected",
            "threshold",
            "trigger_area",
        ]
        st.metric(
            f"Alerts, last {_app.ALERT_DAYS} days", f"{int((show['severity'] == 'alert').sum())}"
        )
        st.dataframe(
            show[cols],
            hide_index=True,
            column_config={
                "date": st.column_config.DateColumn("date", format="YYYY-MM-DD"),
                "observed": "observed overdoses (day)",
                "expected": st.column_config.NumberColumn(
                    "expected (baseline mean)", format="%.1f"
                ),
                "threshold": st.column_config.NumberColumn("threshold", format="%.1f"),
                "trigger_area": "warned because of",
            },
        )
        st.caption(
            "One alert per ongoing cluster unless it grows; neighbouring cells of an "
            "alert get an early warning (method 'neighbour')."
        )

st.subheader("Space-time scan clusters (last 30 days)")
if _app.optional("clustering.scan") is None:
    _app.missing_library("The space-time permutation scan", "clustering.scan")
else:
    from geo.cells import cells_to_str as _hex

    big = len(_app.incidents()) > _app.SCAN_AUTO_MAX
    run_scan = st.toggle(
        "Run the space-time scan (999 replicates)",
        value=not big,
        key="scan_on",
        help="Runs automatically on smaller data; takes a few seconds at 1M "
        "incidents (then cached).",
    )
    if not run_scan:
        st.stop()
    cl = _app.scan(f)
    sig = cl[cl["p"] <= 0.05] if len(cl) else cl
    st.caption(
        "Prospective space-time permutation scan (Kulldorff 2005) on H3 res-8 cells: "
        "zones up to 0.75 mi, clusters up to 7 days ending on the data end date, 999 "
        "Monte Carlo replicates (seed 0). Shown when p ≤ 0.05; recurrence interval = 1/p days."
    )
    if sig.empty:
        best = f" (smallest p = {cl['p'].min():.3f})" if len(cl) else ""
        st.success(f"No significant space-time cluster in the last 30 days{best}.")
    else:
        tab = pd.DataFrame(
            {
                "rank": sig["rank"].to_numpy(),
                "centre cell": _hex(sig["centre"].to_numpy(np.uint64)),
                "cells": sig["n_cells"].to_numpy(),
                "from": pd.to_datetime(sig["start"]).dt.strftime("%Y-%m-%d").to_numpy(),
                "to": pd.to_datetime(sig["end"]).dt.strftime("%Y-%m-%d").to_numpy(),
                "observed": sig["observed"].to_numpy(),
                "expected": sig["expected"].round(1).to_numpy(),
                "p": sig["p"].round(3).to_numpy(),
                "recurrence (days)": sig["recurrence_days"].round(0).to_numpy(),
            }
        )
        pub = _app.show_table(tab, count_columns=["observed"])
        pub["observed"] = [
            "suppressed" if pd.isna(v) else str(int(v)) for v in pub["observed"]
        ]
        st.dataframe(pub.drop(columns=["suppressed"]), hide_index=True, key="scan_table")
