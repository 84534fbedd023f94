"""Attack suite of the public tier: combine public outputs as an attacker would.

Each attack is run twice on the bundled sample: against the public tier (perturbation +
suppression + release windows) and against plain suppression of 1–9 (the old scheme, exact
values otherwise). An attack "lands" on a hidden count when its estimate equals the true count.
Plain suppression must fall to each attack (so the test can fail); the public tier must not:
the attacker lands no more often than a guess within the noise, and cannot tell when.
"""

import numpy as np
import pandas as pd
import pytest

from data import get_path
from geo.cells import cells_to_parent
from geo.ingest import read_incidents
from geo.privacy import (
    PrivacyPolicy,
    ReleaseError,
    check_window,
    publish,
    release_window,
    with_record_keys,
)
from products.counting import keyed_cell_counts, keyed_group_counts
from products.hotspots import hotspot_table
from products.query import Query, data_end, select

PUBLIC = PrivacyPolicy.for_tier("public")


@pytest.fixture(scope="module")
def incidents():
    return with_record_keys(read_incidents(get_path("incidents")).incidents)


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """The old scheme: exact counts, 1–9 hidden."""
    out = publish(table, "restricted")
    out["count"] = out["count"].astype("Int64").mask(out["count"].between(1, 9))
    return out


def _landing_rate(est: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.round(est) == truth)) if truth.size else 0.0


def _parent_minus_children(incidents, publisher, rollup=False):
    start, end = release_window(data_end(incidents), 364)
    sub = select(incidents, Query(res=8, start=start, end=end))
    c8 = keyed_cell_counts(sub, 8, breakdown=())
    if rollup:  # the old grid: parents were roll-ups of children, an exact partition
        p7 = c8.assign(h3=cells_to_parent(c8["h3"].to_numpy(np.uint64), 7)).groupby(
            "h3", as_index=False).sum()
    else:
        p7 = keyed_cell_counts(sub, 7, breakdown=())
    pub7, pub8 = publisher(p7), publisher(c8)
    c8 = c8.assign(parent=cells_to_parent(c8["h3"].to_numpy(np.uint64), 7),
                   shown=pub8["count"].to_numpy(dtype=float, na_value=np.nan))
    par = pd.Series(pub7["count"].to_numpy(dtype=float, na_value=np.nan),
                    index=p7["h3"].to_numpy(np.uint64))
    est, truth = [], []
    for parent, g in c8.groupby("parent"):
        hidden = g["shown"].isna()
        if not hidden.any() or parent not in par.index or np.isnan(par[parent]):
            continue
        # the hidden children's total (their only count when one is hidden)
        est.append(par[parent] - g.loc[~hidden, "shown"].sum())
        truth.append(int(g.loc[hidden, "count"].sum()))
    return np.array(est), np.array(truth)


def test_parent_minus_children(incidents):
    est0, truth0 = _parent_minus_children(incidents, _plain, rollup=True)
    est1, truth1 = _parent_minus_children(incidents, lambda t: publish(t, PUBLIC))
    assert truth0.size >= 20 and truth1.size >= 20
    assert _landing_rate(est0, truth0) == 1.0, "plain suppression falls to this attack"
    assert _landing_rate(est1, truth1) < 0.35
    assert np.mean(np.abs(est1 - truth1)) > 1.0


def _year_minus_weeks(incidents, publisher):
    start, end = release_window(data_end(incidents), 364)
    sub = select(incidents, Query(res=8, start=start, end=end))
    wk = ((sub["occurred_at"] - start) // pd.Timedelta(days=7)).to_numpy(np.int64)
    rk = sub["rkey"].to_numpy()
    est, truth = [], []
    groups = sub["outcome"].astype(str) + "/" + sub["source"].astype(str)
    for name in groups.unique():
        m = (groups == name).to_numpy()
        weeks = publisher(keyed_group_counts(wk[m], rk[m], 52))
        total = publisher(keyed_group_counts(np.zeros(m.sum(), dtype=np.int64), rk[m], 1))
        hidden = weeks["count"].isna().to_numpy()
        if not hidden.any() or total["count"].isna().any():
            continue
        est.append(float(total["count"].iloc[0]) - weeks["count"].sum())
        truth.append(int(np.bincount(wk[m], minlength=52)[hidden].sum()))
    return np.array(est), np.array(truth)


def test_year_total_minus_weekly_values(incidents):
    est0, truth0 = _year_minus_weeks(incidents, _plain)
    assert truth0.size >= 3 and _landing_rate(est0, truth0) == 1.0
    est1, truth1 = _year_minus_weeks(incidents, lambda t: publish(t, PUBLIC))
    # up to 53 independent noises: the estimate is off by several events in general
    assert truth1.size >= 3
    assert _landing_rate(est1, truth1) < 0.5 and np.mean(np.abs(est1 - truth1)) > 1.0


def test_windows_a_day_apart_are_refused(incidents):
    end = data_end(incidents)
    s, e = release_window(end, 28)
    with pytest.raises(ReleaseError):
        check_window(PUBLIC, s + pd.Timedelta(days=1), e + pd.Timedelta(days=1), end)
    with pytest.raises(ReleaseError):
        check_window(PUBLIC, s, e - pd.Timedelta(days=1), end)


def test_suppression_cannot_be_switched_off():
    with pytest.raises(ValueError):
        PrivacyPolicy(tier="public", k=1)


def test_gi_z_solved_back_gives_public_figures_only(incidents):
    """Gi* z of a cell is Σ_j w_ij x_j standardised: with every other value published, an
    attacker solves one z for the one hidden neighbour. In public that yields the imputed
    value (a public figure), not the hidden count."""
    from clustering.gistar import gi_star_z
    from clustering.neighbours import build_neighbourhood
    from geo.privacy import impute_hidden
    from products.hotspots import published_total

    q = Query(res=8)
    pub = hotspot_table(incidents, q, PUBLIC)
    start, end = release_window(data_end(incidents), 364)
    # the published total of the same window: the same events give the same value in the
    # KPI table, so the attacker has it
    total = published_total(select(incidents, Query(res=8, start=start, end=end)), PUBLIC)
    cells = pub["h3"].to_numpy(np.uint64)
    nb = build_neighbourhood(cells, 1)
    filled = impute_hidden(pub["count"], PUBLIC.k, total)
    hidden = pub["count"].isna().to_numpy()
    assert hidden.sum() > 50
    pos = nb.positions(cells)
    y = np.zeros(nb.n)
    y[pos] = filled
    z = gi_star_z(y, nb)[pos]
    # z is reproduced from the published table and one public figure: it tells nothing more
    assert np.allclose(z, pub["z"].to_numpy(float), atol=1e-9)
    truth = hotspot_table(incidents, q, "restricted").set_index("h3")["count"]
    true_hidden = truth.reindex(cells[hidden]).to_numpy(float)
    # solving z back for a hidden neighbour yields the fill value, not the hidden count
    assert np.mean(np.isclose(filled[hidden], true_hidden)) < 0.35


def test_filter_combinations_are_refused_in_public(incidents):
    """Averaging attack: T(S) - T(S without 'other') over the 16 source sets S that hold
    'other' gives 16 independently perturbed estimates of one hidden count. Public filters
    take all sources or one, so the attack has one estimate, not sixteen."""
    from products.overview import kpi_table

    with pytest.raises(ValueError, match="all sources or one"):
        kpi_table(incidents, Query(sources=("ems", "other")), PUBLIC, windows=(364,))
    with pytest.raises(ValueError, match="all outcomes or one"):
        hotspot_table(incidents, Query(outcomes=("fatal", "unknown")), PUBLIC)
    # one source is fine
    assert len(kpi_table(incidents, Query(sources=("other",)), PUBLIC, windows=(364,))) == 1
