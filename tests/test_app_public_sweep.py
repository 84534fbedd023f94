# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Sweep of every dashboard page in the public tier (AppTest): rendered tables, text, metrics."""

from __future__ import annotations

import io
import json
import re

import pyarrow as pa
from app_helpers import app_env, app_inputs, run_page  # noqa: F401
from test_public_sweep import TIME, check_public_table

#: a tooltip or caption that states a small count of people, e.g. "3 overdoses"
SMALL_TEXT = re.compile(r"(?<![\d.,–-])[1-9] (overdoses?|deaths?|events?|incidents?)\b")
#: point layers allowed in public: resource and candidate sites (public places)
SITE_LAYERS = re.compile(r"(sites|candidates|chosen|existing-naloxone)$")


def _check_deck(spec: dict, where: str) -> None:
    for lyr in spec["layers"]:
        kind, lid = lyr.get("@@type", ""), str(lyr.get("id", ""))
        data = lyr.get("data") if isinstance(lyr.get("data"), list) else []
        if kind == "ScatterplotLayer" or (data and "lat" in data[0]):
            assert SITE_LAYERS.search(lid), f"{where}: point layer {lid} in public"
        for row in data:
            tip = str(row.get("tip", ""))
            assert not TIME.search(tip), f"{where}/{lid}: time in tooltip {tip!r}"
            assert not SMALL_TEXT.search(tip), f"{where}/{lid}: small count in {tip!r}"


def _check_vega(el, where: str) -> None:
    """Chart data: every dataset of the chart passes the table rules."""
    for ds in el.proto.datasets:
        table = pa.ipc.open_stream(io.BytesIO(ds.data.data)).read_all().to_pandas()
        table.columns = [str(c).replace(" ", "_") for c in table.columns]
        named = {c: c for c in table.columns}
        for c in list(named):
            if c.endswith("overdoses") or c in ("fatal", "nonfatal"):
                table = table.rename(columns={c: "count_" + c})
        check_public_table(table, where)


def test_public_dashboard_pages_show_no_small_counts_or_times():
    from app_helpers import ROOT

    pages = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
    for page in pages:
        at = run_page(page)
        for i, df in enumerate(at.dataframe):
            check_public_table(df.value, f"{page} table {i}")
        for i, el in enumerate(at.get("deck_gl_json_chart")):
            _check_deck(json.loads(el.proto.json), f"{page} map {i}")
        for i, el in enumerate(at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")):
            _check_vega(el, f"{page} chart {i}")
        texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [
            str(m.value) for m in at.metric] + [str(m.help or "") for m in at.metric]
        for t in texts:
            assert not TIME.search(str(t)), f"{page}: time of day in {t!r}"
        for m in at.metric:
            if not re.search(r"overdose|fatal|death|event|incident|case", m.label, re.I):
                continue  # resource sites are public places, not people
            v = str(m.value).replace(",", "")
            assert not re.fullmatch(r"[1-9]", v), f"{page}: metric {m.label} shows {v}"


def test_the_sweep_would_catch_restricted_figures():
    """The same checks fail on the restricted tier's pages: the sweep can fail."""
    import pytest

    caught = 0
    for page in ("overview", "hotspots"):
        at = run_page(page, session={"tier": "restricted"})
        try:
            for i, df in enumerate(at.dataframe):
                check_public_table(df.value, f"{page} table {i}")
            for i, el in enumerate(at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")):
                _check_vega(el, f"{page} chart {i}")
        except AssertionError:
            caught += 1
    if caught == 0:
        pytest.fail("restricted pages passed the public checks: the sweep cannot fail")
