"""Gaps: resource layers with attribute filters, access and gap-score map, ranked gap table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app
from geo.cells import cells_to_str
from layers import deck

f = _app.filters()
st.title("Resource gaps")
sites = _app.resources()
if sites is None:
    st.info("No resource file: add one on the Data page (treatment, syringe services, naloxone).")
    st.stop()
tier = _app.tier()
pol = _app.policy()


def _flag(col: str) -> np.ndarray:
    if col not in sites.columns:
        return np.zeros(len(sites), bool)
    return sites[col].astype(str).str.lower().isin(["true", "1", "yes", "y"]).to_numpy()


# ---- layer toggles and attribute filters
c = st.columns(3)
show = {"treatment": c[0].toggle("Treatment (MOUD)", True, key="gap_treat"),
        "ssp": c[1].toggle("Syringe services", True, key="gap_ssp"),
        "naloxone": c[2].toggle("Naloxone", True, key="gap_nal")}
c = st.columns(4)
moud = c[0].multiselect("MOUD offered", ["methadone", "buprenorphine", "naltrexone"],
                        key="gap_moud", help="Treatment sites offering any of these.")
medicaid = c[1].checkbox("Accepts Medicaid", key="gap_medicaid")
only_247 = c[2].checkbox("Open 24/7", key="gap_247")
open_now = c[3].checkbox("Open now", key="gap_open_now",
                         help="Open at the current local time, by the site's opening hours.")

keep = np.ones(len(sites), bool)
is_treat = (sites["kind"].astype(str) == "treatment").to_numpy()
if moud:
    keep &= ~is_treat | np.logical_or.reduce([_flag(m) for m in moud])
if medicaid:
    keep &= ~is_treat | _flag("medicaid")
if only_247:
    keep &= _flag("open_24_7")
if open_now:
    hours = _app.optional("layers.hours")
    if hours is None:
        _app.missing_library("Opening-hours filtering", "layers.hours")
    else:
        keep &= hours.sites_open_at(sites, pd.Timestamp.now())
shown = sites[keep]
m = st.columns(3)
for i, (kind, label) in enumerate((("treatment", "Treatment sites"), ("ssp", "Syringe-service sites"),
                                   ("naloxone", "Naloxone sites"))):
    m[i].metric(f"{label} (filtered)", f"{int((shown['kind'].astype(str) == kind).sum()):,}")

# ---- gap score
gaps_mod = _app.optional("layers.gaps")
gap = _app.gap_table(f, tuple(sorted(moud)), medicaid, only_247) if gaps_mod is not None else None
layers = []
legend = ""
if gap is not None:
    pub = _app.show_table(gap)
    score = pub["gap_score"].astype(float)
    tips = [f"Cell {h}\nGap rank {r} (score {s:.2f})\n{reason}" for h, r, s, reason in zip(
        cells_to_str(pub["h3"].to_numpy(np.uint64)), pub["gap_rank"], score, pub["reason"], strict=True)]
    layers.append(deck.hex_layer(pub["h3"].to_numpy(np.uint64),
                                 deck.sequential_colors(score, 0, float(np.nanmax(score)) or 1.0),
                                 tips, layer_id="gap-cells"))
    legend += deck.sequential_legend(0, float(np.nanmax(score)) or 1.0,
                                     "Gap score (higher = bigger gap)", "", None)
for kind in ("treatment", "ssp", "naloxone"):
    if show[kind]:
        layers.append(deck.sites_layer(shown[shown["kind"].astype(str) == kind],
                                       layer_id=f"{kind}-sites", color=deck.SITE_COLORS[kind]))
legend += deck.sites_legend([k for k in show if show[k]],
                            {"treatment": "Treatment", "ssp": "Syringe services",
                             "naloxone": "Naloxone"})
_app.show_map(layers, "gap_map", legend)

if gap is None:
    _app.missing_library("The gap score", "layers.gaps")
    st.stop()
st.subheader("Cells ranked by gap score")
st.caption(f"H3 res-{f.res} cells, burden from {f.label}. The score combines burden (recent "
           "overdoses, trend) with distance to naloxone, 24/7 naloxone, treatment and syringe "
           "services (see README). Public tier: counts 1–9 suppressed, reasons say "
           "'fewer than 10'.")
table = pub.copy()
table.insert(1, "cell", cells_to_str(table["h3"].to_numpy(np.uint64)))
table = table.drop(columns=["h3"]).sort_values("gap_rank")
st.dataframe(table, hide_index=True, key="gap_table")
st.download_button("Download gap table (CSV)", table.to_csv(index=False).encode(),
                   file_name=f"gapmap_gaps_res{f.res}.csv", mime="text/csv", key="gap_csv")
