"""AppTest: the Gaps page (resource filters, gap table = layers.gaps) and the Data page."""

from __future__ import annotations

import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, deck_spec, layer, metric, run_page  # noqa: F401


def test_gaps_page_filters_resource_layers(app_inputs):
    res = pd.read_csv(app_inputs["resources"])
    at = run_page("gaps")
    n_nal = int((res["kind"] == "naloxone").sum())
    assert metric(at, "Naloxone sites") == f"{n_nal:,}"
    assert len(layer(deck_spec(at), "naloxone-sites")["data"]) == n_nal
    at.checkbox(key="gap_247").set_value(True).run()
    n_247 = int(((res["kind"] == "naloxone") & res["open_24_7"]).sum())
    assert 0 < n_247 < n_nal
    assert metric(at, "Naloxone sites") == f"{n_247:,}"
    at.multiselect(key="gap_moud").set_value(["methadone"]).run()
    n_meth = int(((res["kind"] == "treatment") & res["methadone"] & res["open_24_7"]).sum())
    assert metric(at, "Treatment sites") == f"{n_meth:,}"
    at.toggle(key="gap_nal").set_value(False).run()
    with pytest.raises(KeyError):
        layer(deck_spec(at), "naloxone-sites")


def test_data_page_runs():
    at = run_page("data")
    assert any("In use: incident file" in c.value for c in at.caption)
