"""Street-network access columns of the gap product (issue 11): minutes to the nearest site,
sites within N minutes, travel-time 2SFCA and the road-network island notes.

Imported by :mod:`products.gaps`; the street-network code (:mod:`layers.reach`, scipy's graph
module) is imported inside each function, only when a travel mode is asked for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.cells import cells_to_latlng

__all__ = ["travel_notes"]


def _travel_columns(cells, resources, mode: str, roads, within_min: float) -> pd.DataFrame:
    """``travel_min_naloxone, travel_min_treatment, travel_min_ssp`` (minutes from the cell
    centre on the road network, NaN = no route; NaN throughout for straight line),
    ``sites_within_min_<group>`` and ``travel_mode`` (issue 11)."""
    from layers.reach import TRAVEL_GROUPS, cell_travel_minutes, travel_profile

    n = len(cells)
    graph = travel_profile(mode, roads)
    if graph is None:
        out = pd.DataFrame({f"travel_min_{g}": np.full(n, np.nan) for g in TRAVEL_GROUPS}
                           | {f"sites_within_min_{g}": pd.array([pd.NA] * n, dtype="Int64")
                              for g in TRAVEL_GROUPS})
    else:
        lat, lon = cells_to_latlng(np.asarray(cells, np.uint64))
        out = cell_travel_minutes(lat, lon, resources, graph, within_min=within_min)
    out["travel_mode"] = mode
    return out


def _travel_2sfca(cells, resources, demand, mode: str, roads, catchment_min: float
                  ) -> np.ndarray:
    """2SFCA for treatment with a ``catchment_min``-minute travel-time catchment
    (:func:`layers.travel.travel_2sfca`; supply = ``capacity``, 1 where missing, as
    ``e2sfca_treatment``); NaN throughout for straight line."""
    from layers.access import select_sites
    from layers.reach import travel_profile
    from layers.travel import travel_2sfca

    graph = travel_profile(mode, roads)
    if graph is None:
        return np.full(len(cells), np.nan)
    sub = resources[select_sites(resources, {"kind": "treatment"})]
    if not len(sub):
        return np.zeros(len(cells))
    cap = sub["capacity"] if "capacity" in sub.columns else pd.Series(np.nan, index=sub.index)
    supply = pd.to_numeric(cap, errors="coerce").astype(float).fillna(1.0).to_numpy(float)
    lat, lon = cells_to_latlng(np.asarray(cells, np.uint64))
    return travel_2sfca(graph, lat, lon, demand, sub["lat"].to_numpy(float),
                        sub["lon"].to_numpy(float), catchment_min, supply=supply)


def travel_notes(resources: pd.DataFrame, travel: str | None, roads) -> list[str]:
    """One sentence per access group whose sites partly lie on an island of the road network
    (:func:`layers.travel.island_note`); empty for straight line. The CLI prints them, the Gaps
    page shows them."""
    if travel in (None, ""):  # straight line
        return []
    from layers.access import DEFAULT_GROUPS, select_sites
    from layers.reach import TRAVEL_GROUPS, travel_profile
    from layers.travel import island_note

    graph = travel_profile(travel, roads)
    if graph is None or resources is None or not len(resources):
        return []
    by_name = {g.name: g for g in DEFAULT_GROUPS}
    notes = []
    for name in TRAVEL_GROUPS:
        sub = resources[select_sites(resources, by_name[name].where)]
        if len(sub):
            note = island_note(graph, sub["lat"].to_numpy(float), sub["lon"].to_numpy(float),
                               f"{by_name[name].label or name} sites")
            if note:
                notes.append(note)
    return notes
