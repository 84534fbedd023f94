"""Load test of the dashboard server: N concurrent sessions over Streamlit's own websocket protocol.

No browsers: each simulated user is one websocket to ``/_stcore/stream`` (subprotocol
``streamlit``) that asks the server to run pages exactly as a browser tab does (a ``BackMsg``
``rerun_script`` with the page's URL name) and waits for the server's ``script_finished``.
So what is measured is the **server's** work per page (script run, library calls, caches,
serialising every element to the wire), not drawing in a browser. Per concurrency level
(default 10 and 50 users, all started together, each visiting every page once in order):

- per page: median / p95 / max seconds from request to ``script_finished``;
- errors: exceptions shown on a page, a run that did not finish successfully, timeouts,
  dropped connections;
- server memory: resident set of the server process, peak while sampling every 0.25 s,
  against its value after the warm-up and the in-memory size of the incident table — the table
  is held once with ``st.cache_resource`` (``app_pages/_data.py``), so 50 sessions must not add
  50 copies of it.

Bounded: every wait has a timeout, every user visits each page once, the server (started here on
127.0.0.1, a free port) is stopped at the end.

Usage::

    .venv/bin/python bench/bench_capacity.py                      # bundled sample
    .venv/bin/python bench/bench_capacity.py --store PATH.duckdb  # an incident store
    .venv/bin/python bench/bench_capacity.py --n 1000000          # build a synthetic store first

Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ("overview", "hotspots", "gaps", "siting", "outreach", "briefing", "data")
TIMEOUT_S = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: str | None, launcher: list[str] | None = None
                 ) -> tuple[subprocess.Popen, int]:
    """``streamlit run dashboard.py`` on a free local port (``GAPMAP_STORE`` = ``store``);
    (process, port) once healthy. ``launcher`` replaces ``python -m streamlit`` (e.g. the
    timing wrapper of bench_browser)."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("GAPMAP_STORE", None)
    if store:
        env["GAPMAP_STORE"] = str(store)
    proc = subprocess.Popen(
        [*(launcher or [sys.executable, "-m", "streamlit", "run"]), str(ROOT / "dashboard.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("streamlit exited") from None
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("streamlit not healthy after 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server started here, and only it
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def run_page(ws, page: str) -> tuple[float, str | None]:
    """Ask for one page in this session; (seconds to script_finished, error or None)."""
    msg = BackMsg()
    msg.rerun_script.query_string = ""
    msg.rerun_script.page_name = "" if page == "overview" else page
    t0 = time.perf_counter()
    await ws.send(msg.SerializeToString())
    error = None
    while True:
        raw = await asyncio.wait_for(ws.recv(), TIMEOUT_S)
        fwd = ForwardMsg()
        fwd.ParseFromString(raw)
        kind = fwd.WhichOneof("type")
        if kind == "navigation":  # the page the server actually ran
            nav = fwd.navigation
            ran = [p.url_pathname for p in nav.app_pages
                   if p.page_script_hash == nav.page_script_hash]
            want = "" if page == "overview" else page
            if ran and ran[0] != want and not (want == "" and ran[0] == "overview"):
                error = error or f"server ran page {ran[0]!r} instead"
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element" and \
                fwd.delta.new_element.WhichOneof("type") == "exception":
            error = error or f"exception: {fwd.delta.new_element.exception.message[:80]}"
        elif kind == "script_finished":
            if fwd.script_finished != 0:  # 0 = finished successfully
                error = error or f"script_finished status {fwd.script_finished}"
            return time.perf_counter() - t0, error


async def user(port: int, pages, results: list) -> None:
    try:
        async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream",
                                      subprotocols=["streamlit"], max_size=None,
                                      open_timeout=60) as ws:
            for page in pages:
                try:
                    dt, err = await run_page(ws, page)
                except (TimeoutError, asyncio.TimeoutError):
                    results.append((page, TIMEOUT_S, "timeout"))
                    return
                results.append((page, dt, err))
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        results.append(("connect", 0.0, f"{type(exc).__name__}: {exc}"))


class MemorySampler:
    """Peak RSS of a process tree, sampled every 0.25 s in a thread until stopped."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs if p.is_running())

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(0.25)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def table_bytes(store: str | None) -> int:
    """In-memory size of the incident table the app loads (deep, pandas)."""
    if store:
        from geo.store import IncidentStore

        df = IncidentStore(store).load()
    else:
        from data import get_path
        from geo.ingest import read_incidents

        df = read_incidents(get_path("incidents")).incidents
    return int(df.memory_usage(deep=True).sum())


def report(label: str, results: list, wall: float, mem0: int, peak: int) -> None:
    errors = [r for r in results if r[2]]
    print(f"\n## {label}: {len(results)} page runs in {wall:.1f} s wall, {len(errors)} error(s); "
          f"server RSS {mem0 / 2**20:.0f} MiB after warm-up, peak {peak / 2**20:.0f} MiB "
          f"(+{(peak - mem0) / 2**20:.0f} MiB)")
    print(f"{'page':10s} {'runs':>5s} {'median s':>9s} {'p95 s':>7s} {'max s':>7s}")
    for page in PAGES:
        ts = sorted(r[1] for r in results if r[0] == page and not r[2])
        if not ts:
            continue
        p95 = ts[min(len(ts) - 1, int(round(0.95 * (len(ts) - 1))))]
        print(f"{page:10s} {len(ts):5d} {statistics.median(ts):9.2f} {p95:7.2f} {ts[-1]:7.2f}")
    for e in errors[:5]:
        print(f"  error on {e[0]}: {e[2]}")


def build_store(n: int, folder: Path) -> str:
    from bench.bench_dashboard import synthetic_export
    from geo.store import IncidentStore

    csv = folder / "bench.csv"
    synthetic_export(n).to_csv(csv, index=False)
    store = IncidentStore(folder / "bench.duckdb")
    store.ingest(csv)
    return str(store.path)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=None, help="incident store (default: the sample)")
    ap.add_argument("--n", type=int, default=0, help="build a synthetic store of N rows first")
    ap.add_argument("--users", type=int, nargs="+", default=[10, 50])
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if args.n:
            t = time.perf_counter()
            store = build_store(args.n, Path(tmp))
            print(f"built a {args.n:,}-row store in {time.perf_counter() - t:.0f} s")
        tb = table_bytes(store)
        print(f"# {os.cpu_count()} cores; data: {store or 'bundled sample'}; incident table "
              f"{tb / 2**20:.0f} MiB in memory (pandas, deep)")
        proc, port = start_server(store)
        try:
            sampler = MemorySampler(proc.pid)
            warm: list = []
            t = time.perf_counter()
            asyncio.run(user(port, PAGES, warm))
            report("warm-up, 1 user (cold caches)", warm, time.perf_counter() - t,
                   sampler.rss(), sampler.rss())
            for n_users in args.users:
                mem0 = sampler.rss()
                results: list = []

                async def crowd(n=n_users, out=results):
                    await asyncio.gather(*(user(port, PAGES, out) for _ in range(n)))

                t = time.perf_counter()
                with MemorySampler(proc.pid) as s:
                    asyncio.run(crowd())
                report(f"{n_users} concurrent users", results, time.perf_counter() - t, mem0,
                       max(s.peak, mem0))
                per = max(0, s.peak - mem0) / n_users
                if tb < 20 * 2**20:
                    verdict = "too small to tell by memory (use a large store)"
                elif per < 0.5 * tb:
                    verdict = "shared, not copied per session"
                else:
                    verdict = "MAY BE COPIED per session"
                print(f"memory per extra session {per / 2**20:.1f} MiB vs the incident table "
                      f"{tb / 2**20:.0f} MiB: table {verdict}")
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
