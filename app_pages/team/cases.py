"""Cases: the post-overdose follow-up queue (roles ``outreach`` and ``admin`` only)."""

from __future__ import annotations

import streamlit as st

from app_pages import _auth

_auth.require_role("outreach", "admin")
st.title("Follow-up cases")
