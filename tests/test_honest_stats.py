"""Issue 9: statistics that cannot reach significance say so; rates from tiny populations are
not shown; emerging slices fit the window. Small fixtures written for it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from products.hotspots import (
    MIN_POPULATION,
    hotspot_table,
    permutations_needed,
    significance_warning,
)
from products.query import Query


def test_permutations_needed_is_the_first_bh_step():
    # 2,600 cells at the 10% level: 2/(R+1) <= 0.1/2600  <=>  R + 1 >= 52,000
    assert permutations_needed(2600) == 51_999
    assert 2 / (permutations_needed(2600) + 1) <= 0.10 / 2600
    assert 2 / permutations_needed(2600) > 0.10 / 2600  # one fewer is not enough
    w = significance_warning(999, 2600)
    assert "0.002" in w and "51,999" in w and "analytic" in w
    assert significance_warning(0, 2600) is None  # analytic test: no floor
    assert significance_warning(99_999, 2600) is None
    assert significance_warning(999, 40) is None  # 0.002 <= 0.1/40


def _incidents(n_cells_side=3, per=4, seed=0):
    import h3

    rng = np.random.default_rng(seed)
    c0 = h3.latlng_to_cell(36.07, -79.79, 8)
    cells = list(h3.grid_disk(c0, n_cells_side))
    rows = []
    for c in sorted(cells):
        lat, lon = h3.cell_to_latlng(c)
        k = per + (20 if c == c0 else 0) + int(rng.integers(0, 3))
        rows += [(lat, lon)] * k
    t = pd.Timestamp("2026-03-01") + pd.to_timedelta(np.arange(len(rows)) % 200, unit="D")
    from geo.grid import index_incidents

    return index_incidents(pd.DataFrame({
        "occurred_at": t, "outcome": "nonfatal", "naloxone": "yes",
        "lat": [r[0] for r in rows], "lon": [r[1] for r in rows], "source": "ems"}))


def test_hotspot_table_warns_when_permutations_are_too_few():
    df = _incidents()
    q = Query(res=8, start="2026-03-01", end="2026-10-01")
    few = hotspot_table(df, q, "restricted", permutations=99)
    m = len(few)
    assert m > 20  # 0.1/m < 2/100: out of reach
    assert len(few.attrs["warnings"]) == 1
    assert f"{permutations_needed(m):,} permutations" in few.attrs["warnings"][0]
    assert hotspot_table(df, q, "restricted").attrs["warnings"] == []  # analytic: no warning


def test_cli_prints_the_significance_warning_on_stderr(tmp_path, capsys):
    from cli import main

    src = tmp_path / "inc.csv"
    _incidents().to_csv(src, index=False)
    rc = main(["hotspots", "--incidents", str(src), "--tier", "restricted", "--permutations",
               "99", "--start", "2026-03-01", "--end", "2026-10-01",
               "--out", str(tmp_path / "o.csv")])
    assert rc == 0
    err = capsys.readouterr().err
    assert "smallest p is 0.02" in err and "analytic test" in err


def test_cells_below_the_minimum_population_have_no_rate():
    import geopandas as gpd
    import h3
    import shapely

    df = _incidents()
    c0 = h3.latlng_to_cell(36.07, -79.79, 8)
    lat, lon = h3.cell_to_latlng(c0)
    # a tiny box of 51 residents inside the centre cell, ~900 per cell elsewhere
    tiny = shapely.box(lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005)
    big = shapely.box(-79.90, 35.98, -79.68, 36.16).difference(
        shapely.geometry.shape(h3.cells_to_h3shape([c0]).__geo_interface__))
    pop = gpd.GeoDataFrame({"population": [51, 500_000]}, geometry=[tiny, big], crs=4326)
    q = Query(res=8, start="2026-03-01", end="2026-10-01")
    t = hotspot_table(df, q, "restricted", population=pop)
    row = t[t["h3"].to_numpy(np.uint64) == np.uint64(int(c0, 16))].iloc[0]
    assert MIN_POPULATION == 100
    assert row["class"] == "population_too_small" and pd.isna(row["rate"])
    assert 50 <= row["population"] < 52
    assert any("population too small" in w for w in t.attrs["warnings"])
    others = t[t["class"] != "population_too_small"]
    assert others["rate"].notna().sum() > 10
    # the minimum is configurable: 0 keeps every populated cell
    t0 = hotspot_table(df, q, "restricted", population=pop, min_population=0)
    assert (t0["class"] != "population_too_small").all()
    with pytest.raises(ValueError, match="min_population"):
        hotspot_table(df, q, "restricted", population=pop, min_population=-1)


def test_emerging_slice_defaults_to_the_window():
    from products.clusters import auto_slice, emerging_table

    assert auto_slice(364) == "month" and auto_slice(300) == "month"
    assert auto_slice(182) == "week" and auto_slice(None) == "month"
    df = _incidents()
    long = emerging_table(df, Query(res=8, start="2026-03-01", end="2027-01-01"), "restricted")
    assert long.attrs["slice"] == "month"
    short = emerging_table(df, Query(res=8, start="2026-03-01", end="2026-06-01"), "restricted")
    assert short.attrs["slice"] == "week"
    chosen = emerging_table(df, Query(res=8, start="2026-03-01", end="2027-01-01"), "restricted",
                            slice="week")
    assert chosen.attrs["slice"] == "week"
