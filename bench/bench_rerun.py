"""Benchmark: server CPU per rerun of the map pages and the Hotspots map controls (in-process).

What a user waits for in the browser (``bench_browser.py``) mixes the server's script run, the
websocket and the drawing, and on a busy machine the wall clock is noisy. This measures the
server side alone and fairly: the dashboard runs in-process under
:class:`streamlit.testing.v1.AppTest` and the CPU time of the process (all threads:
``time.process_time``) is taken per rerun. As in the real server, compiled page scripts are
kept between reruns (one shared ``ScriptCache``; AppTest alone recompiles them every run).

Per page (Hotspots, Gaps, Siting): two warm-up runs, then the median CPU of ``--repeat``
reruns. Per control (Hotspots colour-by radio, "Show naloxone sites" toggle): one warm-up
cycle of the four changes, then the median over ``--repeat`` cycles.

Usage::

    .venv/bin/python bench/bench_rerun.py                           # this tree, sample
    .venv/bin/python bench/bench_rerun.py --compare /tmp/base       # + another tree (a ratio)
    .venv/bin/python bench/bench_rerun.py --store PATH              # an incident store

``--compare`` runs both trees in fresh processes, alternately, in the same run (the machine's
load affects both alike) and prints base / this per row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("hotspots", "gaps", "siting")
CONTROLS = (
    ("hotspots: colour by count", "radio", "hot_colour", "Overdose count"),
    ("hotspots: colour by Gi* class", "radio", "hot_colour", "Gi* class"),
    ("hotspots: naloxone sites on", "toggle", "hot_sites", True),
    ("hotspots: naloxone sites off", "toggle", "hot_sites", False),
)


def _share_script_cache() -> None:
    """One ScriptCache for every AppTest run, as the real server keeps one per runtime."""
    from streamlit.runtime.scriptrunner import script_cache
    from streamlit.testing.v1 import app_test, local_script_runner

    shared = script_cache.ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: shared


def measure(root: Path, repeat: int) -> dict[str, float]:
    """Median CPU seconds per rerun, per page and control, of the tree at ``root``."""
    sys.path.insert(0, str(root))
    os.chdir(root)
    _share_script_cache()
    from streamlit.testing.v1 import AppTest

    out: dict[str, float] = {}
    at = AppTest.from_file(str(root / "dashboard.py"), default_timeout=600)
    at.run()
    for name in PAGES:
        at.switch_page(f"app_pages/{name}.py")
        at.run()
        at.run()
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].value}")
        cpu = []
        for _ in range(repeat):
            t = time.process_time()
            at.run()
            cpu.append(time.process_time() - t)
        out[f"page {name}"] = statistics.median(cpu)
    at.switch_page("app_pages/hotspots.py")
    at.run()
    cpu: dict[str, list[float]] = {c[0]: [] for c in CONTROLS}
    for cycle in range(repeat + 1):
        for what, kind, key, value in CONTROLS:
            widget = getattr(at, kind)(key=key).set_value(value)
            t = time.process_time()
            widget.run()
            dt = time.process_time() - t
            if at.exception:
                raise RuntimeError(f"{what}: {at.exception[0].value}")
            if cycle:  # the first cycle warms the caches
                cpu[what].append(dt)
    out.update({k: statistics.median(v) for k, v in cpu.items()})
    return out


def _child(root: Path, repeat: int, store: str | None) -> dict[str, float]:
    env = dict(os.environ)
    env.pop("GAPMAP_STORE", None)
    if store:
        env["GAPMAP_STORE"] = store
    res = subprocess.run([sys.executable, __file__, "--child", str(root), "--repeat",
                          str(repeat)], env=env, capture_output=True, text=True, check=False)
    if res.returncode:
        raise RuntimeError(f"{root}: {res.stderr.strip().splitlines()[-1:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", default=None, help="another tree (e.g. a clean export)")
    ap.add_argument("--store", default=None, help="incident store (default: the sample)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds with --compare")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure(Path(args.child).resolve(), args.repeat)))
        return
    trees = [ROOT] + ([Path(args.compare).resolve()] if args.compare else [])
    runs: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    for _ in range(args.rounds if args.compare else 1):
        for t in trees[::-1]:
            runs[t].append(_child(t, args.repeat, args.store))
    load = os.getloadavg()[0]
    rounds = " per round, best round" if args.compare else ""
    print(f"# CPU s per rerun (median of {args.repeat}{rounds}); "
          f"data: {args.store or 'bundled sample'}; load {load:.1f}")

    def best(t, k):
        return min(r[k] for r in runs[t])

    head = f"{'page / control':32s} {'this':>7s}"
    if args.compare:
        head += f" {'base':>7s} {'base/this':>9s}"
    print(head)
    for k in runs[ROOT][0]:
        line = f"{k:32s} {best(ROOT, k):7.3f}"
        if args.compare:
            b = best(trees[1], k)
            line += f" {b:7.3f} {b / best(ROOT, k):9.1f}"
        print(line)


if __name__ == "__main__":
    main()
