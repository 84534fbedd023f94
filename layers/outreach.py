"""Post-overdose outreach: recent nonfatal overdoses by area, with the nearest resources.

Post-overdose response teams (PORTs) follow up within 24–72 hours of a nonfatal overdose
(DOMAIN.md). This module lists, per H3 area, the nonfatal overdoses in the last 24, 48 and 72
hours before an "as of" time, and the nearest resource of each kind to the area's centre; and,
for the restricted tier only, the line list of those incidents.

Windows are cumulative: ``n_48h`` includes the incidents of ``n_24h``. The "as of" time defaults
to the latest incident time in the data (a bundled sample ends in the past), not the clock.

Nearest sites come from :func:`layers.access.nearest_sites` (exact great-circle distance, the
one nearest-neighbour search of the project); :func:`nearest_site_names` only adds each site's
name per resource kind.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng
from geo.grid import cells_at
from layers import access

__all__ = ["OUTREACH_HOURS", "recent_nonfatal", "nearest_site_names", "outreach_line_list"]

#: Follow-up windows in hours (DART aims for 24–48 h; PORTs use up to 72 h).
OUTREACH_HOURS = (24, 48, 72)


def _check_incidents(df: pd.DataFrame) -> None:
    need = ["occurred_at", "outcome", "h3"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(
            f"outreach needs incident column(s) {missing}; found {list(df.columns)} — load "
            "incidents through geo.ingest"
        )


def _window(df: pd.DataFrame, as_of, hours: Sequence[int]):
    _check_incidents(df)
    hours = tuple(int(h) for h in hours)
    if not hours or min(hours) <= 0:
        raise ValueError(f"hours must be positive window lengths, got {hours}")
    t = pd.to_datetime(df["occurred_at"])
    as_of = t.max() if as_of is None else pd.Timestamp(as_of)
    if pd.isna(as_of):
        raise ValueError("no incidents with a time: cannot pick an 'as of' time; pass as_of")
    start = as_of - pd.Timedelta(hours=max(hours))
    mask = (df["outcome"].astype("string") == "nonfatal").fillna(False).to_numpy()
    mask &= ((t > start) & (t <= as_of)).to_numpy()
    return hours, as_of, mask, t


def nearest_site_names(
    lat, lon, sites: pd.DataFrame, kinds: Sequence[str] = ("naloxone", "treatment", "ssp")
) -> pd.DataFrame:
    """Nearest site of each kind to each point: ``nearest_<kind>`` (name), ``dist_m_<kind>``.

    A table view of :func:`layers.access.nearest_sites` (which returns distance and position
    arrays for one set of sites): one search per kind, names looked up, metres rounded.

    Parameters
    ----------
    lat, lon : array-like of float
        Query points (WGS84 degrees). A point without finite coordinates gets missing values.
    sites : DataFrame
        Canonical resource sites with ``name``, ``kind``, ``lat``, ``lon``.
    kinds : sequence of str
        Kinds to look up. A kind without sites gives missing name and NaN distance.

    Returns
    -------
    DataFrame
        One row per query point (0..n-1 index), two columns per kind.
    """
    missing = [c for c in ("name", "kind", "lat", "lon") if c not in sites.columns]
    if missing:
        raise ValueError(f"sites need column(s) {missing}; found {list(sites.columns)}")
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    ok = np.isfinite(lat) & np.isfinite(lon)
    out = pd.DataFrame(index=pd.RangeIndex(lat.size))
    for kind in kinds:
        sub = sites[sites["kind"].astype(str) == kind]
        names = np.full(lat.size, None, dtype=object)
        dist = np.full(lat.size, np.nan)
        if len(sub) and ok.any():
            d, idx = access.nearest_sites(
                lat[ok], lon[ok], sub["lat"].to_numpy(float), sub["lon"].to_numpy(float)
            )
            names[ok] = sub["name"].astype(str).to_numpy()[idx]
            dist[ok] = np.round(d, 0)
        out[f"nearest_{kind}"] = names
        out[f"dist_m_{kind}"] = dist
    return out


def recent_nonfatal(
    incidents: pd.DataFrame,
    *,
    res: int = 8,
    as_of=None,
    hours: Sequence[int] = OUTREACH_HOURS,
    sites: pd.DataFrame | None = None,
    kinds: Sequence[str] = ("naloxone", "treatment", "ssp"),
) -> pd.DataFrame:
    """Nonfatal overdoses in the last 24/48/72 h per H3 area, with the nearest resources.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents (``occurred_at``, ``outcome``, uint64 ``h3`` at a resolution ≥ res).
    res : int
        Area resolution (parent roll-up of the stored cells).
    as_of : timestamp-like, optional
        End of the windows (default: the latest incident time).
    hours : sequence of int
        Window lengths; columns ``n_<h>h`` count nonfatal incidents in ``(as_of - h, as_of]``.
    sites : DataFrame, optional
        Canonical resource sites; adds ``nearest_<kind>`` and ``dist_m_<kind>`` per area centre.
    kinds : sequence of str
        Resource kinds to look up.

    Returns
    -------
    DataFrame
        One row per area with at least one nonfatal overdose in the longest window, sorted by
        the shortest window's count then the longer ones (descending); ``h3`` uint64, the
        ``n_*h`` counts, ``as_of``-free (no exact times), and the nearest-site columns.
    """
    hours, as_of, mask, t = _window(incidents, as_of, hours)
    cells = cells_at(incidents, res)[mask]  # point-in-hexagon, not the parent of h3
    age_h = ((as_of - t[mask]).dt.total_seconds() / 3600.0).to_numpy()
    uniq, inv = np.unique(cells, return_inverse=True)
    out = pd.DataFrame({"h3": uniq.astype(np.uint64)})
    for h in sorted(hours):
        out[f"n_{h}h"] = np.bincount(inv, weights=(age_h < h), minlength=uniq.size).astype(np.int64)
    order = [f"n_{h}h" for h in sorted(hours)]
    out = out.sort_values(order + ["h3"], ascending=[False] * len(order) + [True], kind="stable")
    out = out.reset_index(drop=True)
    if sites is not None and len(out):
        lat, lon = cells_to_latlng(out["h3"].to_numpy(np.uint64))
        out = pd.concat([out, nearest_site_names(lat, lon, sites, kinds)], axis=1)
    return out


def outreach_line_list(
    incidents: pd.DataFrame,
    *,
    as_of=None,
    hours: int = 72,
    sites: pd.DataFrame | None = None,
    kinds: Sequence[str] = ("naloxone", "treatment", "ssp"),
) -> pd.DataFrame:
    """The restricted-tier follow-up list: each nonfatal overdose of the last ``hours`` hours.

    Person-level (time, coordinates): never publish it; the privacy gate refuses it in the
    public tier. Sorted newest first, with ``hours_ago`` and the nearest sites to the point.
    """
    (h,), as_of, mask, t = _window(incidents, as_of, (hours,))
    keep = [
        c
        for c in (
            "incident_id",
            "event_id",
            "occurred_at",
            "time_precision",
            "lat",
            "lon",
            "naloxone",
            "naloxone_doses",
            "source",
            "sources",
            "agency",
            "age_band",
            "sex",
        )
        if c in incidents.columns
    ]
    out = incidents.loc[mask, keep].copy()
    out.insert(
        0, "hours_ago", np.round(((as_of - t[mask]).dt.total_seconds() / 3600).to_numpy(), 1)
    )
    out = out.sort_values("hours_ago", kind="stable").reset_index(drop=True)
    if sites is not None and len(out) and {"lat", "lon"} <= set(out.columns):
        out = pd.concat([out, nearest_site_names(out["lat"], out["lon"], sites, kinds)], axis=1)
    return out
