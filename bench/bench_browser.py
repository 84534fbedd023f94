"""Benchmark: what a user waits for in a real browser, per page and per control.

Starts ``streamlit run dashboard.py`` on 127.0.0.1 (a free port) and drives Debian's Chromium
(``/usr/bin/chromium``, headless, through Playwright; never downloads a browser). A page is
*ready* when the app's script run has finished (``data-test-script-state="notRunning"`` on
``stApp`` after a run), a title is shown and no spinner, skeleton or running-status widget is
left; the time is from ``page.goto`` (a full page load in a tab of an open browser: HTML, the
cached JS bundle, the websocket, the script run, drawing) to ready. A control is timed from the
click to the end of the rerun it triggers (same conditions).

Pages: Overview, Hotspots, Gaps, Siting, Outreach, Briefing, Data — each opened twice (first
visit after server start = cold caches; second = warm caches, what later users get); controls:
the Hotspots colour-by radio and its "Show naloxone sites" toggle; per control also the seconds
the app's script ran as the browser saw it (``data-test-script-state`` running → notRunning),
so the server's share and the drawing's can be told apart. The server is started through
``bench/_timed_server.py``, which logs each script run's wall and CPU seconds on the server:
printed per control and per 2nd page visit (a fragment rerun is marked).

Usage::

    .venv/bin/python bench/bench_browser.py                  # bundled sample
    .venv/bin/python bench/bench_browser.py --n 200000       # + a synthetic store of N rows
    .venv/bin/python bench/bench_browser.py --store PATH     # an existing store

Goal (issue 13): page ≤ 2 s, control ≤ 1 s. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_capacity import build_store, start_server, stop_server  # noqa: E402

PAGES = ("overview", "hotspots", "gaps", "siting", "outreach", "briefing", "data")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 300_000

_WATCH = """() => {
  window.__runs = [];
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => window.__runs.push(
      [app.getAttribute('data-test-script-state'), performance.now()]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  return performance.now();
}"""

_IDLE = """() => {
  const q = (s) => document.querySelector(s) !== null;
  const app = document.querySelector('[data-testid="stApp"]');
  return app && app.getAttribute('data-test-script-state') === 'notRunning'
    && q('[data-testid="stMain"] h1')
    && !q('[data-testid="stStatusWidget"]') && !q('[data-testid="stSpinner"]')
    && !q('[data-testid="stSkeleton"]');
}"""

_RERUN_DONE = """(t0) => {
  const runs = window.__runs || [];
  const i = runs.findIndex(r => r[0] === 'running' && r[1] >= t0);
  return i >= 0 && runs.slice(i).some(r => r[0] === 'notRunning');
}"""


def start_timed_server(store: str | None, log: Path):
    """``streamlit run dashboard.py`` through ``bench/_timed_server.py`` (each script run's
    server wall and CPU seconds appended to ``log``); (process, port) once healthy."""
    return start_server(store, [sys.executable, str(ROOT / "bench" / "_timed_server.py"),
                                str(log)])


class ServerRuns:
    """The server's script runs (``bench/_timed_server.py`` log) since :meth:`mark`."""

    def __init__(self, log: Path):
        self.log, self.n = log, 0

    def _lines(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def mark(self) -> None:
        self.n = len(self._lines())

    def since(self) -> tuple[float, float, int]:
        """(wall s, CPU s, runs) of the runs since the mark; waits (≤ 5 s) for the first, which
        is logged just after the browser is told the run finished."""
        deadline = time.monotonic() + 5
        while len(self._lines()) <= self.n and time.monotonic() < deadline:
            time.sleep(0.02)
        recs = [json.loads(x) for x in self._lines()[self.n:]]
        return sum(r["wall"] for r in recs), sum(r["cpu"] for r in recs), len(recs)


def open_page(page, url: str, name: str) -> float:
    t0 = time.perf_counter()
    page.goto(f"{url}/{'' if name == 'overview' else name}")
    page.wait_for_function(_IDLE, timeout=TIMEOUT_MS, polling=50)
    dt = time.perf_counter() - t0
    if page.locator('[data-testid="stException"]').count():
        raise RuntimeError(f"{name}: the page shows an exception")
    return dt


_RUN_TIMES = """(t0) => {
  // seconds the app reported its script as running (running -> notRunning), summed over the
  // runs after t0, and seconds from t0 to the first of them (the click reaching the server)
  const runs = (window.__runs || []).filter(r => r[1] >= t0);
  let busy = 0, start = null, first = null;
  for (const [state, t] of runs) {
    if (state === 'running' && start === null) { start = t; if (first === null) first = t; }
    else if (state !== 'running' && start !== null) { busy += t - start; start = null; }
  }
  return [busy / 1000, first === null ? null : (first - t0) / 1000];
}"""


def change(page, locator) -> tuple[float, float, float | None]:
    """Seconds from the click to the end of its rerun (drawn), the seconds the script ran as
    the browser saw it (``data-test-script-state`` running → notRunning) and the seconds
    before the run started."""
    t_page = page.evaluate(_WATCH)
    t0 = time.perf_counter()
    locator.click(timeout=30_000)
    page.wait_for_function(_RERUN_DONE, arg=t_page, timeout=60_000, polling=50)
    page.wait_for_function(_IDLE, timeout=TIMEOUT_MS, polling=50)
    total = time.perf_counter() - t0
    run_s, before_s = page.evaluate(_RUN_TIMES, t_page)
    return total, run_s, before_s


def run(store: str | None, label: str, cycles: int = 1) -> None:
    from playwright.sync_api import sync_playwright

    t = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    runs = ServerRuns(Path(tmp.name) / "runs.jsonl")
    proc, port = start_timed_server(store, runs.log)
    url = f"http://127.0.0.1:{port}"
    print(f"\n## {label} (server healthy in {time.perf_counter() - t:.1f} s)")
    print("server = the script runs on the server during the 2nd visit / the control: wall s "
          "(CPU s of the running thread)")
    print(f"{'page / control':34s} {'1st visit s':>11s} {'2nd visit s':>11s} "
          f"{'server s':>14s}   goal")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            for name in PAGES:
                first = open_page(page, url, name)
                runs.mark()
                second = open_page(page, url, name)
                wall, cpu, _ = runs.since()
                flag = "ok" if second <= 2 else "over"
                print(f"{'page ' + name:34s} {first:11.2f} {second:11.2f} "
                      f"{f'{wall:.2f} ({cpu:.2f})':>14s}   ≤ 2 s {flag}")
            open_page(page, url, "hotspots")
            main = page.locator('[data-testid="stMain"]')

            def option(text):
                return main.locator('[data-testid="stRadioOption"]', has_text=text).first

            toggle = main.locator('[data-testid="stCheckbox"]',
                                  has_text="Show naloxone sites").locator("label").first
            controls = [
                ("hotspots: colour by count", option("Overdose count")),
                ("hotspots: colour by Gi* class", option("Gi* class")),
                ("hotspots: naloxone sites on", toggle),
                ("hotspots: naloxone sites off", toggle),
            ]
            print(f"{'control':34s} {'total s':>11s} {'script s':>11s} {'server s':>14s}   goal"
                  "   (script: running → notRunning as the browser saw it)")
            for cycle, (what, loc) in enumerate(controls * cycles):
                what += f" ({cycle // len(controls) + 1})" if cycles > 1 else ""
                runs.mark()
                try:
                    dt, run_s, _ = change(page, loc)
                except Exception as exc:  # a control that never reran: say so, go on
                    print(f"{what:34s} failed: {type(exc).__name__}")
                    continue
                wall, cpu, n = runs.since()
                frag = " fragment" if n and _fragment_only(runs) else ""
                print(f"{what:34s} {dt:11.2f} {run_s:11.2f} {f'{wall:.2f} ({cpu:.2f})':>14s}"
                      f"   ≤ 1 s {'ok' if dt <= 1 else 'over'}{frag}")
            browser.close()
    finally:
        stop_server(proc)
        tmp.cleanup()


def _fragment_only(runs: ServerRuns) -> bool:
    """The runs since the mark were all fragment reruns."""
    recs = [json.loads(x) for x in runs._lines()[runs.n:]]
    return bool(recs) and all(r["fragment"] for r in recs)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=0, help="also a synthetic store of N rows")
    ap.add_argument("--store", default=None, help="also an existing incident store")
    ap.add_argument("--no-sample", action="store_true")
    ap.add_argument("--cycles", type=int, default=1, help="times through the four controls")
    args = ap.parse_args(argv)
    print(f"# {os.cpu_count()} cores, /usr/bin/chromium headless (SwiftShader WebGL)")
    if not args.no_sample:
        run(None, "bundled sample", args.cycles)
    if args.store:
        run(args.store, f"store {args.store}", args.cycles)
    if args.n:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            store = build_store(args.n, Path(tmp))
            print(f"\n(built a synthetic {args.n:,}-row store in {time.perf_counter() - t:.0f} s)")
            run(store, f"synthetic store, {args.n:,} rows", args.cycles)


if __name__ == "__main__":
    main()
