"""Benchmark: the dashboard at 1,000,000 incidents (page ready, filter change, briefing).

Builds, in a temporary folder, a seeded synthetic export of ``--n`` incidents spread over the
bundled sample's study area (three years ending 2026-11-15, three sources, ~10% of events
reported by two agencies), ingests it into an incident store (:class:`geo.store.IncidentStore`,
with cross-source de-duplication), then points the app at it (``GAPMAP_STORE``) and times with
Streamlit's AppTest, server side:

1. cold start — the first run of the Overview page in a fresh process (store load + KPIs);
2. page ready — a new session (fresh AppTest) of each page once the caches are warm;
3. filter change — a sidebar filter changed in a session (a rerun with a cache miss on the
   changed filter);

and, for the library, the KPI / briefing functions directly, against the naive approach
(pandas ``groupby`` per window) in the same run. Optionally (``--browser``) the time from
navigation to the first metric in headless Chromium.

Usage::

    .venv/bin/python bench/bench_dashboard.py --n 1000000
    .venv/bin/python bench/bench_dashboard.py --n 1000000 --browser

Nothing is downloaded. Targets (issue 5): page ready ≤ 3 s, filter change ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

END = pd.Timestamp("2026-11-15 23:59")


def synthetic_export(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` incident reports inside the sample study area (canonical column names)."""
    import shapely

    from data import get_path
    from geo.ingest import load_boundary

    rng = np.random.default_rng(seed)
    geom = load_boundary(get_path("boundary"))
    minx, miny, maxx, maxy = geom.bounds
    n_events = int(round(n / 1.1))  # + 10% second reports = n rows
    # a mixture: 60% spread over the area, 40% in 12 hot spots; oversample, keep those inside
    hot = rng.uniform([minx, miny], [maxx, maxy], size=(12, 2))
    big = int(n_events * 1.6)
    k = rng.integers(0, 12, big)
    spread = rng.random(big) < 0.6
    lon = np.where(spread, rng.uniform(minx, maxx, big), rng.normal(hot[k, 0], 0.01))
    lat = np.where(spread, rng.uniform(miny, maxy, big), rng.normal(hot[k, 1], 0.008))
    inside = np.flatnonzero(shapely.contains_xy(geom, lon, lat))[:n_events]
    lon, lat = lon[inside], lat[inside]
    m = lon.size
    t = END - pd.to_timedelta(rng.uniform(0, 3 * 365 * 86400, m), unit="s")
    ev = pd.DataFrame({
        "occurred_at": t.floor("min"), "lat": lat, "lon": lon,
        "outcome": rng.choice(["fatal", "nonfatal", "unknown"], m, p=[0.07, 0.88, 0.05]),
        "naloxone": rng.choice(["yes", "no", "unknown"], m, p=[0.7, 0.2, 0.1]),
        "source": rng.choice(["ems", "police", "odmap"], m, p=[0.7, 0.2, 0.1]),
    })
    # ~10% reported a second time by another agency, 5-40 min later, within ~100 m
    dup = ev.sample(n=max(0, n - m), random_state=seed).copy()
    dup["occurred_at"] = dup["occurred_at"] + pd.to_timedelta(rng.integers(5, 40, len(dup)), "m")
    dup["lat"] += rng.normal(0, 0.0005, len(dup))
    dup["lon"] += rng.normal(0, 0.0005, len(dup))
    dup["source"] = np.where(dup["source"] == "ems", "police", "ems")
    out = pd.concat([ev, dup], ignore_index=True).sort_values("occurred_at", kind="stable")
    out.insert(0, "incident_id", [f"B{i:07d}" for i in range(len(out))])
    out["agency"] = out["source"].str.upper() + " bench"
    out["occurred_at"] = out["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out.reset_index(drop=True)


def timed(fn, *a, repeat: int = 1, **kw):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*a, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, out


def naive_kpis(df: pd.DataFrame, end: pd.Timestamp, windows=(7, 30, 365)) -> pd.DataFrame:
    """Reference: a boolean mask and value_counts per window and period (no privacy gate)."""
    rows = []
    t = pd.to_datetime(df["occurred_at"])
    stop = end.normalize() + pd.Timedelta(days=1)
    for w in windows:
        for lo, hi in ((stop - pd.Timedelta(days=w), stop),
                       (stop - pd.Timedelta(days=2 * w), stop - pd.Timedelta(days=w))):
            sub = df[(t >= lo) & (t < hi)].drop_duplicates("event_id")
            vc = sub["outcome"].value_counts()
            rows.append({"w": w, "n": len(sub), "fatal": vc.get("fatal", 0),
                         "naloxone": (sub["naloxone"] == "yes").sum()})
    return pd.DataFrame(rows)


def bench_library(inc: pd.DataFrame) -> None:
    from data import get_path
    from geo.ingest import load_boundary
    from report.briefing import build_briefing
    from report.kpis import kpis, top_areas, weekly_trend

    print(f"\n## library on {len(inc):,} incidents ({inc['event_id'].nunique():,} events)")
    end = pd.to_datetime(inc["occurred_at"]).max()
    t_naive, ref = timed(naive_kpis, inc, end)
    t_kpi, got = timed(kpis, inc, repeat=2, policy="restricted")
    assert list(got["overdoses"]) == list(ref[ref.index % 2 == 0]["n"]), "KPI mismatch"
    print(f"kpis (3 windows, vs prior, gated)  {t_kpi:7.3f} s   naive mask+drop_duplicates "
          f"{t_naive:7.3f} s   ratio {t_naive / t_kpi:5.1f}×")
    t_w, _ = timed(weekly_trend, inc, repeat=2)
    t_top, _ = timed(top_areas, inc, repeat=2)
    print(f"weekly_trend (52 weeks)            {t_w:7.3f} s")
    print(f"top_areas (res 7, 365 days)        {t_top:7.3f} s")
    b = load_boundary(get_path("boundary"))
    t_pdf, pdf = timed(build_briefing, inc, None, b, repeat=2)
    print(f"build_briefing (one-page PDF)      {t_pdf:7.3f} s   ({len(pdf) / 1024:.0f} KiB)")
    from geo.ingest import read_incidents
    from layers.sites import load_resources

    sample = read_incidents(get_path("incidents")).incidents
    sites = load_resources(get_path("resources")).sites
    t_s, _ = timed(build_briefing, sample, sites, b, repeat=3)
    print(f"build_briefing, bundled sample ({len(sample):,} events)  {t_s:7.3f} s   target < 2 s")


def _apptest(page: str | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=600)
    if page:
        at.switch_page(f"app_pages/{page}.py")
    return at


def bench_app(store: Path) -> dict:
    os.environ["GAPMAP_STORE"] = str(store)
    res = {}
    print("\n## dashboard (AppTest, server time)")
    t0 = time.perf_counter()
    at = _apptest()
    at.run()
    res["cold"] = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    print(f"cold start, Overview (load store + KPIs)  {res['cold']:7.2f} s")
    for page in ("overview", "hotspots", "outreach", "briefing"):
        at = _apptest(None if page == "overview" else page)
        if page != "overview":
            at.run()  # warm this page's caches in the session
            at = _apptest(page)
        t, _ = timed(at.run)
        assert not at.exception, (page, [e.value for e in at.exception])
        res[f"ready_{page}"] = t
        print(f"page ready (warm caches), {page:9s}       {t:7.2f} s   target ≤ 3 s")
    # filter changes in one session
    at = _apptest()
    at.run()
    for label, key, value in (("sources: drop EMS", "sources", ["police", "odmap", "other"]),
                              ("sources: back to all", "sources",
                               ["ems", "police", "hospital", "odmap", "other"])):
        at.sidebar.multiselect(key=key).set_value(value)
        t, _ = timed(at.run)
        res[f"filter_{label}"] = t
        print(f"filter change, Overview, {label:20s} {t:6.2f} s   target ≤ 0.5 s")
    at = _apptest("hotspots")
    at.run()
    for label, key, value in (("time window 30 days", "window", "Last 30 days"),
                              ("resolution 7", "res", 7)):
        w = at.sidebar.selectbox(key=key) if key == "window" else at.sidebar.select_slider(key=key)
        w.set_value(value)
        t, _ = timed(at.run)
        res[f"filter_hot_{label}"] = t
        print(f"filter change, Hotspots, {label:20s} {t:6.2f} s   target ≤ 0.5 s")
    return res


def bench_browser(store: Path) -> None:
    import signal
    import socket
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GAPMAP_STORE=str(store), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"),
         "--server.headless", "true", "--server.port", str(port),
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        print("\n## browser (headless Chromium, navigation → first metric)")
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            for label in ("first visit (cold server)", "second visit (warm caches)"):
                page = b.new_page()
                t0 = time.perf_counter()
                page.goto(url)
                page.wait_for_selector('[data-testid="stMetric"]', timeout=600_000)
                print(f"{label:28s} {time.perf_counter() - t0:7.2f} s")
                page.close()
            b.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="incident reports (default 1M)")
    ap.add_argument("--browser", action="store_true", help="also time a Chromium page load")
    ap.add_argument("--keep", default=None, help="folder to build/keep the store in")
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        store_path = folder / "bench_1m.duckdb"
        from geo.store import IncidentStore

        store = IncidentStore(store_path)
        if not store_path.exists():
            t, export = timed(synthetic_export, args.n)
            path = folder / "export.parquet"
            export.to_parquet(path, index=False)
            print(f"synthetic export: {len(export):,} rows in {t:.1f} s")
            t, summary = timed(store.ingest, path)
            print(f"store ingest (validate, index, dedup): {t:.1f} s → {summary['events']:,} "
                  f"events from {summary['records']:,} records")
        t, inc = timed(store.load)
        print(f"store load: {len(inc):,} rows in {t:.2f} s")
        bench_library(inc)
        del inc
        bench_app(store_path)
        if args.browser:
            bench_browser(store_path)


if __name__ == "__main__":
    main()
