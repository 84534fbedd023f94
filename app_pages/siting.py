"""Siting: where to put k new naloxone boxes to cover the most overdose burden (MCLP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app, _linechart, _ui
from app_pages._filters import people_note
from layers import deck

f = _app.filters()
st.title("Siting new naloxone sites")
people_note(f)
cand = _app.candidates()
if cand is None:
    st.info(
        "No candidate host sites: add a candidates file (site_id, name, subtype, lat, lon, "
        "open_24_7, hours)."
    )
    st.stop()

subtypes = sorted(cand["subtype"].astype(str).unique())
c = st.columns([1, 1, 2])
k = c[0].slider("New sites (k)", 1, min(20, len(cand)), min(5, len(cand)), key="site_k")
radius = c[1].select_slider(
    "Walking reach (m)",
    [200, 400, 800, 1600],
    value=400,
    key="site_radius",
    help="A cell is covered when its centre is within this great-circle "
    "distance of a site (~200 m: public-access defibrillator literature).",
)
types = c[2].multiselect("Candidate types", subtypes, default=subtypes, key="site_types")
c = st.columns([1, 3])
only_247 = c[0].checkbox("24/7 sites only", value=False, key="site_247")
exact = c[1].toggle("Prove the optimum (exact HiGHS solve, slower)", value=False, key="site_exact")

# ---- travel mode (issue 11): coverage by straight line or minutes along the streets
_MODES = {"straight": "Straight line", "walk": "Walking time", "drive": "Driving time"}
c = st.columns([2, 1])
travel = c[0].radio("Coverage measured by", list(_MODES), format_func=_MODES.get,
                    horizontal=True, key="site_travel",
                    help="Straight line: within the reach in metres. Walking (5 km/h) / driving: "
                    "within the minutes along the road network; the walk to the street counts.")
minutes = c[1].select_slider("Reach (minutes)", [5, 10, 15, 20], value=10, key="site_minutes",
                             disabled=travel == "straight")
if travel != "straight" and _app.roads_path() is None:
    st.warning("No road network: set GAPMAP_ROADS to an .osm.pbf extract or road-lines file. "
               "Using straight-line coverage.")
    travel = "straight"
network = travel != "straight"
unit = "walk" if travel == "walk" else "drive"
reach_words = f"{minutes} min {unit} along streets" if network else f"{radius} m straight line"
mode_text = {"straight": "straight-line distance", "walk": "walking time on streets",
             "drive": "driving time on streets"}[travel]

if not types:
    st.warning("Choose at least one candidate type.")
    st.stop()
try:
    if exact:
        with st.spinner("Solving the exact maximal-covering problem (HiGHS)…"):
            out = _app.siting(f, k, radius, tuple(types), only_247, exact=True,
                              travel=travel if network else None,
                              minutes=minutes if network else None)
    else:
        out = _app.siting(f, k, radius, tuple(types), only_247, exact=False,
                          travel=travel if network else None,
                          minutes=minutes if network else None)
except ValueError as exc:
    st.warning(f"Cannot site with these options: {exc}")
    st.stop()

pol = _app.policy()
tier = _app.tier()
summ = out.summary  # published by products.siting.siting_plan for this tier
restricted = tier == "restricted"
status = "" if summ["status"] == summ["method"] else f", {summ['status']}"
basis = (
    "exact overdose counts (restricted tier)"
    if restricted
    else "the published cell counts (counts perturbed, 1–9 hidden and filled with the average "
    "a reader can work out from public figures), so every figure here is a share of the "
    "published burden"
)
st.caption(
    f"Demand: overdoses per H3 res-{f.res} cell, {f.label} ({f.query.describe()}), from "
    f"{basis}. Existing naloxone "
    f"sites fix the cells within {reach_words} as covered (coverage by {mode_text}). "
    f"Method: {summ['method']}{status}; "
    f"proven bound {summ['upper_bound_pct']:.1f}% newly covered, gap {100 * summ['gap']:.2f}%."
)

if summ.get("stopped_early"):  # the plan lists only sites that newly cover something
    st.info(summ["note"])
burden_text = (
    f"{summ['covered_before']:,.0f} of {summ['total_burden']:,.0f} overdoses"
    if restricted
    else "share of the published burden"
    + ("" if summ["total_burden"] is None else f" ({summ['total_burden']:,.0f} overdoses)")
)
m = st.columns(3)
m[0].metric("Overdoses covered now", f"{summ['coverage_pct_before']:.1f}%", help=burden_text)
m[1].metric(
    f"Covered with {summ.get('n_chosen', k)} new sites",
    f"{summ['coverage_pct_after']:.1f}%",
    f"{summ['coverage_pct_after'] - summ['coverage_pct_before']:+.1f} pts",
)
m[2].metric(
    "Overdoses newly covered",
    f"{summ['objective']:,.0f}" if restricted else f"{summ['objective_pct']:.1f}%",
    help=f"Overdoses in {f.label} within {reach_words} of a new site and of no existing one"
    + ("." if restricted else ", as a share of the published burden."),
)

if network:
    st.info(
        f"Straight line vs streets: {summ['straight_covered_pct']:.1f}% of the burden is within "
        f"{radius} m in a straight line of this plan's sites and the existing ones, "
        f"{summ['network_covered_pct']:.1f}% within {minutes} minutes' {unit} along the "
        f"streets; **{summ['straight_not_network_pct']:.1f}%** looks covered in a straight line "
        "but is not reached on the network (rivers, highways, dead ends, the walk to the street)."
    )
    # sites on an island of the road network: one sentence each (issue 11)
    _ex = _app.resources()
    for rows, what in ((None if _ex is None else _ex[_ex["kind"].astype(str) == "naloxone"],
                        "existing naloxone sites"),
                       (cand[cand["subtype"].astype(str).isin(types)], "candidate sites")):
        try:
            note = _app.island_note(travel, rows, what)
        except ValueError:
            note = None  # a roads file that does not fit is reported above
        if note:
            st.warning(note)

# ---- map: demand cells, existing naloxone, candidates, chosen in order
demand = out.demand  # published cell counts the plan ran on
vals = pd.to_numeric(demand["count"]).astype("Float64")
vmax = float(vals.max()) if vals.notna().any() else 1.0
period = f.label  # (a property: computed once, not per cell)
tips = [f"{t} ({period})" for t in deck.count_text(demand["count"], pol.k)]
layers = [
    deck.hex_layer(
        demand["h3"].to_numpy(np.uint64),
        deck.sequential_colors(vals, 0, vmax, log=True, zero_clear=True),
        tips,
        layer_id="demand",
        pickable=True,
    )
]
existing = _app.resources()
if existing is not None:
    nal = existing[existing["kind"].astype(str) == "naloxone"]
    layers.append(
        deck.sites_layer(nal, layer_id="existing-naloxone", color=deck.SITE_COLORS["naloxone"])
    )
allowed = cand[cand["subtype"].astype(str).isin(types)]
layers.append(
    deck.sites_layer(
        allowed,
        layer_id="candidates",
        color=deck.SITE_COLORS["candidate"],
        radius_m=40,
        min_pixels=2,
        max_pixels=5,
        opacity=150,
    )
)
sites = out.sites
chosen_tips = [
    f"#{o}: {n} ({s})\nnewly covers {p:.1f}% of the burden"
    for o, n, s, p in zip(sites["order"], sites["name"], sites["subtype"],
                          sites["marginal_pct"], strict=True)
]
layers.append(
    deck.sites_layer(
        sites.rename(columns={"site_lat": "lat", "site_lon": "lon"}),
        layer_id="chosen",
        color=deck.SITE_COLORS["chosen"],
        tooltip=chosen_tips,
        radius_m=80.0,
        min_pixels=6,
        max_pixels=40,
        opacity=220,
    )
)
from layers.deck_areas import text_layer  # noqa: E402

# order numbers on the recommended sites (1 = add first): dark bold digits with the white
# halo, so they read on the orange marker and on any cell colour
layers.append(text_layer([f"{o}" for o in sites["order"]], sites["site_lat"].to_numpy(float),
                         sites["site_lon"].to_numpy(float), layer_id="order-chosen", size=16,
                         color=(20, 20, 20), bold=True))
if not network and len(sites):
    layers.insert(1, deck.reach_circles_layer(
        sites.rename(columns={"site_lat": "lat", "site_lon": "lon"}), float(radius),
        layer_id="reach-circles-chosen"))
if network:
    from layers.deck_travel import reach_layer

    chosen_ll = sites.rename(columns={"site_lat": "lat", "site_lon": "lon"})
    for kind, rows, label in (("existing", nal if existing is not None else None,
                               "existing naloxone sites"),
                              ("chosen", chosen_ll, "recommended sites")):
        try:
            geom = _app.reach_outline(travel, minutes, rows)
        except ValueError as exc:
            st.warning(f"Cannot draw reach outlines: {exc}")
            geom = None
        lay = reach_layer(geom, layer_id=f"reach-{kind}", kind=kind,
                          label=f"Within {minutes} min {unit} of {label}")
        if lay is not None:
            layers.insert(1, lay)
legend = deck.sequential_legend(
    0, vmax, f"Overdoses per cell ({f.label})", "", pol.k if tier == "public" else None,
    log=True, zero_clear=True,
) + deck.sites_legend(
    ["naloxone", "candidate", "chosen"],
    {
        "naloxone": "Existing naloxone site",
        "candidate": "Candidate host",
        "chosen": "Recommended site (number = order to add; hover for details)",
    },
)
if not network:
    legend += deck.legend_html([(deck.SITE_COLORS["chosen"],
                                 f"Reach circle: {reach_words} of a recommended site")])
if network:
    from layers.deck_travel import REACH_COLORS

    legend += deck.legend_html([
        (REACH_COLORS["existing"], f"Within {minutes} min {unit} of an existing site"),
        (REACH_COLORS["chosen"], f"Within {minutes} min {unit} of a recommended site")])
legend += deck.legend_html([], title=f"Coverage: {mode_text}")
_app.show_map(layers, "siting_map", legend)
_ui.download_map(demand["h3"].to_numpy(np.uint64), "siting_map", counts=demand["count"],
                 title=f"Overdoses per cell, siting demand ({f.label})")

st.subheader("Recommended sites, in order")
table = sites.rename(columns={"site_lat": "lat", "site_lon": "lon",
                              "marginal_pct": "newly covered (% of burden)",
                              "marginal_covered": "newly covered overdoses"})
table = table.drop(columns=["suppressed"])
table["coverage measured by"] = mode_text
table["reach"] = reach_words
st.dataframe(table, hide_index=True, key="site_table")
st.download_button(
    "Download recommended sites (CSV)",
    table.to_csv(index=False).encode(),
    file_name=(f"gapmap_sites_k{k}_{minutes}min_{travel}.csv" if network
               else f"gapmap_sites_k{k}_{radius}m.csv"),
    mime="text/csv",
    key="site_csv",
)

st.subheader("Coverage vs number of new sites")
chart = out.curve[["k", "covered_pct"]]
_linechart.line_chart(  # st.line_chart's chart without altair (tests/test_linechart.py)
    chart.set_index("k"),
    y_label="burden covered (%)",
    x_label=f"new sites (greedy order; coverage by {mode_text})",
    name="coverage_curve",
)
_ui.download_table(chart, "coverage_curve", "Download coverage curve (CSV)")
_ui.download_chart(chart.set_index("k"), "coverage_curve", title="Coverage vs new sites",
                   ylabel="burden covered (%)")
st.caption(
    "Greedy additions (each covers the most still-uncovered burden); the greedy curve is "
    "within 1 − 1/e of optimal at every k and usually within a few percent."
    + ("" if restricted else " Shares of the published burden, rounded to 0.1 points.")
)
