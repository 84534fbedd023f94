"""Gaps: resource layers with attribute filters, access and gap-score map, ranked gap table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app, _ui
from app_pages._filters import people_note
from geo.cells import cells_to_str
from layers import deck
from products.gaps import CATCHMENT_MIN

f = _app.filters()
st.title("Resource gaps")
people_note(f)
sites = _app.resources()
if sites is None:
    st.info("No resource file: add one on the Data page (treatment, syringe services, naloxone).")
    st.stop()
tier = _app.tier()
pol = _app.policy()


# ---- layer toggles and attribute filters
c = st.columns(3)
show = {
    "treatment": c[0].toggle("Treatment (MOUD)", True, key="gap_treat"),
    "ssp": c[1].toggle("Syringe services", True, key="gap_ssp"),
    "naloxone": c[2].toggle("Naloxone", True, key="gap_nal"),
}
c = st.columns(4)
moud = c[0].multiselect(
    "MOUD offered",
    ["methadone", "buprenorphine", "naltrexone"],
    key="gap_moud",
    help="Treatment sites offering any of these.",
)
medicaid = c[1].checkbox("Accepts Medicaid", key="gap_medicaid")
only_247 = c[2].checkbox("Open 24/7", key="gap_247")
open_now = c[3].checkbox(
    "Open now",
    key="gap_open_now",
    help="Open at the current time on the study area's clock (time zone from GAPMAP_TZ, "
    "default America/New_York), by the site's opening hours.",
)

if open_now:  # the study area's wall clock, never the server's (layers.hours.local_now)
    from layers.hours import local_now, study_tz

    open_at = local_now()
    st.caption(f"Open now = {open_at:%a %H:%M} in {study_tz()} (set GAPMAP_TZ for another "
               "zone).")
else:
    open_at = None
# ---- travel mode (issue 11): straight line, or walking / driving time on the streets
_MODES = {"straight": "Straight line", "walk": "Walking time", "drive": "Driving time"}
c = st.columns([2, 1, 1])
travel = c[0].radio("Access measured by", list(_MODES), format_func=_MODES.get,
                    horizontal=True, key="gap_travel",
                    help="Walking (5 km/h) or driving time along the road network; the walk "
                    "to the nearest street counts as walking.")
reach_min = c[1].select_slider("Reach outline (minutes)", [5, 10, 15, 20], value=10,
                               key="gap_reach_min", disabled=travel == "straight")
within_min = c[2].select_slider("Sites within (minutes)", [5, 10, 15, 20, 30], value=10,
                                key="gap_within_min", disabled=travel == "straight",
                                help="The table counts the sites of each kind within this "
                                "many minutes along the streets.")
if travel != "straight" and _app.roads_path() is None:
    st.warning("No road network: set GAPMAP_ROADS to an .osm.pbf extract or road-lines file. "
               "Showing straight-line distances.")
    travel = "straight"
mode_text = {"straight": "straight-line distance", "walk": "walking time on streets",
             "drive": "driving time on streets"}[travel]
shown = _app.filter_sites(sites, tuple(moud), medicaid, only_247, open_at)
m = st.columns(3)
for i, (kind, label) in enumerate(
    (
        ("treatment", "Treatment sites"),
        ("ssp", "Syringe-service sites"),
        ("naloxone", "Naloxone sites"),
    )
):
    m[i].metric(f"{label} (filtered)", f"{int((shown['kind'].astype(str) == kind).sum()):,}")

# ---- gap score
try:
    gap = _app.gap_table(f, tuple(sorted(moud)), medicaid, only_247, open_at,
                         travel=None if travel == "straight" else travel,
                         within_min=None if travel == "straight" else float(within_min))
    notes = _app.gap_travel_notes(travel, tuple(sorted(moud)), medicaid, only_247, open_at)
except ValueError as exc:
    st.warning(f"Cannot score gaps with these options: {exc}")
    st.stop()
for note in notes:  # sites on an island of the road network (one sentence each)
    st.warning(note)
layers = []
legend = ""
if gap is not None:
    pub = gap  # published by products.gaps.gap_table for this tier
    score = pub["gap_score"].astype(float)
    tips = [
        f"Cell {h}\nGap rank {r} (score {s:.2f})\n{reason}"
        for h, r, s, reason in zip(
            cells_to_str(pub["h3"].to_numpy(np.uint64)),
            pub["gap_rank"],
            score,
            pub["reason"],
            strict=True,
        )
    ]
    fill = deck.sequential_colors(score, 0, float(np.nanmax(score)) or 1.0)
    fill[(score <= 0).to_numpy()] = (*deck.NO_DATA_COLOR, 60)  # no overdoses: no gap to show
    layers.append(deck.hex_layer(pub["h3"].to_numpy(np.uint64), fill, tips, layer_id="gap-cells"))
    legend += deck.sequential_legend(
        0, float(np.nanmax(score)) or 1.0, "Gap score (higher = bigger gap)", "", None
    )
for kind in ("treatment", "ssp", "naloxone"):
    if show[kind]:
        layers.append(
            deck.sites_layer(
                shown[shown["kind"].astype(str) == kind],
                layer_id=f"{kind}-sites",
                color=deck.SITE_COLORS[kind],
            )
        )
legend += deck.sites_legend(
    [k for k in show if show[k]],
    {"treatment": "Treatment", "ssp": "Syringe services", "naloxone": "Naloxone"},
)
if travel != "straight":
    from layers.deck_travel import REACH_COLORS, reach_layer

    nal = shown[shown["kind"].astype(str) == "naloxone"]
    try:
        outline = _app.reach_outline(travel, reach_min, nal)
    except ValueError as exc:
        st.warning(f"Cannot draw reach outlines: {exc}")
        outline = None
    words = f"{reach_min} min {'walk' if travel == 'walk' else 'drive'}"
    lay = reach_layer(outline, layer_id="reach-naloxone", kind="existing",
                      label=f"Within {words} of a naloxone site")
    if lay is not None:
        layers.insert(1, lay)
        legend += deck.legend_html([(REACH_COLORS["existing"],
                                     f"Within {words} of a naloxone site (along streets)")])
legend += deck.legend_html([], title=f"Access: {mode_text}")
_app.show_map(layers, "gap_map", legend)
if gap is not None:
    _ui.download_map(pub["h3"].to_numpy(np.uint64), "gap_map", counts=pub["count"],
                     title=f"Overdoses per cell, gap analysis ({f.label})")

if gap is None:
    st.stop()
st.subheader("Cells ranked by gap score")
st.caption(
    f"H3 res-{f.res} cells; burden = overdoses in {f.label} (the sidebar's window, outcome, "
    "source, drug, age band and sex filters apply; trend against the period of the same "
    "length before). The "
    "score combines burden (overdoses, trend, Gi* hot spot of the same window) with distance "
    "to naloxone, 24/7 naloxone, treatment and syringe services (see README). "
    + ("Public tier: counts perturbed, 1–9 hidden (reasons say 'fewer than 10'); scores are "
       "computed from the published counts." if tier != "restricted" else
       "Restricted tier: exact counts.")
    + f" Access measured by {mode_text}"
    + ("" if travel == "straight" else
       " (the gap score itself uses straight-line distance; 'no route' = unreachable, blank in "
       f"the CSV; 2SFCA = treatment places per overdose within {CATCHMENT_MIN:.0f} minutes "
       "along the streets, beside the 24 km straight-line one)") + "."
)
table = pd.DataFrame(
    {
        "gap rank": pub["gap_rank"].to_numpy(),
        "cell": cells_to_str(pub["h3"].to_numpy(np.uint64)),
        "gap score": pub["gap_score"].round(3).to_numpy(),
        "overdoses": deck.count_text(pub["count"], pol.k, ""),
        "trend": pub["trend"].to_numpy(),
        "Gi* class": pub["gi_class"].to_numpy() if "gi_class" in pub.columns else "",
        "nearest naloxone (km)": (pub["dist_m_naloxone"] / 1000).round(2).to_numpy(),
        "nearest MOUD (km)": (pub["dist_m_treatment"] / 1000).round(2).to_numpy(),
        "nearest SSP (km)": (pub["dist_m_ssp"] / 1000).round(2).to_numpy(),
        "reason": pub["reason"].to_numpy(),
    }
)
export = table.copy()
if travel != "straight":
    from layers.reach import format_minutes

    unit = "walk" if travel == "walk" else "drive"
    at = table.columns.get_loc("reason")
    for col, label in (("naloxone", "naloxone"), ("treatment", "MOUD"), ("ssp", "SSP")):
        name = f"{unit} to {label} (min)"
        minutes = pub[f"travel_min_{col}"].astype(float)
        # page: "no route"; CSV: the minutes, blank where no route (never inf)
        table.insert(at, name, [format_minutes(v) for v in minutes])
        export.insert(at, name, minutes.round(1).to_numpy())
        at += 1
    for col, label in (("naloxone", "naloxone"), ("treatment", "MOUD"), ("ssp", "SSP")):
        name = f"{label} sites within {within_min} min {unit}"
        table.insert(at, name, pub[f"sites_within_min_{col}"].to_numpy())
        export.insert(at, name, pub[f"sites_within_min_{col}"].to_numpy())
        at += 1
    name = f"2SFCA treatment, {CATCHMENT_MIN:.0f} min {unit}"
    table.insert(at, name, pub["travel_2sfca_treatment"].round(4).to_numpy())
    export.insert(at, name, pub["travel_2sfca_treatment"].round(4).to_numpy())
    table.insert(at, "2SFCA treatment, 24 km straight line",
                 pub["e2sfca_treatment"].round(4).to_numpy())
    export.insert(at, "2SFCA treatment, 24 km straight line",
                  pub["e2sfca_treatment"].round(4).to_numpy())
for t_ in (table, export):
    t_["access measured by"] = mode_text
table = table.sort_values("gap rank", kind="stable")
table["overdoses"] = table["overdoses"].str.strip()
export = export.sort_values("gap rank", kind="stable")
export["overdoses"] = export["overdoses"].str.strip()
st.dataframe(table.head(200), hide_index=True, key="gap_table")
st.download_button(
    "Download gap table (CSV)",
    export.to_csv(index=False).encode(),
    file_name=f"gapmap_gaps_res{f.res}_{travel}.csv",
    mime="text/csv",
    key="gap_csv",
)

# ---- naloxone distribution: kits per overdose and distribution gaps (cases.naloxone)
st.subheader("Naloxone distribution: kits per overdose")
from app_pages import _cases  # noqa: E402
from cases.naloxone import distribution_gaps, kits_per_overdose  # noqa: E402
from products.query import select  # noqa: E402

kit_log, kit_origin = _cases.kits()
if kit_log is None:
    st.info("No naloxone distribution log yet (the Evaluation page imports one).")
else:
    per = kits_per_overdose(kit_log, select(_app.incidents(), f.query), f.res, pol, f.start,
                            f.end)
    dgap = distribution_gaps(per)
    kit_cols = {"count": "overdoses", "kits": "kits handed out",
                "kits_per_overdose": "kits per overdose"}
    st.caption(
        f"From {kit_origin}; H3 res-{f.res} cells, {f.label}. Overdoses are published counts"
        + (" (perturbed, 1–9 hidden)" if tier == "public" else "")
        + "; kits per overdose is computed from them (blank where hidden). Kits are handed "
        "out at public places, not counts of people. A distribution gap: overdoses in the top "
        "quarter of the shown areas and fewer kits than overdoses.")
    for t_ in (per, dgap):
        t_["h3"] = cells_to_str(t_["h3"].to_numpy(np.uint64))
    st.markdown(f"**Distribution gaps** ({len(dgap)} area(s): high burden, few kits)")
    show_gap = dgap[["h3", "count", "kits", "kits_per_overdose"]].rename(columns=kit_cols)
    st.dataframe(show_gap, hide_index=True, key="kit_gap_table")
    _ui.download_table(show_gap, f"distribution_gaps_res{f.res}")
    with st.expander("Kits per overdose, every area"):
        show_per = per[["h3", "count", "kits", "kits_per_overdose"]].rename(columns=kit_cols)
        st.dataframe(show_per.head(500), hide_index=True, key="kit_per_table")
        _ui.download_table(show_per, f"kits_per_overdose_res{f.res}")
