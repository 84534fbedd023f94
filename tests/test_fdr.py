"""Benjamini–Hochberg q-values: the 1995 paper's worked example, a brute-force definition, edges."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clustering.fdr import bh_qvalues

# Benjamini & Hochberg (1995), section 4.1: the 15 p-values of the myocardial-infarction study.
BH1995_P = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
            0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000]


def brute_force_q(p):
    p = np.asarray(p, float)
    m = p.size
    order = np.argsort(p, kind="stable")
    ps = p[order]
    qs = np.array([min(ps[j] * m / (j + 1) for j in range(i, m)) for i in range(m)])
    out = np.empty(m)
    out[order] = np.minimum(qs, 1)
    return out


def test_bh_1995_example_rejects_first_four_at_005():
    q = bh_qvalues(BH1995_P)
    # p_(i)·15/i by hand, then the running minimum from the largest p down.
    expected = [0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0298 * 15 / 7, 0.0298 * 15 / 7,
                0.0645, 0.0765, 0.486, 0.4262 * 15 / 11, 0.5719 * 15 / 12, 0.6528 * 15 / 13,
                0.7590 * 15 / 14, 1.0]
    np.testing.assert_allclose(q, expected, rtol=1e-12)
    assert (q <= 0.05).sum() == 4  # the paper rejects the four smallest hypotheses


def test_order_and_series_index_preserved():
    rng = np.random.default_rng(3)
    p = rng.random(50)
    perm = rng.permutation(50)
    q = bh_qvalues(p)
    np.testing.assert_allclose(bh_qvalues(p[perm]), q[perm])
    s = pd.Series(p, index=pd.Index(np.arange(100, 150), name="cell"))
    qs = bh_qvalues(s)
    assert qs.index.equals(s.index)
    np.testing.assert_allclose(qs.to_numpy(), q)


@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_matches_definition_and_bounds(p):
    q = bh_qvalues(p)
    np.testing.assert_allclose(q, brute_force_q(p), rtol=1e-12, atol=1e-15)
    assert np.all(q >= np.asarray(p) - 1e-15) and np.all(q <= 1)


def test_nan_left_out_of_m():
    q = bh_qvalues([0.01, np.nan, 0.04])
    np.testing.assert_allclose(q, [0.02, np.nan, 0.04])


def test_out_of_range_raises():
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        bh_qvalues([0.2, 1.5])
