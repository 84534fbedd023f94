# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""The dashboard's first page (Overview) does not import the slow optional modules.

``scipy.stats`` costs about 1 s to import (the detectors use ``scipy.special``'s Student t) and
altair about 1 s with its chart generation (the weekly trend is a plain Vega-Lite spec,
:mod:`app_pages._linechart`); the check runs the router in a fresh process, as a cold server
start does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from app_helpers import DASHBOARD, ROOT, app_env, app_inputs  # noqa: F401

SLOW = ("scipy.stats", "altair")


def test_overview_cold_start_does_not_import_slow_modules(app_inputs, tmp_path):
    """From a store with the scan off (the default at 1M incidents) not even scipy is imported
    (C2 needs none; EWMA's Student t, the scan and the file ingest do); with the scan, still no
    scipy.stats."""
    from geo.store import IncidentStore

    store = tmp_path / "s.duckdb"
    IncidentStore(store).ingest(app_inputs["incidents"], boundary=app_inputs["boundary"])
    code = (
        "import json, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({DASHBOARD!r}, default_timeout=120)\n"
        "at.session_state['scan_on'] = False\n"
        "at.run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "assert any(m.label.startswith('Overdoses, ') for m in at.metric), 'Overview not drawn'\n"
        "loaded = {'scipy (scan off)': 'scipy' in sys.modules}\n"
        "at.toggle(key='scan_on').set_value(True).run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "assert any('space-time permutation scan' in c.value for c in at.caption), 'no scan'\n"
        f"loaded |= {{m: m in sys.modules for m in {SLOW!r}}}\n"
        "print(json.dumps(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=300, env=dict(os.environ, GAPMAP_STORE=str(store)))
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"scipy (scan off)": False} | {m: False for m in SLOW}


def test_alert_and_emerging_products_do_not_import_scipy_stats():
    code = ("import sys, products.alerts, clustering.alerts, clustering.ears, "
            "clustering.emerging_inference, products.clusters\n"
            "print('scipy.stats' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "False"
