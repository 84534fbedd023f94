"""Release tiers and their rules: one :class:`PrivacyPolicy` travels from the door to the gate.

The public tier cannot be switched off: its suppression threshold is at least 10 (counts 1–9
hidden, the CDC WONDER rule), every count is perturbed by the cell-key method and only fixed
release windows leave (see :mod:`geo.privacy.release`). ``partner`` has a finer resolution
floor; ``restricted`` is for internal work behind a login and returns tables unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["PrivacyPolicy", "TIERS", "PUBLIC_MIN_K", "as_policy"]

TIERS = ("public", "partner", "restricted")
#: The public tier hides at least the counts 1–9.
PUBLIC_MIN_K = 10
_FLOORS = {"public": 8, "partner": 9, "restricted": 15}


@dataclass(frozen=True)
class PrivacyPolicy:
    """Rules of one release tier.

    Parameters
    ----------
    tier : {"public", "partner", "restricted"}
    k : int
        Counts in ``1 .. k-1`` are suppressed (default 10: counts 1–9 hidden). Public and
        partner releases need ``k >= 10``.
    min_res_floor : int
        Finest H3 resolution allowed out (public 8, cells of ~0.74 km²; partner 9).
    extra_count_columns : tuple of str
        Further column names the gate treats as counts.

    Raises
    ------
    ValueError
        For an unknown tier, a bad ``k`` or floor, or a public/partner ``k`` below 10 (use the
        restricted tier for internal work instead of weakening a public release).
    """

    tier: str = "public"
    k: int = 10
    min_res_floor: int = 8
    extra_count_columns: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {self.tier!r}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"suppression threshold k must be a positive integer, got {self.k!r}")
        if self.tier != "restricted" and self.k < PUBLIC_MIN_K:
            raise ValueError(
                f"the {self.tier} tier hides at least the counts 1–{PUBLIC_MIN_K - 1} "
                f"(k >= {PUBLIC_MIN_K}); k={self.k} would publish small counts — use the "
                "restricted tier for internal work"
            )
        if not 0 <= self.min_res_floor <= 15:
            raise ValueError(f"resolution floor must be 0–15, got {self.min_res_floor}")

    @classmethod
    def for_tier(cls, tier: str, k: int | None = None, res_floor: int | None = None
                 ) -> PrivacyPolicy:
        """Default policy of a tier (public: floor 8; partner: floor 9; k = 10)."""
        if tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, got {tier!r}")
        return cls(tier=tier, k=10 if k is None else int(k),
                   min_res_floor=_FLOORS[tier] if res_floor is None else int(res_floor))

    @property
    def restricted(self) -> bool:
        """True for the internal tier (no suppression, no perturbation, any window)."""
        return self.tier == "restricted"

    @property
    def label(self) -> str:
        """What a reader is told, e.g. ``"public tier: counts 1–9 suppressed, perturbed"``."""
        if self.restricted:
            return "restricted tier: exact counts, internal use only"
        return (f"{self.tier} tier: counts 1–{self.k - 1} suppressed, other counts perturbed "
                "by ±3 at most, fixed release windows")


def as_policy(policy: PrivacyPolicy | str) -> PrivacyPolicy:
    """A policy from a policy or a tier name (the one conversion; raises on anything else)."""
    if isinstance(policy, PrivacyPolicy):
        return policy
    if isinstance(policy, str):
        return PrivacyPolicy.for_tier(policy)
    raise TypeError(f"policy must be a PrivacyPolicy or a tier name, got {policy!r}")
