# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Gaps page (resource filters, gap table = products.gaps = CLI) and the Data page."""

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
    assert any("In use: incident file incidents.csv" == c.value for c in at.caption)
    assert any(i.value == "Log in to upload or ingest data." for i in at.info)


def test_gap_table_equals_product_and_cli(app_inputs, tmp_path):
    import geopandas as gpd
    import numpy as np
    from app_helpers import load_incidents

    from cli import main
    from geo.cells import cells_to_str
    from geo.grid import analysis_grid
    from geo.privacy import release_date
    from layers.sites import load_resources
    from products.gaps import gap_table
    from products.query import Query

    at = run_page("gaps")
    inc = load_incidents(app_inputs["incidents"])
    grid = analysis_grid(gpd.read_file(app_inputs["boundary"]), 8)
    end = release_date(pd.to_datetime(inc["occurred_at"]).max())  # sidebar: last 52 weeks
    q = Query(res=8, start=end - pd.Timedelta(days=364), end=end)
    ref = gap_table(inc, load_resources(app_inputs["resources"]).sites, q, "public",
                    boundary=gpd.read_file(app_inputs["boundary"]))
    shown = at.dataframe[0].value
    n = min(200, len(ref))
    assert shown["cell"].tolist() == cells_to_str(ref["h3"].to_numpy(np.uint64)).tolist()[:n]
    assert shown["reason"].tolist() == ref["reason"].head(n).tolist()
    assert np.allclose(shown["gap score"], ref["gap_score"].head(n).round(3))
    # the CLI with the same inputs writes the same table, cell by cell
    out = tmp_path / "g.csv"
    assert main(["gaps", "--incidents", str(app_inputs["incidents"]), "--resources",
                 str(app_inputs["resources"]), "--boundary", str(app_inputs["boundary"]),
                 "--start", f"{q.start:%Y-%m-%d}", "--end", f"{q.end:%Y-%m-%d}",
                 "--out", str(out)]) == 0
    cli = pd.read_csv(out)
    assert cli["h3"].tolist() == cells_to_str(ref["h3"].to_numpy(np.uint64)).tolist()
    assert cli["reason"].tolist() == ref["reason"].tolist()
    assert cli["count"].astype("Float64").equals(ref["count"].astype("Float64"))
    assert np.allclose(cli["gap_score"], ref["gap_score"])
    assert len(layer(deck_spec(at), "gap-cells")["data"]) == len(grid)
    # public reasons never state a count below 10
    assert all(
        "fewer than 10" in r or not any(f" {n} overdose" in r for n in range(1, 10))
        for r in shown["reason"]
    )
    # a filter changes the score table
    at.checkbox(key="gap_247").set_value(True).run()
    assert not at.dataframe[0].value.head(5).equals(shown.head(5))
    assert [b.key for b in at.get("download_button")].count("gap_csv") == 1


def test_gaps_page_honours_the_sidebar_window(app_inputs):
    at = run_page("gaps")
    year = at.dataframe[0].value
    at.selectbox(key="window").set_value("Last 4 weeks").run()
    assert not at.exception
    month = at.dataframe[0].value
    assert not month["overdoses"].equals(year["overdoses"])  # not byte-identical any more
    assert month["reason"].str.contains("in the 4 weeks to").all()
    assert year["reason"].str.contains("in the 52 weeks to").all()


def test_data_page_store_status_and_switch(app_inputs, tmp_path, monkeypatch):
    from geo.store import IncidentStore

    monkeypatch.setenv("GAPMAP_STORE_DIR", str(tmp_path))
    store = tmp_path / "s.duckdb"
    summary = IncidentStore(store).ingest(app_inputs["incidents"])
    status = IncidentStore(store).status()
    at = run_page("data", session={"tier": "restricted"})
    assert at.selectbox(key="store_choice").value == "s"
    assert metric(at, "Rows stored") == f"{status['rows']:,}"
    assert metric(at, "Events (de-duplicated)") == f"{status['events']:,}"
    assert metric(at, "Files ingested") == "1"
    files = next(d.value for d in at.dataframe if "file" in d.value.columns)
    assert files["file"].tolist() == ["incidents.csv"]  # the name, not the server path
    at.button(key="use_store").click().run()
    assert not at.exception
    assert at.session_state["store_path"] == str(store)
    assert any(c.value == "In use: incident store s" for c in at.caption)
    at.button(key="use_sample").click().run()
    assert "store_path" not in at.session_state
    assert any("In use: incident file" in c.value for c in at.caption)
    assert summary  # the store accepted the file
