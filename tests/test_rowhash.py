"""The fast row hashes and ordinals give exactly pandas' values, so record keys never change.

The reference is the definition the record keys were published with:
``pd.util.hash_pandas_object(frame[identity], index=False, hash_key=salt)`` and the ordinal
``Series(h).groupby(h, sort=False).cumcount()``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from geo.privacy import cellkey, record_keys, with_record_keys
from geo.privacy.rowhash import hash_rows, ordinals
from geo.store import IncidentStore

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample_incidents.csv"


def _reference_hashes(frame: pd.DataFrame, key: str) -> np.ndarray:
    return pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy(np.uint64)


def _reference_ordinals(h: np.ndarray) -> np.ndarray:
    return pd.Series(h).groupby(h, sort=False).cumcount().to_numpy(np.uint64)


def _reference_keys(incidents: pd.DataFrame) -> np.ndarray:
    cols = [c for c in cellkey._IDENTITY if c in incidents.columns]
    h = _reference_hashes(incidents[cols].reset_index(drop=True), cellkey._salt())
    return cellkey.keys_from_hashes(h, _reference_ordinals(h))


@pytest.fixture(scope="module")
def sample_events(tmp_path_factory):
    path = tmp_path_factory.mktemp("rowhash") / "s.duckdb"
    IncidentStore(path).ingest(SAMPLE)
    return IncidentStore(path).load()


def _planted(n: int = 5000, seed: int = 3) -> pd.DataFrame:
    """Events with every awkward value: identical rows (several copies, scattered), missing
    values of every kind, -0.0, and strings in several Arrow chunks."""
    rng = np.random.default_rng(seed)
    t = pd.Series(pd.to_datetime("2024-01-01") + pd.to_timedelta(
        rng.integers(0, 10**6, n), unit="s")).astype("datetime64[us]")
    t.iloc[::97] = pd.NaT
    lat = rng.normal(41.8, 0.05, n)
    lat[::89] = np.nan
    lat[5::101] = -0.0
    lat[6::101] = 0.0
    lon = rng.normal(-87.7, 0.05, n)
    outcome = rng.choice(["fatal", "nonfatal", "unknown"], n).astype(object)
    outcome[::53] = None
    source = rng.choice(["ems", "police", "odmap"], n)
    sources = rng.choice(["ems", "ems+police", "odmap+police", "ems+odmap+police"], n)
    agency = rng.choice(["CFD", "CPD", "", "ODMAP-IL"], n)
    chunks = [pa.chunked_array([pa.array(list(v[:n // 2]), pa.large_string()),
                                pa.array(list(v[n // 2:]), pa.large_string())])
              for v in (outcome, source)]
    df = pd.DataFrame({
        "occurred_at": t, "lat": lat, "lon": lon,
        "outcome": pd.array(pd.arrays.ArrowStringArray(chunks[0]), dtype="string"),
        "source": pd.array(pd.arrays.ArrowStringArray(chunks[1]), dtype="string"),
        "sources": pd.array(sources, dtype="string"),
        "agency": pd.array(agency, dtype="string"),
        "suspected_drug": rng.choice(["fentanyl", "heroin"], n),
    })
    # identical rows: copies of some rows (twice, three times), scattered through the frame
    picks = rng.integers(0, n, 300)
    copies = df.iloc[np.r_[picks, picks[:100], picks[:30]]].assign(suspected_drug="xylazine")
    out = pd.concat([df, copies]).sample(frac=1.0, random_state=seed)
    return out.set_axis(rng.permutation(len(out)) + 10)  # an index that is not 0..n-1


def test_hashes_and_keys_equal_pandas_on_the_sample(sample_events):
    cols = [c for c in cellkey._IDENTITY if c in sample_events.columns]
    assert len(cols) == len(cellkey._IDENTITY)
    key = cellkey._salt()
    np.testing.assert_array_equal(hash_rows(sample_events[cols], key),
                                  _reference_hashes(sample_events[cols], key))
    np.testing.assert_array_equal(record_keys(sample_events), _reference_keys(sample_events))
    keyed = with_record_keys(sample_events)
    np.testing.assert_array_equal(keyed["rkey"].to_numpy(), _reference_keys(sample_events))


def test_keys_equal_pandas_with_planted_identical_rows_and_missing_values():
    df = _planted()
    h = _reference_hashes(df[list(cellkey._IDENTITY)], cellkey._salt())
    ordinal = _reference_ordinals(h)
    assert ordinal.max() >= 3 and (ordinal > 0).sum() >= 400  # the planted copies are there
    np.testing.assert_array_equal(ordinals(h), ordinal)
    np.testing.assert_array_equal(record_keys(df), _reference_keys(df))
    # the same with other dtypes for the same values: object, numpy strings, categorical
    other = df.assign(outcome=df["outcome"].astype(object),
                      source=df["source"].astype("category"),
                      sources=df["sources"].astype("str"),
                      agency=df["agency"].astype(pd.StringDtype("python")))
    np.testing.assert_array_equal(record_keys(other), _reference_keys(other))


def test_keys_follow_the_salt(monkeypatch):
    df = _planted(800, seed=5)
    before = record_keys(df)
    monkeypatch.setenv("GAPMAP_PRIVACY_SALT", "another deployment's secret")
    after = record_keys(df)
    np.testing.assert_array_equal(after, _reference_keys(df))
    assert (after != before).mean() > 0.99


@pytest.mark.parametrize("cols", [["lat"], ["occurred_at", "source"], ["agency", "lon"]])
def test_subsets_and_edge_sizes_equal_pandas(cols):
    df = _planted(400, seed=7)[cols]
    key = cellkey._salt()
    for part in (df, df.iloc[:0], df.iloc[:1], df.iloc[[3, 3, 3]]):
        np.testing.assert_array_equal(hash_rows(part, key), _reference_hashes(part, key))
        h = _reference_hashes(part, key)
        np.testing.assert_array_equal(ordinals(h), _reference_ordinals(h))
    nulls = pd.DataFrame({"agency": pd.array([None, None, "x"], dtype="string")})
    np.testing.assert_array_equal(hash_rows(nulls, key), _reference_hashes(nulls, key))
    np.testing.assert_array_equal(hash_rows(nulls.iloc[:2], key),
                                  _reference_hashes(nulls.iloc[:2], key))
