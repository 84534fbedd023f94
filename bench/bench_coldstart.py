"""Benchmark: a real ``streamlit run`` server from process start to the Overview drawn in Chromium.

Chromium (``/usr/bin/chromium``, headless, Playwright; never downloads a browser) is opened
first; then, per run, the server of a checkout is started on a free port the way its
``make run`` does (``python -m app_pages._warm``, the launcher that warms the caches, where the
checkout has it; else, or with ``--plain``, ``streamlit run dashboard.py``; ``GAPMAP_STORE`` =
``--store``) and the clock runs from ``Popen`` to the Overview *ready* in a new tab (the
conditions of :mod:`bench.bench_browser`: script run finished, title shown, no spinner,
skeleton or running-status widget). Also the server's CPU seconds (its process,
``/proc``) at that moment. With ``--base`` (an older checkout, ``git worktree add``) both
checkouts alternate, so they see the same machine load; medians of ``--runs``.

Usage::

    .venv/bin/python bench/bench_coldstart.py --store /tmp/h6_1m/bench.duckdb \\
        [--base /tmp/dashcold/base] [--runs 3] [--shot overview.png] [--settled] \\
        [--plain | --base-plain]

``--base . --base-plain`` compares this checkout's ``make run`` (launcher) with its own
``streamlit run dashboard.py``: the warm-up's effect alone.

``--pin`` runs the server on CPU 0 and Chromium on CPU 1 (a visitor's browser runs on their
own computer; on 2 shared cores the page load and the server's warm-up compete).

``--shot`` saves a full-page screenshot of the (new checkout's) Overview of the last run.
Goal (issue 13): dashboard at 1M incidents ready in ≤ 3 s from process start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_browser import _IDLE, CHROMIUM_ARGS, TIMEOUT_MS  # noqa: E402
from bench.bench_capacity import _free_port, stop_server  # noqa: E402

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
            return True
    except OSError:
        return False


def server_command(root: Path, plain: bool = False) -> list[str]:
    """How ``make run`` of the checkout ``root`` starts the server: the launcher with the cache
    warm-up (``python -m app_pages._warm``) where the checkout has it, else (or with ``plain``)
    ``streamlit run dashboard.py``; the same options either way."""
    if not plain and (root / "app_pages" / "_warm.py").exists():
        return [sys.executable, "-m", "app_pages._warm"]
    return [sys.executable, "-m", "streamlit", "run", str(root / "dashboard.py")]


def cold_start(browser, root: Path, store: str | None, shot: Path | None = None,
               plain: bool = False, notes: list | None = None, settled: bool = False,
               pin: bool = False) -> tuple[float, float, float, float, float, float]:
    """(seconds to healthy, seconds to the Overview ready, server CPU seconds at ready, server
    CPU seconds at healthy: Streamlit's own start, seconds from opening the page to ready,
    server CPU seconds in that time) of one start; the server's ``gapmap:`` lines (the
    launcher's warm-up report) are appended to ``notes``. ``settled``: the page is opened
    only after the warm-up has reported (a visitor who comes later; at once for a server
    without warm-up)."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(root))
    env.pop("GAPMAP_STORE", None)
    if store:
        env["GAPMAP_STORE"] = str(store)
    fd, log = tempfile.mkstemp(prefix="coldstart-", suffix=".log")
    os.close(fd)
    err = open(log, "ab")  # noqa: SIM115  (append: the server's writes never overwrite)

    def reported() -> list[str]:
        with open(log, encoding="utf-8", errors="replace") as fh:
            return [ln.strip() for ln in fh if ln.startswith("gapmap:")]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*server_command(root, plain),
         "--server.headless", "true", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=err,
        start_new_session=True, preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pin else None)
    try:
        while not _healthy(port):
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited")
            if time.perf_counter() - t0 > 120:
                raise RuntimeError("streamlit not healthy after 120 s")
            time.sleep(0.05)
        healthy, cpu_healthy = time.perf_counter() - t0, _cpu(proc.pid)
        if settled and server_command(root, plain)[1:] == ["-m", "app_pages._warm"]:
            while not reported():
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError("no warm-up report after 300 s")
                time.sleep(0.05)
        t_open, cpu_open = time.perf_counter(), _cpu(proc.pid)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_function(_IDLE, timeout=TIMEOUT_MS, polling=50)
        ready = time.perf_counter() - t0
        cpu = _cpu(proc.pid)
        opened = t0 + ready - t_open
        if page.locator('[data-testid="stException"]').count():
            raise RuntimeError("the Overview shows an exception")
        if shot:
            page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, '
                                   '[data-testid="stVegaLiteChart"] svg', timeout=30_000)
            page.screenshot(path=str(shot), full_page=True)
        ctx.close()
        return healthy, ready, cpu, cpu_healthy, opened, cpu - cpu_open
    finally:
        stop_server(proc)
        err.close()
        if notes is not None:
            notes.extend(reported())
        os.unlink(log)


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None, help="incident store (default: bundled sample)")
    ap.add_argument("--base", default=None, help="an older checkout (git worktree) to compare")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shot", default=None, help="save a screenshot of the new Overview here")
    ap.add_argument("--settled", action="store_true",
                    help="open the page only after the launcher's warm-up has reported")
    ap.add_argument("--plain", action="store_true",
                    help="start both with `streamlit run dashboard.py` (no launcher warm-up)")
    ap.add_argument("--base-plain", action="store_true",
                    help="start the base with `streamlit run dashboard.py` (with --base "
                    "pointing at this checkout: the warm-up's own effect)")
    ap.add_argument("--pin", action="store_true",
                    help="server on CPU 0, Chromium on CPU 1 (a browser on the visitor's own "
                    "computer rather than sharing the server's cores)")
    args = ap.parse_args(argv)
    if args.pin:
        os.sched_setaffinity(0, {1})  # this process and the Chromium it starts
    roots = {"new": ROOT} | ({"base": Path(args.base).resolve()} if args.base else {})
    print(f"store {args.store or 'bundled sample'}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
          f"{os.getloadavg()[0]:.1f}; {args.runs} runs each", flush=True)
    plain = {"new": args.plain, "base": args.plain or args.base_plain}
    for k, root in roots.items():
        print(f"  {k}: {' '.join(Path(a).name for a in server_command(root, plain[k]))}",
              flush=True)
    res = {k: [] for k in roots}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for i in range(args.runs):
            for k, root in roots.items():
                last = i == args.runs - 1 and k == "new" and args.shot
                notes: list[str] = []
                res[k].append(cold_start(browser, root, args.store,
                                         Path(args.shot) if last else None, plain[k], notes,
                                         args.settled, args.pin))
                h, r, c, ch, o, co = res[k][-1]
                print(f"  {k} run {i + 1}: healthy {h:.2f} s, Overview ready {r:.2f} s, "
                      f"server cpu {c:.2f} s (at healthy {ch:.2f} s); from opening the page: "
                      f"ready {o:.2f} s, server cpu {co:.2f} s", flush=True)
                for note in notes:
                    print(f"    {note}", flush=True)
        browser.close()
    for k, rs in res.items():
        med = [statistics.median(r[j] for r in rs) for j in range(6)]
        print(f"{k}: median healthy {med[0]:.2f} s, Overview ready {med[1]:.2f} s from process "
              f"start, server cpu {med[2]:.2f} s, of which {med[3]:.2f} s before healthy "
              f"(ready {[round(r[1], 2) for r in rs]}); from opening the page: ready "
              f"{med[4]:.2f} s, server cpu {med[5]:.2f} s")
    if "base" in res:
        b, n = ([statistics.median(r[j] for r in res[k]) for j in (1, 2)] for k in ("base", "new"))
        print(f"base/new: ready {b[0] / n[0]:.2f}x, server cpu {b[1] / n[1]:.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
