"""Briefing: preview of the one-page leadership PDF (KPIs, map) and its download.

The PDF is built by :func:`report.briefing.build_briefing` (every figure through the privacy
gate for the public tier) and cached by primitives: data source + modification time, tier,
resolution, end date and the sidebar's filters (outcome, source, drug, age band, sex).
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from app_pages import _app, _areas, _ui
from app_pages._filters import people_note

f = _app.filters()
st.title("Briefing")
people_note(f)


@st.cache_data(max_entries=6, show_spinner="Building the briefing…")
def _content(kind, path, mtime, rpath, rmtime, bpath, bmtime, tier, res, end, outcomes,
             sources, areas_spec="", places_spec="", sample=False, people=(None, None, None)):
    from app_pages._areas import _geography
    from report.sections import briefing_content

    df = _app._load_incidents(kind, path, mtime)
    sites = _app._load_sites(rpath, rmtime, "resources") if rpath else None
    bnd = _app._load_boundary(bpath, bmtime) if bpath else None
    layers, places = _geography(areas_spec, places_spec, sample)  # names for top areas, alerts
    geography = (layers, places) if layers or places is not None else None
    drugs, age_bands, sexes = people
    return briefing_content(df, sites, bnd, tier=tier, res=res, end=end, outcomes=outcomes,
                            sources=sources, geography=geography, drugs=drugs,
                            age_bands=age_bands, sexes=sexes)


@st.cache_data(max_entries=6, show_spinner=False)
def _pdf(key, synthetic, area_name) -> bytes:
    from report.briefing import DEFAULT_CAVEATS, render_briefing

    notes = list(DEFAULT_CAVEATS)
    if synthetic:
        notes.insert(0, "SYNTHETIC SAMPLE DATA (data/README.md) — not real people or events.")
    return render_briefing(_content(*key), area_name=area_name or None, caveats=notes)


def _pdf_with_evaluation(key, synthetic, area_name) -> bytes | None:
    """The briefing with the evaluation page (None without follow-up cases)."""
    from app_pages import _cases
    from report.briefing import DEFAULT_CAVEATS, render_briefing
    from report.evaluation_page import evaluation_content

    tables, origin = _cases.evaluation_tables()
    if tables is None:
        return None
    content = _content(*key)
    receipts = None
    if key[0] == "store":
        from geo.store import IncidentStore

        receipts = IncidentStore(key[1]).receipts()
    ev = evaluation_content(tables, content.policy, receipts=receipts, origin=origin)
    notes = list(DEFAULT_CAVEATS)
    if synthetic:
        notes.insert(0, "SYNTHETIC SAMPLE DATA (data/README.md) — not real people or events.")
    return render_briefing(content, area_name=area_name or None, caveats=notes, evaluation=ev)


@st.cache_data(max_entries=6, show_spinner=False)
def _map_png(key) -> bytes:
    from report.briefing import briefing_map_png

    return briefing_map_png(_content(*key))


kind, path, mtime = _app.source_key()
if kind == "none":
    st.warning("No incident data: upload a file on the Data page.")
    st.stop()
tier = _app.tier()
rp = st.session_state.get("resources_path") or _app.sample_path("resources")
bp = _app.sample_path("boundary")
synthetic = kind == "file" and not os.environ.get(_app.SAMPLE_ENV["incidents"])

c2, c3 = st.columns([1, 2])
last = f.data_end
if tier == "restricted":
    end_day = c2.date_input("Data through", value=last.date() if last is not None else None,
                            max_value=last.date() if last is not None else None,
                            key="brief_end", help="Last day included (the briefing's windows "
                            "end the day after). Defaults to the last day with data.")
    end = pd.Timestamp(end_day) + pd.Timedelta(days=1) if end_day is not None else None
else:
    end = None  # public: the release date (the last complete week), as the sidebar
    c2.caption(f"Data through {last:%d %B %Y} — the last complete week (public release)."
               if last is not None else "")
area_name = c3.text_input("Jurisdiction name (title)", value="", key="brief_area",
                          placeholder="e.g. Sample County")
key = (kind, path, mtime, str(rp) if rp else "", _app._mtime(rp), str(bp) if bp else "",
       _app._mtime(bp), tier, int(f.res), end, f.outcomes, f.sources,
       _areas.areas_spec(), os.environ.get("GAPMAP_PLACES", ""),
       _areas.is_sample(), (f.drugs, f.age_bands, f.sexes))

try:
    content = _content(*key)
except ValueError as exc:  # e.g. no incidents match the sidebar's filters
    st.warning(f"No briefing for these filters: {exc}.")
    st.stop()
with_eval = st.checkbox("Add page 2: follow-up program evaluation", key="brief_eval",
                        help="The Evaluation page's figures (reach, services, repeat "
                        "overdoses, data timeliness), through the same privacy gate.")
if with_eval:
    pdf = _pdf_with_evaluation(key, synthetic, area_name.strip())
    if pdf is None:
        st.info("No follow-up cases yet: the briefing has one page.")
        pdf = _pdf(key, synthetic, area_name.strip())
else:
    pdf = _pdf(key, synthetic, area_name.strip())

st.caption(f"One A4 page for leadership, data through {content.end:%d %B %Y}. "
           f"{content.policy.label}. Filters (from the sidebar, printed on the page): "
           f"{content.query.describe()}. The briefing's own windows (last week, 4 weeks, "
           "52 weeks) replace the sidebar's time window.")
st.download_button("Download briefing (PDF)", data=pdf,
                   file_name=f"gapmap-briefing-{content.end:%Y-%m-%d}-{tier}.pdf",
                   mime="application/pdf", key="briefing_download", type="primary")


def _fmt(v) -> str:
    # not "<10": a value hidden by complementary suppression may be large
    return "suppressed" if pd.isna(v) else f"{int(v):,}"


def _delta(v) -> str | None:
    return None if pd.isna(v) else f"{int(v):+,} vs prior"


st.subheader("Key figures vs the prior period")
names = {7: "7 days", 28: "4 weeks", 30: "30 days", 91: "13 weeks", 364: "52 weeks",
         365: "12 months"}
cols = st.columns(len(content.kpis))
for col, (w, row) in zip(cols, content.kpis.iterrows(), strict=True):
    label = names.get(int(w), f"{int(w)} days")
    col.metric(f"Overdoses, last {label}", _fmt(row["overdoses"]), _delta(row["overdoses_change"]),
               delta_color="inverse")
    col.metric(f"Fatal, last {label}", _fmt(row["fatal"]), _delta(row["fatal_change"]),
               delta_color="inverse")
    col.caption(f"{row['start']:%Y-%m-%d} – {row['last_day']:%Y-%m-%d}; prior "
                f"{row['prior_start']:%Y-%m-%d} – {row['prior_last_day']:%Y-%m-%d}")

left, right = st.columns([1, 1])
with left:
    what = "Gi* hot/cold spots" if content.map_mode == "class" else "overdoses per cell"
    st.subheader(f"Map: {what}")
    st.caption("The map window of the PDF: " + content.query.describe().split(" · ")[0] + ".")
    st.image(_map_png(key), width="stretch")
    _ui.download_png(_map_png(key), "briefing_map", "Download map (PNG)")
with right:
    st.subheader("Top areas")
    top = content.top
    show = pd.DataFrame({
        "rank": top["rank"], "area (cell centre)": top["cell_centre"],
        "overdoses": [_fmt(v) for v in top["count"]],
        "fatal": [_fmt(v) for v in top["n_fatal"]],
        "prior period": [_fmt(v) for v in top["count_prior"]],
    })
    st.dataframe(show, hide_index=True, width="stretch")
    _ui.download_table(show, "briefing_top_areas", "Download top areas (CSV)")
    n_alerts = ("not available" if content.alerts is None
                else f"{len(content.alerts)} in the last 7 days")
    n_gaps = "not available" if content.gaps is None else f"top {min(4, len(content.gaps))} areas"
    st.caption(f"The PDF also lists current spike alerts ({n_alerts}) and the largest "
               f"resource gaps ({n_gaps}), with data caveats and the suppression rule.")
