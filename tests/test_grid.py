"""geo.grid: counts conserve totals and are point-in-hexagon (not roll-up); zero-fill; filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from geo.cells import cells_to_parent
from geo.grid import (
    COUNT_COLUMNS,
    analysis_grid,
    filter_incidents,
    incidents_to_cells,
    index_incidents,
    zero_fill,
)
from geo.schema import BASE_RES


@pytest.fixture
def incidents():
    rng = np.random.default_rng(2)
    n = 5000
    df = pd.DataFrame({
        "occurred_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        "lat": rng.uniform(35.9, 36.3, n), "lon": rng.uniform(-80.0, -79.6, n),
        "outcome": rng.choice(["fatal", "nonfatal", "unknown"], n),
        "naloxone": rng.choice(["yes", "no", "unknown"], n),
        "source": rng.choice(["ems", "police", "hospital"], n),
    })
    return index_incidents(df, BASE_RES)


@pytest.mark.parametrize("res", [5, 6, 7, 8, 9, 10])
def test_rollup_conserves_totals(incidents, res):
    cells = incidents_to_cells(incidents, res)
    assert cells["count"].sum() == len(incidents)
    for prefix in ("n_fatal n_nonfatal n_unknown",
                   "n_naloxone_yes n_naloxone_no n_naloxone_unknown",
                   "n_ems n_police n_hospital n_odmap n_other"):
        assert (cells[prefix.split()].sum(axis=1) == cells["count"]).all()
    assert set(COUNT_COLUMNS) <= set(cells.columns)


def test_counts_are_point_in_hexagon_not_coarsened_finer_table(incidents):
    import h3

    ref = pd.Series([h3.api.basic_int.latlng_to_cell(a, o, 7) for a, o in
                     zip(incidents["lat"], incidents["lon"], strict=True)]).value_counts()
    direct = incidents_to_cells(incidents, 7).set_index("h3")["count"]
    assert direct.to_dict() == {np.uint64(k): v for k, v in ref.items()}
    # coarsening the res-9 table (parent roll-up) moves some incidents across hexagon edges
    fine = incidents_to_cells(incidents, 9)
    via_fine = fine.groupby(cells_to_parent(fine["h3"].to_numpy(np.uint64), 7))["count"].sum()
    assert via_fine.sum() == direct.sum() and via_fine.to_dict() != direct.to_dict()


def test_hand_toy_case():
    df = index_incidents(pd.DataFrame({
        "occurred_at": pd.to_datetime(["2024-01-01"] * 3),
        "lat": [36.0, 36.00001, 40.0], "lon": [-79.8, -79.80001, -75.0],
        "outcome": ["fatal", "nonfatal", "fatal"], "source": ["ems", "police", "ems"],
    }))
    cells = incidents_to_cells(df, 8)
    assert sorted(cells["count"].tolist()) == [1, 2]
    two = cells.loc[cells["count"] == 2].iloc[0]
    assert (two["n_fatal"], two["n_nonfatal"], two["n_ems"], two["n_police"]) == (1, 1, 1, 1)


def test_zero_fill_and_filter(incidents):
    area = shapely.box(-80.0, 35.9, -79.6, 36.3)
    grid = analysis_grid(area, 7)
    counts = incidents_to_cells(incidents, 7)
    full = zero_fill(counts, grid)
    assert full["count"].sum() == len(incidents)
    assert set(grid) <= set(full["h3"]) and (full["count"] == 0).any()
    jan = filter_incidents(incidents, start="2024-01-01", end="2024-02-01")
    assert len(jan) == (incidents["occurred_at"] < "2024-02-01").sum()
    ems = filter_incidents(incidents, sources=["ems"])
    assert (ems["source"] == "ems").all() and len(ems) == (incidents["source"] == "ems").sum()
