"""geo.grid.filter_incidents: the sorted-time fast path (a slice found by binary search) gives
exactly the rows, order and labels of the boolean mask, and the mask still decides whenever
the frame is not a sorted, NaT-free, naive datetime column."""

import numpy as np
import pandas as pd
import pytest

from geo.grid import _sorted_window, filter_incidents, incident_mask


def _frame(n=3000, sort=True, seed=0):
    rng = np.random.default_rng(seed)
    secs = rng.integers(0, 400 * 86400, n)
    secs = np.sort(secs) if sort else secs
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(secs, unit="s")
    return pd.DataFrame({
        "occurred_at": np.asarray(t, dtype="datetime64[us]"),
        "outcome": rng.choice(["fatal", "nonfatal"], n),
        "source": rng.choice(["ems", "police"], n),
    }, index=pd.RangeIndex(10, 10 + 2 * n, 2))


WINDOWS = [
    (None, None),
    ("2024-03-01", "2024-06-01"),
    ("2024-06-01", "2024-03-01"),  # empty: end before start
    (None, "2024-02-01"),
    ("2024-12-01", None),
    ("2023-01-01", "2030-01-01"),
    (pd.Timestamp("2024-03-01 00:00:00.000000001"), None),  # not exact in microseconds
]


def _by_mask(df, **kw):
    return df.loc[incident_mask(df, **kw)]


@pytest.mark.parametrize("start,end", WINDOWS)
@pytest.mark.parametrize("outcomes,sources", [(None, None), (("fatal",), None),
                                              (None, ("police",))])
def test_sorted_window_matches_mask(start, end, outcomes, sources):
    df = _frame()
    got = filter_incidents(df, start=start, end=end, outcomes=outcomes, sources=sources)
    want = _by_mask(df, start=start, end=end, outcomes=outcomes, sources=sources)
    pd.testing.assert_frame_equal(got, want)
    assert got.index.equals(want.index)


def test_fast_path_taken_only_when_sorted():
    df = _frame()
    a, b = _sorted_window(df, "2024-03-01", "2024-06-01")
    t = df["occurred_at"]
    assert (t.iloc[a:b] >= pd.Timestamp("2024-03-01")).all()
    assert (t.iloc[a:b] < pd.Timestamp("2024-06-01")).all()
    assert b - a == int(((t >= "2024-03-01") & (t < "2024-06-01")).sum()) > 0
    assert _sorted_window(_frame(sort=False), "2024-03-01", None) is None
    nat = df.copy()
    nat.iloc[0, 0] = pd.NaT
    assert _sorted_window(nat, "2024-03-01", None) is None
    tz = df.assign(occurred_at=df["occurred_at"].dt.tz_localize("UTC"))
    assert _sorted_window(tz, None, None) is None
    assert _sorted_window(df, pd.Timestamp("2024-03-01", tz="UTC"), None) is None


@pytest.mark.parametrize("sort", [False, True])
def test_unsorted_nat_and_tz_frames_fall_back_to_the_mask(sort):
    df = _frame(sort=sort, seed=3)
    df.iloc[5, 0] = pd.NaT
    for start, end in WINDOWS:
        pd.testing.assert_frame_equal(filter_incidents(df, start=start, end=end),
                                      _by_mask(df, start=start, end=end))


@pytest.mark.parametrize("n,distinct", [(0, 1), (1, 1), (5000, 40), (20000, 3000)])
def test_unique_cells_is_np_unique_with_inverse(n, distinct):
    from geo.grid import unique_cells

    rng = np.random.default_rng(n)
    pool = np.sort(rng.integers(0x8828308281FFFFF, 0x882830829BFFFFF, distinct,
                                dtype=np.int64)).astype(np.uint64)
    cells = rng.choice(pool, n) if n else np.empty(0, np.uint64)
    got_u, got_inv = unique_cells(cells)
    want_u, want_inv = np.unique(cells, return_inverse=True)
    assert got_u.dtype == want_u.dtype == np.uint64
    np.testing.assert_array_equal(got_u, want_u)
    np.testing.assert_array_equal(got_inv, want_inv)
    np.testing.assert_array_equal(got_u[got_inv], cells)
