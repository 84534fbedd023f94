# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the restricted-tier login (bcrypt hash from the environment or st.secrets)."""

from __future__ import annotations

import bcrypt
from app_helpers import app_env, app_inputs, run_page  # noqa: F401

from app_pages._app import check_password

HASH = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=4)).decode()


def test_no_hash_means_no_restricted_tier():
    at = run_page()
    assert any("restricted tier is unavailable" in c.value for c in at.sidebar.caption)
    assert len(at.sidebar.text_input) == 0
    assert at.session_state["tier"] == "public" if "tier" in at.session_state else True


def test_wrong_password_stays_public(monkeypatch):
    monkeypatch.setenv("GAPMAP_PASSWORD_HASH", HASH)
    at = run_page("outreach")
    at.sidebar.text_input(key="login_pw").input("wrong")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert any("Wrong password" in e.value for e in at.sidebar.error)
    assert "tier" not in at.session_state or at.session_state["tier"] != "restricted"
    assert any("restricted tier" in i.value for i in at.info)  # line list still hidden


def test_right_password_unlocks_restricted_tier(monkeypatch):
    monkeypatch.setenv("GAPMAP_PASSWORD_HASH", HASH)
    at = run_page("outreach")
    at.sidebar.text_input(key="login_pw").input("correct horse")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.session_state["tier"] == "restricted"
    assert any("Restricted tier" in s.value for s in at.sidebar.success)
    assert "hours_ago" in at.dataframe[1].value.columns  # the line list is now visible
    # public resolution floor is lifted
    assert max(int(o) for o in at.sidebar.select_slider(key="res").options) > 8
    at.sidebar.button(key="logout").click().run()
    assert at.session_state["tier"] == "public"


def test_check_password():
    assert check_password("correct horse", HASH)
    assert not check_password("Correct horse", HASH)
    assert not check_password("correct horse", None)
    assert not check_password("", HASH)
    assert not check_password("x", "not-a-bcrypt-hash")


def test_hash_from_streamlit_secrets():
    from app_helpers import DASHBOARD
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(DASHBOARD, default_timeout=60)
    at.secrets["auth"] = {"password_hash": HASH}
    at.run()
    at.sidebar.text_input(key="login_pw").input("correct horse")
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert at.session_state["tier"] == "restricted"


PUBLIC_PLACE_LAYERS = {
    "naloxone-sites",
    "treatment-sites",
    "ssp-sites",
    "candidates",
    "chosen",
    "existing-naloxone",
}
PERSON_COLUMNS = {"incident_id", "event_id", "occurred_at", "hours_ago", "age_band", "sex"}


def test_public_tier_shows_no_points_or_person_rows_on_any_page():
    import json

    from app_helpers import ROOT

    pages = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
    for page in pages:
        at = run_page(page)
        for chart in at.get("deck_gl_json_chart"):
            for lyr in json.loads(chart.proto.json)["layers"]:
                if lyr["@@type"] == "ScatterplotLayer":  # only public places may be points
                    assert lyr["id"] in PUBLIC_PLACE_LAYERS, (page, lyr["id"])
                else:
                    assert all("lat" not in d and "lon" not in d for d in lyr["data"]), page
        for df in at.dataframe:
            assert not PERSON_COLUMNS & set(map(str, df.value.columns)), (page, df.value.columns)
