"""What a reader asked for, once: :class:`Query` and the window rule every door shares.

Time convention (everywhere in gapmap): a window is ``[start, end)`` — ``start`` is the first
instant included, ``end`` the first instant **excluded**; dates mean midnight. CLI ``--start``
and ``--end`` and the dashboard's window mean exactly this. In the public and partner tiers the
window must be one of the fixed release windows (:mod:`geo.privacy.release`); without one, the
last 364 days to the release date are used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from geo.grid import filter_incidents
from geo.privacy import PrivacyPolicy, as_policy, check_window, release_date
from geo.resolution import check_resolution as _check_resolution
from geo.schema import OUTCOMES, SOURCES

__all__ = ["Query", "resolve", "select", "data_end", "check_resolution", "check_filters"]


@dataclass(frozen=True)
class Query:
    """The reader's choices shared by every product (primitives: usable as cache keys).

    Parameters
    ----------
    res : int
        H3 resolution of the analysis cells.
    start, end : Timestamp or None
        Window ``[start, end)``; ``None`` = open (restricted) or the default release window
        (public).
    outcomes, sources : tuple of str or None
        Filters (``None`` = all).
    drugs, age_bands, sexes : tuple of str or None
        Filters on ``suspected_drug``, ``age_band`` and ``sex`` (``None`` = all): levels of
        :data:`products.breakdowns.LEVELS` (``"unknown"`` = blank, ``"other"`` = any other
        recorded drug).
    """

    res: int = 8
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    outcomes: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    drugs: tuple[str, ...] | None = None
    age_bands: tuple[str, ...] | None = None
    sexes: tuple[str, ...] | None = None

    def __post_init__(self):
        from products.breakdowns import FILTERS, LEVELS

        for name, family in FILTERS.items():
            vals = getattr(self, name)
            if vals is None:
                continue
            vals = (vals,) if isinstance(vals, str) else tuple(vals)
            bad = [v for v in vals if v not in LEVELS[family]]
            if bad:
                raise ValueError(f"unknown {name} {bad}: choose from {list(LEVELS[family])}")
            object.__setattr__(self, name, vals)
        for name, allowed in (("outcomes", OUTCOMES), ("sources", SOURCES)):
            vals = getattr(self, name)
            if vals is None:
                continue
            bad = [v for v in vals if v not in allowed]
            if bad:
                raise ValueError(f"unknown {name} {bad}: choose from {list(allowed)}")
            object.__setattr__(self, name, tuple(vals))
        for name in ("start", "end"):
            v = getattr(self, name)
            if v is not None:
                try:
                    object.__setattr__(self, name, pd.Timestamp(v))
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{name} must be a date like 2026-11-16, got {v!r}") from exc
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end:%Y-%m-%d} must be after start "
                             f"{self.start:%Y-%m-%d} (the window is [start, end))")

    def describe(self) -> str:
        """Filters and window in words, for captions and the briefing."""
        if self.start is None and self.end is None:
            window = "all dates"
        else:
            a = "…" if self.start is None else f"{self.start:%Y-%m-%d}"
            b = "…" if self.end is None else f"{self.end - pd.Timedelta(days=1):%Y-%m-%d}"
            window = f"{a} to {b}"
        out = "all outcomes" if self.outcomes is None else "outcome " + "/".join(self.outcomes)
        src = "all sources" if self.sources is None else "source " + "/".join(self.sources)
        extra = "".join(f" · {words} " + ("/".join(getattr(self, name)) or "none")
                        for name, words in (("drugs", "suspected drug"), ("age_bands", "age band"),
                                            ("sexes", "sex"))
                        if getattr(self, name) is not None)
        return f"{window} · {out} · {src}{extra} · H3 res {self.res}"


def data_end(incidents: pd.DataFrame) -> pd.Timestamp:
    """Last incident time in the data (the release date and defaults are built from it)."""
    if "occurred_at" not in incidents.columns:
        raise ValueError("incidents have no 'occurred_at' column; load them through geo.ingest")
    col = incidents["occurred_at"]
    if isinstance(col.dtype, np.dtype) and col.dtype.kind == "M" and len(col):
        last = col.to_numpy().max()  # naive datetime64 (a store's): one pass, no copy
        if not np.isnat(last):  # NaT anywhere makes numpy's max NaT: pandas skips them
            return pd.Timestamp(last)
    t = pd.to_datetime(col)
    if t.notna().sum() == 0:
        raise ValueError("incidents have no valid occurred_at values")
    last = t.max()
    return last.tz_localize(None) if getattr(last, "tz", None) is not None else last


def check_resolution(res, policy: PrivacyPolicy | str) -> int:
    """:func:`geo.resolution.check_resolution` for a policy or tier name (one message)."""
    return _check_resolution(res, as_policy(policy))


def check_filters(query: Query | None, policy: PrivacyPolicy | str) -> None:
    """Public/partner: all outcomes or one, all sources or one (and the same for suspected
    drugs, age bands and sexes).

    Many filter combinations would give an attacker many independently perturbed views of the
    same hidden count to average; one value or all keeps the views few (README, Privacy).
    """
    pol = as_policy(policy)
    if pol.restricted or query is None:
        return
    for name in ("outcomes", "sources", "drugs", "age_bands", "sexes"):
        vals = getattr(query, name, None)
        if vals is not None and len(vals) > 1:
            raise ValueError(
                f"{pol.tier} outputs filter by all {name} or one of them, got {', '.join(vals)}: "
                "combinations would let the noisy figures be averaged back to hidden counts; "
                "use the restricted tier to combine filters"
            )


def resolve(query: Query, incidents: pd.DataFrame, policy: PrivacyPolicy | str) -> Query:
    """The query with its window made concrete for this tier (release rule in public)."""
    pol = as_policy(policy)
    check_resolution(query.res, pol)
    if pol.restricted:
        return query
    check_filters(query, pol)
    start, end = check_window(pol, query.start, query.end, data_end(incidents))
    return replace(query, start=start, end=end)


def select(incidents: pd.DataFrame, query: Query) -> pd.DataFrame:
    """Incidents inside the query's window and filters (``[start, end)``)."""
    out = filter_incidents(incidents, start=query.start, end=query.end,
                           outcomes=query.outcomes, sources=query.sources)
    if any(getattr(query, n, None) is not None for n in ("drugs", "age_bands", "sexes")):
        from products.breakdowns import filter_mask

        out = out.loc[filter_mask(out, query)]
    return out


def release_end(incidents: pd.DataFrame) -> pd.Timestamp:
    """The release date of these data (first day not published in public)."""
    return release_date(data_end(incidents))
