"""Briefing: preview of the one-page leadership PDF (KPIs, map) and its download.

The PDF is built by :func:`report.briefing.build_briefing` (every figure through the privacy
gate for the public tier) and cached by primitives: data source + modification time, tier,
resolution, end date and source filter.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from app_pages import _app

f = _app.filters()
st.title("Briefing")

if _app.optional("report.briefing") is None:
    _app.missing_library("The briefing", "report.briefing")
    st.stop()


def _inputs(kind: str, path: str, mtime: float, sources, rpath: str, rmtime: float,
            bpath: str, bmtime: float):
    from geo.grid import filter_incidents

    df = filter_incidents(_app._load_incidents(kind, path, mtime), sources=sources)
    res = _app._load_sites(rpath, rmtime, "resources") if rpath else None
    bnd = _app._load_boundary(bpath, bmtime) if bpath else None
    return df, res, bnd


@st.cache_data(max_entries=6, show_spinner="Building the briefing…")
def _content(kind, path, mtime, sources, rpath, rmtime, bpath, bmtime, tier, res, end):
    from report.sections import briefing_content

    df, sites, bnd = _inputs(kind, path, mtime, sources, rpath, rmtime, bpath, bmtime)
    return briefing_content(df, sites, bnd, tier=tier, res=res, end=end)


@st.cache_data(max_entries=6, show_spinner=False)
def _pdf(kind, path, mtime, sources, rpath, rmtime, bpath, bmtime, tier, res, end,
         synthetic, area_name) -> bytes:
    from report.briefing import DEFAULT_CAVEATS, render_briefing

    content = _content(kind, path, mtime, sources, rpath, rmtime, bpath, bmtime, tier, res, end)
    notes = list(DEFAULT_CAVEATS)
    if synthetic:
        notes.insert(0, "SYNTHETIC SAMPLE DATA (data/README.md) — not real people or events.")
    if sources is not None:
        notes.append(f"Sources included: {', '.join(sources)}.")
    return render_briefing(content, area_name=area_name or None, caveats=notes)


@st.cache_data(max_entries=6, show_spinner=False)
def _map_png(kind, path, mtime, sources, rpath, rmtime, bpath, bmtime, tier, res, end) -> bytes:
    from report.briefing import briefing_map_png

    return briefing_map_png(
        _content(kind, path, mtime, sources, rpath, rmtime, bpath, bmtime, tier, res, end))


kind, path, mtime = _app.source_key()
if kind == "none":
    st.warning("No incident data: upload a file on the Data page.")
    st.stop()
tier = _app.tier()
rp = st.session_state.get("resources_path") or _app.sample_path("resources")
bp = _app.sample_path("boundary")
synthetic = kind == "file" and not os.environ.get(_app.SAMPLE_ENV["incidents"])

c1, c2, c3 = st.columns([1, 1, 2])
res_opts = [6, 7, 8] if tier == "public" else [6, 7, 8, 9]
res = c1.selectbox("Map resolution", res_opts, index=1, key="brief_res",
                   help="H3 cells of the map and top-areas table: 6 ≈ 36 km², 7 ≈ 5 km², "
                   "8 ≈ 0.7 km². Public tier: 8 or coarser.")
last = f.data_end
end_day = c2.date_input("Data through", value=last.date() if last is not None else None,
                        max_value=last.date() if last is not None else None, key="brief_end",
                        help="Last day included. Defaults to the last day with data "
                        "(not today: recent days are incomplete).")
area_name = c3.text_input("Jurisdiction name (title)", value="", key="brief_area",
                          placeholder="e.g. Sample County")
end = pd.Timestamp(end_day) if end_day is not None else None
key = (kind, path, mtime, f.sources, str(rp) if rp else "", _app._mtime(rp),
       str(bp) if bp else "", _app._mtime(bp), tier, int(res), end)

content = _content(*key)
pdf = _pdf(*key, synthetic, area_name.strip())

tier_note = ("Public tier: counts from 1 to 9 are suppressed, and so is any second value that "
             "would reveal one; no points."
             if tier != "restricted" else
             "Restricted tier: counts are NOT suppressed — internal use only.")
st.caption(f"One A4 page for leadership, data through {content.end:%d %B %Y}. {tier_note} "
           "Sources filter from the sidebar applies; the outcome filter does not (KPIs need "
           "every outcome).")
st.download_button("Download briefing (PDF)", data=pdf,
                   file_name=f"gapmap-briefing-{content.end:%Y-%m-%d}-{tier}.pdf",
                   mime="application/pdf", key="briefing_download", type="primary")


def _fmt(v) -> str:
    # not "<10": a value hidden by complementary suppression may be large
    return "suppressed" if pd.isna(v) else f"{int(v):,}"


def _delta(v) -> str | None:
    return None if pd.isna(v) else f"{int(v):+,} vs prior"


st.subheader("Key figures vs the prior period")
names = {7: "7 days", 30: "30 days", 365: "12 months"}
cols = st.columns(len(content.kpis))
for col, (w, row) in zip(cols, content.kpis.iterrows(), strict=True):
    label = names.get(int(w), f"{int(w)} days")
    col.metric(f"Overdoses, last {label}", _fmt(row["overdoses"]), _delta(row["overdoses_change"]),
               delta_color="inverse")
    col.metric(f"Fatal, last {label}", _fmt(row["fatal"]), _delta(row["fatal_change"]),
               delta_color="inverse")
    col.caption(f"{row['start']:%Y-%m-%d} – {row['end']:%Y-%m-%d}; prior "
                f"{row['prior_start']:%Y-%m-%d} – {row['prior_end']:%Y-%m-%d}")

left, right = st.columns([1, 1])
with left:
    what = "Gi* hot/cold spots" if content.map_mode == "class" else "overdoses per cell"
    st.subheader(f"Map: {what}")
    st.caption("Last 12 months, as in the PDF.")
    st.image(_map_png(*key), width="stretch")
with right:
    st.subheader("Top areas, last 12 months")
    top = content.top
    show = pd.DataFrame({
        "rank": top["rank"], "area (cell centre)": top["cell_centre"],
        "overdoses": [_fmt(v) for v in top["count"]],
        "fatal": [_fmt(v) for v in top["n_fatal"]],
        "prior 12 months": [_fmt(v) for v in top["count_prior"]],
    })
    st.dataframe(show, hide_index=True, width="stretch")
    n_alerts = ("not available" if content.alerts is None
                else f"{len(content.alerts)} in the last 7 days")
    n_gaps = "not available" if content.gaps is None else f"top {min(4, len(content.gaps))} areas"
    st.caption(f"The PDF also lists current spike alerts ({n_alerts}) and the largest "
               f"resource gaps ({n_gaps}), with data caveats and the suppression rule.")
