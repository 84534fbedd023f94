"""Evaluation: how fast the follow-up program reaches people, what they accept, whose data
arrives late. Aggregated (no person rows) and published through the privacy gate of the
current tier (:mod:`cases.evaluation`)."""

from __future__ import annotations

import streamlit as st

from app_pages import _auth, _cases, _linechart, _ui
from app_pages._data import incidents, source_key
from app_pages._ui import policy
from cases import evaluation as ev
from cases import naloxone as nal


@st.cache_data(max_entries=4, show_spinner=False)
def _receipts(kind: str, path: str, mtime: float):
    """The store's records with their receipt time (None for the bundled sample CSV)."""
    if kind != "store":
        return None
    from geo.store import IncidentStore

    try:
        return IncidentStore(path).receipts()
    except (ValueError, FileNotFoundError):
        return None


pol = policy()
st.title("Program evaluation")
tables, origin = _cases.evaluation_tables()
if tables is None:
    st.info("No follow-up cases yet: the Cases page (outreach accounts) opens a case for every "
            "nonfatal overdose; these figures fill in as contacts are recorded.")
    st.stop()
st.caption(f"From {origin}. {pol.label}. Shares are computed from the published counts; "
           "medians are whole hours, hidden with the count they describe.")

by = st.radio("Group by", ["month", "source", "area", "all"], horizontal=True, key="eval_by",
              help="area: H3 cells at resolution 8 (about 0.7 km²).")
st.subheader("Reach: hours from overdose to first attempt and first contact")
summary = ev.summary_table(tables, pol, by)
st.dataframe(summary, hide_index=True, width="stretch")
_ui.download_table(summary, f"evaluation_reach_{by}")
left, right = st.columns(2)
with left:
    st.markdown("**Hours to first contact** (cases per bin)")
    dist = ev.hours_distribution(tables, pol, "contact")
    st.dataframe(dist, hide_index=True, width="stretch")
    _ui.download_table(dist, "evaluation_hours_contact")
with right:
    st.markdown("**Hours to first attempt** (cases per bin)")
    att = ev.hours_distribution(tables, pol, "attempt")
    st.dataframe(att, hide_index=True, width="stretch")
    _ui.download_table(att, "evaluation_hours_attempt")

st.subheader("Services accepted, referrals and confirmed linkage")
svc = ev.service_table(tables, pol)
st.dataframe(svc, hide_index=True, width="stretch")
_ui.download_table(svc, "evaluation_services")

st.subheader("Repeat overdose within 30 / 90 days: reached and not reached")
rep = ev.repeat_table(tables, pol)
st.dataframe(rep, hide_index=True, width="stretch")
_ui.download_table(rep, "evaluation_repeat")
st.caption("Only cases with a pseudonymous person key can be linked. A description, not a "
           "causal effect: people who are reached differ from those who are not.")

st.subheader("Data timeliness: days from overdose to receipt, per source")
receipts = _receipts(*source_key())
lag_data = receipts if receipts is not None and len(receipts) else tables
st.caption("Receipt time: when each record reached the incident store (kept per record at "
           "ingest); one row per source's record." if lag_data is receipts else
           "Receipt time: when a case entered the queue (no incident store in use; the store "
           "keeps each record's receipt time).")
tim = ev.timeliness_table(lag_data, pol)
st.dataframe(tim, hide_index=True, width="stretch")
_ui.download_table(tim, "evaluation_timeliness")
trend = ev.timeliness_trend(lag_data, pol)
st.markdown("**Median lag by month** (days; blank where the month's count is hidden)")
wide = trend.pivot(index="month", columns="source", values="median_lag_days")
_linechart.line_chart(wide.astype(float), name="evaluation_lag")  # without altair
_ui.download_chart(wide, "evaluation_lag", title="Median lag by month", ylabel="days")
st.caption("These figures describe the program; differences between groups are not causal "
           "effects of follow-up.")

st.subheader("Naloxone kits per overdose by area")
f = _ui.filters()
kit_log, kit_origin = _cases.kits()
if kit_log is None:
    st.info("No naloxone distribution log yet (outreach and admin accounts add one below).")
else:
    from geo.cells import cells_to_str

    per = nal.kits_per_overdose(kit_log, incidents(), 7, pol, f.start, f.end)
    per["h3"] = cells_to_str(per["h3"].to_numpy("uint64"))
    st.caption(f"From {kit_origin}, {f.label}; H3 resolution 7 "
               "(about 5 km²). Overdoses are published counts; kits per overdose is computed "
               "from them. Areas with many overdoses and few kits are distribution gaps.")
    st.dataframe(per.rename(columns={"count": "overdoses"}), hide_index=True, width="stretch")
    _ui.download_table(per.rename(columns={"count": "overdoses"}), "kits_per_overdose")
if _auth.role() in ("outreach", "admin"):
    with st.expander("Add distribution records (CSV import or one entry)"):
        up = st.file_uploader("CSV: distributed_on, site, channel, lat, lon, kits",
                              type=["csv"], key="kits_csv")
        if up is not None and st.button("Import", key="kits_import"):
            try:
                good, bad = nal.read_kits_csv(up)
                n = nal.add_kits(good, _auth.username())
                _auth.audit("update", "kits:import", n, up.name)
                st.success(f"Imported {n} row(s).")
                if len(bad):
                    st.warning(f"{len(bad)} row(s) rejected:")
                    st.dataframe(bad, hide_index=True)
            except ValueError as exc:
                st.error(str(exc))
        with st.form("kits_one", clear_on_submit=True):
            c1, c2, c3 = st.columns(3)
            day = c1.date_input("Date", key="kits_day")
            site = c2.text_input("Site, event or team", key="kits_site")
            channel = c3.selectbox("Channel", list(nal.CHANNELS), key="kits_channel")
            c4, c5, c6 = st.columns(3)
            lat = c4.number_input("Latitude", format="%.5f", key="kits_lat")
            lon = c5.number_input("Longitude", format="%.5f", key="kits_lon")
            n_kits = c6.number_input("Kits", min_value=0, step=1, key="kits_n")
            if st.form_submit_button("Add"):
                import pandas as pd

                row = pd.DataFrame([{"distributed_on": pd.Timestamp(day), "site": site.strip(),
                                     "channel": channel, "lat": lat, "lon": lon,
                                     "kits": int(n_kits)}])
                nal.add_kits(row, _auth.username())
                _auth.audit("update", "kits:add", 1, site.strip())
                st.rerun()
