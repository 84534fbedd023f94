"""Geography of Sample County: the boundary, synthetic block groups, and point sampling.

All geometry is built in the local kilometre frame of :mod:`data._model` and converted to
WGS84 ``(lng, lat)`` shapely geometry snapped to a 1e-6° grid (what the files store), so the
written geometry and every containment test agree to the last digit.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon, box

from data._model import (
    AREA_KM2,
    CITIES,
    N_BLOCK_GROUPS,
    POPULATION_TOTAL,
    TOWNS,
    latlon_to_xy,
    xy_to_latlon,
)

__all__ = [
    "PRECISION",
    "make_boundary",
    "make_block_groups",
    "sample_in_polygon",
    "sample_in_disk",
    "inside",
]

#: Coordinate grid of every written geometry and point (degrees; ~0.1 m).
PRECISION = 1e-6


def _km_to_ll(geom):
    """Shapely geometry in local km → WGS84 ``(lng, lat)``, snapped to :data:`PRECISION`."""

    def fn(xy: np.ndarray) -> np.ndarray:
        lat, lon = xy_to_latlon(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.set_precision(shapely.transform(geom, fn), PRECISION)


def make_boundary(rng: np.random.Generator) -> Polygon:
    """An irregular, roughly square study area of :data:`AREA_KM2` around the centre.

    A superellipse (exponent 4, 46 × 40 km before scaling) whose radius is modulated by a few
    random low-frequency harmonics and a little per-vertex jitter, then scaled to the target area.

    Returns
    -------
    shapely.Polygon
        WGS84 ``(lng, lat)``.
    """
    n = 96
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    a, b = 23.0, 20.0
    r = 1.0 / ((np.abs(np.cos(theta)) / a) ** 4 + (np.abs(np.sin(theta)) / b) ** 4) ** 0.25
    mod = np.ones(n)
    for m in range(2, 8):
        mod += rng.uniform(0.01, 0.035) * np.cos(m * theta + rng.uniform(0, 2 * np.pi))
    mod += rng.normal(0.0, 0.008, n)
    r = r * mod
    poly = Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    poly = shapely.affinity.scale(poly, *(2 * [np.sqrt(AREA_KM2 / poly.area)]), origin=(0, 0))
    return _km_to_ll(poly)


def _seed_points(rng: np.random.Generator, boundary_km: Polygon, n: int) -> np.ndarray:
    """Block-group seeds: dense in cities and towns (equal-population units), ≥ 0.3 km apart."""
    places = CITIES + TOWNS
    shares = np.array([p.share for p in places] + [1.0 - sum(p.share for p in places)])
    minx, miny, maxx, maxy = boundary_km.bounds
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        k = rng.choice(len(shares), p=shares)
        if k < len(places):
            p = places[k]
            x, y = rng.normal(p.x, p.sigma), rng.normal(p.y, p.sigma)
        else:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not boundary_km.contains(shapely.Point(x, y)):
            continue
        if pts and np.min(np.hypot(*(np.array(pts) - (x, y)).T)) < 0.3:
            continue
        pts.append((x, y))
    return np.array(pts)


def make_block_groups(rng: np.random.Generator, boundary: Polygon) -> list[dict]:
    """Synthetic block groups tiling the boundary: Voronoi cells of population-weighted seeds.

    Each block group gets a population drawn from a lognormal around the mean block-group size;
    the total is then made exactly :data:`POPULATION_TOTAL` by largest-remainder rounding. Since
    seeds are dense where people live, population density is high in the two cities and low in
    the countryside, as in real block groups (which hold roughly equal populations).

    Returns
    -------
    list of dict
        ``geoid`` (a fictional 12-digit id with state code 99), ``population``, ``geometry``
        (WGS84 polygon), ``x``, ``y`` (seed, km), ordered west→east within north→south bands.
    """
    bx, by = latlon_to_xy(*np.array(boundary.exterior.coords)[:, ::-1].T)
    boundary_km = Polygon(np.column_stack([bx, by]))
    seeds = _seed_points(rng, boundary_km, N_BLOCK_GROUPS)
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=box(-60, -60, 60, 60))
    # voronoi_polygons does not keep seed order: match each cell to the seed it contains.
    cell_list = list(cells.geoms)
    owner = shapely.STRtree(cell_list).query(shapely.points(seeds), predicate="intersects")
    by_seed = {int(s): cell_list[int(c)] for s, c in zip(*owner, strict=True)}
    # stable order: 2-km bands north→south, west→east inside a band
    order = np.lexsort((seeds[:, 0], -np.floor(seeds[:, 1] / 2.0)))
    raw = rng.lognormal(mean=0.0, sigma=0.3, size=len(seeds))
    exact = raw / raw.sum() * POPULATION_TOTAL
    pop = np.floor(exact).astype(int)
    pop[np.argsort(-(exact - pop), kind="stable")[: POPULATION_TOTAL - pop.sum()]] += 1
    out = []
    for rank, i in enumerate(order):
        geom = shapely.set_precision(_km_to_ll(by_seed[int(i)]).intersection(boundary), PRECISION)
        if geom.geom_type != "Polygon":  # keep the largest piece of a rare multi-part clip
            geom = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        tract, bg = divmod(rank, 3)
        out.append(
            {
                "geoid": f"99001{100 + tract:04d}00{bg + 1}",
                "population": int(pop[rank]),
                "geometry": geom,
                "x": float(seeds[i, 0]),
                "y": float(seeds[i, 1]),
            }
        )
    return out


def inside(boundary: Polygon, lat, lon) -> np.ndarray:
    """Boolean mask: points strictly inside the (written) boundary polygon."""
    return shapely.contains_xy(boundary, np.asarray(lon, float), np.asarray(lat, float))


def sample_in_polygon(rng: np.random.Generator, poly: Polygon, n: int, boundary: Polygon):
    """``n`` uniform points inside ``poly`` and the boundary, rounded to :data:`PRECISION`.

    Returns ``(lat, lon)`` arrays. Uniform in degrees is uniform in area over a county.
    """
    minx, miny, maxx, maxy = poly.bounds
    lat_out, lon_out = np.empty(0), np.empty(0)
    while lat_out.size < n:
        m = max(16, 3 * (n - lat_out.size))
        lon = np.round(rng.uniform(minx, maxx, m), 6)
        lat = np.round(rng.uniform(miny, maxy, m), 6)
        ok = shapely.contains_xy(poly, lon, lat) & inside(boundary, lat, lon)
        lat_out = np.concatenate([lat_out, lat[ok]])
        lon_out = np.concatenate([lon_out, lon[ok]])
    return lat_out[:n], lon_out[:n]


def sample_in_disk(
    rng: np.random.Generator, x_km: float, y_km: float, radius_m: float, n: int, boundary: Polygon
):
    """``n`` points around a centre: Gaussian (sigma = radius/2) truncated at the radius.

    Returns ``(lat, lon)`` arrays, rounded to :data:`PRECISION` and inside the boundary.
    """
    r_km = radius_m / 1000.0
    lat_out, lon_out = np.empty(0), np.empty(0)
    while lat_out.size < n:
        m = max(16, 2 * (n - lat_out.size))
        dx, dy = rng.normal(0, r_km / 2, m), rng.normal(0, r_km / 2, m)
        keep = np.hypot(dx, dy) < r_km * 0.98
        lat, lon = xy_to_latlon(x_km + dx[keep], y_km + dy[keep])
        lat, lon = np.round(lat, 6), np.round(lon, 6)
        ok = inside(boundary, lat, lon)
        lat_out = np.concatenate([lat_out, lat[ok]])
        lon_out = np.concatenate([lon_out, lon[ok]])
    return lat_out[:n], lon_out[:n]
