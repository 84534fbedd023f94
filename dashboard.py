"""gapmap dashboard — Streamlit entry point and router.

``streamlit run dashboard.py`` (or ``make run``). This file only sets the page, draws the
shared sidebar (filters and login, from :mod:`app_pages._app`) and routes to the pages in
``app_pages/``; no analysis happens here.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages import _app

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="gapmap — overdose surveillance", page_icon="🗺️", layout="wide")

PAGES = [
    ("overview.py", "Overview", "📈"),
    ("hotspots.py", "Hotspots", "🔥"),
    ("gaps.py", "Gaps", "🧭"),
    ("siting.py", "Siting", "📍"),
    ("outreach.py", "Outreach", "🤝"),
    ("briefing.py", "Briefing", "📄"),
    ("data.py", "Data", "🗂️"),
]

pages = [
    st.Page(str(HERE / "app_pages" / fname), title=title, icon=icon, default=(i == 0),
            url_path=fname.removesuffix(".py"))
    for i, (fname, title, icon) in enumerate(PAGES)
    if (HERE / "app_pages" / fname).exists()
]
nav = st.navigation(pages)
st.sidebar.title("gapmap")
st.session_state["_filters"] = _app.sidebar()
nav.run()
