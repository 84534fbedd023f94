"""report.events: a store's load (one row per event) skips the collapse; same EventArrays.

``_distinct_ids`` must never call repeated ids distinct (it is checked against pandas on ids
built to collide in the fingerprint's words: shared 8-byte prefixes, prefixes of each other,
lengths around the word size, nulls, several chunks, sliced arrays, string and large_string),
and ``event_arrays`` must give the same arrays with and without the shortcut.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import report.events as events
from report.events import _distinct_ids, event_arrays


@pytest.fixture(scope="module")
def store_frame(tmp_path_factory):
    from data import get_path
    from geo.store import IncidentStore

    store = IncidentStore(tmp_path_factory.mktemp("events") / "sample.duckdb")
    store.ingest(get_path("incidents"))
    return store.load()


def _same(a, b) -> None:
    for f in ("t", "outcome", "naloxone", "h3", "lat", "lon", "rkey"):
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None) == (y is None), f
        if x is not None:
            assert x.dtype == y.dtype, f
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), f
    assert sorted(a._cells) == sorted(b._cells)
    for r in a._cells:
        assert np.array_equal(a._cells[r], b._cells[r])


def _without_shortcut(df, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(events, "_distinct_ids", lambda eid: False)
        return event_arrays(df)


def _ids(values, kind="large", chunks=1, sliced=False) -> pd.Series:
    typ = pa.large_string() if kind == "large" else pa.string()
    if sliced:  # an array that is a slice of a bigger one (non-zero offset)
        arr = pa.array(["x" * 70, "pad", *values, "tail"], type=typ).slice(2, len(values))
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([arr])))
    cut = np.array_split(np.arange(len(values)), chunks)
    ca = pa.chunked_array([pa.array([values[i] for i in c], type=typ) for c in cut], type=typ)
    if kind == "arrowdtype":
        return pd.Series(pd.arrays.ArrowExtensionArray(ca))
    return pd.Series(pd.arrays.ArrowStringArray(ca))


def _truth(s: pd.Series) -> bool:
    return bool(s.dropna().astype(object).is_unique)


TRICKY = [
    ["abcdefgh", "abcdefgh"],                       # one word, equal
    ["abcdefgh1", "abcdefgh2"],                     # differ in the second word only
    ["ab", "ab\x00"],                               # a prefix padded with a zero byte
    ["", ""],                                       # empty ids
    ["", "a"],
    ["police:0000000000000001", "police:0000000000000001"],
    ["police:0000000000000001", "police:0000000000000002"],
    ["ems:B1", None, None, "ems:B2"],               # missing ids are events of their own
    ["ems:B1", None, "ems:B1"],
    ["é" * 5, "é" * 5 + "x", "é" * 5],             # multi-byte characters
]


@pytest.mark.parametrize("values", TRICKY)
@pytest.mark.parametrize("kind", ["large", "small", "arrowdtype"])
def test_distinct_ids_equals_pandas_on_tricky_ids(values, kind):
    s = _ids(values, kind)
    assert _distinct_ids(s) == _truth(s)


def test_distinct_ids_never_says_distinct_for_repeats_random():
    """Random ids of 0–40 characters over a tiny alphabet (many repeats), in chunks whose
    longest ids differ, sliced or not: True exactly when pandas says the ids are unique."""
    rng = np.random.default_rng(5)
    seen = {True: 0, False: 0}
    for trial in range(300):
        n = int(rng.integers(1, 40))
        lens = rng.integers(0, 41, n)
        vals = ["".join(rng.choice(list("ab:"), int(k))) if k > 4 else "ab:a"[: int(k)]
                for k in lens]
        vals = [None if rng.random() < 0.1 else v for v in vals]
        s = _ids(vals, ["large", "small"][trial % 2], chunks=1 + trial % 3,
                 sliced=trial % 5 == 0)
        got, want = _distinct_ids(s), _truth(s)
        assert got == want, vals
        seen[want] += 1
    assert seen[True] > 30 and seen[False] > 30


def test_distinct_ids_refuses_what_it_cannot_prove():
    assert not _distinct_ids(pd.Series(["a", "b"], dtype=object))  # not Arrow: factorize
    assert not _distinct_ids(pd.Series([1, 2]))
    assert not _distinct_ids(_ids(["x" * 65, "y"]))                 # too long to fingerprint
    assert _distinct_ids(_ids(["x" * 64, "y"]))
    assert _distinct_ids(pd.Series([None, None], dtype="string[pyarrow]"))


def test_store_load_takes_the_shortcut_with_identical_arrays(store_frame, monkeypatch):
    assert _distinct_ids(store_frame["event_id"])
    fast, slow = event_arrays(store_frame), _without_shortcut(store_frame, monkeypatch)
    assert len(fast) == len(store_frame)
    _same(fast, slow)
    sub = store_frame[store_frame["outcome"] == "fatal"]  # a filtered load: still one per event
    assert _distinct_ids(sub["event_id"])
    _same(event_arrays(sub), _without_shortcut(sub, monkeypatch))


def test_repeated_event_ids_are_collapsed_as_before(store_frame, monkeypatch):
    """Rows appended with the ids of earlier rows (later times, other outcomes, another chunk)
    and rows without an id: no shortcut, the same collapse as without it."""
    df = store_frame
    extra = df.iloc[::7].copy()
    extra["occurred_at"] = extra["occurred_at"] + pd.Timedelta(hours=1)
    extra["outcome"] = pd.array(["fatal"] * len(extra), dtype=df["outcome"].dtype)
    nid = df.iloc[:5].copy()
    nid["event_id"] = pd.array([None] * 5, dtype=df["event_id"].dtype)
    both = pd.concat([df, extra, nid], ignore_index=True)
    assert both["event_id"].array.__arrow_array__().num_chunks > 1
    assert not _distinct_ids(both["event_id"])
    fast, slow = event_arrays(both), _without_shortcut(both, monkeypatch)
    _same(fast, slow)
    assert len(fast) == len(df) + 5  # every appended copy merged into its event
    # the merged events keep their earliest report's time and the most severe outcome
    ref = event_arrays(df)
    assert np.array_equal(np.sort(fast.t), np.sort(np.r_[ref.t, ref.t[:5]]))
    assert (fast.outcome == 0).sum() > (ref.outcome == 0).sum()
