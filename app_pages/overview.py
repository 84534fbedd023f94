"""Overview: KPIs of the sidebar's window vs its prior period, weekly trend, alerts, scan.

Every table is a product (:mod:`products.overview`, :mod:`products.alerts`) called through the
cached wrappers of :mod:`app_pages._analysis`; this page only renders what comes back.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _app, _linechart, _ui
from app_pages._filters import people_note, people_words

f = _app.filters()
st.title("Overview")
people_note(f)

tier = _app.tier()
public = tier != "restricted"
kpi = _app.kpi_table(f, tier)
first = kpi.iloc[0]
src = "all sources" if f.sources is None else ", ".join(f.sources)
outc = "all outcomes" if f.outcomes is None else ", ".join(f.outcomes)
st.caption(
    f"Windows end on {first['last_day']:%Y-%m-%d} (data through that day); each compared with "
    f"the period of equal length just before it. Outcomes: {outc}. Sources: {src}. "
    + (f"Only {people_words(f)}. " if people_words(f) else "")
    + "Counts are de-duplicated events. The H3 resolution control does not apply to this "
    f"page's totals; alerts use res-{_app.ALERT_RES} cells and the scan res-8 cells."
    + (" Public tier: counts are perturbed by up to ±3 (the same events always give the same "
       "number); 'suppressed' = 1–9 events, or a value hidden because it would reveal one; "
       "'–' = a share or change with a hidden side." if public else "")
)


def _fmt(v, unit="") -> str:
    return "suppressed" if pd.isna(v) else f"{int(v):,}{unit}"


def _delta(v, unit="") -> str | None:
    return None if pd.isna(v) else f"{int(v):+,}{unit} vs prior"


def _known(row, field: str) -> str | None:
    """Help text of a field known for only part of the events (the product's status)."""
    st_ = row.get(f"{field}_status", "recorded")
    pct = row.get(f"{field}_known_pct")
    if st_ == "recorded" or pd.isna(pct):
        return None
    return f"{field.capitalize()} known for {pct:.0f}% of events in this window."


_ui.download_table(kpi.reset_index(), "kpis", "Download KPI table (CSV)")
def _alert_map(tab: pd.DataFrame) -> None:
    """The H3 cells of the listed alerts on a map (public: only the published rows)."""
    import numpy as np

    from geo.cells import str_to_cells
    from layers import deck

    cells = tab[tab["area_type"] == "h3"]
    if cells.empty:
        return
    worst = (cells.assign(_a=(cells["severity"] == "alert").astype(int))
             .sort_values(["_a", "date"]).groupby("area").tail(1))
    colour = {"alert": (189, 0, 38, 200), "warning": (253, 141, 60, 170)}
    fill = np.array([colour.get(s, (253, 204, 92, 150)) for s in worst["severity"]])
    tips = [f"Cell {a}\n{s} on {d:%Y-%m-%d}" + ("" if pd.isna(o) else f", {int(o)} overdoses")
            for a, s, d, o in zip(worst["area"], worst["severity"],
                                  pd.to_datetime(worst["date"]), worst["observed"], strict=True)]
    layer = deck.hex_layer(str_to_cells(worst["area"].to_numpy(str)).astype(np.uint64), fill,
                           tips, layer_id="alert-cells")
    legend = deck.legend_html([(colour["alert"], "alert (latest day shown)"),
                               (colour["warning"], "early warning / neighbour")],
                              "Alert cells")
    _app.show_map([layer], "alert_map", legend,
                  "Whole-area alerts are listed in the table, not drawn.")


for w, row in kpi.iterrows():
    prior = row.get("prior_status", "complete")
    vs = (f"vs {row['prior_start']:%Y-%m-%d} – {row['prior_last_day']:%Y-%m-%d}"
          + (" (no data: before the first record)" if prior == "no data" else
             f" (partial: {row['prior_days_covered_pct']:.0f}% of days have data; no change "
             "computed)" if prior == "partial" else ""))
    st.subheader(f"Last {w} days ({row['start']:%Y-%m-%d} – {row['last_day']:%Y-%m-%d}) {vs}")
    c = st.columns(4)
    c[0].metric(f"Overdoses, {w} d", _fmt(row["overdoses"]), _delta(row["overdoses_change"]),
                delta_color="inverse")
    unrec_o = row.get("outcome_status") == "not recorded"
    unrec_n = row.get("naloxone_status") == "not recorded"
    c[1].metric(f"Fatal, {w} d", "not recorded" if unrec_o else _fmt(row["fatal"]),
                None if unrec_o else _delta(row["fatal_change"]), delta_color="inverse",
                help=_known(row, "outcome"))
    c[2].metric(f"Nonfatal, {w} d", "not recorded" if unrec_o else _fmt(row["nonfatal"]),
                None if unrec_o else _delta(row["nonfatal_change"]), delta_color="inverse",
                help=_known(row, "outcome"))
    pct, dpct = row["naloxone_given_pct"], row["naloxone_given_pct_change"]
    c[3].metric(f"Naloxone given, {w} d",
                "not recorded" if unrec_n else "–" if pd.isna(pct) else f"{pct:.1f}%",
                None if unrec_n or pd.isna(dpct) else f"{dpct:+.1f} pts vs prior",
                help=_known(row, "naloxone"))
notes = []
for field, what in (("outcome", "Outcome (fatal/nonfatal)"), ("naloxone", "Naloxone")):
    if "not recorded" in set(kpi.get(f"{field}_status", [])):
        notes.append(f"{what}: **not recorded** — known for less than half of the events in "
                     "these data, so no figure is shown (unknown is not zero).")
    elif "partial" in set(kpi.get(f"{field}_status", [])):
        notes.append(f"{what}: known for only part of the events (hover a figure for the share).")
if notes:
    st.info(" ".join(notes))

st.subheader("Weekly overdoses, last 52 weeks")
trend = _app.weekly_table(f, tier)
cols = ["overdoses", "fatal", "nonfatal"] if not public else ["overdoses"]
chart = trend[cols].astype("Float64").astype(float).rename(columns={"overdoses": "all overdoses"})
chart.index.name = "week starting"
if (kpi.get("outcome_status", pd.Series(dtype=str)) == "not recorded").all() and len(kpi):
    chart = chart[["all overdoses"]]  # an unrecorded outcome is not a line of zeros
_linechart.line_chart(chart, y_label="overdoses per week", x_label="week starting",
                      name="weekly_trend")  # st.line_chart's chart without importing altair
ex = st.columns(2)
with ex[0]:
    _ui.download_table(chart.reset_index(), "weekly_trend", "Download weekly trend (CSV)")
with ex[1]:
    _ui.download_chart(chart, "weekly_trend", title="Weekly overdoses",
                       ylabel="overdoses per week")
if "no_data" in trend.columns and trend["no_data"].any():
    st.caption(f"No data before {trend.index[~trend['no_data'].to_numpy(bool)].min():%Y-%m-%d}"
               " (the first record): those weeks are blank, not zero.")
st.caption(
    f"7-day bins ending on {trend['last_day'].iloc[-1]:%Y-%m-%d}; outcome and source filters "
    "applied. "
    + ("Public tier: the fatal/nonfatal split of a week is shown only in the restricted tier; "
       "weeks with 1–9 overdoses are gaps in the line." if public
       else "Restricted tier: exact counts.")
)

end = kpi["end"].iloc[0]
ca = st.columns(3)
if public:
    alert_days = ca[1].selectbox("Look-back (days)", [7, 28, 91], key="alert_days",
                                 help="Public tier: the fixed release windows.")
else:
    alert_days = int(ca[1].number_input("Look-back (days)", 1, 364, _app.ALERT_DAYS,
                                        key="alert_days"))
st.subheader(f"Current alerts (last {alert_days} days to "
             f"{end - pd.Timedelta(days=1):%Y-%m-%d})")
method = ca[0].selectbox(
    "Detector", ["C2", "C1", "C3", "EWMA"], key="alert_method",
    help="CDC EARS C1/C2/C3 (7-day baseline; C2/C3 with a 2-day guard band) or ESSENCE-style "
    "EWMA, on daily counts of the whole area and of H3 cells.")
tab = _app.alerts(f, tier, method, int(alert_days))
withheld = int(tab.attrs.get("withheld", 0))
if tab.attrs.get("no_baseline"):
    st.caption(f"{int(tab.attrs['no_baseline'])} area-day(s) not tested: their baseline would "
               "start before the first record (days without data are not a zero baseline).")
if withheld:
    st.info(f"{withheld} further alert row(s) are in areas with fewer than 10 overdoses that "
            "day: they are shown only in the restricted tier (log in).")
if tab.empty:
    st.success(f"No spikes flagged by {method} in the last {alert_days} days.")
else:
    show = tab[["date", "area", "severity", "method", "observed", "expected", "threshold",
                "baseline", "trigger_area"]].copy()
    show["observed"] = ["suppressed" if pd.isna(v) else str(int(v)) for v in show["observed"]]
    show["baseline"] = ["" if pd.isna(v) else str(int(v)) for v in show["baseline"]]
    show["trigger_area"] = show["trigger_area"].fillna("")
    st.metric(f"Alerts, last {alert_days} days", f"{int((show['severity'] == 'alert').sum())}")
    st.dataframe(
        show, hide_index=True, key="alerts_table",
        column_config={
            "date": st.column_config.DateColumn("date", format="YYYY-MM-DD"),
            "observed": "observed overdoses (day)",
            "expected": st.column_config.NumberColumn("expected (baseline mean)", format="%.1f"),
            "threshold": st.column_config.NumberColumn("threshold", format="%.1f"),
            "baseline": "baseline overdoses",
            "trigger_area": "warned because of",
        },
    )
    _ui.download_table(show, "alerts", "Download alerts (CSV)")
    _alert_map(tab)
    st.caption(
        "One alert per ongoing cluster unless it grows; neighbouring cells of an alert get an "
        "early warning (method 'neighbour'). "
        + ("Public tier: expected = the published baseline total ÷ baseline days; expected and "
           "threshold are blank where the day's count or the baseline is suppressed; test "
           "statistics are restricted-tier only." if public else "")
    )

st.subheader("Suspected drugs, last 12 weeks")
by = st.radio("Break down by", ["drug", "age", "sex"], horizontal=True, key="breakdown_by",
              format_func={"drug": "suspected drug", "age": "age band", "sex": "sex"}.get)
bd = _app.breakdown(f, tier, by=by, weeks=12)
levels = bd.attrs.get("levels", {})
wide = bd[["week_start", "count", *levels]].rename(columns={"count": "all", **levels})
wide["week_start"] = wide["week_start"].dt.strftime("%Y-%m-%d")
shown = wide.copy()
for c in shown.columns[1:]:
    shown[c] = ["<10" if pd.isna(v) else str(int(v)) for v in wide[c]]
st.dataframe(shown, hide_index=True, key="breakdown_table")
_ui.download_table(wide, f"breakdown_{by}")
st.caption(
    "Weekly de-duplicated overdoses (7-day bins, Monday–Sunday) by "
    + {"drug": "suspected drug as recorded by the source ('unknown' = not recorded)",
       "age": "age band", "sex": "sex"}[by]
    + "; sidebar filters applied (including drug, age and sex). "
    + ("Public tier: counts perturbed by up to ±3; '<10' = 1–9 overdoses or a value hidden "
       "because, with the week's total, it would reveal one." if public else "Exact counts.")
)
st.markdown("**Bad-batch warnings by suspected drug**")
from products.breakdowns import LEVELS  # noqa: E402

cb = st.columns(3)
drug = cb[0].selectbox("Drug", [d for d in LEVELS["drug"] if d not in ("other", "unknown")],
                       index=1, key="batch_drug")
if public:
    look = cb[1].selectbox("Look-back (days)", [7, 28, 91], index=2, key="batch_days",
                           help="Public tier: the fixed release windows.")
else:
    look = int(cb[1].number_input("Look-back (days)", 1, 364, 91, key="batch_days"))
bmethod = cb[2].selectbox("Detector", ["C2", "C1", "C3", "EWMA"], key="batch_method")
ba = _app.drug_alerts(f, tier, drug, bmethod, int(look))
hits = ba[ba["severity"] == "alert"] if len(ba) else ba
if hits.empty:
    st.success(f"No {drug} spike flagged by {bmethod} in the last {look} days"
               + (" (public tier: days with 1–9 overdoses in an area are not listed)."
                  if public and ba.attrs.get("withheld") else "."))
else:
    show_b = hits[["date", "area", "severity", "observed", "expected"]].copy()
    show_b["observed"] = ["suppressed" if pd.isna(v) else str(int(v))
                          for v in show_b["observed"]]
    st.warning(f"{len(hits)} {drug} spike alert(s) in the last {look} days.")
    st.dataframe(show_b, hide_index=True, key="batch_table")
    _ui.download_table(show_b, f"bad_batch_{drug}")
if public and ba.attrs.get("withheld"):
    st.caption(f"{int(ba.attrs['withheld'])} alert row(s) for {drug} are in areas with fewer "
               "than 10 overdoses that day: restricted tier only. The weekly table above "
               "shows the published weekly count.")

st.subheader(f"Space-time scan clusters (last {_app.SCAN_DAYS} days)")
big = len(_app.incidents()) > _app.SCAN_AUTO_MAX
run_scan = st.toggle("Run the space-time scan (999 replicates)", value=not big, key="scan_on",
                     help="Runs automatically on smaller data; takes a few seconds at 1M "
                     "incidents (then cached).")
if not run_scan:
    st.stop()
cl = _app.scan(f, tier)
st.caption(
    "Prospective space-time permutation scan (Kulldorff 2005) on H3 res-8 cells: zones up to "
    f"0.75 mi, clusters up to 7 days ending on {end - pd.Timedelta(days=1):%Y-%m-%d}, 999 "
    "Monte Carlo replicates (seed 0). Shown when p ≤ 0.05; recurrence interval = 1/p days."
    + (" Public tier: clusters whose counts are suppressed are not shown (their statistics "
       "would reveal the count)." if public else "")
)
sig = cl[cl["p"].astype(float) <= 0.05] if len(cl) else cl
if sig.empty:
    st.success(f"No significant space-time cluster in the last {_app.SCAN_DAYS} days.")
else:
    out = pd.DataFrame({
        "rank": sig["rank"].to_numpy(),
        "centre cell": sig["centre"].to_numpy(),
        "cells": sig["n_cells"].to_numpy(),
        "from": sig["start"].dt.strftime("%Y-%m-%d").to_numpy(),
        "to": (sig["end"] - pd.Timedelta(days=1)).dt.strftime("%Y-%m-%d").to_numpy(),
        "observed": [str(int(v)) for v in sig["observed"]],
        "expected": sig["expected"].round(1).to_numpy(),
        "p": sig["p"].round(3).to_numpy(),
        "recurrence (days)": sig["recurrence_days"].round(0).to_numpy(),
    })
    st.dataframe(out, hide_index=True, key="scan_table")
    _ui.download_table(out, "scan_clusters", "Download scan clusters (CSV)")
