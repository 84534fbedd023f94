"""EARS C1/C2/C3, EWMA and the fixed threshold: hand-computed values, floors, equivalence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clustering.ears import (
    ears,
    ears_c1,
    ears_c2,
    ears_c3,
    ewma,
    fixed_threshold,
    suggest_threshold,
)


def _series(values, start="2024-03-01", name="a") -> pd.DataFrame:
    idx = pd.date_range(start, periods=len(values), freq="D", name="date")
    return pd.DataFrame({name: np.asarray(values, dtype=np.int64)}, index=idx)


def _row(res: pd.DataFrame, day: int, start="2024-03-01", area="a") -> pd.Series:
    d = pd.Timestamp(start) + pd.Timedelta(days=day)
    hit = res[(res["date"] == d) & (res["area"] == area)]
    assert len(hit) == 1, f"no single row for day {day}"
    return hit.iloc[0]


def _mean_sd(vals):
    """Mean and sample sd written out by hand."""
    n = len(vals)
    m = sum(vals) / n
    return m, math.sqrt(sum((v - m) ** 2 for v in vals) / (n - 1))


X = [1, 2, 3, 4, 5, 6, 7, 20, 3, 2, 9, 1, 0]


def test_c1_hand_computed_over_several_days():
    res = ears_c1(_series(X))
    # C1 exists from day 7 on (baseline days t-7 .. t-1).
    assert res["date"].min() == pd.Timestamp("2024-03-08")
    # day 7: baseline 1..7 → mean 4, sd sqrt(28/6)
    r = _row(res, 7)
    assert r["expected"] == pytest.approx(4.0)
    assert r["sd"] == pytest.approx(math.sqrt(28 / 6))
    assert r["statistic"] == pytest.approx((20 - 4) / math.sqrt(28 / 6))
    assert r["threshold"] == pytest.approx(4 + 3 * math.sqrt(28 / 6))
    assert r["severity"] == "alert"
    for day in (8, 9, 10, 11, 12):
        m, s = _mean_sd(X[day - 7: day])
        r = _row(res, day)
        assert r["expected"] == pytest.approx(m)
        assert r["sd"] == pytest.approx(max(s, 0.5))
        assert r["statistic"] == pytest.approx((X[day] - m) / max(s, 0.5))
        assert (str(r["severity"]) == "alert") == (X[day] > m + 3 * max(s, 0.5))
    # days 8..12 have the 20 in their baseline: no alarm
    assert res["severity"].notna().sum() == 1


def test_c2_uses_guard_band():
    res = ears_c2(_series(X))
    assert res["date"].min() == pd.Timestamp("2024-03-10")  # t = 9 is the first
    for day in (9, 10, 11, 12):
        m, s = _mean_sd(X[day - 9: day - 2])  # t-9 .. t-3
        r = _row(res, day)
        assert r["expected"] == pytest.approx(m)
        assert r["statistic"] == pytest.approx((X[day] - m) / max(s, 0.5))
    # day 10: baseline X[1..7] = 2..7 and the 20 → mean 47/7, sample sd by hand
    m, s = _mean_sd([2, 3, 4, 5, 6, 7, 20])
    assert m == pytest.approx(47 / 7)
    assert _row(res, 10)["statistic"] == pytest.approx((9 - m) / s)


def test_c2_guard_band_hides_yesterday_spike_from_baseline():
    vals = [2, 3, 2, 3, 2, 3, 2, 3, 2, 30, 30]
    c1 = ears_c1(_series(vals))
    c2 = ears_c2(_series(vals))
    # day 10: C1's baseline holds yesterday's 30 (no alarm); C2's does not (alarm).
    assert pd.isna(_row(c1, 10)["severity"])
    assert _row(c2, 10)["severity"] == "alert"


def test_c3_on_constructed_series():
    vals = [2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 5, 6, 4, 2, 3]
    c3 = ears_c3(_series(vals))
    c2 = ears_c2(_series(vals))

    def c2_by_hand(t):
        m, s = _mean_sd(vals[t - 9: t - 2])
        return (vals[t] - m) / max(s, 0.5)

    assert c3["date"].min() == pd.Timestamp("2024-03-12")  # t = 11 (C2 from 9, plus 2)
    for t in range(11, len(vals)):
        expect = sum(max(0.0, c2_by_hand(t - i) - 1.0) for i in range(3))
        r = _row(c3, t)
        assert r["statistic"] == pytest.approx(expect)
        assert (str(r["severity"]) == "alert") == (expect > 2)
        assert _row(c2, t)["statistic"] == pytest.approx(c2_by_hand(t))
    # baseline 2,3,2,3,2,3,2 → mean 17/7, sd 0.5345: day 11 (5) gives C2 = 4.81 → C3 > 2
    assert _row(c3, 11)["severity"] == "alert"
    # the count threshold reproduces the alarm rule: x_t > threshold ⇔ C3 > 2
    for t in range(11, len(vals)):
        r = _row(c3, t)
        assert (vals[t] > r["threshold"]) == (r["statistic"] > 2) or r["threshold"] == 0


def test_sd_floor_for_sparse_counts():
    flat = [1] * 8 + [2]
    r = _row(ears_c1(_series(flat)), 8)
    assert r["sd"] == 0.5  # sample sd is 0 → floor
    assert r["statistic"] == pytest.approx(2.0)
    assert pd.isna(r["severity"])
    r = _row(ears_c1(_series([1] * 8 + [3])), 8)
    assert r["statistic"] == pytest.approx(4.0) and r["severity"] == "alert"
    r = _row(ears_c1(_series(flat), sd_floor=0.2), 8)
    assert r["sd"] == 0.2 and r["statistic"] == pytest.approx(5.0) and r["severity"] == "alert"
    # surveillance's alpha = 0.001 level: k = qnorm(0.999)
    r = _row(ears_c1(_series([1] * 8 + [3]), k=stats.norm.ppf(0.999)), 8)
    assert r["threshold"] == pytest.approx(1 + 0.5 * 3.090232, abs=1e-6)


def _naive_c(vals, lag, sd_floor=0.5, k=3.0):
    out = {}
    for t in range(lag + 6, len(vals)):
        base = vals[t - lag - 6: t - lag + 1]
        m, s = _mean_sd(list(base))
        s = max(s, sd_floor)
        out[t] = ((vals[t] - m) / s, vals[t] > m + k * s)
    return out


def test_vectorised_equals_per_area_loop():
    rng = np.random.default_rng(7)
    data = rng.poisson([0.3, 2.0, 8.0, 0.05], size=(60, 4))
    data[40, 2] += 25
    s = pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=60, name="date"),
                     columns=["w", "x", "y", "z"])
    before = s.copy()
    for method, lag in (("C1", 1), ("C2", 3)):
        res = ears(s, method)
        for j, col in enumerate(s.columns):
            ref = _naive_c(data[:, j].tolist(), lag)
            sub = res[res["area"] == col].reset_index(drop=True)
            assert len(sub) == len(ref)
            np.testing.assert_allclose(sub["statistic"], [ref[t][0] for t in sorted(ref)])
            assert (sub["severity"].notna().to_numpy() == [ref[t][1] for t in sorted(ref)]).all()
    assert _row(ears(s, "C2"), 40, "2024-01-01", "y")["severity"] == "alert"
    pd.testing.assert_frame_equal(s, before)  # input not mutated


def _essence_sigma_by_hand(sd, L, w, g=2):
    u = round(stats.t.ppf(0.95, L - 1), 5)
    corr = math.sqrt(w / (2 - w) + 1 / L - 2 * (1 - w) ** (g + 1) * (1 - (1 - w) ** L) / L)
    const = (0.1289 - (0.2414 - 0.1826 * (1 - w) ** 4) * math.log(10 * 0.05)) * (w / u)
    return max((w / u) * (1 + 0.5 * (1 - w) ** 2), sd * corr + const)


def test_ewma_hand_checkable_step():
    vals = [0] * 40 + [5, 5, 5]
    res = ewma(_series(vals))
    # tested from day 13 on (11-day baseline after the 2-day guard band), full 28 days later
    assert res["date"].min() == pd.Timestamp("2024-03-01") + pd.Timedelta(days=13)
    sigma = _essence_sigma_by_hand(0.0, 28, 0.4)  # all-zero baseline: ESSENCE's floor
    ua = round(stats.t.ppf(0.99, 27), 5)
    z40 = 0.4 * 5
    r = _row(res, 40)
    assert r["expected"] == 0.0 and r["sd"] == 0.0
    assert r["statistic"] == pytest.approx(z40 / sigma)
    assert r["p"] == pytest.approx(stats.t.sf(z40 / sigma, 27))
    assert r["severity"] == "alert"
    # smallest count that alerts on day 40: (0 + t_0.99·σ − 0.6·Z_39) / 0.4 with Z_39 = 0
    assert r["threshold"] == pytest.approx(stats.t.isf(0.01, 27) * sigma / 0.4)
    # the outlying Z_40 is pulled back to the 99% limit before day 41
    z41 = 0.4 * 5 + 0.6 * ua * sigma
    assert _row(res, 41)["statistic"] == pytest.approx(z41 / sigma)
    assert _row(res, 41)["expected"] == 0.0  # the guard band keeps the step out of the baseline
    assert pd.isna(_row(res, 39)["severity"]) and _row(res, 39)["statistic"] == 0.0


def _rnssp_ewma(y, w, B=28, g=2):
    """Line-by-line port of CDC's Rnssp ``ewma_loop`` (one smoothing value) as a reference."""
    N = len(y)
    min_b, max_b = 11, 28
    z = [float("nan")] * N
    z[0] = y[0]
    for i0 in range(1, min_b + g):
        z[i0] = w * y[i0] + (1 - w) * z[i0 - 1]
    ndx = list(range(1, min_b))  # 1-based
    out = {}
    for i in range(min_b + g + 1, N + 1):  # 1-based day
        if ndx[-1] < max_b:
            ndx = [0] + ndx
        ndx = [v + 1 for v in ndx]
        n_df = len(ndx) - 1
        base = [y[v - 1] for v in ndx]
        m, s = _mean_sd(base)
        corr = math.sqrt(w / (2 - w) + 1 / len(ndx)
                         - 2 * (1 - w) ** (g + 1) * ((1 - (1 - w) ** len(ndx)) / len(ndx)))
        ua = round(stats.t.ppf(0.99, n_df), 5)
        uw = round(stats.t.ppf(0.95, n_df), 5)
        const = (0.1289 - (0.2414 - 0.1826 * (1 - w) ** 4) * math.log(0.5)) * (w / uw)
        sig = max((w / uw) * (1 + 0.5 * (1 - w) ** 2), s * corr + const)
        z[i - 1] = w * y[i - 1] + (1 - w) * z[i - 2]
        ts = (z[i - 1] - m) / sig
        if abs(ts) > ua:
            z[i - 1] = m + math.copysign(1, ts) * ua * sig
        out[i - 1] = (m, ts, 1 - stats.t.cdf(ts, n_df))
    return out


def test_ewma_equals_rnssp_reference_port():
    rng = np.random.default_rng(3)
    data = rng.poisson([0.4, 3.0, 12.0], size=(70, 3))
    data[50:53, 0] += 4
    data[60, 2] += 20
    s = pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=70, name="date"),
                     columns=["a", "b", "c"])
    for w in (0.4, 0.9):
        res = ewma(s, smoothing=w)
        for j, col in enumerate(s.columns):
            ref = _rnssp_ewma(data[:, j].tolist(), w)
            sub = res[res["area"] == col].reset_index(drop=True)
            assert len(sub) == len(ref)
            days = sorted(ref)
            np.testing.assert_allclose(sub["expected"], [ref[t][0] for t in days])
            np.testing.assert_allclose(sub["statistic"], [ref[t][1] for t in days], rtol=1e-9)
            np.testing.assert_allclose(sub["p"], [ref[t][2] for t in days], rtol=1e-7, atol=1e-12)
    # the pair (0.4, 0.9) keeps the smaller p of the two
    both = ewma(s, smoothing=(0.4, 0.9))
    p4, p9 = ewma(s, smoothing=0.4)["p"], ewma(s, smoothing=0.9)["p"]
    np.testing.assert_allclose(both["p"], np.minimum(p4, p9))
    sev = both["severity"].astype(object).where(both["severity"].notna(), None).tolist()
    want = ["alert" if p < 0.01 else ("warning" if p < 0.05 else None) for p in both["p"]]
    assert sev == want and "warning" in want and "alert" in want


def test_fixed_threshold_and_suggestion():
    vals = [0, 1, 0, 2, 1, 0, 0, 1, 3, 0] * 3 + [4, 1]
    s = _series(vals)
    sug = suggest_threshold(s, days=30, end=s.index[29])
    m, sd = _mean_sd(vals[:30])
    assert sug["a"] == max(2, math.ceil(m + 3 * sd))
    res = fixed_threshold(s, sug)
    flagged = res.loc[res["severity"] == "alert", "observed"].tolist()
    assert flagged == [v for v in vals if v >= sug["a"]]
    r = _row(res, 30)
    assert r["expected"] == pytest.approx(sum(vals[:30]) / 30)
    assert r["statistic"] == pytest.approx(4 / sug["a"])
    # never below 2: a single incident is not a spike
    assert suggest_threshold(_series([0] * 30))["a"] == 2
    flags = fixed_threshold(_series([0, 1, 2]), 2)["severity"].notna().tolist()
    assert flags == [False, False, True]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: ears_c1(s, sd_floor=-1), "sd_floor"),
        (lambda s: ears(s, "C4"), "EARS method"),
        (lambda s: ewma(s, smoothing=1.5), "smoothing"),
        (lambda s: ewma(s, baseline=1), "baseline"),
        (lambda s: ewma(s, min_baseline=30), "min_baseline"),
        (lambda s: ewma(s, alert_p=0.1, warning_p=0.05), "alert_p"),
        (lambda s: fixed_threshold(s, 0), "threshold"),
        (lambda s: suggest_threshold(s, days=1), "days"),
        (lambda s: ears_c1(s.reset_index(drop=True)), "DatetimeIndex"),
        (lambda s: ears_c1(s.iloc[[0, 2, 3]]), "consecutive days"),
        (lambda s: ears_c1(-s), "non-negative"),
    ],
)
def test_bad_parameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(_series([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
