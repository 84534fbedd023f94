# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the restricted-tier login (bcrypt hash from the environment or st.secrets)."""

from __future__ import annotations

import bcrypt
from app_helpers import app_env, app_inputs, run_page  # noqa: F401

from app_pages._app import check_password

ROOT_DIR = str(__import__("pathlib").Path(__file__).resolve().parents[1])

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


# ------------------------------------------------------------------ failed-login throttle
class FakeClock:
    """A clock the test moves by hand (no sleeps)."""

    def __init__(self, t: float = 1000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_throttle_locks_after_five_failures_and_unlocks_when_the_clock_moves():
    from app_pages._throttle import LoginThrottle

    clock = FakeClock()
    t = LoginThrottle(max_failures=5, base_delay=30, max_delay=300, clock=clock)
    assert [t.failure("a") for _ in range(4)] == [0.0] * 4
    assert t.wait("a") == 0.0
    assert t.failure("a") == 30.0  # the 5th failure locks
    assert t.wait("a") == 30.0
    assert t.wait("b") == 0.0  # other keys are not affected
    clock.t += 29.5
    assert t.wait("a") == 0.5
    clock.t += 0.5
    assert t.wait("a") == 0.0
    # every failure after the lock doubles it, up to max_delay
    assert t.failure("a") == 60.0
    clock.t += 60
    assert t.failure("a") == 120.0
    clock.t += 120
    assert t.failure("a") == 240.0
    clock.t += 240
    assert t.failure("a") == 300.0
    assert t.failures("a") == 9


def test_throttle_forgets_after_quiet_time_and_on_success():
    from app_pages._throttle import LoginThrottle

    clock = FakeClock()
    t = LoginThrottle(max_failures=2, base_delay=10, max_delay=20, forget_after=100, clock=clock)
    t.failure("a")
    t.failure("a")
    assert t.wait("a") == 10.0
    clock.t += 100
    assert t.failures("a") == 0 and t.wait("a") == 0.0
    t.failure("a")
    t.success("a")
    assert t.failures("a") == 0


def test_throttle_memory_is_bounded():
    from app_pages._throttle import LoginThrottle

    t = LoginThrottle(max_keys=3, clock=FakeClock())
    for k in "abcd":
        t.failure(k)
    assert t.failures("a") == 0  # the oldest key was dropped
    assert t.failures("d") == 1


def test_throttle_bad_arguments():
    import pytest

    from app_pages._throttle import LoginThrottle

    with pytest.raises(ValueError, match="max_failures"):
        LoginThrottle(max_failures=0)
    with pytest.raises(ValueError, match="base_delay"):
        LoginThrottle(base_delay=400, max_delay=300)
    with pytest.raises(ValueError, match="forget_after"):
        LoginThrottle(max_delay=300, forget_after=60)


def test_throttle_module_does_not_import_streamlit():
    import subprocess
    import sys

    code = "import sys, app_pages._throttle; assert 'streamlit' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT_DIR)


def _fail_login(at, password: str = "wrong"):
    at.sidebar.text_input(key="login_pw").input(password)
    at.sidebar.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_login_box_locks_after_five_failures(monkeypatch):
    from app_pages._throttle import LoginThrottle

    monkeypatch.setenv("GAPMAP_PASSWORD_HASH", HASH)
    clock = FakeClock()
    at = run_page("data", session={"_login_throttle": LoginThrottle(clock=clock)})
    for _ in range(4):
        _fail_login(at)
        assert any("Wrong password" in e.value for e in at.sidebar.error)
    _fail_login(at)
    assert [e.value for e in at.sidebar.error] == ["Too many attempts: try again in 30 s."]
    # while locked even the right password is refused (and not checked)
    clock.t += 10
    _fail_login(at, "correct horse")
    assert [e.value for e in at.sidebar.error] == ["Too many attempts: try again in 20 s."]
    assert at.session_state["tier"] != "restricted" if "tier" in at.session_state else True
    clock.t += 20  # the lock has run out
    _fail_login(at, "correct horse")
    assert at.session_state["tier"] == "restricted"
