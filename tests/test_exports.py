# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Exports on every page: each CSV is the table the page shows (published: no 1–9 in public),
each PNG renders; the Overview's breakdown CSV equals the product."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest
import streamlit
from app_helpers import ROOT, app_env, app_inputs, run_page  # noqa: F401
from test_public_sweep import check_public_table

from products.breakdowns import LEVELS


@pytest.fixture
def downloads(monkeypatch):
    """Record every st.download_button of a run (deferred data rendered as on a click)."""
    got: list[tuple[str, bytes]] = []

    def fake(label, data, file_name=None, *args, **kwargs):
        if callable(data):
            data = data()
        if isinstance(data, str):
            data = data.encode()
        got.append((str(file_name), bytes(data)))
        return False

    monkeypatch.setattr(streamlit, "download_button", fake)
    return got


def _counts_named(df: pd.DataFrame) -> pd.DataFrame:
    """Breakdown exports name their count columns by level ('fentanyl', '25-34', 'all')."""
    names = {lv for levels in LEVELS.values() for lv in levels} | {"all"}
    return df.rename(columns={c: f"n_{c}" for c in df.columns if c in names})


def test_public_exports_of_every_page_pass_the_gate(downloads):
    pages = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
    seen = set()
    for page in pages:
        downloads.clear()
        run_page(page, session={"scan_on": False})
        for name, data in downloads:
            seen.add(name)
            if name.endswith(".csv"):
                df = pd.read_csv(io.BytesIO(data))
                check_public_table(_counts_named(df), f"{page} export {name}")
            elif name.endswith(".png"):
                assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{page}: {name} is not a PNG"
    want = {"gapmap_kpis.csv", "gapmap_weekly_trend.png", "gapmap_breakdown_drug.csv",
            "gapmap_hotspots.csv", "gapmap_hotspot_map.png", "gapmap_siting_map.png",
            "gapmap_gap_map.png", "gapmap_outreach_map.png", "gapmap_briefing_map.png",
            "gapmap_outreach_areas.csv"}
    assert want <= seen, sorted(want - seen)


def test_restricted_breakdown_export_equals_the_product(downloads, app_inputs):
    from app_helpers import load_incidents

    from products.breakdowns import breakdown_table
    from products.query import Query

    at = run_page(session={"tier": "restricted", "scan_on": False})
    csv = dict(downloads)["gapmap_breakdown_drug.csv"]
    got = pd.read_csv(io.BytesIO(csv))
    ref = breakdown_table(load_incidents(app_inputs["incidents"]), Query(), "restricted",
                          weeks=12)
    assert got["all"].tolist() == ref["count"].tolist()
    for col, level in ref.attrs["levels"].items():
        assert got[level].tolist() == ref[col].tolist(), level
    shown = next(d.value for d in at.dataframe if "week_start" in d.value.columns)
    assert shown["all"].astype(int).tolist() == ref["count"].tolist()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(got["week_start"].iloc[0]))
