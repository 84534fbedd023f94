"""Siting: where to put k new naloxone boxes to cover the most overdose burden (MCLP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app
from layers import deck

f = _app.filters()
st.title("Siting new naloxone sites")
if _app.optional("layers.siting") is None or _app.optional("layers.coverage") is None:
    _app.missing_library("Siting", "layers.siting")
    st.stop()
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

if not types:
    st.warning("Choose at least one candidate type.")
    st.stop()
try:
    if exact:
        with st.spinner("Solving the exact maximal-covering problem (HiGHS)…"):
            out = _app.siting(f, k, radius, tuple(types), only_247, "exact")
    else:
        out = _app.siting(f, k, radius, tuple(types), only_247, "heuristic")
except ValueError as exc:
    st.warning(f"Cannot site with these options: {exc}")
    st.stop()

res = out["result"]
pol = _app.policy()
tier = _app.tier()
sites = out["sites"]
status = "" if res.status == res.method else f", {res.status}"
st.caption(
    f"Demand: overdoses per H3 res-{f.res} cell, {f.label}. Existing naloxone sites fix the "
    f"cells within {radius} m as covered. Method: {res.method}{status}; proven upper "
    f"bound {_app.count_label(res.upper_bound)} overdoses, gap {100 * res.gap:.2f}%."
)

m = st.columns(3)
m[0].metric(
    "Overdoses covered now",
    f"{res.coverage_pct_before:.1f}%",
    help=f"{res.covered_before:,.0f} of {res.total_burden:,.0f} overdoses",
)
m[1].metric(
    f"Covered with {k} new sites",
    f"{res.coverage_pct_after:.1f}%",
    f"{res.coverage_pct_after - res.coverage_pct_before:+.1f} pts",
)
m[2].metric(
    "Overdoses newly covered",
    _app.count_label(res.objective),
    help=f"Overdoses in {f.label} within {radius} m of a new site and of no existing one.",
)

# ---- map: demand cells, existing naloxone, candidates, chosen in order
demand = _app.show_table(_app.cell_counts(f)[["h3", "count"]])
vals = pd.to_numeric(demand["count"]).astype("Float64")
vmax = float(vals.max()) if vals.notna().any() else 1.0
tips = [f"{t} ({f.label})" for t in deck.count_text(demand["count"], pol.k)]
layers = [
    deck.hex_layer(
        demand["h3"].to_numpy(np.uint64),
        deck.sequential_colors(vals, 0, vmax),
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
sites = sites.assign(
    marginal_count=np.round(sites["marginal_covered"].astype(float)).astype(np.int64)
)
pub_sites = _app.show_table(
    sites[
        ["order", "site_id", "name", "subtype", "lat", "lon", "open_24_7", "marginal_count"]
    ].rename(columns={"lat": "site_lat", "lon": "site_lon"}),
    count_columns=["marginal_count"],
)
chosen_tips = [
    f"#{o}: {n} ({s})\nnewly covers {t}"
    for o, n, s, t in zip(
        pub_sites["order"],
        pub_sites["name"],
        pub_sites["subtype"],
        deck.count_text(pub_sites["marginal_count"], pol.k),
        strict=True,
    )
]
layers.append(
    deck.sites_layer(
        sites,
        layer_id="chosen",
        color=deck.SITE_COLORS["chosen"],
        tooltip=chosen_tips,
        radius_m=float(radius),
        min_pixels=8,
        max_pixels=40,
        opacity=220,
    )
)
legend = deck.sequential_legend(
    0, vmax, f"Overdoses per cell ({f.label})", "", pol.k if tier == "public" else None
) + deck.sites_legend(
    ["naloxone", "candidate", "chosen"],
    {
        "naloxone": "Existing naloxone site",
        "candidate": "Candidate host",
        "chosen": f"Recommended, {radius} m reach (hover: order)",
    },
)
_app.show_map(layers, "siting_map", legend)

st.subheader("Recommended sites, in order")
table = pub_sites.rename(columns={"site_lat": "lat", "site_lon": "lon"})
table["newly covered overdoses"] = deck.count_text(table["marginal_count"], pol.k, "")
st.dataframe(table.drop(columns=["marginal_count", "suppressed"]), hide_index=True)
st.download_button(
    "Download recommended sites (CSV)",
    table.drop(columns=["newly covered overdoses"]).to_csv(index=False).encode(),
    file_name=f"gapmap_sites_k{k}_{radius}m.csv",
    mime="text/csv",
    key="site_csv",
)

st.subheader("Coverage vs number of new sites")
curve = out["curve"]
chart = pd.DataFrame(
    {
        "k": curve["k"].to_numpy(int),
        "covered_pct": (100 * curve["covered"] / curve["total"]).to_numpy(float),
    }
)
st.line_chart(
    chart,
    x="k",
    y="covered_pct",
    y_label="overdoses covered (%)",
    x_label="new sites (greedy order)",
)
st.caption(
    "Greedy additions (each covers the most still-uncovered burden); the greedy curve is "
    "within 1 − 1/e of optimal at every k and usually within a few percent."
)
