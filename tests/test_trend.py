"""Mann–Kendall: known series, tie correction against a brute-force loop, row-wise equivalence."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from clustering.trend import mann_kendall, mann_kendall_rows


def brute_mk(x):
    n = len(x)
    s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
    _, counts = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in counts)) / 18
    z = 0.0 if s == 0 or var == 0 else (s - np.sign(s)) / math.sqrt(var)
    return s, var, z, 2 * norm.sf(abs(z))


def test_strictly_increasing_n10():
    r = mann_kendall(np.arange(10.0))
    assert r.s == 45
    assert r.var_s == pytest.approx(10 * 9 * 25 / 18)  # n(n-1)(2n+5)/18 = 125
    assert r.z == pytest.approx(44 / math.sqrt(125))
    assert r.p == pytest.approx(2 * norm.sf(44 / math.sqrt(125)))
    assert r.trend == "increasing"


def test_strictly_decreasing_is_mirror():
    r = mann_kendall(np.arange(10.0)[::-1])
    assert r.s == -45 and r.z == pytest.approx(-44 / math.sqrt(125)) and r.trend == "decreasing"


def test_ties_hand_example():
    # [1, 2, 2, 3]: S = 5 (one tied pair scores 0); Var = (4·3·13 − 2·1·9)/18 = 138/18
    r = mann_kendall([1, 2, 2, 3])
    assert r.s == 5
    assert r.var_s == pytest.approx(138 / 18)
    assert r.z == pytest.approx(4 / math.sqrt(138 / 18))


def test_constant_series_no_trend():
    r = mann_kendall(np.ones(12))
    assert (r.s, r.var_s, r.z, r.p, r.trend) == (0, 0.0, 0.0, 1.0, "no trend")


def test_rows_equal_brute_force_and_keep_index():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4, size=(30, 12)).astype(float)  # many ties
    df = pd.DataFrame(x, index=pd.Index(np.arange(30) * 3, name="cell"))
    out = mann_kendall_rows(df)
    assert out.index.equals(df.index)
    for i in range(30):
        s, var, z, p = brute_mk(x[i])
        assert out["s"].iloc[i] == s
        assert out["var_s"].iloc[i] == pytest.approx(var)
        assert out["z"].iloc[i] == pytest.approx(z)
        assert out["p"].iloc[i] == pytest.approx(p)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 3 time points"):
        mann_kendall([1, 2])
    with pytest.raises(ValueError, match="missing"):
        mann_kendall([1, np.nan, 3, 4])
    with pytest.raises(ValueError, match="alpha"):
        mann_kendall([1, 2, 3], alpha=2)
    with pytest.raises(ValueError, match="1-D"):
        mann_kendall(np.ones((2, 5)))
