"""gapmap dashboard — Streamlit entry point and router.

``streamlit run dashboard.py`` (or ``make run``). This file only sets the page, draws the
shared sidebar (filters and login, from :mod:`app_pages._app`) and routes to the pages in
``app_pages/``; no analysis happens here.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages import _app, _auth
from app_pages._icon import favicon  # local: nothing is fetched from a font host

HERE = Path(__file__).resolve().parent

st.set_page_config(
    page_title="gapmap — overdose surveillance", page_icon=favicon(), layout="wide"
)

# Material icons ship with Streamlit's frontend (emoji need a system font that servers lack).
PAGES = [
    ("overview.py", "Overview", ":material/monitoring:"),
    ("hotspots.py", "Hotspots", ":material/local_fire_department:"),
    ("areas.py", "Areas", ":material/location_city:"),
    ("gaps.py", "Gaps", ":material/explore:"),
    ("siting.py", "Siting", ":material/add_location_alt:"),
    ("outreach.py", "Outreach", ":material/volunteer_activism:"),
    ("briefing.py", "Briefing", ":material/description:"),
    ("data.py", "Data", ":material/database:"),
    ("evaluation.py", "Evaluation", ":material/insights:"),
    ("team/cases.py", "Cases", ":material/assignment_ind:"),
    ("team/admin.py", "Admin", ":material/admin_panel_settings:"),
]

pages = [
    st.Page(
        str(HERE / "app_pages" / fname),
        title=title,
        icon=icon,
        default=(i == 0),
        url_path=Path(fname).stem,
    )
    for i, (fname, title, icon) in enumerate(PAGES)
    if (HERE / "app_pages" / fname).exists() and _auth.page_allowed(fname)  # role-based
]
nav = st.navigation(pages)
st.sidebar.title("gapmap")
st.session_state["_filters"] = _app.sidebar()
_auth.audit_page(nav.title, st.session_state["_filters"])  # restricted views leave a trail
nav.run()
