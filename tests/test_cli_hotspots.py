"""``gapmap hotspots`` end to end on the bundled synthetic sample: one row per analysed cell,
equality with the library, planted-signal recovery, the privacy gate per tier, errors."""

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
from geo.cells import cells_resolution, str_to_cells
from geo.grid import analysis_grid, incidents_to_cells, zero_fill
from geo.ingest import load_boundary, read_incidents


@pytest.fixture(scope="module")
def sample():
    inc = read_incidents(get_path("incidents")).incidents
    truth = json.loads(get_path("ground_truth").read_text())
    return inc, truth


@pytest.fixture()
def cached(sample, monkeypatch):
    """Skip re-reading the sample file in every run (one test reads it end to end)."""
    monkeypatch.setattr(hs, "load_incidents_from_args", lambda args: sample[0])
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


def test_gi_public_suppresses_and_hides_z_next_to_suppressed(cached, tmp_path):
    code, out = hotspots(tmp_path, "--boundary", str(get_path("boundary")))
    assert code == 0
    df = pd.read_csv(out)
    c = df["count"]
    assert not c.between(1, 9).any() and c.isna().any() and (c == 0).any()
    assert df["class"].notna().all()
    assert not ({"lat", "lon", "occurred_at"} & set(df.columns))
    # z is shown only where no cell of the 1-ring has a suppressed count.
    cells = str_to_cells(df["h3"])
    nb = build_neighbourhood(cells, 1)
    pos = nb.positions(cells)
    small = np.zeros(nb.n)
    small[pos] = df["count"].isna().to_numpy()
    exposed = (nb.W @ small)[pos] > 0
    assert df["z"].isna().to_numpy().tolist() == exposed.tolist()
    assert df["z"].notna().sum() > 0


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
    assert df.loc[~nopop, "z"].notna().all()


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
                         str(get_path("boundary")))
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
    assert "z_last" not in df.columns  # public tier


def test_emerging_refuses_fewer_than_ten_slices(cached, tmp_path, capsys):
    code, _ = hotspots(tmp_path, "--method", "emerging", "--slice", "month", "--start",
                       "2026-01-01", "--end", "2026-06-01")
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
    assert df["cluster"].nunique() >= 4  # the four persistent hotspots at least


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
    (["--res", "9"], "finer than the floor 8"),
    (["--k-ring", "-1"], "--k-ring must be 0 or more"),
    (["--method", "dbscan", "--eps-m", "-3"], "eps_m must be a positive number"),
    (["--method", "emerging", "--population", "x.geojson"], "applies to --method gi only"),
    (["--start", "2030-01-01"], "no incidents in the chosen window"),
])
def test_bad_arguments_exit_2_with_message(cached, tmp_path, capsys, extra, msg):
    code, out = hotspots(tmp_path, *extra)
    assert code == 2
    assert msg in capsys.readouterr().err
    assert not out.exists()
