"""Outreach: nonfatal overdoses in the last 24/48/72 hours by area, with the nearest resources.

For post-overdose response teams. Public tier: counts per area only (small counts suppressed).
Restricted tier: also the line list of incidents to follow up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app, _ui
from app_pages._filters import people_note
from geo.cells import cells_to_str
from layers import deck

f = _app.filters()
st.title("Outreach: recent nonfatal overdoses")
people_note(f)
tier = _app.tier()
pol = _app.policy()
table = _app.outreach(f)  # published by products.outreach.outreach_table for this tier
totals, end = _app.outreach_totals(f)
st.caption(
    f"Data through {end - pd.Timedelta(days=1):%Y-%m-%d}: the windows are the last 24, 48 and "
    f"72 hours up to the end of that day (the latest report's day, not the clock: data "
    f"arrive with a lag). Areas are H3 res-{f.res} cells. Nonfatal overdoses only; the "
    "sidebar's time window and outcome filter do not apply here (the source and the drug, "
    "age band and sex filters do). "
    "Windows are cumulative (48 h includes 24 h); a window is hidden where subtracting it "
    "from a wider one would reveal a suppressed count. Follow-up within 24–72 h is the "
    "PORT/DART standard."
)

m = st.columns(3)
for i, h in enumerate((24, 48, 72)):
    v = totals[f"n_{h}h"].iloc[0]
    m[i].metric(f"Nonfatal overdoses, last {h} h", "suppressed" if pd.isna(v) else f"{int(v):,}")

if table.empty:
    st.success("No nonfatal overdoses in the last 72 hours.")
    st.stop()

pub = table
if tier == "public" and pub["suppressed"].all():
    st.info(
        f"Every area has fewer than {pol.k} recent nonfatal overdoses at resolution {f.res}, "
        "so counts are suppressed: choose a coarser H3 resolution (6 or 7) in the sidebar, or "
        "log in for the restricted tier."
    )
disp = pd.DataFrame({"area (H3 cell)": cells_to_str(pub["h3"].to_numpy(np.uint64))})
for h in (24, 48, 72):
    disp[f"last {h} h"] = deck.count_text(pub[f"n_{h}h"], pol.k, "")
    disp[f"last {h} h"] = disp[f"last {h} h"].str.strip()
for kind, label in (
    ("naloxone", "naloxone"),
    ("treatment", "treatment"),
    ("ssp", "syringe services"),
):
    if f"nearest_{kind}" in pub.columns:
        km = (pub[f"dist_m_{kind}"].astype(float) / 1000).round(2)
        disp[f"nearest {label}"] = [
            f"{n} ({d} km)" if isinstance(n, str) else "none"
            for n, d in zip(pub[f"nearest_{kind}"], km, strict=True)
        ]

v72 = pd.to_numeric(pub["n_72h"]).astype("Float64")
fill = deck.sequential_colors(v72, 0, float(v72.max()) if v72.notna().any() else 1.0)
tips = [
    f"Cell {a}\n72 h: {c}" for a, c in zip(disp["area (H3 cell)"], disp["last 72 h"], strict=True)
]
layers = [deck.hex_layer(pub["h3"].to_numpy(np.uint64), fill, tips, layer_id="outreach-cells")]
sites = _app.resources()
if sites is not None:
    for kind in ("naloxone", "treatment"):
        layers.append(
            deck.sites_layer(
                sites[sites["kind"].astype(str) == kind],
                layer_id=f"{kind}-sites",
                color=deck.SITE_COLORS[kind],
            )
        )
points = None
if tier == "restricted":  # the follow-up points themselves, never in the public tier
    points = _app.outreach_list(f, 72)
    tips = [
        f"{h} h ago · naloxone: {n}"
        for h, n in zip(points["hours_ago"], points["naloxone"], strict=True)
    ]
    layers.append(
        deck.sites_layer(
            points,
            layer_id="restricted-incidents",
            color=(0, 0, 0),
            tooltip=tips,
            radius_m=60,
            min_pixels=5,
            max_pixels=9,
        )
    )
legend = deck.legend_html(
    [
        ((150, 150, 150), f"cell with 1–{pol.k - 1} (suppressed)")
        if tier == "public"
        else ((68, 1, 84), "cell with nonfatal overdoses")
    ],
    "Areas, last 72 h",
) + deck.sites_legend(["naloxone", "treatment"])
if points is not None:
    legend += deck.legend_html([((0, 0, 0), "nonfatal overdose, last 72 h (restricted)")])
_app.show_map(layers, "outreach_map", legend)
_ui.download_map(pub["h3"].to_numpy(np.uint64), "outreach_map", counts=pub["n_72h"],
                 title="Nonfatal overdoses per cell, last 72 h")

st.subheader("Areas to visit")
st.dataframe(disp, hide_index=True)
_ui.download_table(disp, "outreach_areas", "Download areas (CSV)", key="outreach_csv")

st.subheader("Follow-up line list")
if tier != "restricted":
    st.info(
        "The line list (times and locations of individual overdoses) is only shown in the "
        "restricted tier: log in from the sidebar."
    )
else:
    hours = st.radio(
        "Window",
        [24, 48, 72],
        index=2,
        horizontal=True,
        key="outreach_hours",
        format_func=lambda h: f"last {h} h",
    )
    lst = _app.outreach_list(f, int(hours))
    st.dataframe(lst, hide_index=True, key="outreach_line_list")
    _ui.download_table(lst, "outreach_line_list", "Download line list (CSV, restricted)")
    st.caption(f"{len(lst)} nonfatal overdoses in the last {hours} h. Restricted: do not share.")
