# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""The server launcher's cache warm-up (app_pages._warm, what ``make run`` starts).

* The warm-up fills exactly the caches a new visitor's Overview reads: after it, the first
  public session computes nothing (every product call is a cache hit) and shows the values of
  a session without warm-up; without the warm-up the same spies see the calls.
* Tier separation: the warm-up computes public-tier products only; a restricted session after
  it computes its own (restricted) values and shows exact counts.
* The launcher starts the server and the warm-up (``make run`` uses it).
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.request

import pandas as pd
import pytest
from app_helpers import ROOT, app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

from products.overview import kpi_table
from products.query import Query

#: (module, function, position of the tier argument or None) of the library calls behind the
#: Overview's cached wrappers.
SPIED = (
    ("geo.privacy", "with_record_keys", None),
    ("report.kpis", "prepare_events", None),
    ("products.overview", "kpi_table", 2),
    ("products.overview", "weekly_table", 2),
    ("products.alerts", "current_alerts", 2),
    ("products.alerts", "scan_table", 2),
    ("products.breakdowns", "breakdown_table", 2),
)


@pytest.fixture
def calls(monkeypatch):
    """Every call of the spied library functions as (name, tier or None), in order."""
    import importlib

    got: list[tuple[str, str | None]] = []
    for mod_name, fn_name, tier_at in SPIED:
        mod = importlib.import_module(mod_name)
        real = getattr(mod, fn_name)

        def spy(*a, _real=real, _name=fn_name, _at=tier_at, **kw):
            tier = None
            if _at is not None:
                t = a[_at] if len(a) > _at else kw.get("policy", kw.get("tier"))
                tier = getattr(t, "tier", t)
            got.append((_name, tier))
            return _real(*a, **kw)

        monkeypatch.setattr(mod, fn_name, spy)
    return got


def _kpis_shown(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_warm_filters_equal_a_new_sessions_sidebar():
    from app_pages._data import data_range
    from app_pages._warm import overview_filters

    at = run_page()
    assert at.session_state["_filters"] == overview_filters(data_range()[1])


def test_first_public_session_after_warm_up_computes_nothing(calls):
    import streamlit as st

    from app_pages._warm import warm_overview

    cold = run_page()  # reference: no warm-up, every product computed by the session
    cold_calls = list(calls)
    assert {n for n, _ in cold_calls} >= {"with_record_keys", "prepare_events", "kpi_table",
                                         "weekly_table", "current_alerts", "breakdown_table",
                                         "scan_table"}
    st.cache_data.clear()
    st.cache_resource.clear()
    calls.clear()

    times = warm_overview()
    assert {"imports", "incidents", "prepared events", "kpis, weekly"} <= set(times)
    warm_calls = list(calls)
    assert sorted(warm_calls) == sorted(cold_calls)  # the same products, no more, no fewer
    assert {t for _, t in warm_calls} == {None, "public"}  # never a restricted value
    calls.clear()

    at = run_page()
    assert calls == []  # every value came from the warm caches
    assert _kpis_shown(at) == _kpis_shown(cold)
    assert len(at.dataframe) == len(cold.dataframe) > 0
    for got, ref in zip(at.dataframe, cold.dataframe, strict=True):
        pd.testing.assert_frame_equal(got.value, ref.value)


def test_restricted_session_after_warm_up_gets_its_own_values(app_inputs, calls):
    from app_pages._warm import warm_overview

    warm_overview()
    calls.clear()
    at = run_page(session={"tier": "restricted"})
    tiers = {t for _, t in calls if t is not None}
    assert tiers == {"restricted"}  # computed for this tier, nothing public reused
    assert {"kpi_table", "weekly_table", "current_alerts", "breakdown_table"} <= \
        {n for n, _ in calls}
    assert not {n for n, _ in calls} & {"with_record_keys", "prepare_events"}  # shared data
    inc = load_incidents(app_inputs["incidents"])
    # the restricted default window: the last 365 days to the data's last day
    exact = kpi_table(inc, Query(end="2026-11-16"), "restricted", windows=(365,))
    assert metric(at, "Overdoses, 365 d") == f"{int(exact.loc[365, 'overdoses']):,}"


def test_public_session_after_warm_up_shows_published_values(app_inputs):
    from app_pages._warm import warm_overview

    warm_overview()
    at = run_page()
    inc = load_incidents(app_inputs["incidents"])
    ref = kpi_table(inc, Query(), "public", windows=(364,))
    for label, col in (("Overdoses", "overdoses"), ("Fatal", "fatal")):
        v = ref.loc[364, col]
        assert metric(at, f"{label}, 364 d") == ("suppressed" if v != v else f"{int(v):,}")


def test_make_run_starts_the_launcher():
    text = (ROOT / "Makefile").read_text()
    run = text.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "-m app_pages._warm" in run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_launcher_serves_and_warms():
    """``python -m app_pages._warm``: the server answers and the warm-up reports its steps,
    after the server has started listening (it never competes with Streamlit's own start)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app_pages._warm", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()
    try:
        seen = []
        while True:
            ln = lines.get(timeout=120)
            seen.append(ln)
            if ln.startswith("gapmap:"):
                break
        assert ln.startswith("gapmap: Overview caches warm in "), seen
        assert "prepared events" in ln and "kpis, weekly" in ln
        assert "missing ScriptRunContext" not in "".join(seen)
        assert any("You can now view" in s for s in seen[:-1]), seen  # printed once listening
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as r:
            assert r.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_session_during_the_warm_up_computes_nothing_twice(calls, monkeypatch):
    """A session that starts while the warm-up runs waits on Streamlit's per-key compute locks
    for what the warm-up is computing: every product is computed once in all (whichever
    thread gets there first), and the page equals a cold session's. The warm-up's prepared
    events are held until the session asks for them too, so both threads want that value at
    the same time."""
    import streamlit as st

    from app_pages import _analysis, _warm

    cold = run_page()
    cold_calls = sorted(calls)
    st.cache_data.clear()
    st.cache_resource.clear()
    calls.clear()

    session_asked = threading.Event()
    spied_prepare = sys.modules["report.kpis"].prepare_events
    cached_events = _analysis._events_by_source

    def prepare_once_the_session_asks(*a, **kw):
        assert session_asked.wait(timeout=60), "the session never asked for the events"
        return spied_prepare(*a, **kw)

    def events_by_source(*a, **kw):
        if threading.current_thread().name != _warm.THREAD_NAME:
            session_asked.set()  # then wait on the compute lock the warm-up may hold
        return cached_events(*a, **kw)

    monkeypatch.setattr(sys.modules["report.kpis"], "prepare_events",
                        prepare_once_the_session_asks)
    monkeypatch.setattr(_analysis, "_events_by_source", events_by_source)
    done: list = []
    warm = threading.Thread(target=lambda: done.append(_warm.warm_overview()),
                            name=_warm.THREAD_NAME)
    warm.start()
    at = run_page(timeout=120)
    warm.join(timeout=120)
    assert done and "kpis, weekly" in done[0]  # the warm-up ran to its end
    assert sorted(calls) == cold_calls  # each value computed once, by one of the two threads
    assert _kpis_shown(at) == _kpis_shown(cold)
