"""Hotspots: H3 map of Gi* classes / counts, emerging categories, density clusters, cell detail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app, _areas, _ui
from app_pages._filters import people_note
from app_pages._linechart import bar_chart
from geo.cells import cells_to_latlng, cells_to_str, str_to_cells
from layers import deck

f = _app.filters()
st.title("Hotspots")

tier = _app.tier()
pol = _app.policy()


@st.fragment
def _map_section() -> None:
    """Colour-by and sites controls, the map, its downloads and figures, the clicked cell.

    A fragment: changing a control or clicking a cell reruns only this part of the page,
    not the emerging hot spots and density clusters below (they do not depend on it).
    """
    c1, c2 = st.columns([2, 1])
    colour_by = c1.radio(
        "Colour cells by",
        ["Gi* class", "Overdose count", "Rate per 10,000"],
        horizontal=True,
        key="hot_colour",
        help="Rate: overdoses per 10,000 residents, population area-weighted onto "
        "cells, empirical-Bayes smoothed (Marshall 1991) so sparse cells are not "
        "extreme. Cells without residents have no rate.",
    )
    show_sites = c2.toggle("Show naloxone sites", value=False, key="hot_sites")

    # the hot-spot product (products.hotspots.hotspot_table), already published for this tier
    pub = _app.hotspots(f)
    people_note(f)  # every figure below (map, table, history, emerging, clusters) is filtered
    st.caption(
        f"{len(pub):,} analysis cells at H3 resolution {f.res} · {f.label} · Gi* with k-ring 1 "
        "neighbours, Benjamini–Hochberg FDR q-values. "
        + (
            "Public tier: counts 1–9 are suppressed and other counts perturbed by at most ±3; "
            "z and q are computed from the published counts (hidden ones imputed), so they "
            "reveal no suppressed count."
            if tier != "restricted"
            else "Restricted tier: exact counts."
        )
    )


    def _num(v, fmt: str) -> str:
        return "–" if pd.isna(v) else format(float(v), fmt)


    counts_txt = deck.count_text(pub["count"], pol.k)
    labels = [deck.GI_LABELS.get(c, c) for c in pub["class"]]
    places = _areas.labels(pub["h3"].to_numpy(np.uint64))  # "Area · ZIP (near place)"
    period = f.label  # (a property: computed once, not per cell)
    tips = [
        f"Cell {h}" + (f" · {p}" if p else "")
        + f"\n{n} ({period})\n{lab}, z = {_num(z, '.2f')}, q = {_num(q, '.3f')}"
        for p, h, n, lab, z, q in zip(
            places,
            cells_to_str(pub["h3"].to_numpy(np.uint64)),
            counts_txt,
            labels,
            pub["z"].to_numpy(float),
            pub["q"].to_numpy(float),
            strict=True,
        )
    ]
    if colour_by == "Gi* class":
        fill = deck.class_colors(pub["class"])
        legend = deck.class_legend()
    elif colour_by == "Rate per 10,000" and (rpub := _app.rates(f)) is not None:
        # rates of suppressed cells are blanked by the product
        rate = pd.Series(
            rpub["rate"].astype("Float64").to_numpy(), index=rpub["h3"].to_numpy(np.uint64)
        )
        vals = rate.reindex(pub["h3"].to_numpy(np.uint64)).astype("Float64")
        vmax = float(vals.max()) if vals.notna().any() else 1.0
        fill = deck.sequential_colors(vals, 0, vmax, zero_clear=True)
        small = set(rpub.loc[rpub["class"] == "population_too_small", "h3"].to_numpy(np.uint64))
        rate_txt = [("population too small" if h in small else "no rate") if pd.isna(v)
                    else f"{v:,.1f} per 10,000 residents"
                    for h, v in zip(pub["h3"].to_numpy(np.uint64), vals, strict=True)]
        for w in rpub.attrs.get("warnings", []):
            st.caption(w + " Rates are empirical-Bayes smoothed (Marshall 1991).")
        tips = [f"{t}\n{r}" for t, r in zip(tips, rate_txt, strict=True)]
        legend = deck.sequential_legend(
            0,
            vmax,
            f"Overdoses per 10,000 residents ({f.label}, EB-smoothed)",
            "",
            None if pol.restricted else pol.k,
            zero_clear=True,
        )
    else:
        if colour_by == "Rate per 10,000":
            st.info("No population layer: showing counts instead of rates.")
        vals = pd.to_numeric(pub["count"]).astype("Float64")
        vmax = float(vals.max()) if vals.notna().any() else 1.0
        fill = deck.sequential_colors(vals, 0, vmax, log=True, zero_clear=True)
        legend = deck.sequential_legend(
            0, vmax, f"Overdoses per cell ({f.label})", "", None if pol.restricted else pol.k,
            log=True, zero_clear=True,
        )
    layers = [
        deck.hex_layer(
            pub["h3"].to_numpy(np.uint64),
            fill,
            tips,
            layer_id="cells",
            extra=pd.DataFrame({"cls": pub["class"].to_numpy(), "label": places}),
        )
    ] + _areas.context()  # area outlines, names and places from local files (offline)
    legend += _areas.context_legend()
    sites = _app.resources()
    if show_sites and sites is not None:
        nal = sites[sites["kind"].astype(str) == "naloxone"]
        layers.append(
            deck.sites_layer(nal, layer_id="naloxone-sites", color=deck.SITE_COLORS["naloxone"])
        )
        legend += deck.sites_legend(["naloxone"], {"naloxone": "Naloxone site"})
    _app.show_map(layers, "hotspot_map", legend, "Click a cell for its history.")
    ex = st.columns(2)
    with ex[0]:
        _ui.download_table(pub.assign(place=places), "hotspots", "Download hot-spot table (CSV)")
    with ex[1]:
        _ui.download_map(pub["h3"].to_numpy(np.uint64), "hotspot_map", classes=pub["class"],
                         title=f"Gi* hot spots, {f.label}")

    for w in pub.attrs.get("warnings", []):  # e.g. significance out of reach (products.hotspots)
        st.warning(w)
    n_hot = int(pub["class"].astype(str).str.startswith("hot").sum())
    n_cold = int(pub["class"].astype(str).str.startswith("cold").sum())
    m = st.columns(3)
    m[0].metric(f"Hot-spot cells ({f.label})", f"{n_hot:,}")
    m[1].metric(f"Cold-spot cells ({f.label})", f"{n_cold:,}")
    m[2].metric("Analysis cells", f"{len(pub):,}")

    # ---- click-to-inspect
    sel = _app.selected_object("hotspot_map")
    if sel and sel.get("h3"):
        cell = int(str_to_cells(np.array([sel["h3"]]))[0])
        st.subheader(f"Cell {sel['h3']}")
        if sel.get("label"):
            st.caption(sel["label"])
        row = pub[pub["h3"].to_numpy(np.uint64) == np.uint64(cell)]
        if len(row):
            r = row.iloc[0]
            st.write(
                f"**{deck.GI_LABELS.get(r['class'], r['class'])}** (z = {_num(r['z'], '.2f')}, "
                f"q = {_num(r['q'], '.3f')}); {deck.count_text([r['count']], pol.k)[0]} in "
                f"{f.label}."
            )
        # the cell-history product: public 28-day periods ending at the release date, else months
        hist = _app.cell_history(f, cell)
        unit = "month" if pol.restricted else "28-day period"
        if len(hist):
            chart = hist.set_index("period")["count"].astype("Float64").astype(float)
            if chart.notna().any() and chart.fillna(0).sum() > 0:
                # st.bar_chart's spec without altair (its import + chart building on first draw)
                bar_chart(chart, y_label=f"overdoses per {unit}", x_label=f"{unit} starting",
                          name="cell_history")
                _ui.download_table(hist, "cell_history", "Download cell history (CSV)")
                _ui.download_chart(chart.to_frame("overdoses"), "cell_history", kind="bar",
                                   title=f"Cell {sel['h3']}", ylabel=f"overdoses per {unit}")
            if pol.restricted:
                st.caption(f"All dates: {int(hist['count'].sum()):,} overdoses in this cell, "
                           "by month.")
            elif not chart.notna().any():
                st.caption("Every 28-day period of this cell is suppressed in the public tier "
                           "(1–9 overdoses, or hidden to protect one).")
            else:
                st.caption(
                    "All dates, in fixed 28-day periods ending "
                    f"{hist['period_end'].max():%Y-%m-%d} (the release date). Periods with 1–9 "
                    "overdoses are suppressed (no bar); shown counts are perturbed by at most ±3. "
                    "No all-dates total is shown in public (it would reveal the hidden periods)."
                )
        if sites is not None:
            from layers.outreach import nearest_site_names

            lat, lon = cells_to_latlng(np.array([cell], dtype=np.uint64))
            near = nearest_site_names(lat, lon, sites).iloc[0]
            st.table(
                pd.DataFrame(
                    {
                        "kind": ["naloxone", "treatment", "syringe services"],
                        "nearest site": [
                            near["nearest_naloxone"],
                            near["nearest_treatment"],
                            near["nearest_ssp"],
                        ],
                        "distance from cell centre (km)": [
                            "–" if pd.isna(near[f"dist_m_{k}"])
                            else f"{near[f'dist_m_{k}'] / 1000:.2f}"
                            for k in ("naloxone", "treatment", "ssp")
                        ],
                    }
                )
            )
    else:
        st.caption("Select a cell on the map to see its history, class and nearest resources.")


_map_section()

# ---- emerging hot spots (products.clusters.emerging_table)
st.subheader("Emerging hot spots")
_EMERGING_ORDER = [
    "new_hot",
    "consecutive_hot",
    "intensifying_hot",
    "persistent_hot",
    "diminishing_hot",
    "oscillating_hot",
    "historical_hot",
    "sporadic_hot",
]
days = None if f.start is None else (f.end - f.start).days
from products.clusters import auto_slice  # noqa: E402  (monthly from 10 months, else weekly)

slice_ = auto_slice(days)
if days is not None and days < 70:
    st.info(
        "Emerging hot spots need at least 10 time slices: choose a time window of 13 weeks "
        "or more in the sidebar."
    )
else:
    try:
        em = _app.emerging(f, slice_)
    except ValueError as exc:
        st.info(f"Emerging hot spots unavailable for this window: {exc}")
    else:
        cats = em["category"].astype(str)
        summary = cats[cats != "no_pattern"].value_counts().rename_axis("category")
        summary = summary.rename("cells").reset_index()
        st.caption(
            f"Space-time Gi* per {slice_} and cell, Mann–Kendall trend, ArcGIS Pro "
            f"categories; {f.label} (last day included)."
        )
        if summary.empty:
            st.write("No cell shows an emerging, persistent or other hot/cold-spot pattern.")
        else:
            st.dataframe(summary, hide_index=True, key="emerging_summary")
            _ui.download_table(summary, "emerging_summary")
            order = {c: i for i, c in enumerate(_EMERGING_ORDER)}
            pat = em[cats != "no_pattern"].copy()
            pat["_o"] = pat["category"].map(order).fillna(len(order))
            pat["_n"] = pd.to_numeric(pat["count"]).astype("Float64").fillna(-1)
            pat = pat.sort_values(["_o", "_n"], ascending=[True, False], kind="stable")
            shown = pd.DataFrame(
                {
                    "cell": cells_to_str(pat["h3"].to_numpy(np.uint64)),
                    "category": pat["category"].to_numpy(),
                    "overdoses": deck.count_text(pat["count"], pol.k, ""),
                }
            )
            st.dataframe(shown, hide_index=True, key="emerging_cells")
            _ui.download_table(shown, "emerging_cells")

# ---- density clusters (products.clusters.density_table)
st.subheader("Density clusters (DBSCAN)")
c = st.columns(2)
eps = c[0].select_slider("Neighbourhood radius (m)", [100, 250, 500], value=250, key="db_eps")
mins = c[1].select_slider("Minimum overdoses per cluster", [5, 10, 20, 50], value=10, key="db_min")
# workload guard only (not a disclosure rule): the window's size from the published counts
pub = _app.hotspots(f)  # (cached: the same table the map section drew)
n_points = int(pd.to_numeric(pub["count"]).astype("Float64").fillna(0).sum())
if n_points > _app.DENSITY_MAX_POINTS:
    clusters = None
    st.info(
        f"Density clustering runs on at most {_app.DENSITY_MAX_POINTS:,} overdoses (this "
        f"window has about {n_points:,}): choose a shorter time window in the sidebar."
    )
elif n_points > _app.DENSITY_AUTO_MAX and not st.toggle(
    f"Find density clusters in these {n_points:,} overdoses (takes a few seconds)",
    value=False,
    key="db_run",
):
    clusters = None
else:
    clusters = _app.density(f, eps, mins)
if clusters is None:
    pass
elif clusters.empty:
    st.write("No density cluster with these settings.")
elif pol.restricted:
    tab = clusters.drop(columns=["hull", "suppressed"], errors="ignore")
    tab["first_date"] = pd.to_datetime(tab["first_date"]).dt.strftime("%Y-%m-%d")
    tab["last_date"] = pd.to_datetime(tab["last_date"]).dt.strftime("%Y-%m-%d")
    tab["cells"] = [", ".join(cells_to_str(np.asarray(c, np.uint64))[:5]) for c in tab["cells"]]
    st.dataframe(tab, hide_index=True, key="density_table")
    _ui.download_table(tab, "density_clusters")
    st.caption("Restricted tier: cluster centroids are point-derived; do not share.")
else:
    shown = pd.DataFrame(
        {
            "cluster": clusters["cluster"].to_numpy(),
            "cell": cells_to_str(clusters["h3"].to_numpy(np.uint64)),
            "overdoses in cell": deck.count_text(clusters["count"], pol.k, ""),
            "overdoses in cluster": deck.count_text(clusters["cluster_count"], pol.k, ""),
        }
    )
    st.dataframe(shown, hide_index=True, key="density_table")
    _ui.download_table(shown, "density_clusters")
    st.caption(
        "Public tier: clusters as cells only (no points, centroids, hulls or dates); the "
        "cell and cluster counts are perturbed independently, so a cluster's total minus its "
        "shown cells does not reveal a suppressed cell."
    )
