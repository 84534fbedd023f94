# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Sweep of every dashboard page in the public tier (AppTest): rendered tables, text, metrics."""

from __future__ import annotations

import re

from app_helpers import app_env, app_inputs, run_page  # noqa: F401
from test_public_sweep import TIME, check_public_table


def test_public_dashboard_pages_show_no_small_counts_or_times():
    from app_helpers import ROOT

    pages = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
    for page in pages:
        at = run_page(page)
        for i, df in enumerate(at.dataframe):
            check_public_table(df.value, f"{page} table {i}")
        texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [
            str(m.value) for m in at.metric] + [str(m.help or "") for m in at.metric]
        for t in texts:
            assert not TIME.search(str(t)), f"{page}: time of day in {t!r}"
        for m in at.metric:
            if not re.search(r"overdose|fatal|death|event|incident|case", m.label, re.I):
                continue  # resource sites are public places, not people
            v = str(m.value).replace(",", "")
            assert not re.fullmatch(r"[1-9]", v), f"{page}: metric {m.label} shows {v}"
