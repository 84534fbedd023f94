"""``gapmap hotspots`` end to end on the bundled synthetic sample: one row per analysed cell,
the CLI writes exactly the products' tables, planted-signal recovery, release windows,
errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import commands.hotspots as hs
from cli import main
from clustering.gistar import gi_star
from clustering.neighbours import build_neighbourhood, ring_hull
from data import get_path
from geo.cells import cells_resolution, cells_to_str, str_to_cells
from geo.grid import analysis_grid, incidents_to_cells, zero_fill
from geo.ingest import load_boundary, read_incidents
from products.clusters import density_table, emerging_table
from products.hotspots import hotspot_table
from products.query import Query


@pytest.fixture(scope="module")
def sample():
    inc = read_incidents(get_path("incidents")).incidents
    truth = json.loads(get_path("ground_truth").read_text())
    return inc, truth


@pytest.fixture()
def cached(sample, monkeypatch):
    """Skip re-reading the sample file in every run (one test reads it end to end)."""
    monkeypatch.setattr(hs, "load_incidents_from_args", lambda args, **kw: sample[0])
    return sample


def hotspots(tmp_path, *extra, name="out.csv"):
    out = tmp_path / name
    code = main(["hotspots", "--incidents", str(get_path("incidents")), "--out", str(out),
                 *extra])
    return code, out


def test_gi_end_to_end_every_cell_equals_library_and_recovers_planted(sample, tmp_path):
    inc, truth = sample
    code, out = hotspots(tmp_path, "--res", "8", "--method", "gi", "--boundary",
                         str(get_path("boundary")), "--tier", "restricted")
    assert code == 0
    df = pd.read_csv(out)
    grid = analysis_grid(load_boundary(get_path("boundary")), 8)
    table = zero_fill(incidents_to_cells(inc, 8, breakdown=False), grid)
    assert len(df) == len(table)  # every analysed cell, zero counts included
    assert (df["count"] == 0).sum() > len(df) / 2
    assert df["count"].sum() == len(inc)
    assert {"h3", "count", "z", "p", "q", "class"} <= set(df.columns)
    ref = gi_star(table, build_neighbourhood(table["h3"].to_numpy(np.uint64), 1))
    got = df.set_index(str_to_cells(df["h3"]))
    ref.index = table["h3"].to_numpy(np.uint64)
    np.testing.assert_allclose(got.loc[ref.index, "z"], ref["z"], rtol=1e-9)
    # Planted persistent hotspots: their centre cells are hot at 95 % or more.
    for s in truth["signals"]:
        if s["type"] == "persistent_hotspot":
            c = str_to_cells([s["centre_cell_res8"]])[0]
            assert got.loc[c, "class"] in ("hot_99", "hot_95"), s["id"]


def _product(inc, tier, **kw):
    return hotspot_table(inc, Query(res=8), tier, boundary=load_boundary(get_path("boundary")),
                         **kw)


def test_gi_public_is_the_product_no_small_count_and_z_from_published_counts(cached, tmp_path):
    inc, _ = cached
    code, out = hotspots(tmp_path, "--boundary", str(get_path("boundary")))
    assert code == 0
    df = pd.read_csv(out)
    c = df["count"]
    assert not c.between(1, 9).any() and c.isna().any() and (c == 0).any()
    assert df["class"].notna().all() and df["z"].notna().all()  # safe by construction
    assert not ({"lat", "lon", "occurred_at"} & set(df.columns))
    ref = _product(inc, "public")
    assert df["h3"].tolist() == cells_to_str(ref["h3"].to_numpy(np.uint64)).tolist()
    assert df["count"].astype("Float64").equals(ref["count"].astype("Float64"))
    np.testing.assert_allclose(df["z"], ref["z"], rtol=1e-12)
    assert df["class"].tolist() == ref["class"].tolist()
    # the default public window is the last 52 whole weeks to the release date (Monday)
    week = hotspot_table(inc, Query(res=8, start="2025-11-17", end="2026-11-16"), "public",
                         boundary=load_boundary(get_path("boundary")))
    assert df["count"].astype("Float64").equals(week["count"].astype("Float64"))


def test_gi_end_is_exclusive_and_windows_must_be_release_windows(cached, tmp_path, capsys):
    inc, _ = cached
    code, out = hotspots(tmp_path, "--tier", "restricted", "--start", "2026-01-01", "--end",
                         "2026-07-01")
    assert code == 0
    t = pd.to_datetime(inc["occurred_at"])
    assert pd.read_csv(out)["count"].sum() == int(((t >= "2026-01-01") & (t < "2026-07-01")).sum())
    code, _ = hotspots(tmp_path, "--start", "2026-01-01", "--end", "2026-07-01")
    assert code == 2
    err = capsys.readouterr().err
    assert "fixed release windows" in err and "--start 2025-11-17 (364 days)" in err
    code, out = hotspots(tmp_path, "--start", "2026-08-17", "--end", "2026-11-16")
    assert code == 0  # the 13-week release window


def test_gi_without_boundary_uses_occupied_cells_and_their_ring(cached, tmp_path):
    inc, _ = cached
    code, out = hotspots(tmp_path, "--k-ring", "1", "--tier", "restricted")
    assert code == 0
    df = pd.read_csv(out)
    occ = incidents_to_cells(inc, 8, breakdown=False)["h3"].to_numpy(np.uint64)
    np.testing.assert_array_equal(np.sort(str_to_cells(df["h3"])), ring_hull(occ, 1))


def test_gi_rates_with_population(cached, tmp_path):
    code, out = hotspots(tmp_path, "--boundary", str(get_path("boundary")), "--population",
                         str(get_path("population")), "--rate", "eb", "--tier", "restricted")
    assert code == 0
    df = pd.read_csv(out)
    assert {"population", "rate"} <= set(df.columns)
    assert df["population"].sum() == pytest.approx(540_000, rel=1e-3)  # sample county
    nopop = df["population"] == 0
    assert (df.loc[nopop, "class"] == "no_population").all()
    small = ~nopop & (df["population"] < 100)  # below --min-population (default 100)
    assert (df.loc[small, "class"] == "population_too_small").all()
    assert df.loc[small, "rate"].isna().all()
    assert df.loc[~nopop & ~small, "z"].notna().all()


def test_gi_permutations_seeded(cached, tmp_path):
    a = hotspots(tmp_path, "--permutations", "99", "--seed", "3", "--tier", "restricted",
                 name="a.csv")[1]
    b = hotspots(tmp_path, "--permutations", "99", "--seed", "3", "--tier", "restricted",
                 name="b.csv")[1]
    da, db = pd.read_csv(a), pd.read_csv(b)
    pd.testing.assert_frame_equal(da, db)
    assert "p_sim" in da.columns and da["p_sim"].between(0.01, 1).all()


def test_emerging_recovers_planted_emerging_hotspot(cached, tmp_path):
    _, truth = cached
    code, out = hotspots(tmp_path, "--method", "emerging", "--slice", "month", "--boundary",
                         str(get_path("boundary")), "--tier", "restricted")
    assert code == 0
    df = pd.read_csv(out)
    cat = df.set_index(str_to_cells(df["h3"]))["category"]
    for s in truth["signals"]:
        c = str_to_cells([s["centre_cell_res8"]])[0]
        if s["type"] == "emerging_hotspot":
            assert cat[c] in ("new_hot", "consecutive_hot", "intensifying_hot"), s["id"]
        if s["type"] == "persistent_hotspot":  # calibrated p-values (clustering.
            # emerging_inference): the weakest, H4, is hot in 30 of 37 months: sporadic_hot
            assert cat[c].endswith("_hot"), s["id"]
    persistent = [s for s in truth["signals"] if s["type"] == "persistent_hotspot"]
    assert sum(cat[str_to_cells([s["centre_cell_res8"]])[0]] in ("persistent_hot",
               "intensifying_hot", "diminishing_hot") for s in persistent) >= 3
    assert "z_last" in df.columns


def test_emerging_public_is_category_and_published_count(cached, tmp_path):
    inc, _ = cached
    code, out = hotspots(tmp_path, "--method", "emerging", "--boundary",
                         str(get_path("boundary")))
    assert code == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["h3", "category", "count", "in_grid", "suppressed"]
    assert not df["count"].between(1, 9).any()
    ref = emerging_table(inc, Query(res=8), "public", boundary=load_boundary(
        get_path("boundary")))
    assert df["category"].tolist() == ref["category"].tolist()
    assert (df["category"] != "no_pattern").sum() > 20


def test_emerging_refuses_fewer_than_ten_slices(cached, tmp_path, capsys):
    code, _ = hotspots(tmp_path, "--method", "emerging", "--slice", "month", "--start",
                       "2026-01-01", "--end", "2026-06-01", "--tier", "restricted")
    assert code == 2
    assert "at least 10 time slices" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_density_public_has_cells_only(cached, tmp_path, method):
    code, out = hotspots(tmp_path, "--method", method, "--eps-m", "300", "--min-samples", "10")
    assert code == 0
    df = pd.read_csv(out)
    assert list(df.columns) == ["cluster", "h3", "count", "cluster_count", "suppressed"]
    assert (cells_resolution(str_to_cells(df["h3"])) == 8).all()
    assert not df["count"].between(1, 9).any()
    assert not df["cluster_count"].between(1, 9).any()
    assert df["cluster"].nunique() >= 4  # the four persistent hotspots at least
    ref = density_table(cached[0], Query(res=8), "public", method=method, eps_m=300.0)
    assert df["count"].astype("Float64").equals(ref["count"].astype("Float64"))


def test_density_restricted_has_hulls_and_dates(cached, tmp_path):
    code, out = hotspots(tmp_path, "--method", "dbscan", "--tier", "restricted")
    assert code == 0
    df = pd.read_csv(out)
    assert {"hull_wkt", "centroid_lat", "first_date", "cells"} <= set(df.columns)
    assert df["hull_wkt"].str.startswith("POLYGON").any()


def test_store_in_place_of_incidents(sample, tmp_path):
    from geo.store import IncidentStore

    store = tmp_path / "inc.duckdb"
    IncidentStore(store).ingest(get_path("incidents"))
    out = tmp_path / "s.csv"
    assert main(["hotspots", "--store", str(store), "--out", str(out), "--tier",
                 "restricted"]) == 0
    assert pd.read_csv(out)["count"].sum() == len(sample[0])


@pytest.mark.parametrize("extra,msg", [
    (["--res", "9"], "finer than the public floor 8"),
    (["--k-ring", "-1"], "k_ring must be 0 or more"),
    (["--method", "dbscan", "--eps-m", "-3"], "eps_m must be a positive number"),
    (["--method", "emerging", "--population", "x.geojson"], "applies to --method gi only"),
    (["--start", "2030-01-01"], "fixed release windows"),
    (["--start", "2030-01-01", "--tier", "restricted"], "Gi* needs at least 3"),
    (["--k", "1"], "hides at least the counts 1–9"),
])
def test_bad_arguments_exit_2_with_message(cached, tmp_path, capsys, extra, msg):
    code, out = hotspots(tmp_path, *extra)
    assert code == 2
    assert msg in capsys.readouterr().err
    assert not out.exists()
