"""Benchmark: what the names that come back on zoom (layer ``names-on-zoom``: deck.gl's
CollisionFilterExtension) cost the browser, against another checkout in the same run.

Starts the dashboard (bundled sample, basemap off) of this checkout and of ``--base``
alternately, each with its own headless Debian Chromium (Playwright, ``/usr/bin/chromium``;
nothing downloaded), opens the Areas page twice (the 2nd visit is measured: warm server caches)
and then zooms in and back out with the mouse wheel over the map (``--steps`` wheel steps each
way, every step waited until deck.gl has drawn it). Per phase: wall seconds and the CPU seconds
of Chromium's GPU process (software WebGL: the drawing, including the collision map) and
renderer (JS), as bench/bench_browser.py measures them; medians over ``--rounds``.

Usage::

    git worktree add /tmp/base COMMIT
    .venv/bin/python bench/bench_labels_zoom.py --base /tmp/base --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_browser import (  # noqa: E402
    _MAPS_DRAWN,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    ServerRuns,
    chromium_cpu,
    open_page,
    start_timed_server,
)
from bench.bench_capacity import stop_server  # noqa: E402

_ZOOM = """() => {
  const canvas = document.querySelector('[data-testid="stDeckGlJsonChart"] canvas');
  const key = canvas && Object.keys(canvas).find(k => k.startsWith('__reactFiber$'));
  for (let f = key && canvas[key], d = 0; f && d < 60; d++, f = f.return) {
    for (let h = f.memoizedState, i = 0; h && i < 50; i++, h = h.next) {
      const v = h.memoizedState;
      for (const c of [v, v && v.current, v && v.current && v.current.deck, v && v.deck]) {
        if (c && typeof c === 'object' && c.layerManager && c.getViewports) {
          return c.getViewports()[0].zoom;
        }
      }
    }
  }
  return null;
}"""


def _phase(page, fn) -> tuple[float, float, float]:
    c0, t0 = chromium_cpu(), time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    c1 = chromium_cpu()
    return dt, c1["gpu"] - c0["gpu"], c1["renderer"] - c0["renderer"]


def _wheel(page, steps: int, delta: float) -> None:
    canvas = page.locator('[data-testid="stDeckGlJsonChart"] canvas').first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(steps):
        z = page.evaluate(_ZOOM)
        page.mouse.wheel(0, delta)
        page.wait_for_function(f"() => ({_ZOOM})() !== {z}", timeout=30_000, polling=20)
        page.wait_for_function(_MAPS_DRAWN, timeout=TIMEOUT_MS, polling=20)


def run(root: Path | None, steps: int) -> dict[str, tuple[float, float, float]]:
    from playwright.sync_api import sync_playwright

    tmp = tempfile.TemporaryDirectory()
    proc, port = start_timed_server(None, ServerRuns(Path(tmp.name) / "runs.jsonl").log, root)
    url = f"http://127.0.0.1:{port}"
    out = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            open_page(page, url, "areas")
            out["Areas page, 2nd visit"] = _phase(page, lambda: open_page(page, url, "areas"))
            page.locator('[data-testid="stDeckGlJsonChart"] canvas').first \
                .scroll_into_view_if_needed()
            page.wait_for_function(_MAPS_DRAWN, timeout=TIMEOUT_MS, polling=20)
            out[f"zoom in, {steps} wheel steps"] = _phase(page, lambda: _wheel(page, steps, -100))
            out[f"zoom out, {steps} wheel steps"] = _phase(page, lambda: _wheel(page, steps, 100))
            browser.close()
    finally:
        stop_server(proc)
        tmp.cleanup()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", type=Path, required=True, help="another checkout (git worktree)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args(argv)
    os.environ["GAPMAP_BASEMAP"] = "off"
    os.environ.setdefault("GAPMAP_CASES_DB", str(Path(tempfile.mkdtemp()) / "cases.duckdb"))
    acc: dict[str, dict[str, list]] = {"base": {}, "now": {}}
    for r in range(a.rounds):
        for tree, root in (("now", None), ("base", a.base)):
            res = run(root, a.steps)
            print(f"round {r + 1} {tree}: " + "; ".join(
                f"{k} {v[0]:.2f} s (GPU {v[1]:.2f}, renderer {v[2]:.2f})" for k, v in res.items()),
                flush=True)
            for k, v in res.items():
                acc[tree].setdefault(k, []).append(v)
    load = os.getloadavg()
    print(f"\nmedians over {a.rounds} alternating rounds (load {load[0]:.1f} / {load[1]:.1f}):")
    print(f"{'phase':30s} {'wall base':>9s} {'now':>6s}  {'GPU CPU base':>12s} {'now':>6s}  "
          f"{'renderer CPU base':>17s} {'now':>6s}")
    for k in acc["now"]:
        (bw, bg, br), (nw, ng, nr) = ([statistics.median(x[i] for x in acc[t][k])
                                       for i in range(3)] for t in ("base", "now"))
        print(f"{k:30s} {bw:9.2f} {nw:6.2f}  {bg:12.2f} {ng:6.2f}  {br:17.2f} {nr:6.2f}")


if __name__ == "__main__":
    main()
