"""The privacy gate: suppression rule, complementary suppression, refusals."""

import numpy as np
import pandas as pd
import pytest

from geo.cells import latlng_to_cells
from geo.privacy import PrivacyError, PrivacyPolicy, publish


def _cells(n, res=8):
    return latlng_to_cells(np.linspace(36.0, 36.2, n), np.full(n, -79.8), res)


def test_counts_one_to_nine_hidden_zero_and_ten_shown():
    df = pd.DataFrame({"h3": _cells(5), "count": [0, 1, 9, 10, 250]})
    out = publish(df, "public")
    assert out["count"].isna().tolist() == [False, True, True, False, False]
    assert out["count"].iloc[[0, 3, 4]].tolist() == [0, 10, 250]
    assert out["suppressed"].tolist() == [False, True, True, False, False]
    assert df["count"].tolist() == [0, 1, 9, 10, 250], "input must not be mutated"


def test_k_is_configurable():
    df = pd.DataFrame({"h3": _cells(3), "count": [4, 5, 6]})
    out = publish(df, PrivacyPolicy(tier="public", k=6))
    assert out["count"].isna().tolist() == [True, True, False]


def test_lone_hidden_breakdown_gets_a_complement():
    # count 50 = 3 fatal + 47 nonfatal: hiding only n_fatal would leave 50 - 47 = 3.
    df = pd.DataFrame(
        {"h3": _cells(2), "count": [50, 60], "n_fatal": [3, 0], "n_nonfatal": [47, 60],
         "n_unknown": [0, 0]}
    )
    out = publish(df, "public")
    assert out.loc[0, ["n_fatal", "n_nonfatal"]].isna().all()
    assert out.loc[0, "count"] == 50
    # second row: no small value, nothing hidden; zeros stay
    assert out.loc[1, ["count", "n_fatal", "n_nonfatal", "n_unknown"]].tolist() == [60, 0, 60, 0]


def test_complement_picks_smallest_nonzero_member():
    df = pd.DataFrame({"h3": _cells(1), "count": [100], "n_ems": [2], "n_police": [30],
                       "n_hospital": [68], "n_odmap": [0], "n_other": [0]})
    out = publish(df, "public")
    assert out.loc[0, ["n_ems", "n_police"]].isna().all()
    assert out.loc[0, "n_hospital"] == 68 and out.loc[0, "n_odmap"] == 0


def test_rates_blanked_with_suppressed_rows():
    df = pd.DataFrame({"h3": _cells(2), "count": [3, 40], "rate_per_10k": [1.5, 20.0]})
    out = publish(df, "public")
    assert pd.isna(out.loc[0, "rate_per_10k"]) and out.loc[1, "rate_per_10k"] == 20.0


def test_points_refused_in_public_but_pass_restricted():
    df = pd.DataFrame({"lat": [36.0], "lon": [-79.8], "count": [1]})
    with pytest.raises(PrivacyError, match="point-level columns"):
        publish(df, "public")
    out = publish(df, "restricted")
    assert out["count"].tolist() == [1] and not out["suppressed"].any()


def test_resolution_floor():
    df = pd.DataFrame({"h3": _cells(2, res=9), "count": [20, 30]})
    with pytest.raises(PrivacyError, match="finer than the floor 8"):
        publish(df, "public")
    assert len(publish(df, "partner")) == 2  # partner floor is 9


def test_hex_string_cells_are_checked_too():
    from geo.cells import cells_to_str

    df = pd.DataFrame({"h3": cells_to_str(_cells(1, res=10)), "count": [20]})
    with pytest.raises(PrivacyError, match="resolution 10"):
        publish(df, "public")


def test_bad_policy_raises():
    with pytest.raises(ValueError, match="tier must be one of"):
        PrivacyPolicy(tier="open")
    with pytest.raises(ValueError, match="positive integer"):
        PrivacyPolicy(k=0)


def test_nested_windows_cannot_be_subtracted():
    # 48 h = 14 and 72 h = 19 would reveal 5 events in 48-72 h: the 48 h count is hidden.
    df = pd.DataFrame({"h3": _cells(3), "n_24h": [0, 12, 3], "n_48h": [14, 30, 11],
                       "n_72h": [19, 45, 40]})
    out = publish(df, "public")
    assert pd.isna(out.loc[0, "n_48h"]) and out.loc[0, "n_72h"] == 19 and out.loc[0, "n_24h"] == 0
    # row 1: differences 18 and 15 are safe, everything shown
    assert out.loc[1, ["n_24h", "n_48h", "n_72h"]].tolist() == [12, 30, 45]
    # row 2: 24 h is small (hidden); 48 h shown would give 40 - 11 = 29, safe; 11 - 3 hidden
    assert pd.isna(out.loc[2, "n_24h"]) and out.loc[2, "n_48h"] == 11
    # no two shown values in any row differ by 1..9
    for _, r in out.iterrows():
        shown = [v for v in r[["n_24h", "n_48h", "n_72h"]] if not pd.isna(v)]
        assert all(not (1 <= abs(a - b) < 10) for a in shown for b in shown)


def test_nested_chain_hides_transitively():
    # 24 h = 20, 48 h = 25, 72 h = 33: 48-24 = 5 hides 24 h; 72-48 = 8 hides 48 h; then the
    # remaining pair (none hidden but 72 h) is safe.
    df = pd.DataFrame({"h3": _cells(1), "n_24h": [20], "n_48h": [25], "n_72h": [33]})
    out = publish(df, "public")
    assert out["n_24h"].isna().all() and out["n_48h"].isna().all() and out.loc[0, "n_72h"] == 33
