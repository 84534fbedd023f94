"""Events read back in event order after appends: the merge equals a stable sort of every row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from geo.store_read import _in_event_order


def _table(ts: np.ndarray, fp: np.ndarray) -> pa.Table:
    return pa.table({"occurred_at": pa.array(ts.astype("datetime64[us]")),
                     "first_fp": pa.array(fp.astype(np.uint64)),
                     "row": pa.array(np.arange(ts.size)),
                     "label": pa.array([f"e{i}" for i in range(ts.size)], pa.large_string())})


def _reference(tbl: pa.Table) -> np.ndarray:
    ts = tbl["occurred_at"].to_numpy().astype("datetime64[us]").view(np.int64)
    return tbl["row"].to_numpy()[np.lexsort((tbl["first_fp"].to_numpy(), ts))]


def _sorted_run(rng, n, times, fps):
    ts = rng.choice(times, n)
    fp = rng.choice(fps, n)
    o = np.lexsort((fp, ts))
    return ts[o], fp[o]


@pytest.mark.parametrize("seed", range(6))
def test_merge_equals_a_stable_sort(seed):
    rng = np.random.default_rng(seed)
    # few distinct times (date-only records: long runs of one time) and few first_fp values
    # (so whole keys repeat, in the prefix, in the tail, and across both)
    times = np.sort(rng.integers(0, 10**9, 40)) * 1000
    fps = rng.integers(0, 2**63, 25, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    runs = [_sorted_run(rng, int(rng.integers(1, 400)), times, fps)
            for _ in range(int(rng.integers(2, 5)))]
    ts = np.concatenate([r[0] for r in runs])
    fp = np.concatenate([r[1] for r in runs])
    tbl = _table(ts, fp)
    out = _in_event_order(tbl)
    np.testing.assert_array_equal(out["row"].to_numpy(), _reference(tbl))
    assert out["label"].to_pylist() == [f"e{i}" for i in _reference(tbl)]


def test_sorted_and_tiny_tables_come_back_as_they_are():
    ts = np.array([1, 2, 2, 3]) * 10**6
    tbl = _table(ts, np.array([5, 1, 2, 0]))
    assert _in_event_order(tbl) is tbl
    assert _in_event_order(tbl.slice(0, 1)).num_rows == 1


def test_late_rows_before_everything_and_after_everything():
    ts = np.r_[np.arange(10, 20), [0, 0, 25, 15]] * 10**6
    fp = np.r_[np.zeros(10), [3, 1, 0, 0]]
    tbl = _table(ts, fp)
    np.testing.assert_array_equal(_in_event_order(tbl)["row"].to_numpy(), _reference(tbl))
