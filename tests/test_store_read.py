"""Fast store reads (geo.store_read): projection, lower time bound, lean CLI start-up.

Every fast path must give exactly the tables of a full load: the same events, the same record
keys, the same hot-spot and gap tables in both tiers, with and without filters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import modules_after_cli

import cli
from geo.privacy import with_record_keys
from geo.schema import INCIDENT_COLUMNS
from geo.store import IncidentStore
from geo.store_read import (
    ANALYSIS_COLUMNS,
    COUNT_COLUMNS,
    KEY_COLUMNS,
    STORED_CELL_RES,
    cells_for,
    load_since,
)
from layers.sites import load_resources
from products.gaps import burden_window, gap_table
from products.hotspots import hotspot_table
from products.query import Query, resolve

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_incidents.csv"
RESOURCES = ROOT / "data" / "sample_resources.csv"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The sample plus planted twins: rows identical in every record-key column (so their keys
    differ only by the ordinal) but with different drugs, some at the very last minute."""
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    base = raw.sort_values("occurred_at").iloc[[-1, -40, -400, -2000]]
    twins = base.copy()
    twins["incident_id"] = [f"TWIN-{i}" for i in range(len(twins))]
    twins["suspected_drug"] = "fentanyl+xylazine"
    path = tmp_path_factory.mktemp("read") / "s.duckdb"
    csv = path.with_name("in.csv")
    pd.concat([raw, twins], ignore_index=True).to_csv(csv, index=False)
    IncidentStore(path).ingest(csv)  # same source: the twins stay separate events
    st = IncidentStore(path)
    ev = st.load()
    assert ev["incident_id"].str.startswith("TWIN-").sum() >= 3  # one may merge (ED+EMS)
    return st


def test_projection_is_the_full_load_without_the_other_columns(store):
    full = store.load()
    for cols, res in ((ANALYSIS_COLUMNS, STORED_CELL_RES), (COUNT_COLUMNS, (8,)),
                      (("outcome",), ()), ((), (6, 12))):
        part = store.load(columns=cols, cell_res=res)
        canon = [c for c in INCIDENT_COLUMNS if c in set(cols) | set(KEY_COLUMNS)]
        assert list(part.columns) == canon + [f"h3_r{r}" for r in res]
        ref = full[canon] if 12 not in res else None
        if ref is not None:
            pd.testing.assert_frame_equal(part[canon], ref)
            for r in res:
                assert (part[f"h3_r{r}"] == full[f"h3_r{r}"]).all()
    # the record keys of a projected load are those of the full load
    k_full = with_record_keys(full)["rkey"].to_numpy()
    k_part = with_record_keys(store.load(columns=("outcome",), cell_res=()))["rkey"].to_numpy()
    np.testing.assert_array_equal(k_full, k_part)
    assert len(np.unique(k_full)) > len(k_full) - 20  # keys are really distinct per event
    with pytest.raises(ValueError, match="unknown incident column"):
        store.load(columns=("outcome", "nope"))


def test_stored_cell_resolutions_match_the_ingest():
    from geo.store_events import STORED_CELL_RES as written

    assert STORED_CELL_RES == tuple(written)
    assert cells_for(8) == (8,) and cells_for(11) == () and cells_for(5) == ()


def test_last_time_and_lower_bound_keep_the_window_and_keys(store):
    full = with_record_keys(store.load())
    assert store.last_time() == full["occurred_at"].max()
    q = Query(res=8)
    start = resolve(q, full, "public").start
    seen = []

    def since(probe):
        seen.append(probe)
        return resolve(q, probe, "public").start

    part = load_since(store, since, columns=COUNT_COLUMNS, cell_res=(8,))
    assert len(seen) == 1 and seen[0]["occurred_at"].max() == full["occurred_at"].max()
    assert part["occurred_at"].min() >= start and part["occurred_at"].max() == \
        full["occurred_at"].max()
    ref = full.loc[full["occurred_at"] >= start].reset_index(drop=True)
    assert len(part) == len(ref) > 0
    np.testing.assert_array_equal(part["rkey"].to_numpy(), ref["rkey"].to_numpy())
    # a start after the last event (or none) loads everything, as before
    assert len(load_since(store, lambda p: p["occurred_at"].max() + pd.Timedelta(days=9))) \
        == len(full)
    assert len(load_since(store, None)) == len(full)


QUERIES = [dict(), dict(outcomes=("fatal",)), dict(drugs=("fentanyl+xylazine",)),
           dict(start="2024-03-01", end="2024-09-01")]


# a custom window is restricted-only (public windows are fixed release windows)
CASES = [(t, kw) for t in ("public", "restricted") for kw in QUERIES
         if not (t == "public" and "start" in kw)]


@pytest.mark.parametrize(("tier", "kw"), CASES,
                         ids=[f"{t}-{'-'.join(kw) or 'all'}" for t, kw in CASES])
def test_hotspots_and_gaps_equal_on_the_fast_load(store, tier, kw):
    full = with_record_keys(store.load())
    q = Query(res=8, **kw)
    fast = load_since(store, lambda p: resolve(q, p, tier).start, columns=COUNT_COLUMNS,
                      cell_res=cells_for(8))
    assert len(fast) < len(full) or tier == "restricted"
    pd.testing.assert_frame_equal(hotspot_table(fast, q, tier), hotspot_table(full, q, tier))

    def first(probe):
        a, b = burden_window(q, probe, tier)
        return a - (b - a)

    fast = load_since(store, first, columns=COUNT_COLUMNS, cell_res=cells_for(8))
    sites = load_resources(RESOURCES).sites
    pd.testing.assert_frame_equal(gap_table(fast, sites, q, tier), gap_table(full, sites, q, tier))


@pytest.mark.parametrize("tier", ["public", "restricted"])
def test_cli_hotspots_and_gaps_equal_the_products_on_a_full_load(store, tier, tmp_path):
    from commands.common import write_table
    from geo.privacy import PrivacyPolicy
    full = with_record_keys(store.load())
    pol = PrivacyPolicy.for_tier(tier)
    q = Query(res=8)
    for name, table, extra in (
        ("hotspots", hotspot_table(full, q, pol), []),
        ("gaps", gap_table(full, load_resources(RESOURCES).sites, q, pol),
         ["--resources", RESOURCES]),
    ):
        out, ref = tmp_path / f"{name}.csv", tmp_path / f"{name}_ref.csv"
        assert cli.main([name, "--store", str(store.path), "--tier", tier, "--res", "8",
                         *map(str, extra), "--out", str(out)]) == 0
        write_table(table, ref, pol)
        assert out.read_text() == ref.read_text()


def test_a_store_command_imports_neither_ingest_nor_other_commands(store, tmp_path):
    loaded = modules_after_cli(
        ["hotspots", "--store", store.path, "--out", tmp_path / "h.csv"],
        ("commands.ingest", "commands.users", "cases.accounts", "geo.ingest", "geo.dedup",
         "geo.distributed", "scipy.stats", "streamlit", "geopandas", "sklearn", "matplotlib",
         "commands.hotspots"))
    assert loaded.pop("commands.hotspots") is True
    assert not any(loaded.values()), loaded


def test_cli_parser_for_one_command_and_the_full_help(capsys):
    assert cli._command_of(["hotspots", "--store", "s"]) == "commands.hotspots"
    assert cli._command_of(["--help"]) is None and cli._command_of([]) is None
    assert cli._command_of(["nope"]) is None
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for name in ("ingest", "cells", "hotspots", "gaps", "site", "brief", "users", "areas"):
        assert name in text
    with pytest.raises(SystemExit) as exc:
        cli.main(["hotspot", "--out", "x.csv"])  # a typo: argparse's message with the choices
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_a_store_of_an_older_layout_loads_the_same(store, tmp_path):
    import shutil

    import duckdb

    old = tmp_path / "old.duckdb"
    shutil.copy(store.path, old)
    con = duckdb.connect(str(old))
    con.execute("DROP TABLE incidents")
    con.execute("DELETE FROM meta WHERE key = 'layout'")
    con.close()
    legacy = IncidentStore(old)
    assert legacy.last_time() is None  # events are only built on load: no lower bound
    q = Query(res=8)
    got = load_since(legacy, lambda p: resolve(q, p, "public").start, columns=COUNT_COLUMNS,
                     cell_res=(8,))
    ref = load_since(store, None, columns=COUNT_COLUMNS, cell_res=(8,))
    pd.testing.assert_frame_equal(got, ref)


def test_occupied_cells_are_the_cells_keyed_counts_list(store):
    from products.counting import keyed_cell_counts
    from products.hotspots import occupied_cells

    ev = with_record_keys(store.load())
    for res in (6, 8, 9, 12):
        ref = keyed_cell_counts(ev, res, breakdown=())["h3"].to_numpy(np.uint64)
        got = occupied_cells(ev, res)
        assert got.dtype == np.uint64 and len(got) > 10
        np.testing.assert_array_equal(got, ref)


def test_gaps_without_travel_imports_no_street_network_code(store, tmp_path):
    loaded = modules_after_cli(
        ["gaps", "--store", store.path, "--resources", RESOURCES, "--out", tmp_path / "g.csv"],
        ("layers.reach", "layers.travel", "scipy.sparse.csgraph", "scipy.stats", "layers.samhsa",
         "geo.ingest", "geo.dedup"))
    assert not any(loaded.values()), loaded
    assert (tmp_path / "g.csv").stat().st_size > 0
