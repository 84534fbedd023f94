"""The ingest's front half (read, validate, fingerprint, finish) gives pandas' own values.

References are computed here directly: fingerprints with ``pd.util.hash_pandas_object`` (the
definition the stored keys were made with), numbers with ``pd.to_numeric``, cleaned text with
``astype("string").fillna("").str.strip()``, repeats with ``geo.rowrules.repeat_index`` and
``np.unique``, shared coordinates with ``geo.areas.shared_coordinate_warnings``. The streamed
ingest equals the whole-file one in tests/test_ingest_stream.py; here every chunk's
fingerprints are checked against pandas while an odd file goes through the real steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import geo.ingest_chunks as chunks_mod
from geo.areas import shared_coordinate_warnings
from geo.chunk_readers import iter_chunks
from geo.fingerprint import hash_text, row_fingerprints, siphash_strings
from geo.ingest import FINGERPRINT_COLUMNS
from geo.ingest_chunks import _Chunks, _Seen, processed_chunks
from geo.rowrules import repeat_index
from geo.textfiles import detect_encoding
from geo.textparse import clean_text, stripped_or_missing, to_float


def reference_fingerprint(records: pd.DataFrame) -> np.ndarray:
    """The stored key as first defined: pandas' hash of the columns, then the ``area`` rule."""
    cols = records[list(FINGERPRINT_COLUMNS)].copy()
    cols["occurred_at"] = cols["occurred_at"].astype("int64")
    fp = pd.util.hash_pandas_object(cols, index=False).to_numpy(np.uint64)
    if "area" in records.columns:
        has = records["area"].notna().to_numpy(dtype=bool)
        if has.any():
            fp = fp.copy()
            fp[has] = pd.util.hash_pandas_object(
                pd.DataFrame({"fp": fp[has], "area": records["area"].to_numpy(object)[has]}),
                index=False).to_numpy(np.uint64)
    return fp


def _words(rng, n, alphabet="abcXYZ019 -_.é中\U0001F600", top=40):
    return ["".join(rng.choice(list(alphabet), rng.integers(0, top))) for _ in range(n)]


def test_siphash_is_pandas_for_every_length_and_layout():
    rng = np.random.default_rng(0)
    values = ["x" * k for k in range(41)] + _words(rng, 3000) + ["", "é" * 9]
    for typ in (pa.string(), pa.large_string()):
        arr = pa.array(values, typ)
        for a in (arr, arr.slice(17, 1000), pa.chunked_array([arr.slice(0, 5), arr.slice(5)])):
            got = hash_text(a)
            want = pd.util.hash_pandas_object(
                pd.Series(pd.arrays.ArrowStringArray(
                    a.cast(pa.large_string()) if isinstance(a, pa.Array) else
                    a.combine_chunks().cast(pa.large_string()))), index=False).to_numpy()
            assert np.array_equal(got, want)
    # distinct values hashed once (repeats) or all directly (mostly distinct): the same
    few = pa.array(rng.choice(["a", "bb", None, "ccc dd", ""], 20000).tolist(), pa.large_string())
    assert np.array_equal(hash_text(few), pd.util.hash_pandas_object(
        pd.Series(pd.arrays.ArrowStringArray(few)), index=False).to_numpy())
    assert siphash_strings(pa.array([], pa.string())).size == 0


def _frame(rng, n, *, area=True, absent=False):
    t = np.datetime64("2024-01-01T00:00") + rng.integers(0, 10**6, n).astype("timedelta64[m]")
    lat = rng.uniform(-90, 90, n)
    lat[rng.random(n) < 0.05] = np.nan
    lat[rng.random(n) < 0.05] = -0.0
    text = lambda k: pd.array(rng.choice(k, n).tolist(), dtype="string")  # noqa: E731
    ids = np.array(_words(rng, n, "AB0123", 12), dtype=object)
    ids[rng.random(n) < 0.2] = None
    df = pd.DataFrame({
        "incident_id": pd.array(ids.tolist(), dtype="string"),
        "occurred_at": t.astype("datetime64[us]"),
        "time_precision": text(["minute", "day"]),
        "lat": lat, "lon": rng.uniform(-180, 180, n),
        "outcome": text(["fatal", "nonfatal", "unknown"]),
        "naloxone": text(["yes", "no", "unknown"]),
        "naloxone_doses": np.where(rng.random(n) < 0.5, np.nan, rng.integers(0, 4, n)),
        "source": text(["ems", "police"]),
        "agency": pd.array(rng.choice(["A", "Bé", None], n).tolist(), dtype="string"),
        "suspected_drug": pd.array([None] * n, dtype="string"),
        "age_band": pd.array(rng.choice(["25-34", None], n).tolist(), dtype="string"),
        "sex": text(["male", "unknown"]),
        "location_precision": pd.array([None] * n, dtype="string"),
    })
    if absent:
        df["naloxone_doses"] = np.full(n, np.nan)
        df["agency"] = pd.array([None] * n, dtype="string")
    if area:
        df["area"] = pd.array(rng.choice(["Town A", None, "Ville é"], n).tolist(),
                              dtype="string")
    return df


@pytest.mark.parametrize("area,absent", [(True, False), (False, True), (True, True)])
def test_row_fingerprints_are_pandas_hash(area, absent):
    rng = np.random.default_rng(1)
    df = _frame(rng, 5000, area=area, absent=absent)
    assert np.array_equal(row_fingerprints(df, FINGERPRINT_COLUMNS), reference_fingerprint(df))
    # other dtypes (object text, integers) go to pandas and still agree
    odd = df.assign(agency=df["agency"].astype(object),
                    naloxone_doses=pd.array(rng.integers(0, 3, 5000), dtype="Int64"))
    assert np.array_equal(row_fingerprints(odd, FINGERPRINT_COLUMNS),
                          reference_fingerprint(odd))
    # codes given for a column: the same values
    codes = rng.integers(0, 3, 5000)
    labels = pa.array(["fatal", None, "x"], pa.large_string())
    coded = df.assign(outcome=pd.array(labels.take(pa.array(codes)).to_pylist(),
                                       dtype="string"))
    assert np.array_equal(
        row_fingerprints(coded, FINGERPRINT_COLUMNS, {"outcome": (codes, labels)}),
        reference_fingerprint(coded))


def test_to_float_plain_columns_are_pandas():
    rng = np.random.default_rng(2)
    plain = ([repr(float(x)) for x in rng.uniform(-180, 180, 3000)]
             + [".5", "5.", "-.5", "0005", "-0.0", "0.0", "36.123456789012345678",
                "-79.6167534306901812345", "123456789012345678", "9007199254740993"])
    for extra in ([], ["1234567890123456789"], ["12345678901234567890"], ["1e5"], ["+5"],
                  ["inf"], [""], ["1.2.3"], ["-"], ["NaN"]):
        s = clean_text(pd.Series(plain + extra, dtype="str"))
        got, want = to_float(s), pd.to_numeric(s, errors="coerce").to_numpy(float)
        nan = np.isnan(want)
        assert np.array_equal(np.isnan(got), nan)
        assert np.array_equal(got[~nan].view(np.uint64), want[~nan].view(np.uint64)), extra


def test_clean_text_and_stripped_or_missing_are_the_pandas_steps():
    rng = np.random.default_rng(3)
    base = _words(rng, 500, "ab é", 6)
    cases = [["a", "b c", "é"], [" a", "b"], ["a\t", "b"], ["\u00a0a", "b"], ["a\u3000", "b"],
             ["a", None, "b"], ["", "a"], base, [w.strip() or "x" for w in base], []]
    for values in cases:
        for dtype in ("str", "string", object):
            s = pd.Series(values, dtype=dtype)
            want = s.astype("string").fillna("").str.strip()
            pd.testing.assert_series_equal(clean_text(s), want)
            pd.testing.assert_series_equal(stripped_or_missing(s),
                                           want.where(want != "").astype("string"))


def test_sorted_repeats_are_repeat_index_and_unique():
    rng = np.random.default_rng(4)
    for fp in (rng.integers(0, 2**63, 1000).astype(np.uint64),
               rng.integers(0, 30, 1000).astype(np.uint64), np.empty(0, np.uint64),
               np.array([5, 5, 5], np.uint64)):
        k, first, uniq, idx, cnt = _Seen.sorted_repeats(fp)
        k0, first0 = repeat_index(fp)
        u, i, c = np.unique(fp, return_index=True, return_counts=True)
        assert np.array_equal(k, k0) and np.array_equal(first, first0)
        assert np.array_equal(uniq, u) and np.array_equal(idx, i) and np.array_equal(cnt, c)


def _odd_csv(path, rng, n=1500):
    t = np.datetime64("2024-01-01T00:00") + rng.integers(0, 300 * 1440, n).astype(
        "timedelta64[m]")
    when = t.astype(str).astype(object)
    kind = rng.integers(0, 10, n)
    when[kind == 1] = t[kind == 1].astype("datetime64[D]").astype(str)
    when[kind == 2] = ""
    when[kind == 3] = "01/05/2024 10:20"
    when[kind == 4] = " 2024-02-03 04:05 "
    lat = np.round(36 + rng.random(n), 6).astype(str).astype(object)
    lat[kind == 5] = "abc"
    lat[kind == 6] = " 36.25 "
    ids = np.array([f"X{i}" for i in range(n)], dtype=object)
    ids[rng.random(n) < 0.3] = ""
    df = pd.DataFrame({
        "incident_id": ids, "occurred_at": when, "lat": lat,
        "lon": np.round(-79 - rng.random(n), 6).astype(str),
        "outcome": rng.choice(["fatal", "Non-Fatal", "", "weird"], n),
        "naloxone": rng.choice(["yes", "N", "", "7242|1"], n),
        "naloxone_doses": rng.choice(["1", "", "0", "x"], n),
        "source": rng.choice(["EMS", "police", "", "drone"], n),
        "age_band": rng.choice(["34", "", "abc"], n),
        "sex": rng.choice(["M", "f", ""], n),
        "area": rng.choice(["", "Town A", " Town B "], n, p=[0.9, 0.05, 0.05]),
        "time_precision": rng.choice(["", "hour", "DAY", "bogus"], n),
        "disposition": rng.choice(["ok", "cancelled"], n, p=[0.9, 0.1]),
    })
    df = pd.concat([df, df.sample(200, random_state=1), df.sample(30, random_state=2)],
                   ignore_index=True)
    df.loc[df.sample(100, random_state=3).index, ["lat", "lon"]] = ["36.5", "-79.5"]
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("opts", [{}, {"drop_identical": True},
                                  {"exclude": ["disposition=cancelled"]}])
def test_every_chunk_fingerprint_is_pandas_hash(tmp_path, monkeypatch, fmt, opts):
    path = _odd_csv(tmp_path / "odd.csv", np.random.default_rng(5))
    if fmt == "parquet":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        df["lon"] = pd.to_numeric(df["lon"])
        path = tmp_path / "odd.parquet"
        df.to_parquet(path, index=False)
    calls = []
    real = chunks_mod._fingerprint

    def checked(records, coded=None):
        got = real(records, coded)
        assert np.array_equal(got, reference_fingerprint(records))
        for col, (codes, labels) in (coded or {}).items():  # the codes give the values
            want = pd.array(labels.take(pa.array(codes)).to_pylist(), dtype="string")
            pd.testing.assert_extension_array_equal(records[col].array, want)
        calls.append(len(records))
        return got

    monkeypatch.setattr(chunks_mod, "_fingerprint", checked)
    steps = _Chunks(preset=None, mapping=None, source=None, boundary=None, drop_outside=False,
                    exclude=opts.get("exclude"), drop_identical=opts.get("drop_identical", False),
                    now="2026-01-01")
    out = list(processed_chunks(iter_chunks(path, 400), steps))
    summary = steps.summary()
    assert len(calls) == len(out) >= 4 and sum(calls) > 1000
    records = pd.concat([r for r, _ in out], ignore_index=True)
    assert summary["accepted"] == len(records)
    # the shared-coordinate warnings are the whole file's
    assert summary["warnings"] == shared_coordinate_warnings(records) != []


def test_shared_coordinate_buckets_never_miss_a_warning():
    rng = np.random.default_rng(6)
    for shared, n in ((0, 5000), (60, 5000), (19, 300), (25, 2600), (30, 2999)):
        lat = np.round(rng.uniform(30, 40, n), 6)
        lon = np.round(rng.uniform(-80, -70, n), 6)
        lat[:shared], lon[:shared] = 35.0, -75.0
        records = pd.DataFrame({"lat": lat, "lon": lon,
                                "location_precision": pd.array([None] * n, dtype="string"),
                                "area": pd.array([None] * n, dtype="string")})
        steps = _Chunks(preset=None, mapping=None, source=None, boundary=None,
                        drop_outside=False, exclude=None, drop_identical=False, now=None)
        for a in range(0, n, 1000):
            steps._coordinates(records.iloc[a:a + 1000])
        want = shared_coordinate_warnings(records)
        if want:
            assert steps._may_share()
        if not steps._may_share():
            assert want == []


def test_detect_encoding_blocks(tmp_path, monkeypatch):
    import geo.textfiles as tf

    monkeypatch.setattr(tf, "_BLOCK", 8)
    cases = {b"abcdefg\xc3\xa9xyz\n": "utf-8",  # a character split between two blocks
             b"abcdefg\xc3zzzzzzzz\n": "latin-1",  # a broken one before an ASCII block
             b"abcdefgh" * 3 + b"\xe9\n": "latin-1", b"a,b\n1,2\n": "utf-8",
             b"abc\xc3": "latin-1", b"": "utf-8"}
    for k, (data, want) in enumerate(cases.items()):
        p = tmp_path / f"f{k}.csv"
        p.write_bytes(data)
        assert detect_encoding(p) == want, data
