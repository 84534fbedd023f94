"""geo.resolution.check_resolution: the one check of a requested H3 resolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from geo.resolution import check_resolution


@dataclass(frozen=True)
class _Policy:  # the two attributes check_resolution reads from a PrivacyPolicy
    tier: str
    min_res_floor: int


PUBLIC = _Policy("public", 8)
PARTNER = _Policy("partner", 9)
RESTRICTED = _Policy("restricted", 15)


@pytest.mark.parametrize("res", [0, 7, 15, np.int64(9), np.uint8(3)])
def test_range_only_without_policy(res):
    out = check_resolution(res)
    assert out == int(res) and type(out) is int


@pytest.mark.parametrize(
    ("res", "policy", "ok"),
    [
        (8, PUBLIC, True),
        (5, PUBLIC, True),
        (9, PUBLIC, False),
        (9, PARTNER, True),
        (10, PARTNER, False),
        (15, RESTRICTED, True),
        (12, _Policy("restricted", 8), True),  # restricted ignores its floor
    ],
)
def test_floor_table(res, policy, ok):
    if ok:
        assert check_resolution(res, policy) == res
    else:
        with pytest.raises(ValueError, match="is finer than"):
            check_resolution(res, policy)


def test_the_one_message():
    with pytest.raises(ValueError) as err:
        check_resolution(9, PUBLIC)
    assert str(err.value) == (
        "H3 resolution 9 is finer than the public floor 8: choose resolution 8 or coarser "
        "(or log in / use --tier restricted for internal work)."
    )


def test_real_privacy_policy_is_accepted():
    from geo.privacy import PrivacyPolicy

    pol = PrivacyPolicy("public")
    assert check_resolution(pol.min_res_floor, pol) == pol.min_res_floor
    with pytest.raises(ValueError, match="finer than the public floor"):
        check_resolution(pol.min_res_floor + 1, pol)


@pytest.mark.parametrize("res", [True, False, 8.0, "8", None, -1, 16, np.int64(16)])
def test_bad_resolutions_raise(res):
    with pytest.raises(ValueError, match="whole number 0–15"):
        check_resolution(res)


def test_policy_without_a_floor_raises():
    with pytest.raises(TypeError, match="min_res_floor"):
        check_resolution(8, "public")
