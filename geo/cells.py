"""The one owner of H3 conversions and axis order.

Inside gapmap an H3 cell is a ``uint64`` in a numpy array. Hex strings exist only at the
edges (pydeck, exports, the UI) and are made here. h3-py speaks ``(lat, lng)``; shapely, GeoJSON
and pydeck speak ``(lng, lat)``; scikit-learn's haversine metric wants ``[lat, lon]`` in radians;
KD-trees want unit-sphere ``xyz``. Every one of those conversions lives in this module and
nowhere else.

Point indexing is vectorised through h3ronpy (Rust bindings to the H3 C library's algorithm,
within ~5 % of the C library's CPU per point; see ``bench/bench_h3.py``), chunked over the
machine's cores in threads (it releases the GIL); other vectorised operations go through
polars-h3. Parent roll-up is pure bit
arithmetic on the uint64 representation, so it costs a few nanoseconds per cell (but a point's
coarse hexagon is not always the parent of its fine one: see :func:`cells_to_parent`).

References
----------
Uber H3 index bit layout: https://h3geo.org/docs/core-library/h3Indexing
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import polars_h3 as plh3

if TYPE_CHECKING:  # imported where used: the dashboard's first page needs no scipy; a
    # command counting stored cells needs neither h3-py, h3ronpy nor shapely (~0.05 s CPU)
    import h3
    import scipy.sparse as sp

__all__ = [
    "EARTH_RADIUS_M",
    "MIN_RES",
    "MAX_RES",
    "latlng_to_cells",
    "cells_to_parent",
    "cells_resolution",
    "cells_to_str",
    "str_to_cells",
    "cells_to_latlng",
    "cells_to_polygons",
    "polygon_to_cells",
    "disk_pairs",
    "disk_matrix",
    "latlon_to_radians",
    "latlon_to_xyz",
    "chord_to_arc_m",
    "arc_m_to_chord",
    "haversine_m",
]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG), the radius h3 uses for great-circle km
MIN_RES, MAX_RES = 0, 15

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT


def _check_res(res: int) -> int:
    if isinstance(res, bool) or not isinstance(res, int | np.integer):
        raise TypeError(f"H3 resolution must be an integer, got {res!r}")
    if not MIN_RES <= int(res) <= MAX_RES:
        raise ValueError(f"H3 resolution must be between {MIN_RES} and {MAX_RES}, got {res}")
    return int(res)


def _as_cells(cells) -> np.ndarray:
    arr = np.asarray(cells)
    if arr.dtype != np.uint64:
        if arr.dtype.kind in "iu":
            arr = arr.astype(np.uint64)
        elif arr.dtype.kind in "OUS":
            return str_to_cells(arr)
        else:
            raise TypeError(f"H3 cells must be uint64 (or hex strings), got dtype {arr.dtype}")
    return arr


def latlng_to_cells(lat, lon, res: int) -> np.ndarray:
    """Index points to H3 cells, vectorised.

    Parameters
    ----------
    lat, lon : array-like of float
        WGS84 degrees. NaN or infinite coordinates give cell 0 (no cell).
    res : int
        H3 resolution, 0–15.

    Returns
    -------
    numpy.ndarray of uint64
        One cell per point, in input order.
    """
    res = _check_res(res)
    lat = np.ascontiguousarray(lat, dtype=np.float64)
    lon = np.ascontiguousarray(lon, dtype=np.float64)
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in shape: {lat.shape} vs {lon.shape}")
    if lat.size == 0:
        return np.empty(0, dtype=np.uint64)
    if lat.ndim != 1:
        return latlng_to_cells(lat.ravel(), lon.ravel(), res).reshape(lat.shape)
    finite = np.isfinite(lat) & np.isfinite(lon)
    if finite.all():
        return _index_points(lat, lon, res)
    out = np.zeros(lat.shape, dtype=np.uint64)
    out[finite] = _index_points(lat[finite], lon[finite], res)
    return out


_CHUNK_MIN = 200_000  # below this one thread is faster than starting two


def _index_points(lat: np.ndarray, lon: np.ndarray, res: int) -> np.ndarray:
    """Finite points → cells with h3ronpy, in up to ``os.cpu_count()`` threads of equal chunks."""
    from h3ronpy.vector import coordinates_to_cells as _h3ronpy_cells  # before the threads

    n = lat.size
    threads = max(1, min(os.cpu_count() or 1, n // _CHUNK_MIN))
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    step = -(-n // threads)
    errors: list[BaseException] = []

    def work(a: int) -> None:
        b = min(n, a + step)
        try:
            out[a:b] = np.asarray(_h3ronpy_cells(lat[a:b], lon[a:b], res))
        except BaseException as e:  # re-raised in the caller, never lost in a thread
            errors.append(e)

    workers = [threading.Thread(target=work, args=(a,)) for a in range(step, n, step)]
    for t in workers:
        t.start()
    work(0)
    for t in workers:
        t.join()
    if errors:
        raise errors[0]
    return out


def cells_resolution(cells) -> np.ndarray:
    """Resolution of each cell (read from the index bits)."""
    arr = _as_cells(cells)
    return ((arr & _RES_MASK) >> _RES_SHIFT).astype(np.int8)


def cells_to_parent(cells, res: int) -> np.ndarray:
    """Parent of each cell at a coarser resolution, by bit arithmetic.

    The parent keeps the base cell and the first ``res`` digits; finer digits become 7
    (unused) and the resolution field becomes ``res``. Cell 0 (no cell) stays 0.

    A cell-to-cell operation: the parent is *not* always the hexagon that contains a point of
    the child (~6.5 % of points lie in a neighbour). To count incidents at ``res`` use
    :func:`geo.grid.cells_at` (point-in-hexagon), not the parent of their base cell.

    Raises
    ------
    ValueError
        If any cell is coarser than ``res``.
    """
    res = _check_res(res)
    arr = _as_cells(cells)
    if arr.size == 0:
        return arr.copy()
    valid = arr != 0
    cur = cells_resolution(arr)
    if np.any(cur[valid] < res):
        raise ValueError(
            f"cannot roll up to res {res}: some cells are coarser (res {int(cur[valid].min())})"
        )
    fill = np.uint64((1 << (3 * (15 - res))) - 1)
    out = (arr & ~_RES_MASK) | (np.uint64(res) << _RES_SHIFT) | fill
    out[~valid] = 0
    return out


def cells_to_str(cells) -> np.ndarray:
    """uint64 cells → lower-case hex strings (object array), e.g. ``'85283473fffffff'``."""
    arr = _as_cells(cells)
    return np.array([format(int(c), "x") for c in arr.tolist()], dtype=object)


def str_to_cells(strings) -> np.ndarray:
    """Hex strings → uint64 cells. Raises ``ValueError`` naming the first bad string."""
    import h3.api.basic_int as h3int

    vals = list(np.asarray(strings, dtype=object).ravel())
    out = np.empty(len(vals), dtype=np.uint64)
    for i, s in enumerate(vals):
        try:
            c = int(str(s).strip(), 16)
        except ValueError:
            raise ValueError(f"not an H3 cell id (hex string expected): {s!r}") from None
        if not h3int.is_valid_cell(c):
            raise ValueError(f"not a valid H3 cell: {s!r}")
        out[i] = c
    return out


def cells_to_latlng(cells) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres as ``(lat, lon)`` arrays of degrees."""
    arr = _as_cells(cells)
    if arr.size == 0:
        return np.empty(0), np.empty(0)
    s = pl.Series("c", arr, dtype=pl.UInt64).to_frame()
    out = s.select(plh3.cell_to_lat("c").alias("lat"), plh3.cell_to_lng("c").alias("lon"))
    return out["lat"].to_numpy(), out["lon"].to_numpy()


def cells_to_polygons(cells) -> np.ndarray:
    """Cell outlines as shapely Polygons in ``(lng, lat)`` order (GeoJSON / shapely axis order)."""
    import h3
    import shapely

    arr = _as_cells(cells)
    polys = []
    for c in arr.tolist():
        ring = h3.cell_to_boundary(h3.int_to_str(c))  # ((lat, lng), ...)
        polys.append(shapely.Polygon([(lng, lat) for lat, lng in ring]))
    return np.array(polys, dtype=object)


def _polygon_to_h3shape(geom) -> h3.H3Shape:
    """shapely (lng, lat) polygon / multipolygon → h3 LatLngPoly / LatLngMultiPoly."""
    import h3

    def one(poly) -> h3.LatLngPoly:
        outer = [(y, x) for x, y in poly.exterior.coords[:-1]]
        holes = [[(y, x) for x, y in r.coords[:-1]] for r in poly.interiors]
        return h3.LatLngPoly(outer, *holes)

    if geom.geom_type == "Polygon":
        return one(geom)
    if geom.geom_type == "MultiPolygon":
        return h3.LatLngMultiPoly(*[one(p) for p in geom.geoms])
    raise TypeError(f"study area must be a Polygon or MultiPolygon, got {geom.geom_type}")


def polygon_to_cells(geom, res: int) -> np.ndarray:
    """Every cell that overlaps a study-area polygon (sorted uint64), so the grid covers it fully.

    Parameters
    ----------
    geom : shapely Polygon or MultiPolygon in WGS84 ``(lng, lat)``.
    res : int
    """
    import h3

    res = _check_res(res)
    shape = _polygon_to_h3shape(geom)
    cells = h3.polygon_to_cells_experimental(shape, res, contain="overlap")
    return np.sort(np.fromiter((h3.str_to_int(c) for c in cells), dtype=np.uint64))


def disk_pairs(cells, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour pairs ``(i, j)`` within ``k`` grid steps among a set of cells (self included).

    ``i`` and ``j`` are positions in ``cells``; neighbours outside the set are dropped. Built
    with a vectorised ``grid_disk`` and a binary search, never a Python loop over cells.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k (grid-disk radius) must be a non-negative integer, got {k!r}")
    arr = _as_cells(cells)
    n = arr.size
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if np.unique(arr).size != n:
        raise ValueError("cells must be unique to build a neighbourhood")
    order = np.argsort(arr, kind="stable")
    sorted_cells = arr[order]
    df = pl.DataFrame({"i": np.arange(n, dtype=np.int64), "c": arr})
    ex = df.select("i", plh3.grid_disk("c", int(k)).alias("nb")).explode("nb")
    ii = ex["i"].to_numpy()
    nb = ex["nb"].cast(pl.UInt64).fill_null(0).to_numpy().astype(np.uint64, copy=False)
    pos = np.searchsorted(sorted_cells, nb)
    pos = np.minimum(pos, n - 1)
    hit = sorted_cells[pos] == nb
    return ii[hit], order[pos[hit]]


def disk_matrix(cells, k: int = 1, include_self: bool = True) -> sp.csr_matrix:
    """Binary ``n × n`` CSR weights: 1 where two cells are within ``k`` steps.

    ``include_self=True`` gives the Gi* (star) neighbourhood; ``False`` drops the diagonal.
    """
    import scipy.sparse as sp

    arr = _as_cells(cells)
    i, j = disk_pairs(arr, k)
    if not include_self:
        keep = i != j
        i, j = i[keep], j[keep]
    n = arr.size
    w = sp.csr_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    w.sum_duplicates()
    w.data[:] = 1.0
    return w


def latlon_to_radians(lat, lon) -> np.ndarray:
    """``[lat, lon]`` in radians, shape (n, 2): the input scikit-learn's haversine metric wants."""
    return np.radians(np.column_stack([np.asarray(lat, float), np.asarray(lon, float)]))


def latlon_to_xyz(lat, lon) -> np.ndarray:
    """Unit-sphere ``xyz`` (n, 3); Euclidean nearest neighbours there are great-circle nearest."""
    la = np.radians(np.asarray(lat, float))
    lo = np.radians(np.asarray(lon, float))
    cl = np.cos(la)
    return np.column_stack([cl * np.cos(lo), cl * np.sin(lo), np.sin(la)])


def chord_to_arc_m(chord) -> np.ndarray:
    """Unit-sphere chord length → great-circle distance in metres (2R·asin(c/2))."""
    c = np.clip(np.asarray(chord, float) / 2.0, 0.0, 1.0)
    return 2.0 * EARTH_RADIUS_M * np.arcsin(c)


def arc_m_to_chord(metres) -> np.ndarray:
    """Great-circle metres → unit-sphere chord (for KD-tree radius queries)."""
    return 2.0 * np.sin(np.asarray(metres, float) / (2.0 * EARTH_RADIUS_M))


def haversine_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in metres between paired points (broadcasting)."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))

