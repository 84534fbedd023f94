"""geo.textparse: the vectorised number and ISO-date readers give exactly pandas' values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.textparse import iso_datetimes, to_float
from geo.validate import _text_dates, parse_datetimes

ODD_NUMBERS = [
    "36.1", "-79.8", "36.123456789012345678", "", "NA", "abc", "0", "+0", "-0.0", "0.0", "1e5",
    "1E-3", "inf", "-inf", "nan", "95.5", "-185", "36,1", "+36.5", ".5", "5.", ".", "-", "1_0",
    "١٢", "00036.5000", "12345678901234567890", "-12345678901234567", "9007199254740993",
    "0x10", "1.5e400", "4.9e-324", "-79.61675343069018", "36.12294333717367", "36.2\t",
]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values bit for bit (so -0.0 is not 0.0), NaN where the other has NaN."""
    nan = np.isnan(a)
    return np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint64),
                                                               b[~nan].view(np.uint64))


@pytest.mark.parametrize("extra", [[], ["-0"], ["-00", "7"], ["-0", "-0"]])
def test_to_float_is_pandas_to_numeric(extra):
    rng = np.random.default_rng(0)
    values = ODD_NUMBERS + extra + [repr(float(x)) for x in rng.uniform(-180, 180, 2000)]
    values += [f"{x:.6f}" for x in rng.uniform(-100, 100, 500)]
    s = pd.Series(values, dtype="string").str.strip()
    want = pd.to_numeric(s, errors="coerce").to_numpy(float)
    got = to_float(s)
    assert _same_bits(got, want)  # -0.0 and 0.0 told apart
    assert got[values.index("-0.0")] == 0 and np.signbit(got[values.index("-0.0")])


def test_to_float_integer_minus_zero_follows_the_column():
    # pandas reads an all-integer column as integers (-0 -> 0.0), otherwise as floats (-0.0)
    ints = to_float(pd.Series(["-0", "5"], dtype="string"))
    mixed = to_float(pd.Series(["-0", "5.5"], dtype="string"))
    assert not np.signbit(ints[0]) and np.signbit(mixed[0])


def test_iso_datetimes_reads_plain_iso_and_leaves_the_rest():
    values = ["2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "2024-01-05 10:20",
              "2024-01-05T10:20:30", "2024-01-05T24:00:00", "2024-01-05T23:60", "2024-01-05t10:20",
              "2024-01-05 10:20:60", "1677-12-31", "2262-01-01", "2261-12-31 23:59:59",
              "2024-1-5", "2024/01/05", "٢٠٢٤-01-05", "2024-13-01", "2024-04-31", "2024-00-10",
              "2024-01-05T10:20:00Z", "2024-01-05 10:20 ", "1999-12-31T23:59:59"]
    fast, ts = iso_datetimes(pd.Series(values, dtype="string"))
    read = [v for v, f in zip(values, fast, strict=True) if f]
    assert read == ["2024-02-29", "2000-02-29", "2024-01-05 10:20", "2024-01-05T10:20:30",
                    "2261-12-31 23:59:59", "1999-12-31T23:59:59"]
    want = pd.to_datetime(pd.Series(read), format="ISO8601").to_numpy().astype("datetime64[us]")
    assert np.array_equal(ts, want)


def test_iso_datetimes_one_width_and_mixed_widths_agree():
    rng = np.random.default_rng(1)
    t = np.datetime64("1990-01-01T00:00:00") + rng.integers(0, 60 * 365 * 86400, 3000).astype(
        "timedelta64[s]")
    one = pd.Series(t.astype(str), dtype="string")  # all "YYYY-MM-DDTHH:MM:SS"
    fast, ts = iso_datetimes(one)
    assert fast.all() and np.array_equal(ts, t.astype("datetime64[us]"))
    mixed = pd.Series(np.where(np.arange(3000) % 3 == 0, t.astype("datetime64[D]").astype(str),
                               t.astype(str)), dtype="string")
    fast, ts = iso_datetimes(mixed)
    assert fast.all()
    want = pd.to_datetime(mixed.astype(str), format="ISO8601").to_numpy().astype("datetime64[us]")
    assert np.array_equal(ts, want)


def test_parse_datetimes_is_the_pandas_path_value_for_value():
    rng = np.random.default_rng(2)
    odd = ["01/05/2024 10:20", "1/5/24", "05-Jan-2024", "2024-01-05T10:20:00+05:00",
           "2024-01-05T10:20:00.123", "garbage", "", "2024-02-30 10:00", "2024-01-05T10",
           "20240105", "2024-1-5", "0001-01-01", "9999-12-31"]
    plain = [str(np.datetime64("2020-01-01T00:00") + np.timedelta64(int(m), "m"))
             for m in rng.integers(0, 10**6, 300)]
    values = list(rng.permutation(np.array(odd * 5 + plain, dtype=object)))
    s = pd.Series(values, dtype="str")
    ts, has_time, blank = parse_datetimes(s)
    clean = s.astype("string").fillna("").str.strip()
    want = _text_dates(clean, clean.str.contains(":").to_numpy(), (clean == "").to_numpy())
    assert np.array_equal(ts.to_numpy(), want.to_numpy(), equal_nan=True)
    assert ts.notna().sum() > 300 and blank.sum() == 5
