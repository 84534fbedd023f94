"""The one check of a requested H3 resolution: a whole number 0–15, within the tier's floor.

Every door that takes a resolution (CLI ``--res``, dashboard slider, briefing, product
queries) calls :func:`check_resolution`, so a public user asking for too fine a grid reads the
same sentence everywhere. The privacy gate (:mod:`geo.privacy`) still refuses any finer cell
that reaches it; this check only lets the doors say so before any work is done.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_RES", "MAX_RES", "check_resolution"]

MIN_RES, MAX_RES = 0, 15


def check_resolution(res, policy=None) -> int:
    """``res`` as a plain int, after checking it is an H3 resolution allowed for ``policy``.

    Parameters
    ----------
    res : int
        Requested H3 resolution; a Python or NumPy integer (``bool`` and floats are refused).
    policy : object with ``tier`` and ``min_res_floor``, optional
        A privacy policy (:class:`geo.privacy.PrivacyPolicy`). Unless its tier is
        ``"restricted"``, ``res`` may not be finer (larger) than ``min_res_floor``. ``None``
        checks the range only.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        Not a whole number 0–15, or finer than the policy's floor (one message for the CLI
        and the dashboard).
    TypeError
        ``policy`` has no ``tier`` / ``min_res_floor``.
    """
    if isinstance(res, bool | np.bool_) or not isinstance(res, int | np.integer):
        raise ValueError(f"H3 resolution must be a whole number {MIN_RES}–{MAX_RES}, got {res!r}")
    if not MIN_RES <= int(res) <= MAX_RES:
        raise ValueError(f"H3 resolution must be a whole number {MIN_RES}–{MAX_RES}, got {res!r}")
    res = int(res)
    if policy is None:
        return res
    if not (hasattr(policy, "tier") and hasattr(policy, "min_res_floor")):
        raise TypeError(
            "policy must be a privacy policy with .tier and .min_res_floor "
            f"(geo.privacy.PrivacyPolicy), got {type(policy).__name__}"
        )
    floor = int(policy.min_res_floor)
    if policy.tier != "restricted" and res > floor:
        raise ValueError(
            f"H3 resolution {res} is finer than the {policy.tier} floor {floor}: choose "
            f"resolution {floor} or coarser (or log in / use --tier restricted for internal "
            "work)."
        )
    return res
