"""App layer, part 2: tiers and login, the shared sidebar, maps (see :mod:`app_pages._app`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages._data import (
    PUBLIC_WINDOWS,
    SAMPLE_ENV,
    WINDOWS,
    boundary,
    data_range,
    incidents,
    source_key,
)
from app_pages._exports import (  # noqa: F401  (re-exported: pages call _ui.download_*)
    download_chart,
    download_map,
    download_png,
    download_table,
)
from app_pages._filters import CUSTOM_WINDOW, custom_range, people_filters
from app_pages._login import check_password, login_box, password_hash
from geo.privacy import PrivacyPolicy, publish, release_date
from geo.schema import OUTCOMES, SOURCES

__all__ = [
    "Filters",
    "download_table",
    "download_map",
    "download_chart",
    "download_png",
    "password_hash",
    "check_password",
    "tier",
    "policy",
    "show_table",
    "count_label",
    "sidebar",
    "filters",
    "base_layers",
    "view",
    "show_map",
]


# ------------------------------------------------------------------ tiers and login
def tier() -> str:
    """Current tier: ``"public"`` unless signed in (the role's tier: partner or restricted)."""
    t = st.session_state.get("tier")
    return t if t in ("restricted", "partner") else "public"


def policy() -> PrivacyPolicy:
    """Privacy policy of the current tier (k = 10)."""
    return PrivacyPolicy.for_tier(tier())


def show_table(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Publish a table through the privacy gate of the current tier and return it."""
    return publish(df, policy(), **kw)


# ------------------------------------------------------------------ sidebar filters
@dataclass(frozen=True)
class Filters:
    """The shared sidebar choices, as primitives (cache keys)."""

    res: int
    window: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    outcomes: tuple[str, ...] | None
    sources: tuple[str, ...] | None
    data_end: pd.Timestamp | None
    drugs: tuple[str, ...] | None = None
    age_bands: tuple[str, ...] | None = None
    sexes: tuple[str, ...] | None = None

    @property
    def label(self) -> str:
        """Human-readable date range, e.g. ``2025-11-16 – 2026-11-15``."""
        if self.start is None:
            return "all dates"
        last = self.end - pd.Timedelta(days=1)
        return f"{self.start:%Y-%m-%d} – {last:%Y-%m-%d}"

    @property
    def query(self):
        """These choices as the library's :class:`products.query.Query` (``[start, end)``)."""
        from products.query import Query

        return Query(res=self.res, start=self.start, end=self.end, outcomes=self.outcomes,
                     sources=self.sources, drugs=self.drugs, age_bands=self.age_bands,
                     sexes=self.sexes)


def sidebar() -> Filters:
    """Draw the shared sidebar (data source, filters, login) and return the filters."""
    kind, path, _ = source_key()
    login_box()
    if kind == "store":
        label = f"incident store {Path(path).name}"
    elif kind == "file":
        label = (
            "bundled synthetic sample"
            if not os.environ.get(SAMPLE_ENV["incidents"])
            else f"file {Path(path).name}"
        )
    else:
        label = "none loaded"
    st.sidebar.caption(f"Data: {label}")
    # res 9 (~0.1 km² cells) is the finest a county-wide map draws smoothly (~16k hexagons)
    res_opts = [6, 7, 8] if tier() == "public" else [6, 7, 8, 9]
    if st.session_state.get("res") not in res_opts:
        st.session_state["res"] = 8
    res = st.sidebar.select_slider(
        "H3 resolution (cell size)",
        res_opts,
        key="res",
        help="6 ≈ 36 km², 7 ≈ 5 km², 8 ≈ 0.7 km², 9 ≈ 0.1 km² per cell (restricted tier). "
        "Public tier: 8 or coarser.",
    )
    public = tier() != "restricted"
    windows = PUBLIC_WINDOWS if public else {**WINDOWS, CUSTOM_WINDOW: None}
    if st.session_state.get("window") not in windows:
        st.session_state["window"] = list(windows)[3]
    window = st.sidebar.selectbox(
        "Time window", list(windows), key="window",
        help="Public tier: whole weeks (Monday–Sunday) ending with the last complete week of "
        "data — the fixed release windows. Log in for any window.")
    if public:
        st.sidebar.caption("Custom date ranges are restricted-tier only: the public tier "
                           "releases fixed windows by design, so overlapping windows cannot "
                           "be differenced to reveal small counts.")
    if public:
        # one value or all: combinations of filters would give an attacker many noisy views
        # of the same hidden count to average (see README, Privacy)
        one_o = st.sidebar.selectbox("Outcome", ["all", *OUTCOMES], key="public_outcome",
                                     help="Public tier: all outcomes or one. Log in to combine.")
        one_s = st.sidebar.selectbox("Source", ["all", *SOURCES], key="public_source",
                                     help="Public tier: all sources or one. Log in to combine.")
        outcomes = list(OUTCOMES) if one_o == "all" else [one_o]
        sources = list(SOURCES) if one_s == "all" else [one_s]
    else:
        outcomes = st.sidebar.multiselect(
            "Outcomes", list(OUTCOMES[:2]) + ["unknown"], default=list(OUTCOMES),
            key="outcomes")
        sources = st.sidebar.multiselect("Sources", list(SOURCES), default=list(SOURCES),
                                         key="sources")
    people = people_filters(public)
    start = end = last = None
    if kind != "none":
        _, last_t = data_range()
        days = windows[window]
        if public:
            end = release_date(last_t)
            last = end - pd.Timedelta(days=1)
            start = end - pd.Timedelta(days=days)
            st.sidebar.caption(f"Data through {last:%Y-%m-%d} (the last complete week; "
                               "public windows are whole weeks).")
        else:
            last = pd.Timestamp(last_t).normalize()
            if window == CUSTOM_WINDOW:
                start, end, last = custom_range(data_range()[0], last)
            elif days is not None:
                end = last + pd.Timedelta(days=1)
                start = end - pd.Timedelta(days=days)
            st.sidebar.caption(f"Data end: {last:%Y-%m-%d} (windows end on the last day with "
                               "data).")
    return Filters(
        res=int(res),
        window=window,
        start=start,
        end=end,
        outcomes=None if set(outcomes) >= set(OUTCOMES) else tuple(sorted(outcomes)),
        sources=None if set(sources) >= set(SOURCES) else tuple(sorted(sources)),
        data_end=last,
        **people,
    )


def filters() -> Filters:
    """The filters the router put in session state for this run."""
    f = st.session_state.get("_filters")
    return f if f is not None else sidebar()


# ------------------------------------------------------------------ maps
def base_layers() -> list:
    """The study-area outline layer (always drawn), if a boundary is available."""
    from layers.deck import outline_layer

    b = boundary()
    return [] if b is None else [outline_layer(b)]


def view():
    """View state fitting the study area (or the incidents when there is no boundary)."""
    from layers.deck import view_for_bounds

    b = boundary()
    if b is not None:
        return view_for_bounds(*b.bounds)
    df = incidents()
    return view_for_bounds(df["lon"].min(), df["lat"].min(), df["lon"].max(), df["lat"].max())


def show_map(layers: list, key: str, legend: str, caption: str = ""):
    """One keyed, clickable pydeck chart with the outline under ``layers`` and a legend beside;
    the offline context (roads, area outlines and names, places) is added unless ``layers`` have
    area outlines or the area choropleth (id ``areas``).

    Returns the selection state (``on_select="rerun"``).
    """
    from app_pages import _areas
    from layers.basemap import basemap_style
    from layers.deck import make_deck

    ids = [str(getattr(lyr, "id", "")) for lyr in layers]  # (the Areas page has its own)
    if not any(i == "areas" or i.startswith("area-outline") for i in ids):
        # lines over the first (cell / fill) layer and under the page's markers; names over
        # the markers, under the page's own labels (e.g. order numbers)
        ctx, rest = _areas.context(), layers[1:]
        text = [getattr(lyr, "type", "") == "TextLayer" for lyr in ctx + rest]
        layers = layers[:1] + [lyr for lyr, t in zip(ctx + rest, text, strict=True) if not t] \
            + [lyr for lyr, t in zip(ctx + rest, text, strict=True) if t]
        legend += _areas.context_legend()
    try:  # a misconfigured GAPMAP_BASEMAP: one sentence, and the map drawn without it
        on = basemap_style() is not None
    except ValueError as err:
        st.warning(f"{err} The maps are drawn without a basemap.")
        on = False
    deck = make_deck(layers + base_layers(), view(), basemap=on)
    left, right = st.columns([4, 1])
    with left:
        event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key=key)
    with right:
        st.markdown(legend, unsafe_allow_html=True)
        st.caption("Black line: study-area boundary." + (f" {caption}" if caption else ""))
    return event


def count_label(value, unit: str = "") -> str:
    """One count through the privacy gate of the current tier, as display text."""
    one = publish(
        pd.DataFrame({"count": [int(round(float(value)))]}), policy(), count_columns=["count"]
    )
    v = one["count"].iloc[0]
    return f"<{policy().k}" if pd.isna(v) else f"{int(v):,}{unit}"
