"""Access per analysis cell: nearest site, sites within reach, enhanced 2SFCA.

All distances are exact great-circle distances (metres, :data:`geo.cells.EARTH_RADIUS_M`):
points go onto the unit sphere (:func:`geo.cells.latlon_to_xyz`), a scipy ``cKDTree`` finds
Euclidean (chord) neighbours there — which are exactly the great-circle neighbours, since the
chord is monotone in the arc — and :func:`geo.cells.chord_to_arc_m` turns chords into metres.

Reach is straight-line distance, an *approximation* of travel: the default treatment reach of
24 km stands in for ~30 minutes' drive; walking reach for naloxone is 400 m, syringe services
1.6 km (about a 20-minute walk). All are configurable (:class:`AccessGroup`).

References
----------
Luo, W. & Wang, F. (2003). Measures of spatial accessibility to health care in a GIS
environment: synthesis and a case study in the Chicago region. Environment and Planning B 30(6).
Luo, W. & Qi, Y. (2009). An enhanced two-step floating catchment area (E2SFCA) method.
Health & Place 15(4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.cells import arc_m_to_chord, cells_to_latlng, chord_to_arc_m, latlon_to_xyz

__all__ = [
    "AccessGroup",
    "DEFAULT_REACH_M",
    "DEFAULT_GROUPS",
    "E2SFCA_WEIGHTS",
    "select_sites",
    "nearest_sites",
    "sites_within",
    "distance_table",
    "two_step_fca",
    "cell_access",
    "cell_e2sfca",
]

#: Default reach per kind in metres (straight line): walk to naloxone, walk to an SSP,
#: ~30 minutes' drive to treatment approximated as 24 km. Our choice; configurable.
DEFAULT_REACH_M: dict[str, float] = {"naloxone": 400.0, "ssp": 1600.0, "treatment": 24000.0}

#: Enhanced 2SFCA weights for three equal distance bands of the catchment (pysal/access
#: defaults for 10/20/30-minute zones).
E2SFCA_WEIGHTS: tuple[float, float, float] = (1.0, 0.68, 0.22)

Where = Mapping[str, object] | Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class AccessGroup:
    """A named subset of sites measured per cell.

    Parameters
    ----------
    name : str
        Column suffix: ``dist_m_<name>``, ``sites_within_<name>``.
    where : mapping or callable
        Mapping ``column → value`` (or list of values; boolean flags match ``True``/``False``,
        missing counts as ``False``); or a function ``sites → bool array``.
    reach_m : float
        Distance for "sites within reach".
    label : str
        Words used in explanations ("naloxone", "24/7 naloxone" ...).
    """

    name: str
    where: Where
    reach_m: float
    label: str = ""

    def __post_init__(self):
        if not self.name or not str(self.name).isidentifier():
            raise ValueError(f"AccessGroup name must be an identifier, got {self.name!r}")
        if not np.isfinite(self.reach_m) or self.reach_m <= 0:
            raise ValueError(f"AccessGroup {self.name!r}: reach_m must be > 0, got {self.reach_m}")


def _naloxone(sites: pd.DataFrame) -> np.ndarray:
    """Naloxone sites, plus any other site that distributes naloxone."""
    kind = sites["kind"].astype("string").eq("naloxone").fillna(False).to_numpy(bool)
    dist = sites["naloxone_distribution"].astype("boolean").fillna(False).to_numpy(bool)
    return kind | dist


def _naloxone_24_7(sites: pd.DataFrame) -> np.ndarray:
    return _naloxone(sites) & sites["open_24_7"].astype("boolean").fillna(False).to_numpy(bool)


#: The groups measured by default. "treatment" is any MOUD site (OTP, buprenorphine,
#: naltrexone); "naloxone" includes SSPs and clinics that hand out naloxone.
DEFAULT_GROUPS: tuple[AccessGroup, ...] = (
    AccessGroup("naloxone", _naloxone, DEFAULT_REACH_M["naloxone"], "naloxone"),
    AccessGroup("naloxone_24_7", _naloxone_24_7, 1000.0, "24/7 naloxone"),
    AccessGroup("ssp", {"kind": "ssp"}, DEFAULT_REACH_M["ssp"], "syringe services"),
    AccessGroup("treatment", {"kind": "treatment"}, DEFAULT_REACH_M["treatment"], "MOUD"),
    AccessGroup("medicaid_buprenorphine", {"buprenorphine": True, "medicaid": True},
                DEFAULT_REACH_M["treatment"], "Medicaid buprenorphine"),
)


def select_sites(sites: pd.DataFrame, where: Where) -> np.ndarray:
    """Boolean mask of the sites matching ``where`` (see :class:`AccessGroup`)."""
    if callable(where):
        mask = np.asarray(where(sites), dtype=bool)
        if mask.shape != (len(sites),):
            raise ValueError(f"site filter returned shape {mask.shape}, expected ({len(sites)},)")
        return mask
    mask = np.ones(len(sites), dtype=bool)
    for col, val in where.items():
        if col not in sites.columns:
            raise ValueError(f"cannot filter sites on {col!r}: no such column; found "
                             f"{list(sites.columns)}")
        s = sites[col]
        if isinstance(val, bool):
            mask &= (s.astype("boolean").fillna(False) == val).to_numpy(bool)
        elif isinstance(val, list | tuple | set | frozenset):
            mask &= s.isin(list(val)).fillna(False).to_numpy(bool)
        else:
            mask &= s.eq(val).fillna(False).to_numpy(bool)
    return mask


def _xyz(lat, lon, what: str) -> np.ndarray:
    lat = np.asarray(lat, float)
    lon = np.asarray(lon, float)
    if lat.shape != lon.shape or lat.ndim != 1:
        raise ValueError(f"{what} lat and lon must be 1-d arrays of equal length")
    if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        raise ValueError(f"{what} coordinates contain NaN/inf; drop or fix those rows first")
    return latlon_to_xyz(lat, lon)


def nearest_sites(lat, lon, site_lat, site_lon) -> tuple[np.ndarray, np.ndarray]:
    """Great-circle distance (m) and index of the nearest site for each origin.

    Parameters
    ----------
    lat, lon : array-like
        Origins (e.g. cell centres), degrees.
    site_lat, site_lon : array-like
        Sites, degrees.

    Returns
    -------
    dist_m : ndarray of float
        ``inf`` for every origin when there are no sites.
    index : ndarray of int64
        Position of the nearest site, ``-1`` when there are none.
    """
    q = _xyz(lat, lon, "origin")
    s = _xyz(site_lat, site_lon, "site")
    if s.shape[0] == 0 or q.shape[0] == 0:
        return np.full(q.shape[0], np.inf), np.full(q.shape[0], -1, dtype=np.int64)
    chord, idx = cKDTree(s).query(q, k=1)
    return chord_to_arc_m(chord), idx.astype(np.int64)


def sites_within(lat, lon, site_lat, site_lon, reach_m: float) -> np.ndarray:
    """Number of sites within ``reach_m`` metres (great circle, inclusive) of each origin."""
    if not np.isfinite(reach_m) or reach_m < 0:
        raise ValueError(f"reach_m must be a non-negative distance in metres, got {reach_m}")
    q = _xyz(lat, lon, "origin")
    s = _xyz(site_lat, site_lon, "site")
    if s.shape[0] == 0 or q.shape[0] == 0:
        return np.zeros(q.shape[0], dtype=np.int64)
    r = float(arc_m_to_chord(reach_m)) * (1 + 1e-12)
    return cKDTree(s).query_ball_point(q, r=r, return_length=True).astype(np.int64)


def distance_table(lat, lon, dest_lat, dest_lon, max_m: float) -> pd.DataFrame:
    """Long (origin, destination, distance_m) table of all pairs within ``max_m``.

    Built from a KD-tree ``sparse_distance_matrix`` on unit-sphere coordinates (zero distances
    kept); ``origin`` and ``destination`` are positions in the inputs. Rows come in the
    tree's (deterministic) order, not sorted: sorting millions of pairs costs more than the
    2SFCA that reads them.
    """
    if not np.isfinite(max_m) or max_m <= 0:
        raise ValueError(f"max_m must be a positive distance in metres, got {max_m}")
    q = _xyz(lat, lon, "origin")
    s = _xyz(dest_lat, dest_lon, "destination")
    if q.shape[0] == 0 or s.shape[0] == 0:
        return pd.DataFrame({"origin": np.empty(0, np.int64),
                             "destination": np.empty(0, np.int64),
                             "distance_m": np.empty(0)})
    r = float(arc_m_to_chord(max_m)) * (1 + 1e-12)
    rec = cKDTree(q).sparse_distance_matrix(cKDTree(s), r, output_type="ndarray")
    return pd.DataFrame({
        "origin": rec["i"].astype(np.int64),
        "destination": rec["j"].astype(np.int64),
        "distance_m": chord_to_arc_m(rec["v"]),
    })


def two_step_fca(
    demand,
    supply,
    table: pd.DataFrame,
    catchment_m: float,
    weights: Sequence[float] = E2SFCA_WEIGHTS,
    *,
    return_ratios: bool = False,
):
    """(Enhanced) two-step floating catchment area accessibility.

    ``R_j = S_j / Σ_{i: d_ij ≤ d0} P_i w(d_ij)`` and ``A_i = Σ_{j: d_ij ≤ d0} R_j w(d_ij)``,
    where the catchment ``d0`` is split into ``len(weights)`` equal distance bands with the
    given weights (``(1,)`` gives the original 2SFCA).

    Parameters
    ----------
    demand : array-like, shape (n,)
        Demand per origin (population, or burden = incident counts), ≥ 0.
    supply : array-like, shape (m,)
        Supply per site (capacity, or 1 each), ≥ 0.
    table : DataFrame
        Long ``origin, destination, distance_m`` table (positions), e.g. from
        :func:`distance_table` with ``max_m >= catchment_m``.
    catchment_m : float
        Catchment radius ``d0`` in metres.
    weights : sequence of float
        Band weights, nearest band first (default 1, 0.68, 0.22).
    return_ratios : bool
        Also return ``R_j`` per site.

    Returns
    -------
    ndarray, shape (n,)
        Accessibility ``A_i`` (supply per unit of demand). Sites whose catchment holds no
        demand get ``R_j = 0`` (they serve no one), so no value is infinite.

    References
    ----------
    Luo & Wang (2003); Luo & Qi (2009), enhanced weights.
    """
    P = np.asarray(demand, float)
    S = np.asarray(supply, float)
    if P.ndim != 1 or S.ndim != 1:
        raise ValueError("demand and supply must be 1-d arrays")
    if (P < 0).any() or not np.isfinite(P).all():
        raise ValueError("demand must be finite and non-negative")
    if (S < 0).any() or not np.isfinite(S).all():
        raise ValueError("supply must be finite and non-negative")
    if not np.isfinite(catchment_m) or catchment_m <= 0:
        raise ValueError(f"catchment_m must be a positive distance in metres, got {catchment_m}")
    w = np.asarray(weights, float)
    if w.ndim != 1 or w.size == 0 or (w < 0).any():
        raise ValueError(f"weights must be a non-empty sequence of non-negative numbers: {weights}")
    for c in ("origin", "destination", "distance_m"):
        if c not in table.columns:
            raise ValueError(f"table needs column {c!r}; found {list(table.columns)}")
    i = table["origin"].to_numpy(np.int64)
    j = table["destination"].to_numpy(np.int64)
    d = table["distance_m"].to_numpy(float)
    if i.size and (i.max() >= P.size or j.max() >= S.size or i.min() < 0 or j.min() < 0):
        raise ValueError("table positions fall outside demand/supply arrays")
    keep = d <= catchment_m
    i, j, d = i[keep], j[keep], d[keep]
    band = np.minimum((d / catchment_m * w.size).astype(np.int64), w.size - 1)
    wij = w[band]
    denom = np.bincount(j, weights=P[i] * wij, minlength=S.size)
    R = np.divide(S, denom, out=np.zeros_like(S), where=denom > 0)
    A = np.bincount(i, weights=R[j] * wij, minlength=P.size)
    return (A, R) if return_ratios else A


def _sites_latlon(sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    for c in ("lat", "lon", "kind"):
        if c not in sites.columns:
            raise ValueError(f"sites are missing column {c!r}; found {list(sites.columns)}. "
                             "Load them with layers.sites.load_resources.")
    return sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)


def cell_access(
    cells,
    sites: pd.DataFrame,
    groups: Sequence[AccessGroup] = DEFAULT_GROUPS,
    *,
    open_at=None,
) -> pd.DataFrame:
    """Distance to the nearest site and sites within reach, per cell and group.

    Parameters
    ----------
    cells : array-like of uint64
        Analysis cells; distances are from their centres.
    sites : DataFrame
        Canonical sites (:mod:`layers.sites`).
    groups : sequence of AccessGroup
        Which subsets to measure (default :data:`DEFAULT_GROUPS`).
    open_at : timestamp, optional
        Only count sites open at this local time (``open_24_7`` or their ``hours``).

    Returns
    -------
    DataFrame
        One row per cell in input order: ``h3``, then ``dist_m_<group>`` (``inf`` when the
        group has no site) and ``sites_within_<group>`` for each group.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    slat, slon = _sites_latlon(sites)
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"group names must be unique, got {names}")
    lat, lon = cells_to_latlng(cells)
    base = np.ones(len(sites), dtype=bool)
    if open_at is not None:
        from layers.hours import sites_open_at

        base = sites_open_at(sites, open_at)
    out = {"h3": cells}
    for g in groups:
        m = base & select_sites(sites, g.where)
        out[f"dist_m_{g.name}"] = nearest_sites(lat, lon, slat[m], slon[m])[0]
        out[f"sites_within_{g.name}"] = sites_within(lat, lon, slat[m], slon[m], g.reach_m)
    return pd.DataFrame(out)


def cell_e2sfca(
    cells,
    sites: pd.DataFrame,
    demand,
    *,
    where: Where | None = None,
    catchment_m: float = DEFAULT_REACH_M["treatment"],
    weights: Sequence[float] = E2SFCA_WEIGHTS,
) -> np.ndarray:
    """Enhanced 2SFCA per cell with supply = ``capacity`` (or 1 where missing).

    ``demand`` is one value per cell (population area-weighted onto cells, or burden). The
    result is supply per unit of demand within the catchment, aligned with ``cells``.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    demand = np.asarray(demand, float)
    if demand.shape != cells.shape:
        raise ValueError(f"demand has {demand.size} values for {cells.size} cells")
    m = select_sites(sites, where) if where is not None else np.ones(len(sites), bool)
    chosen = sites.loc[m]
    slat, slon = _sites_latlon(chosen)
    cap = (chosen["capacity"] if "capacity" in chosen.columns
           else pd.Series(np.nan, index=chosen.index))
    supply = pd.to_numeric(cap, errors="coerce").astype(float).fillna(1.0).to_numpy(float)
    lat, lon = cells_to_latlng(cells)
    table = distance_table(lat, lon, slat, slon, catchment_m)
    return two_step_fca(demand, supply, table, catchment_m, weights)
