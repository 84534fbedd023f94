"""`gapmap hotspots` / `gapmap gaps` from a store read the drug, age-band and sex columns only
when the query filters on them (commands.common.count_columns); with or without such a
filter the written tables equal the products on a full load."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import modules_after_cli

import cli
from commands.common import count_columns, write_table
from geo.privacy import PrivacyPolicy, with_record_keys
from geo.store import IncidentStore
from geo.store_read import COUNT_COLUMNS
from layers.sites import load_resources
from products.gaps import gap_table
from products.hotspots import hotspot_table
from products.query import Query

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_incidents.csv"
RESOURCES = ROOT / "data" / "sample_resources.csv"
FILTER_COLUMNS = ("suspected_drug", "age_band", "sex")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("filters") / "s.duckdb"
    IncidentStore(path).ingest(SAMPLE)
    return IncidentStore(path)


def test_count_columns_keep_only_the_filtered_breakdown_columns():
    assert count_columns(Query()) == tuple(c for c in COUNT_COLUMNS if c not in FILTER_COLUMNS)
    assert set(count_columns(Query(drugs=("heroin",)))) - set(count_columns(Query())) == {
        "suspected_drug"}
    assert set(count_columns(Query(age_bands=("25-34",), sexes=("male",)))) - set(
        count_columns(Query())) == {"age_band", "sex"}
    assert count_columns(Query(drugs=("heroin",), age_bands=("25-34",), sexes=("male",))
                         ) == COUNT_COLUMNS


@pytest.mark.parametrize(("options", "query"), [
    ([], {}),
    (["--drug", "fentanyl"], {"drugs": ("fentanyl",)}),
    (["--sex", "male", "--age", "25-34,35-44"],
     {"sexes": ("male",), "age_bands": ("25-34", "35-44")}),
])
def test_store_commands_with_filters_equal_the_products_on_a_full_load(store, tmp_path,
                                                                      options, query):
    pol = PrivacyPolicy.for_tier("restricted")
    full = with_record_keys(store.load())
    q = Query(res=8, **query)
    sites = load_resources(RESOURCES).sites
    for name, table, extra in (
        ("hotspots", hotspot_table(full, q, pol), []),
        ("gaps", gap_table(full, sites, q, pol), ["--resources", RESOURCES]),
    ):
        out, ref = tmp_path / f"{name}.csv", tmp_path / f"{name}_ref.csv"
        assert cli.main([name, "--store", str(store.path), "--tier", "restricted", "--res",
                         "8", *options, *map(str, extra), "--out", str(out)]) == 0
        write_table(table, ref, pol)
        assert out.read_text() == ref.read_text()
        if query:  # the filter really selects fewer overdoses than no filter
            unfiltered = hotspot_table(full, Query(res=8), pol)["count"].sum()
            assert 0 < hotspot_table(full, q, pol)["count"].sum() < unfiltered


def test_store_hotspots_import_no_h3py_h3ronpy_or_shapely(store, tmp_path):
    """Counting stored cells needs no point indexing (h3ronpy), no hex-string or polygon
    conversion (h3-py) and no geometry (shapely): those are imported where used; Gi* needs
    neither the other hot-spot methods (products.clusters) nor cell labels (geo.labels)."""
    loaded = modules_after_cli(
        ["hotspots", "--store", store.path, "--out", tmp_path / "h.csv"],
        ("h3", "h3ronpy", "shapely", "products.clusters", "geo.labels", "commands.hotspots"))
    assert loaded.pop("commands.hotspots") is True
    assert not any(loaded.values()), loaded
