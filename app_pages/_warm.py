"""Server launcher that warms the shared caches while the first browser loads the page.

``python -m app_pages._warm [streamlit run options]`` (what ``make run`` runs) is
``streamlit run dashboard.py [options]`` plus one background thread: as soon as the server
listens (before any session: a session starts only when a browser has loaded the page and
connected, ~1.4 s later), the thread imports the app modules and fills the shared caches that
a new visitor's Overview reads — the incidents with record keys, the data range, the prepared
events and the Overview's default products of the **public** tier — by calling the SAME cached
wrappers the pages call (:mod:`app_pages._analysis`), so the first session finds them warm.

* Caches stay process-wide (``st.cache_resource`` / ``st.cache_data``; never per session) and
  are keyed by the data source, the filters and the tier, as for any session: the warm-up
  computes public-tier values only (what every visitor sees first); a signed-in session's
  restricted values are computed by that session, under their own keys.
* A session that asks for a value the warm-up is still computing waits on Streamlit's per-key
  compute lock and then reads the warm value (computed once); nothing else is shared.
* A failure (no data, a store locked by an ingest) is printed in one line and the server runs
  on; the pages then report it as before.

* The Overview's control defaults are repeated here (:func:`warm_overview`); if the page's
  defaults change, ``tests/test_app_warm.py`` fails (the first session is no longer all hits).

``streamlit run dashboard.py`` keeps working unchanged (only without the warm-up).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "dashboard.py"
THREAD_NAME = "gapmap-warm"
#: Modules the Overview's first run imports besides those the cached calls import.
OVERVIEW_MODULES = ("app_pages._app", "app_pages._auth", "app_pages._icon",
                    "app_pages._linechart", "app_pages._areas", "app_pages._sso",
                    "products.breakdowns", "layers.deck", "layers.basemap", "geo.cells", "h3",
                    "PIL.Image", "PIL.ImageDraw", "PIL.PngImagePlugin")

__all__ = ["DASHBOARD", "THREAD_NAME", "overview_filters", "warm_overview", "start", "main"]


def overview_filters(last_t):
    """The sidebar's filters of a new (public) session: res 8, the default window (the 4th
    public one, "Last 52 weeks") ending on the release date of ``last_t``, nothing narrowed.
    Mirrors :func:`app_pages._ui.sidebar`'s defaults (tests compare the two)."""
    import pandas as pd

    from app_pages._data import PUBLIC_WINDOWS
    from app_pages._ui import Filters
    from geo.privacy import release_date

    window = list(PUBLIC_WINDOWS)[3]
    end = release_date(last_t)
    return Filters(res=8, window=window, start=end - pd.Timedelta(days=PUBLIC_WINDOWS[window]),
                   end=end, outcomes=None, sources=None, data_end=end - pd.Timedelta(days=1))


def warm_overview() -> dict[str, float]:
    """Fill the shared caches a new visitor's Overview reads (public tier, default controls);
    returns seconds per step. Runs outside any session (no ``st`` element is drawn)."""
    import importlib

    times: dict[str, float] = {}
    t = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        times[name] = now - t
        t = now

    from app_pages import _analysis, _data

    for mod in OVERVIEW_MODULES:
        importlib.import_module(mod)
    step("imports")
    kind, path, mtime = _data.source_key()  # no session: GAPMAP_STORE or the sample
    if kind == "none":
        return times
    inc = _data._load_incidents(kind, path, mtime)
    step("incidents")
    f = overview_filters(_data.data_range()[1])
    step("data range")
    _analysis._events(kind, path, mtime)
    step("prepared events")
    tier = "public"
    _analysis.kpi_table(f, tier)
    _analysis.weekly_table(f, tier)
    step("kpis, weekly")
    from products.breakdowns import LEVELS

    tab = _analysis.alerts(f, tier, "C2", 7)  # the controls' defaults (app_pages/overview.py)
    _analysis.breakdown(f, tier, by="drug", weeks=12)
    drug = [d for d in LEVELS["drug"] if d not in ("other", "unknown")][1]
    _analysis.drug_alerts(f, tier, drug, "C2", 91)
    step("alerts, breakdown")
    if (tab["area_type"] == "h3").any():  # the alert map's outline and context layers
        from app_pages import _areas

        _data.boundary()
        _areas.context()
        step("map context")
    if len(inc) <= _analysis.SCAN_AUTO_MAX:  # the scan runs by default below this size
        _analysis.scan(f, tier)
        step("scan")
    return times


class _OwnThreadOnly(logging.Filter):
    """Drop Streamlit's "missing ScriptRunContext" warnings of the warm-up thread (it runs
    the cached functions outside any session by design); every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD_NAME


_LISTENING = threading.Event()


def _hook_server_start() -> None:
    """Set :data:`_LISTENING` once the server listens (wraps Streamlit's bootstrap hook, which
    runs right after ``server.start()``; without that private hook the runtime state is
    polled instead)."""
    from streamlit.web import bootstrap

    orig = getattr(bootstrap, "_on_server_start", None)
    if orig is None or getattr(orig, "_gapmap_warm", False):
        return

    def on_server_start(server) -> None:
        try:
            orig(server)
        finally:
            _LISTENING.set()

    on_server_start._gapmap_warm = True
    bootstrap._on_server_start = on_server_start


def _server_up(timeout: float = 60.0) -> bool:
    """Wait until the server listens (no session needed): the warm-up never competes with
    Streamlit's own start for the interpreter."""
    from streamlit.web import bootstrap

    if getattr(bootstrap._on_server_start, "_gapmap_warm", False):
        return _LISTENING.wait(timeout)
    from streamlit.runtime import Runtime, RuntimeState

    up = (RuntimeState.NO_SESSIONS_CONNECTED, RuntimeState.ONE_OR_MORE_SESSIONS_CONNECTED)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if Runtime.exists() and Runtime.instance().state in up:
            return True
        time.sleep(0.02)
    return False


def _run() -> None:
    try:
        if not _server_up():
            print("gapmap: cache warm-up skipped: the server did not start listening within "
                  "60 s", file=sys.stderr, flush=True)
            return
        t0 = time.perf_counter()
        times = warm_overview()
    except Exception as exc:  # noqa: BLE001  (never stop the server: the pages report it)
        print(f"gapmap: cache warm-up stopped: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)
        return
    parts = ", ".join(f"{k} {v:.2f}" for k, v in times.items())
    print(f"gapmap: Overview caches warm in {time.perf_counter() - t0:.2f} s ({parts})",
          file=sys.stderr, flush=True)


def start() -> threading.Thread:
    """Start the warm-up thread (daemon: never holds the server open)."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        _OwnThreadOnly())
    th = threading.Thread(target=_run, name=THREAD_NAME, daemon=True)
    th.start()
    return th


def main(argv: list[str] | None = None) -> int:
    """``streamlit run dashboard.py *argv`` with the warm-up thread."""
    from streamlit.web.cli import main as streamlit_main

    args = list(sys.argv[1:] if argv is None else argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    _hook_server_start()
    start()
    sys.argv = ["streamlit", "run", str(DASHBOARD), *args]
    return streamlit_main()


if __name__ == "__main__":
    sys.exit(main())
