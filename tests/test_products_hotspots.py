"""Hot-spot family products: esda equality, public outputs hide 1–9, public z reproducible from
public figures, the z-solving attack gets the imputed value only, emerging window edge."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from clustering.gistar import gi_star_z
from clustering.neighbours import build_neighbourhood
from data import get_path
from geo.cells import latlng_to_cells
from geo.grid import analysis_grid
from geo.ingest import load_boundary, read_incidents
from geo.privacy import PrivacyPolicy, impute_hidden, release_date
from products.clusters import cell_history, density_table, emerging_table
from products.hotspots import cell_table, hotspot_table, published_total
from products.query import Query, data_end, select

PUBLIC = PrivacyPolicy.for_tier("public")
RESTRICTED = PrivacyPolicy.for_tier("restricted")


@pytest.fixture(scope="module")
def sample():
    return read_incidents(get_path("incidents")).incidents, load_boundary(get_path("boundary"))


@pytest.fixture(scope="module")
def window(sample):
    r = release_date(data_end(sample[0]))
    return r - pd.Timedelta(days=364), r


@pytest.fixture(scope="module")
def public_hot(sample, window):
    inc, b = sample
    q = Query(res=8, start=window[0], end=window[1])
    return hotspot_table(inc, q, PUBLIC, boundary=b), q


def esda_z(y, nbhd):
    from esda.getisord import G_Local
    from libpysal.graph import Graph

    w = nbhd.W.copy().tolil()
    w.setdiag(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return G_Local(y, Graph.from_sparse(w.tocsr()), transform="B", star=True,
                       permutations=0).Zs


def test_restricted_z_equals_esda_on_zero_filled_point_in_hexagon_counts(sample, window):
    inc, b = sample
    q = Query(res=8, start=window[0], end=window[1])
    t = hotspot_table(inc, q, RESTRICTED, boundary=b)
    # independent counts: each incident's hexagon from its coordinates, zero-filled on the grid
    sub = select(inc, q)
    occ, n = np.unique(latlng_to_cells(sub["lat"].to_numpy(), sub["lon"].to_numpy(), 8),
                       return_counts=True)
    grid = np.union1d(analysis_grid(b, 8), occ)
    y = np.zeros(grid.size)
    y[np.searchsorted(grid, occ)] = n
    np.testing.assert_array_equal(t["h3"].to_numpy(np.uint64), grid)
    np.testing.assert_array_equal(t["count"].to_numpy(float), y)
    z = esda_z(y, build_neighbourhood(grid, 1))
    np.testing.assert_allclose(t["z"].to_numpy(float), z, atol=1e-9, rtol=0)
    assert np.abs(z).max() > 3 and (t["class"] == "hot_99").sum() > 10


def _small(values) -> bool:
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    return bool(((v >= 1) & (v <= 9)).any())


def test_public_outputs_never_show_a_count_1_to_9(sample, public_hot):
    inc, b = sample
    hot, q = public_hot
    assert not _small(hot["count"]) and hot["count"].isna().sum() > 50
    cells = cell_table(inc, q, PUBLIC, boundary=b)
    counts = [c for c in cells.columns if c == "count" or c.startswith("n_")]
    assert len(counts) == 12
    for c in counts:
        assert not _small(cells[c]), c
    em = emerging_table(inc, q, PUBLIC, boundary=b)
    assert list(em.columns) == ["h3", "category", "count", "in_grid", "suppressed"]
    assert not _small(em["count"])
    dens = density_table(inc, q, PUBLIC)
    assert list(dens.columns) == ["cluster", "h3", "count", "cluster_count", "suppressed"]
    assert not _small(dens["count"]) and not _small(dens["cluster_count"])
    top = int(hot.loc[hot["z"].idxmax(), "h3"])
    hist = cell_history(inc, q, PUBLIC, top)
    assert not _small(hist["count"])
    assert (hist["period_end"] - hist["period"] == pd.Timedelta(days=28)).all()
    assert hist["period_end"].max() == q.end  # periods end at the release date


def test_public_counts_agree_across_products_for_the_same_events(sample, public_hot):
    """One set of events, one published value: cells, hotspots and emerging agree."""
    inc, b = sample
    hot, q = public_hot
    cells = cell_table(inc, q, PUBLIC, boundary=b, breakdown=False)
    em = emerging_table(inc, q, PUBLIC, boundary=b)
    for other in (cells, em):
        m = hot[["h3", "count"]].merge(other[["h3", "count"]], on="h3", suffixes=("", "_o"))
        assert len(m) == len(hot)
        assert m["count"].equals(m["count_o"])


def test_public_z_is_reproducible_from_the_published_table(sample, public_hot, tmp_path):
    inc, _ = sample
    hot, q = public_hot
    path = tmp_path / "hot.csv"
    hot.to_csv(path, index=False)
    csv = pd.read_csv(path)
    total = published_total(select(inc, q), PUBLIC)  # the window's published total
    y = impute_hidden(csv["count"], PUBLIC.k, total)
    z = gi_star_z(y, build_neighbourhood(csv["h3"].to_numpy(np.uint64), 1))
    np.testing.assert_allclose(csv["z"].to_numpy(float), z, atol=1e-9, rtol=0)


def _solve_hidden(y: np.ndarray, nbhd, i: int, h: int, z_obs: float) -> float:
    """The value at cell ``h`` that reproduces ``z_obs`` at cell ``i`` (others as given)."""
    def f(x):
        v = y.copy()
        v[h] = x
        return gi_star_z(v, nbhd)[i] - z_obs
    return brentq(f, 0.0, 60.0, xtol=1e-12)


def test_attack_solving_z_for_a_hidden_count_gives_the_imputed_value(sample, public_hot):
    inc, b = sample
    hot, q = public_hot
    cells = hot["h3"].to_numpy(np.uint64)
    nbhd = build_neighbourhood(cells, 1)
    exact = hotspot_table(inc, q, RESTRICTED, boundary=b)["count"].to_numpy(float)
    hidden = hot["count"].isna().to_numpy()
    total = published_total(select(inc, q), PUBLIC)
    y_pub = impute_hidden(hot["count"], PUBLIC.k, total)
    fill = float(y_pub[hidden][0])
    z_pub = hot["z"].to_numpy(float)
    z_exact = gi_star_z(exact, nbhd)
    tried = recovered_exact = recovered_pub = 0
    for h in np.flatnonzero(hidden)[:60]:
        i = int(h)  # the hidden cell's own z: its numerator holds the hidden count
        # the attacker knows everything else exactly (strongest case), and solves for cell h
        recovered_exact += round(_solve_hidden(exact, nbhd, i, h, z_exact[i])) == exact[h]
        got = _solve_hidden(y_pub, nbhd, i, h, z_pub[i])
        assert got == pytest.approx(fill, abs=1e-6)
        recovered_pub += round(got) == exact[h]
        tried += 1
    assert tried == 60
    assert recovered_exact == tried  # the attack works on exact z (so the test can fail)
    truth = exact[np.flatnonzero(hidden)[:60]]
    assert recovered_pub == int((truth == round(fill)).sum()) < tried  # only by coincidence


def _edge_incidents(end: pd.Timestamp) -> pd.DataFrame:
    """A year of monthly incidents in 7 cells, plus one at 23:30 on the window's last day."""
    rng = np.random.default_rng(3)
    n = 600
    t = end - pd.Timedelta(days=360) + pd.to_timedelta(rng.uniform(0, 355 * 86400, n), "s")
    lat = 36.07 + rng.normal(0, 0.004, n)
    lon = -79.79 + rng.normal(0, 0.004, n)
    edge = pd.DataFrame({"occurred_at": [end - pd.Timedelta(minutes=30)], "lat": [36.2],
                         "lon": [-79.6]})
    df = pd.concat([pd.DataFrame({"occurred_at": t, "lat": lat, "lon": lon}), edge],
                   ignore_index=True)
    df["outcome"] = "nonfatal"
    df["source"] = "ems"
    df["h3"] = latlng_to_cells(df["lat"].to_numpy(), df["lon"].to_numpy(), 10)
    return df


def test_emerging_counts_an_incident_on_the_last_day_of_the_window():
    end = pd.Timestamp("2026-11-16")
    df = _edge_incidents(end)
    edge_cell = latlng_to_cells([36.2], [-79.6], 8)[0]
    q = Query(res=8, start=end - pd.Timedelta(days=364), end=end)
    em = emerging_table(df, q, RESTRICTED, slice="month")
    row = em[em["h3"].to_numpy(np.uint64) == edge_cell]
    assert len(row) == 1 and int(row["count"].iloc[0]) == 1
    assert int(em["count"].sum()) == len(df)
    # one day shorter drops it (the window is [start, end): end itself is excluded)
    q2 = Query(res=8, start=q.start, end=end - pd.Timedelta(days=1))
    em2 = emerging_table(df, q2, RESTRICTED, slice="month")
    assert int(em2["count"].sum()) == len(df) - 1
    assert edge_cell not in set(em2["h3"].to_numpy(np.uint64))


def test_density_public_cluster_total_is_perturbed_independently(sample, public_hot):
    inc, _ = sample
    _, q = public_hot
    pub = density_table(inc, q, PUBLIC)
    exact = density_table(inc, q, RESTRICTED)
    assert pub["cluster"].nunique() == len(exact)
    # cluster totals are keyed counts: within ±3 of the exact size, not always equal to it
    per = pub.groupby("cluster")["cluster_count"].first()
    diff = per.to_numpy(float) - exact.set_index("cluster").loc[per.index, "count"].to_numpy()
    assert np.nanmax(np.abs(diff)) <= 3 and np.nanmax(np.abs(diff)) > 0


def test_cell_history_restricted_is_monthly_and_sums_to_the_cell(sample):
    inc, _ = sample
    cell = int(latlng_to_cells(inc["lat"].to_numpy()[:1], inc["lon"].to_numpy()[:1], 8)[0])
    hist = cell_history(inc, Query(res=8), RESTRICTED, cell)
    in_cell = latlng_to_cells(inc["lat"].to_numpy(), inc["lon"].to_numpy(), 8) == cell
    assert int(hist["count"].sum()) == int(in_cell.sum()) > 0
    assert (hist["period"].dt.day == 1).all()
    with pytest.raises(ValueError, match="resolution 8"):
        cell_history(inc, Query(res=8), RESTRICTED, int(latlng_to_cells([36.0], [-79.8], 7)[0]))
