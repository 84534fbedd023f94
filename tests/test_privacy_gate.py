"""The privacy gate: perturbation, suppression, complementary and nested rules, refusals."""

import numpy as np
import pandas as pd
import pytest

from geo.cells import latlng_to_cells
from geo.privacy import (
    KEY_SUFFIX,
    PrivacyError,
    PrivacyPolicy,
    impute_hidden,
    publish,
    publish_counts,
)
from geo.privacy.cellkey import NOISE_PROBS, NOISE_VALUES, noise, perturb


def _cells(n, res=8):
    return latlng_to_cells(np.linspace(36.0, 36.2, n), np.full(n, -79.8), res)


def _keyed(df, seed=0):
    """Give every count column a cell-key column (random keys, as aggregation would)."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    for c in df.columns:
        if c == "count" or c.startswith("n_"):
            out[c + KEY_SUFFIX] = rng.integers(0, 1 << 20, len(df))
    return out


def test_counts_one_to_nine_hidden_zero_shown_large_perturbed_within_three():
    df = _keyed(pd.DataFrame({"h3": _cells(6), "count": [0, 1, 9, 20, 250, 1000]}))
    out = publish(df, "public")
    assert out["count"].isna().tolist()[:3] == [False, True, True]
    assert out.loc[0, "count"] == 0, "a true zero reveals no one and stays zero"
    diff = out["count"].iloc[3:].astype(float).to_numpy() - np.array([20, 250, 1000])
    assert np.all(np.abs(diff) <= 3)
    assert out["suppressed"].tolist()[:3] == [False, True, True]
    assert df["count"].tolist() == [0, 1, 9, 20, 250, 1000], "input must not be mutated"
    assert not any(c.endswith(KEY_SUFFIX) for c in out.columns), "keys never leave"


def test_same_records_same_value_different_records_independent():
    n = np.full(4, 50)
    a, _ = publish_counts(n, [7, 7, 8, 9], "public")
    assert a[0] == a[1], "same cell key (same events) gives the same published value"
    # over many keys the noise follows the documented table: zero mean, -3..+3
    x = noise(np.full(200_000, 40), np.arange(200_000))
    freq = np.bincount(x - NOISE_VALUES[0], minlength=7) / x.size
    assert np.allclose(freq, NOISE_PROBS, atol=0.005)
    assert abs(x.mean()) < 0.02


def test_perturbed_small_value_is_hidden_too():
    # true 10 with a key whose noise is negative publishes 7..9: hidden, never shown as small
    keys = np.arange(5000)
    pub, hid = publish_counts(np.full(keys.size, 10), keys, "public")
    low = perturb(np.full(keys.size, 10), keys) < 10
    assert low.any() and hid[low].all() and np.isnan(pub[low]).all()
    assert np.nanmin(pub) >= 10


def test_count_without_keys_is_refused_in_public_but_restricted_passes():
    df = pd.DataFrame({"h3": _cells(2), "count": [30, 40]})
    with pytest.raises(PrivacyError, match="without cell keys"):
        publish(df, "public")
    out = publish(df, "restricted")
    assert out["count"].tolist() == [30, 40] and not out["suppressed"].any()


def test_public_k_cannot_be_lowered():
    with pytest.raises(ValueError, match="hides at least the counts 1–9"):
        PrivacyPolicy(tier="public", k=1)
    with pytest.raises(ValueError, match="restricted tier"):
        PrivacyPolicy.for_tier("partner", k=5)
    assert PrivacyPolicy.for_tier("public", k=20).k == 20
    assert PrivacyPolicy.for_tier("restricted", k=1).k == 1


def test_k_above_ten_hides_more():
    df = _keyed(pd.DataFrame({"h3": _cells(3), "count": [12, 15, 200]}))
    out = publish(df, PrivacyPolicy(tier="public", k=20))
    assert out["count"].isna().tolist() == [True, True, False]


def test_lone_hidden_breakdown_gets_a_complement():
    df = _keyed(pd.DataFrame(
        {"h3": _cells(2), "count": [50, 60], "n_fatal": [3, 0], "n_nonfatal": [47, 60],
         "n_unknown": [0, 0]}
    ))
    out = publish(df, "public")
    assert out.loc[0, ["n_fatal", "n_nonfatal"]].isna().all()
    assert abs(out.loc[0, "count"] - 50) <= 3
    assert out.loc[1, "n_fatal"] == 0 and out.loc[1, "n_unknown"] == 0


def test_derived_columns_blanked_with_their_count():
    df = _keyed(pd.DataFrame({"h3": _cells(2), "count": [3, 40], "rate_per_10k": [1.5, 20.0],
                              "expected": [2.0, 30.0]}))
    out = publish(df, "public", derived={"expected": ["count"]})
    assert pd.isna(out.loc[0, "rate_per_10k"]) and out.loc[1, "rate_per_10k"] == 20.0
    assert pd.isna(out.loc[0, "expected"]) and out.loc[1, "expected"] == 30.0


def test_times_become_dates_in_public_only():
    t = pd.to_datetime(["2026-11-15 21:35", "2026-11-14 03:10"])
    df = _keyed(pd.DataFrame({"h3": _cells(2), "count": [30, 40], "latest": t}))
    out = publish(df, "public")
    assert (out["latest"] == out["latest"].dt.normalize()).all()
    assert publish(df, "restricted")["latest"].tolist() == list(t)


def test_points_refused_in_public():
    df = pd.DataFrame({"lat": [36.0], "lon": [-79.8], "count": [1]})
    with pytest.raises(PrivacyError, match="point-level columns"):
        publish(df, "public")


def test_resolution_floor():
    df = _keyed(pd.DataFrame({"h3": _cells(2, res=9), "count": [20, 30]}))
    with pytest.raises(PrivacyError, match="finer than the floor 8"):
        publish(df, "public")
    assert len(publish(df, "partner")) == 2  # partner floor is 9


def test_hex_string_cells_are_checked_too():
    from geo.cells import cells_to_str

    df = _keyed(pd.DataFrame({"h3": cells_to_str(_cells(1, res=10)), "count": [20]}))
    with pytest.raises(PrivacyError, match="resolution 10"):
        publish(df, "public")


def test_bad_policy_raises():
    with pytest.raises(ValueError, match="tier must be one of"):
        PrivacyPolicy(tier="open")
    with pytest.raises(ValueError, match="positive integer"):
        PrivacyPolicy(tier="restricted", k=0)


def test_nested_windows_never_differ_by_a_small_number():
    df = _keyed(pd.DataFrame({"h3": _cells(3), "n_24h": [0, 12, 3], "n_48h": [14, 30, 11],
                              "n_72h": [19, 45, 40]}))
    out = publish(df, "public")
    for _, r in out.iterrows():
        shown = [v for v in r[["n_24h", "n_48h", "n_72h"]] if not pd.isna(v)]
        assert all(not (1 <= abs(a - b) < 10) for a in shown for b in shown)
    assert out.loc[0, "n_24h"] == 0


def test_impute_hidden_uses_public_figures_only():
    pub = pd.Series([20, np.nan, np.nan, 0, 31], dtype="Float64")
    v = impute_hidden(pub, 10, total=61)
    assert v.tolist() == [20, 5, 5, 0, 31]
    assert impute_hidden(pub, 10, total=200).tolist()[1] == 9  # clipped to k-1
    assert impute_hidden(pub, 10).tolist()[1] == 5  # no total: k / 2
