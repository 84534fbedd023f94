"""Disclosure control for everything that leaves gapmap: one policy, one gate.

* :mod:`geo.privacy.policy` — :class:`PrivacyPolicy` (tiers public / partner / restricted);
* :mod:`geo.privacy.cellkey` — record keys and cell-key perturbation of counts;
* :mod:`geo.privacy.release` — the fixed public release windows;
* :mod:`geo.privacy.gate` — :func:`publish`, the only door out.

See the README's Privacy section for the scheme and its limits.
"""

from geo.privacy.cellkey import (
    KEY_SUFFIX,
    key_sum,
    keyed_counts,
    perturb,
    record_keys,
    with_record_keys,
)
from geo.privacy.gate import (
    FAMILY_PREFIXES,
    POINT_COLUMNS,
    PrivacyError,
    impute_hidden,
    nested_window_families,
    publish,
    publish_counts,
)
from geo.privacy.policy import PUBLIC_MIN_K, TIERS, PrivacyPolicy, as_policy
from geo.privacy.release import (
    RELEASE_DAYS,
    ReleaseError,
    check_window,
    release_date,
    release_window,
    release_windows,
)

__all__ = [
    "PrivacyPolicy",
    "TIERS",
    "PUBLIC_MIN_K",
    "as_policy",
    "publish",
    "publish_counts",
    "impute_hidden",
    "PrivacyError",
    "POINT_COLUMNS",
    "FAMILY_PREFIXES",
    "nested_window_families",
    "KEY_SUFFIX",
    "keyed_counts",
    "key_sum",
    "perturb",
    "record_keys",
    "with_record_keys",
    "RELEASE_DAYS",
    "ReleaseError",
    "check_window",
    "release_date",
    "release_window",
    "release_windows",
]
