"""Sidebar filters added by issue 10: the restricted tier's calendar range and the suspected
drug / age band / sex filters (public: all or one), and the one note every page shows when
drug / age band / sex filters are in force (:func:`people_note`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

__all__ = ["CUSTOM_WINDOW", "custom_range", "people_filters", "people_words", "people_note"]


#: The restricted tier's calendar choice in the time-window list.
CUSTOM_WINDOW = "Custom range…"


def custom_range(first_t, last: pd.Timestamp) -> tuple:
    """Calendar range (restricted): ``[start, end)`` from two chosen days, both included."""
    first = pd.Timestamp(first_t).normalize()
    default = (max(first, last - pd.Timedelta(days=89)).date(), last.date())
    got = st.sidebar.date_input("Dates (first – last, both included)", value=default,
                                min_value=first.date(), max_value=last.date(),
                                key="custom_range")
    if not isinstance(got, list | tuple) or len(got) < 2:
        st.sidebar.caption("Pick the last day too; until then the range is that one day.")
        got = (got[0], got[0]) if isinstance(got, list | tuple) and got else default
    a, b = pd.Timestamp(got[0]), pd.Timestamp(got[1])
    return a, b + pd.Timedelta(days=1), b


def people_filters(public: bool) -> dict:
    """Suspected drug, age band and sex filters (public: all or one; restricted: any set)."""
    from products.breakdowns import FILTERS, LEVELS

    labels = {"drugs": "Suspected drug", "age_bands": "Age band", "sexes": "Sex"}
    out = {}
    with st.sidebar.expander("Drug, age, sex", expanded=False):
        st.caption("Apply to every page's figures (KPIs, trend, maps, hot spots, alerts, "
                   "gaps, siting, outreach, areas) and the briefing PDF. "
                   + ("Public tier: all or one of each." if public else
                      "Unknown = not recorded."))
        for name, family in FILTERS.items():
            levels = list(LEVELS[family])
            if public:
                one = st.selectbox(labels[name], ["all", *levels], key=f"public_{name}",
                                   help="Public tier: all or one. Log in to combine.")
                out[name] = None if one == "all" else (one,)
            else:
                got = st.multiselect(labels[name], levels, default=levels, key=name)
                out[name] = None if set(got) >= set(levels) else tuple(
                    v for v in levels if v in got)
    return out


_PEOPLE = (("drugs", "suspected drug"), ("age_bands", "age band"), ("sexes", "sex"))


def people_words(f) -> str:
    """The active drug / age band / sex filters in words ("suspected drug: fentanyl; sex:
    male"), or "" when none is set (``f``: the sidebar's Filters or a Query)."""
    return "; ".join(f"{label}: {', '.join(getattr(f, name)) or 'none selected'}"
                     for name, label in _PEOPLE if getattr(f, name, None) is not None)


def people_note(f) -> None:
    """One info line on a page whose figures are narrowed by drug / age band / sex filters."""
    words = people_words(f)
    if words:
        st.info(f"Filtered to {words} (sidebar: Drug, age, sex). Every figure on this page "
                "counts only these overdoses.")
