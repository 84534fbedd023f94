"""Sweep of every public output on the bundled sample: CLI files, dashboard pages, the PDF.

Fails on any shown count 1–9, any time of day, any incident coordinate or point column; a
spy proves every public CLI output passed the privacy gate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import cli
from data import get_path
from geo.privacy import POINT_COLUMNS
from geo.privacy import gate as gate_module

TIME = re.compile(r"\b([01]?\d|2[0-3]):[0-5]\d\b")
COUNTISH = re.compile(r"^(count|n_.*|.*_count|count_.*|observed|overdoses|fatal|nonfatal|"
                      r"unknown|naloxone_yes|prior_overdoses|prior_fatal|prior_nonfatal)$")


def check_public_table(df: pd.DataFrame, where: str) -> None:
    """The rules of a public table, checked on what was actually written or shown."""
    place = any(str(c).lower() in ("site_id", "name", "site", "host site") for c in df.columns)
    bad = [c for c in df.columns if str(c).lower() in POINT_COLUMNS
           and not (place and str(c).lower() in ("lat", "lon"))]  # sites are public places
    assert not bad, f"{where}: point columns {bad}"
    for c in df.columns:
        name = str(c)
        if COUNTISH.match(name) and pd.api.types.is_numeric_dtype(df[c]):
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            small = (v >= 1) & (v < 10) & np.isclose(v, np.round(v))
            assert not small.any(), f"{where}: column {name} shows a count 1–9: {v[small][:5]}"
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            text = df[c].dropna().astype(str)
            hits = text[text.str.contains(TIME)]
            assert hits.empty, f"{where}: column {name} shows a time of day: {hits.iloc[0]!r}"
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            t = df[c].dropna()
            assert (t == t.dt.normalize()).all(), f"{where}: column {name} holds times"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "s.duckdb"
    assert cli.main(["ingest", str(get_path("incidents")), "--store", str(path),
                     "--boundary", str(get_path("boundary"))]) == 0
    return path


def _cli_runs(store, out):
    res, bnd = str(get_path("resources")), str(get_path("boundary"))
    cand = str(get_path("candidates"))
    s = ["--store", str(store)]
    return {
        "cells": ["cells", *s, "--res", "8", "--out", str(out / "cells.csv")],
        "cells7": ["cells", *s, "--res", "7", "--out", str(out / "cells7.csv")],
        "areas": ["areas", *s, "--areas", str(get_path("neighbourhoods")), "--area-name", "name",
                  "--area-population", "population", "--out", str(out / "areas.csv")],
        "gi": ["hotspots", *s, "--res", "8", "--boundary", bnd, "--out", str(out / "gi.csv")],
        "dbscan": ["hotspots", *s, "--method", "dbscan", "--out", str(out / "db.csv")],
        "emerging": ["hotspots", *s, "--method", "emerging", "--out", str(out / "em.csv")],
        "ears": ["alerts", *s, "--method", "ears", "--area", "h3", "--res", "8",
                 "--out", str(out / "alerts.csv")],
        "gaps": ["gaps", *s, "--resources", res, "--res", "8", "--boundary", bnd,
                 "--out", str(out / "gaps.csv")],
        "site": ["site", *s, "--resources", res, "--candidates", cand, "--k", "5",
                 "--radius-m", "800", "--res", "8", "--out", str(out / "site.csv"),
                 "--summary", str(out / "site.json")],
    }


def test_every_public_cli_output_passes_the_gate_and_its_rules(store, tmp_path, monkeypatch):
    calls = []
    real = gate_module._check_points_and_floor

    def spy(out, pol, cell_column):
        calls.append(pol.tier)
        return real(out, pol, cell_column)

    monkeypatch.setattr(gate_module, "_check_points_and_floor", spy)
    for name, argv in _cli_runs(store, tmp_path).items():
        calls.clear()
        assert cli.main(argv) == 0, name
        assert calls and set(calls) == {"public"}, f"{name} did not pass the public gate"
        out = argv[argv.index("--out") + 1]
        check_public_table(pd.read_csv(out), name)
    summary = json.loads((tmp_path / "site.json").read_text())
    flat = json.dumps(summary)
    assert not TIME.search(flat)


def test_public_briefing_pdf_has_no_times(store, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    pdf = tmp_path / "b.pdf"
    assert cli.main(["brief", "--store", str(store), "--resources", str(get_path("resources")),
                     "--boundary", str(get_path("boundary")), "--out", str(pdf)]) == 0
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "PUBLIC" in text.upper()
    assert not TIME.search(text), TIME.search(text)
