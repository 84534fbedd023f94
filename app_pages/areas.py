"""Areas: counts, rates, change and Gi* by named area (neighbourhood, ZIP …), with names drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import _app, _areas, _ui
from app_pages._filters import people_note
from layers import deck
from layers.deck_areas import area_fill_layer

f = _app.filters()
st.title("Areas")
people_note(f)
pol = _app.policy()
layers, places = _areas.geography()
if not layers:
    st.info("No area layers: set GAPMAP_AREAS to FILE|NAME_COLUMN|KIND (separate layers with "
            "';'), e.g. neighbourhoods or ZIP codes, or use the bundled sample. See the README "
            "section 'Named areas'.")
    st.stop()

c1, c2, c3 = st.columns([2, 3, 1])
kinds = [layer.kind for layer in layers]
unit = c1.radio("Area unit", kinds, horizontal=True, key="areas_unit",
                help="Which named areas to count by (H3 cells are on the Hotspots page).")
layer_i = kinds.index(unit)
colour_by = c2.radio("Colour areas by", ["Overdose count", "Rate per 100,000", "Gi* class"],
                     horizontal=True, key="areas_colour",
                     help="Gi*: Getis–Ord hot/cold spots on contiguity neighbours (areas that "
                     "share a boundary point), Benjamini–Hochberg FDR.")

show_names = c3.toggle("Names", value=True, key="areas_names",
                       help="Area and place names, drawn from local files.")

table = _areas.area_table(f, layer_i)
layer = layers[layer_i]
for note in table.attrs.get("notes", []):
    st.caption(f"Note: {note}.")

counts_txt = deck.count_text(table["count"], pol.k)
rate = pd.to_numeric(table["rate_per_100k"], errors="coerce")
tips = [
    f"{a}\n{n} ({f.label})" + ("" if pd.isna(r) else f"\n{r:,.1f} per 100,000 residents")
    + ("" if "class" not in table else f"\n{deck.GI_LABELS.get(c, c)}")
    for a, n, r, c in zip(table["area"], counts_txt, rate,
                          table.get("class", pd.Series([""] * len(table))), strict=True)
]
if colour_by == "Gi* class" and "class" in table:
    fill = deck.class_colors(table["class"])
    legend = deck.class_legend(f"Gi* by {unit} (FDR-adjusted)")
else:
    vals = (rate if colour_by == "Rate per 100,000" else
            pd.to_numeric(table["count"], errors="coerce")).astype("Float64")
    if colour_by == "Rate per 100,000" and not vals.notna().any():
        st.info("No population for these areas: showing counts instead of rates.")
        vals = pd.to_numeric(table["count"], errors="coerce").astype("Float64")
    vmax = float(vals.max()) if vals.notna().any() else 1.0
    fill = deck.sequential_colors(vals, 0, vmax)
    title = (f"Overdoses per 100,000 residents ({f.label})" if colour_by == "Rate per 100,000"
             and rate.notna().any() else f"Overdoses per {unit} ({f.label})")
    legend = deck.sequential_legend(0, vmax, title, "", None if pol.restricted else pol.k)
fill = np.column_stack([np.asarray(fill)[:, :3], np.full(len(table), 190)])
map_layers = [area_fill_layer(layer, fill, tips, layer_id="areas")]
map_layers += _areas.context(names_of=layer_i, names_on_zoom=True) if show_names else []
_app.show_map(map_layers, "areas_map", legend + _areas.context_legend(),
              f"Names: {unit}s and places, drawn from local files (no internet needed).")

m = st.columns(3)
m[0].metric(f"{unit.capitalize()}s", f"{len(table):,}")
m[1].metric(f"Hot-spot {unit}s", f"{int(table['class'].astype(str).str.startswith('hot').sum()):,}"
            if "class" in table else "–")
m[2].metric("Suppressed counts" if not pol.restricted else "Tier",
            f"{int(table['count'].isna().sum()):,}" if not pol.restricted else "restricted")

show = table.drop(columns=[c for c in ("neighbours", "p") if c in table.columns])
st.dataframe(show, hide_index=True, width="stretch", key="areas_table")
st.caption(
    "count: overdoses in the window; count_prior: the period of equal length just before; "
    "change_pct from those two; n_area_located: records located only to this area (not in "
    "any cell map). "
    + ("Public tier: counts 1–9 are suppressed and others perturbed by at most ±3; rates, "
       "change and Gi* come from the published counts." if not pol.restricted
       else "Restricted tier: exact counts.")
)
_ui.download_table(show, f"areas_{unit}", "Download table (CSV)", key="areas_download")


@st.cache_data(max_entries=8, show_spinner="Scoring gaps by area…")
def _area_gaps(kind, path, mtime, areas_spec, places_spec, sample, layer_i, rpath, rmtime,
               start, end, outcomes, sources, tier_name, k, people=(None, None, None)):
    """products.area_gaps.area_gap_table on primitives (published for ``tier_name``)."""
    from app_pages._analysis import _query
    from app_pages._data import _load_incidents, _load_sites
    from geo.privacy import PrivacyPolicy
    from products.area_gaps import area_gap_table

    layers_, _ = _areas._geography(areas_spec, places_spec, sample)
    return area_gap_table(_load_incidents(kind, path, mtime), _load_sites(rpath, rmtime,
                                                                           "resources"),
                          layers_[layer_i], _query(8, start, end, outcomes, sources, people),
                          PrivacyPolicy.for_tier(tier_name, k=k))


st.subheader("Gaps by area")
_rp = st.session_state.get("resources_path") or _app.sample_path("resources")
if _rp is None:
    st.info("No resource sites: add a resources file on the Data page to score gaps by area.")
else:
    import os
    from pathlib import Path

    from app_pages._analysis import _people
    from app_pages._data import source_key
    from geo.labels import PLACES_ENV

    gaps = _area_gaps(*source_key(), _areas.areas_spec(), os.environ.get(PLACES_ENV, ""),
                      _areas.is_sample(), int(layer_i), str(_rp), Path(_rp).stat().st_mtime,
                      f.start, f.end, f.outcomes, f.sources, pol.tier, pol.k,
                      people=_people(f))
    st.dataframe(gaps, hide_index=True, width="stretch", key="area_gaps_table")
    st.caption(f"Same score as the cell gap table (burden × access deficit), per {unit}: "
               "distances from a point inside each area to the nearest site; sites_in_*: "
               "sites inside the area. Public tier: score and reason from published counts.")
    _ui.download_table(gaps, f"area_gaps_{unit}", "Download gaps by area (CSV)",
                       key="area_gaps_download")
