"""Coverage within a radius: which demand points each site reaches, as a sparse matrix.

A demand point (an analysis-cell centre) is *covered* by a site when the great-circle distance
between them is at most the radius. Pairs are found with a KD-tree on unit-sphere ``xyz``
coordinates (:func:`geo.cells.latlon_to_xyz`): the Euclidean chord is monotone in the arc, so a
ball query with the chord of the radius (:func:`geo.cells.arc_m_to_chord`) returns exactly the
pairs within the great-circle radius. Candidates near the threshold are re-checked with the
haversine formula so the matrix agrees with :func:`geo.cells.haversine_m` to the metre.

The matrix is the input of the maximal covering location core (:mod:`layers.siting`): rows are
demand points, columns are sites, entries are 1.

References
----------
Church, R. and ReVelle, C. (1974). The maximal covering location problem. *Papers of the
Regional Science Association* 32, 101–118.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from geo.cells import arc_m_to_chord, haversine_m, latlon_to_xyz

__all__ = ["coverage_matrix", "covered_by_any", "pairs_within"]

# Relative slack on the chord before the exact haversine re-check (float rounding only).
_SLACK = 1e-9


def _check_points(lat, lon, name: str) -> tuple[np.ndarray, np.ndarray]:
    la = np.asarray(lat, dtype=float).ravel()
    lo = np.asarray(lon, dtype=float).ravel()
    if la.shape != lo.shape:
        raise ValueError(f"{name}: lat and lon differ in length ({la.size} vs {lo.size})")
    if la.size and not (np.isfinite(la).all() and np.isfinite(lo).all()):
        bad = int(np.flatnonzero(~(np.isfinite(la) & np.isfinite(lo)))[0])
        raise ValueError(
            f"{name}: coordinate at position {bad} is missing or not finite; drop it first"
        )
    if la.size and (np.abs(la).max() > 90 or np.abs(lo).max() > 180):
        raise ValueError(f"{name}: latitudes must be within ±90 and longitudes within ±180 degrees")
    return la, lo


def _check_radius(radius_m: float, name: str = "radius_m") -> float:
    r = float(radius_m)
    if not np.isfinite(r) or r < 0:
        raise ValueError(f"{name} must be a non-negative number of metres, got {radius_m!r}")
    return r


def coverage_matrix(demand_lat, demand_lon, site_lat, site_lon, radius_m: float) -> sp.csr_matrix:
    """Binary ``n_demand × n_sites`` CSR matrix: 1 where the site is within ``radius_m``.

    Parameters
    ----------
    demand_lat, demand_lon : array-like of float, shape (n,)
        Demand points (cell centres), WGS84 degrees.
    site_lat, site_lon : array-like of float, shape (m,)
        Sites (candidate or existing), WGS84 degrees.
    radius_m : float
        Coverage radius, great-circle metres (≥ 0); a point exactly at the radius is covered.

    Returns
    -------
    scipy.sparse.csr_matrix of int8, shape (n, m)
        Sorted indices, no duplicates, entries 1.

    Raises
    ------
    ValueError
        On a negative radius or missing / out-of-range coordinates.

    References
    ----------
    Church, R. and ReVelle, C. (1974). The maximal covering location problem.
    """
    r = _check_radius(radius_m)
    dla, dlo = _check_points(demand_lat, demand_lon, "demand points")
    sla, slo = _check_points(site_lat, site_lon, "sites")
    n, m = dla.size, sla.size
    if n == 0 or m == 0:
        return sp.csr_matrix((n, m), dtype=np.int8)
    chord = float(arc_m_to_chord(r)) * (1.0 + _SLACK) + 1e-15
    tree_d = cKDTree(latlon_to_xyz(dla, dlo))
    tree_s = cKDTree(latlon_to_xyz(sla, slo))
    coo = tree_d.sparse_distance_matrix(tree_s, chord, output_type="ndarray")
    i = coo["i"].astype(np.int64)
    j = coo["j"].astype(np.int64)
    keep = haversine_m(dla[i], dlo[i], sla[j], slo[j]) <= r
    i, j = i[keep], j[keep]
    mat = sp.csr_matrix((np.ones(i.size, dtype=np.int8), (i, j)), shape=(n, m))
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def covered_by_any(demand_lat, demand_lon, site_lat, site_lon, radius_m: float) -> np.ndarray:
    """Boolean mask (n,): demand points within ``radius_m`` of at least one site.

    Used for existing sites, which fix their cells as covered. No sites → all False.
    """
    cov = coverage_matrix(demand_lat, demand_lon, site_lat, site_lon, radius_m)
    return np.diff(cov.indptr) > 0


def pairs_within(lat, lon, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(a, b)``, ``a < b``, of points *closer* than ``distance_m`` (strictly).

    Used for the minimum-spacing rule between chosen sites: two sites closer than the spacing
    may not both be chosen. ``distance_m = 0`` gives no pairs.

    Returns
    -------
    a, b : numpy.ndarray of int64
        Sorted by ``(a, b)``.
    """
    d = _check_radius(distance_m, "min_spacing_m")
    la, lo = _check_points(lat, lon, "sites")
    if d == 0 or la.size < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    chord = float(arc_m_to_chord(d)) * (1.0 + _SLACK) + 1e-15
    pairs = cKDTree(latlon_to_xyz(la, lo)).query_pairs(chord, output_type="ndarray")
    if pairs.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    a = np.minimum(pairs[:, 0], pairs[:, 1]).astype(np.int64)
    b = np.maximum(pairs[:, 0], pairs[:, 1]).astype(np.int64)
    keep = haversine_m(la[a], lo[a], la[b], lo[b]) < d
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a))
    return a[order], b[order]
