"""CPU of the Hotspots page's cell-history chart: st.bar_chart (altair) vs _linechart.bar_chart.

Each measurement is a fresh Python process (altair not yet imported) running the dashboard with
AppTest in-process on the synthetic app inputs (tests/app_helpers.make_inputs):

* ``cold``: the router and the Hotspots page, with a cell already selected (the page's first
  draw, chart included);
* ``click``: the page drawn once without a selection (caches warm), then the cell selected and
  the page rerun: the CPU of that rerun, where the chart is drawn for the first time.

Checkouts given with ``--roots`` (default: the base worktree and this one) are run alternately;
medians of ``--reps`` runs are printed with the ratio to the first root.

    .venv/bin/python bench/bench_barchart.py --roots /tmp/tidy/base . --reps 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, resource, sys, time
root = {root!r}
sys.path.insert(0, root)
os.chdir(root)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
from streamlit.testing.v1 import AppTest
import numpy as np
from geo.cells import cells_to_str, latlng_to_cells
hot = cells_to_str(latlng_to_cells(np.array([{lat!r}]), np.array([{lon!r}]), 8))[0]
sel = {{"selection": {{"indices": {{"cells": [0]}}, "objects": {{"cells": [{{"h3": hot}}]}}}}}}
at = AppTest.from_file(os.path.join(root, "dashboard.py"), default_timeout=300)
case = {case!r}
c0 = cpu()
if case == "cold":
    at.session_state["hotspot_map"] = sel
at.run()
at.switch_page("app_pages/hotspots.py")
at.run()
if case == "click":
    c0 = cpu()
    at.session_state["hotspot_map"] = sel
    at.run()
c = cpu() - c0
assert not at.exception, [e.value for e in at.exception]
assert any(hot in s.value for s in at.subheader)
charts = len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart"))
print(json.dumps({{"cpu": c, "charts": charts, "altair": "altair" in sys.modules}}))
"""


def _env(inputs: dict[str, Path], tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name, path in inputs.items():
        env[f"GAPMAP_{name.upper()}"] = str(path)
    env["GAPMAP_CASES_DB"] = str(tmp / "cases.duckdb")
    env["GAPMAP_BASEMAP"] = "off"
    env["GAPMAP_STORE_DIR"] = str(tmp / "stores")
    for var in ("GAPMAP_STORE", "GAPMAP_PASSWORD_HASH", "GAPMAP_CASES_KEY"):
        env.pop(var, None)
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--roots", nargs="+", default=["/tmp/tidy/base", str(ROOT)])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cases", nargs="+", default=["click", "cold"])
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    from app_helpers import HOT_LAT, HOT_LON, make_inputs

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "inputs").mkdir()
        env = _env(make_inputs(tmp / "inputs"), tmp)
        res: dict[tuple[str, str], list[dict]] = {}
        for _ in range(a.reps):
            for case in a.cases:
                for root in a.roots:
                    code = _CHILD.format(root=str(Path(root).resolve()), lat=HOT_LAT,
                                         lon=HOT_LON, case=case)
                    env["PYTHONPATH"] = str(Path(root).resolve())
                    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                         capture_output=True, text=True).stdout
                    res.setdefault((case, root), []).append(json.loads(out.splitlines()[-1]))
        for case in a.cases:
            base = None
            for root in a.roots:
                runs = res[(case, root)]
                med = statistics.median(r["cpu"] for r in runs)
                base = med if base is None else base
                each = ", ".join(f"{r['cpu']:.2f}" for r in runs)
                print(f"{case:5s} {root:40s} cpu median {med:.3f} s (runs {each}) "
                      f"charts {runs[0]['charts']} altair {runs[0]['altair']} "
                      f"ratio {med / base:.2f}")


if __name__ == "__main__":
    main()
