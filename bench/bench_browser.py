"""Benchmark: what a user waits for in a real browser, per page and per control.

Starts ``streamlit run dashboard.py`` on 127.0.0.1 (a free port) and drives Debian's Chromium
(``/usr/bin/chromium``, headless, through Playwright; never downloads a browser). A page is
*ready* when the app's script run has finished (``data-test-script-state="notRunning"`` on
``stApp`` after a run), a title is shown, no spinner, skeleton or running-status widget is
left and every map is drawn (deck.gl's layers loaded, nothing left to redraw, two animation
frames after: until 2026-12-01 the map's drawing was not waited for, so a page's first frame
landed in the next measurement); the time is from ``page.goto`` (a full page load in a tab of
an open browser: HTML, the cached JS bundle, the websocket, the script run, drawing) to ready.
A control is timed from the click to the end of the rerun it triggers (same conditions).

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
    git worktree add /tmp/base COMMIT                        # before/after, alternating:
    .venv/bin/python bench/bench_browser.py --base /tmp/base --rounds 3 --cycles 2

Per page and control it also prints the CPU seconds Chromium's GPU process (the drawing:
software WebGL, SwiftShader) and renderer (JS, layout) spent meanwhile (``psutil``).

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

#: Every map on the page drawn: deck.gl's instance behind each chart's canvas (found through
#: React's fiber, as tests/browser/test_offline_maps_browser.py does) has its layers loaded and
#: nothing left to redraw; then two animation frames, so the frame reached the screen (without
#: a GPU the page's compositor reads the WebGL canvas back and waits for the software renderer).
_MAPS_DRAWN = """async () => {
  const charts = document.querySelectorAll('[data-testid="stDeckGlJsonChart"]');
  for (const chart of charts) {
    const canvas = chart.querySelector('canvas');
    const key = canvas && Object.keys(canvas).find(k => k.startsWith('__reactFiber$'));
    let deck = null;
    for (let f = key && canvas[key], d = 0; f && d < 60 && !deck; d++, f = f.return) {
      for (let h = f.memoizedState, i = 0; h && i < 50 && !deck; i++, h = h.next) {
        const v = h.memoizedState;
        for (const c of [v, v && v.current, v && v.current && v.current.deck, v && v.deck]) {
          if (c && typeof c === 'object' && c.layerManager && c.needsRedraw) { deck = c; break; }
        }
      }
    }
    // (no layers yet: Streamlit's chart mounts the deck empty, then gives it the layers)
    if (!deck || deck.isInitialized === false || !deck.layerManager.getLayers().length
        || deck.layerManager.getLayers().some(l => !l.isLoaded)
        || deck.needsRedraw({clearRedrawFlags: false})) return false;
  }
  const n = charts.length;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return document.querySelectorAll('[data-testid="stDeckGlJsonChart"]').length === n;
}"""

_RERUN_DONE = """(t0) => {
  const runs = window.__runs || [];
  const i = runs.findIndex(r => r[0] === 'running' && r[1] >= t0);
  return i >= 0 && runs.slice(i).some(r => r[0] === 'notRunning');
}"""


def start_timed_server(store: str | None, log: Path, root: Path | None = None):
    """``streamlit run dashboard.py`` through ``bench/_timed_server.py`` (each script run's
    server wall and CPU seconds appended to ``log``); (process, port) once healthy. ``root``:
    another checkout's dashboard (``--base``)."""
    other = ["--root", str(root)] if root is not None else []
    return start_server(store, [sys.executable, str(ROOT / "bench" / "_timed_server.py"),
                                str(log), *other])


def chromium_cpu() -> dict[str, float]:
    """CPU seconds (user + system) so far of this process's Chromium children, by kind:
    ``gpu`` (the GPU process: SwiftShader, i.e. the drawing), ``renderer`` (the page: JS,
    layout) and ``other``."""
    import psutil

    out = {"gpu": 0.0, "renderer": 0.0, "other": 0.0}
    for c in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(c.cmdline())
            if "chrom" not in cmd:
                continue
            t = c.cpu_times()
        except psutil.Error:
            continue
        kind = ("gpu" if "--type=gpu-process" in cmd
                else "renderer" if "--type=renderer" in cmd else "other")
        out[kind] += t.user + t.system
    return out


def _cpu_since(c0: dict[str, float]) -> tuple[float, float]:
    c1 = chromium_cpu()
    return c1["gpu"] - c0["gpu"], c1["renderer"] - c0["renderer"]


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
    page.wait_for_function(_MAPS_DRAWN, timeout=TIMEOUT_MS, polling=50)
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
    page.wait_for_function(_MAPS_DRAWN, timeout=TIMEOUT_MS, polling=50)
    total = time.perf_counter() - t0
    run_s, before_s = page.evaluate(_RUN_TIMES, t_page)
    return total, run_s, before_s


def run(store: str | None, label: str, cycles: int = 1, root: Path | None = None) -> dict:
    """One server (this checkout, or ``root``) and one browser: every page twice, then the
    Hotspots controls ``cycles`` times. Returns {row: [(seconds, GPU-process CPU s, renderer
    CPU s, server CPU s), ...]} (row: ``page NAME`` for the 2nd visit, or the control)."""
    from playwright.sync_api import sync_playwright

    t = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    runs = ServerRuns(Path(tmp.name) / "runs.jsonl")
    proc, port = start_timed_server(store, runs.log, root)
    res: dict[str, list] = {}
    url = f"http://127.0.0.1:{port}"
    print(f"\n## {label} (server healthy in {time.perf_counter() - t:.1f} s)")
    print("server = the script runs on the server during the 2nd visit / the control: wall s "
          "(CPU s of the running thread)")
    print(f"{'page / control':34s} {'1st visit s':>11s} {'2nd visit s':>11s} "
          f"{'server s':>14s}   goal   browser CPU s: GPU process / renderer (2nd visit)")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            for name in PAGES:
                first = open_page(page, url, name)
                runs.mark()
                c0 = chromium_cpu()
                second = open_page(page, url, name)
                gpu, rend = _cpu_since(c0)
                wall, cpu, _ = runs.since()
                res.setdefault(f"page {name}", []).append((second, gpu, rend, cpu))
                flag = "ok" if second <= 2 else "over"
                print(f"{'page ' + name:34s} {first:11.2f} {second:11.2f} "
                      f"{f'{wall:.2f} ({cpu:.2f})':>14s}   ≤ 2 s {flag:4s}   "
                      f"{gpu:.2f} / {rend:.2f}")
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
                  "   browser CPU s: GPU process / renderer   (script: running → notRunning "
                  "as the browser saw it)")
            for cycle, (what, loc) in enumerate(controls * cycles):
                # the first map change after a page load costs the browser more (below):
                # its own row, so that the medians of the others are not mixed with it
                row = what + (" (first change)" if cycle == 0 else "")
                what += f" ({cycle // len(controls) + 1})" if cycles > 1 else ""
                runs.mark()
                c0 = chromium_cpu()
                try:
                    dt, run_s, _ = change(page, loc)
                except Exception as exc:  # a control that never reran: say so, go on
                    print(f"{what:34s} failed: {type(exc).__name__}")
                    continue
                gpu, rend = _cpu_since(c0)
                wall, cpu, n = runs.since()
                res.setdefault(row, []).append((dt, gpu, rend, cpu))
                frag = " fragment" if n and _fragment_only(runs) else ""
                print(f"{what:34s} {dt:11.2f} {run_s:11.2f} {f'{wall:.2f} ({cpu:.2f})':>14s}"
                      f"   ≤ 1 s {'ok' if dt <= 1 else 'over'}   {gpu:.2f} / {rend:.2f}{frag}")
            browser.close()
    finally:
        stop_server(proc)
        tmp.cleanup()
    return res


def compare(store: str | None, label: str, base: Path, rounds: int, cycles: int) -> None:
    """This checkout and ``base`` alternately (this, base, this, base, ...), ``rounds`` times
    each; then the medians side by side (same machine, same minutes)."""
    import statistics

    now: dict[str, list] = {}
    old: dict[str, list] = {}
    for r in range(rounds):
        for tree, acc in (("this checkout", now), (f"base {base}", old)):
            out = run(store, f"{label}, {tree}, round {r + 1}", cycles,
                      None if acc is now else base)
            for k, v in out.items():
                acc.setdefault(k, []).extend(v)
    load = os.getloadavg()
    print(f"\n## {label}: medians over {rounds} alternating rounds (load average now "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f})")
    print(f"{'page (2nd visit) / control':30s} {'base s':>7s} {'now s':>7s} {'base/now':>8s}  "
          f"{'GPU CPU base':>12s} {'now':>5s}  {'renderer CPU base':>17s} {'now':>5s}  "
          f"{'server CPU base':>15s} {'now':>5s}  n")
    for k in now:
        if k not in old:
            continue
        med = [[statistics.median(x[i] for x in acc[k]) for i in range(4)] for acc in (old, now)]
        (bt, bg, br, bs), (nt, ng, nr, ns) = med
        print(f"{k:30s} {bt:7.2f} {nt:7.2f} {bt / nt:7.2f}×  {bg:12.2f} {ng:5.2f}  "
              f"{br:17.2f} {nr:5.2f}  {bs:15.2f} {ns:5.2f}  {len(now[k])}")


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
    ap.add_argument("--base", type=Path, default=None,
                    help="another checkout (e.g. `git worktree add /tmp/base COMMIT`), run "
                         "alternately with this one; medians side by side")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds with --base")
    args = ap.parse_args(argv)
    print(f"# {os.cpu_count()} cores, /usr/bin/chromium headless (SwiftShader WebGL), load "
          f"average {os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    if args.base is not None:
        if not args.no_sample:
            compare(None, "bundled sample", args.base, args.rounds, args.cycles)
        if args.store:
            compare(args.store, f"store {args.store}", args.base, args.rounds, args.cycles)
        return
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
