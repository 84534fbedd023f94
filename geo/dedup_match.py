"""The candidate search of :func:`geo.dedup.candidate_pairs`: a sort-and-sweep over grid cells.

Every pair of records that may pass the exact rule (great-circle distance ≤ ``radius_m``,
time difference ≤ ``window_min``) is generated, plus a few that will not (the exact filter in
:func:`geo.dedup.candidate_pairs` decides). The search is a hair wider than the rule, so
rounding never loses a pair at the edge and the result does not depend on which records are
searched together.

How
---
The sphere is cut into latitude *bands* of height ``H`` (a few radii) and each band into
``N_k`` equal longitude *cells* from longitude -180° eastwards (about square, never narrower
than the longitude reach of the band, see :func:`_lon_reach`; a band near a pole is one cell).
A record is placed in its cell (its *home*) and, as a *ghost*, in each neighbouring cell within
reach whose number is greater than its home's (next cell of its band, the wrap-around cell,
cells of the band above): then every close pair of records in different cells meets exactly
once, as the ghost of the one with the smaller cell and the home of the other. Homes and
ghosts are sorted by ``(cell, time rank)`` in one ``np.sort`` of packed 64-bit keys, and each
element is paired with the following elements of its cell up to ``window_min`` later
(ghost-ghost pairs are skipped). Only numpy, no Python loop over records.

Bounds used (``θ`` = angle of the pair, ``Δφ``, ``Δλ`` its latitude and longitude
differences): ``hav θ = sin²(Δφ/2) + cos φ₁ cos φ₂ sin²(Δλ/2)``, so ``|Δφ| ≤ θ`` and
``sin(|Δλ|/2) ≤ sin(θ/2) / min(cos φ₁, cos φ₂)``.
"""

from __future__ import annotations

import numpy as np

from geo.cells import EARTH_RADIUS_M

__all__ = ["near_pairs"]

#: Band height in units of the (angular) radius: larger cells mean fewer ghosts but more
#: same-cell candidates. 4 is the measured optimum on the 1M bench (city data).
CELL_RADII = 4.0
#: Steps of the sweep before a binary search (each element has a few followers in practice).
_STEPS = 16
_TWO_PI = 2.0 * np.pi
_HALF_PI = 0.5 * np.pi


def _normalise(lat, lon):
    """Latitude in [-π/2, π/2] and longitude + π in [0, 2π) (radians) of the same points."""
    phi = np.radians(lat)
    lam = np.radians(lon)
    bad = np.abs(phi) > _HALF_PI  # not a valid latitude: the point haversine_m sees
    if bad.any():
        p = np.mod(phi[bad] + np.pi, _TWO_PI) - np.pi  # (-π, π]
        over = np.abs(p) > _HALF_PI
        phi[bad] = np.where(over, np.sign(p) * np.pi - p, p)
        lam[bad] = np.where(over, lam[bad] + np.pi, lam[bad])
    lam += np.pi  # from longitude -180°
    if not (lam.min() >= 0 and lam.max() <= _TWO_PI):
        lam = np.mod(lam, _TWO_PI)
    lam[lam >= _TWO_PI] = 0.0  # 180° (and np.mod of a tiny negative may round up to 2π)
    return phi, lam


def _lon_reach(k, H, reach):
    """Longitude reach (radians) of a record in band ``k``: ``|Δλ|`` of any pair within
    ``reach`` whose first record is in band ``k`` (the second is in ``k - 1 .. k + 1``);
    π where the bound fails (near a pole)."""
    edge = np.maximum(np.abs((k - 1) * H - _HALF_PI), np.abs((k + 2) * H - _HALF_PI))
    cmin = np.cos(np.minimum(edge, _HALF_PI))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sin(reach / 2) / cmin
    out = 2.0 * np.arcsin(np.minimum(ratio, 1.0)) * (1 + 1e-6) + 1e-9
    return np.where((cmin > 0) & (ratio < 0.5), out, np.pi)


def _band_cells(k, H, reach):
    """Cells of band ``k`` (1, or ≥ 3 of equal width, each at least the longitude reach of
    the bands ``k - 1 .. k + 1``)."""
    centre = np.cos(np.minimum(np.abs((k + 0.5) * H - _HALF_PI), _HALF_PI))
    with np.errstate(divide="ignore"):
        square = np.where(centre > 0, H / centre, np.inf)
    w = np.maximum.reduce([square, _lon_reach(k - 1, H, reach), _lon_reach(k, H, reach),
                           _lon_reach(k + 1, H, reach)])
    n = np.floor(_TWO_PI / np.minimum(w, _TWO_PI)).astype(np.int64)
    n[n < 3] = 1
    return n


def _grid(phi, reach, nbits):
    """Band height (radians): ``CELL_RADII`` reaches, wider if cell numbers would not fit in
    ``nbits`` bits."""
    H = CELL_RADII * reach
    span = float(phi.max() - phi.min())
    while (span / H + 3) * (_TWO_PI / H + 1) >= 2.0 ** nbits:
        H *= 2
    return min(H, np.pi)


def near_pairs(tu: np.ndarray, lat: np.ndarray, lon: np.ndarray, window_min: float,
               radius_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(a, b)`` of every pair of records (each pair once, ``a != b``) that may be
    at most ``window_min`` minutes and ``radius_m`` metres apart, plus some farther ones.

    ``tu``: int64 microseconds (no NaT); ``lat``, ``lon``: finite degrees. Records in time
    order are searched as they are (else a stable time sort first). Returned pairs are in no
    particular order; ``tu[a] <= tu[b]``.
    """
    m = tu.size
    order = None
    if m > 1 and not (tu[1:] >= tu[:-1]).all():
        order = np.argsort(tu, kind="stable")
        tu, lat, lon = tu[order], lat[order], lon[order]
    # time: a hair wide (whole microseconds, rounded up, plus one)
    wus = np.ceil(float(window_min) * 6e7 * (1 + 1e-12))
    wus = int(min(wus, float(tu[-1] - tu[0]) + 1)) + 1
    reach = radius_m / EARTH_RADIUS_M * (1 + 1e-6) + 1e-9  # angle, a hair wide
    qbits = int(m).bit_length()
    key = _keys(lat, lon, reach, qbits)
    key.sort()
    a, b = _sweep(key, tu, wus, qbits)
    if order is not None:
        a, b = order[a], order[b]
    return a, b


def _keys(lat, lon, reach, qbits):
    """Packed ``cell << (qbits + 1) | rank << 1 | ghost`` of every home and ghost (unsorted).

    Written with few full-size temporaries (fresh memory costs page faults)."""
    m = lat.size
    sh = qbits + 1
    phi, lam = _normalise(lat, lon)
    H = _grid(phi, reach, 62 - qbits)
    ncmax = int(_TWO_PI / H) + 1  # ≥ the cells of any band (cells are at least H wide)
    x = phi
    x += _HALF_PI
    x /= H  # band coordinate
    k = np.floor(x)
    x -= k
    top = np.flatnonzero(x >= 1 - reach / H)  # reaches the band above
    del x, phi
    k = k.astype(np.int64)
    kmin, kmax = int(k.min()), int(k.max())
    k -= kmin
    top = top[k[top] < kmax - kmin]
    if kmax - kmin + 1 <= max(1024, m):  # per band present, then per record
        bands = np.arange(kmin, kmax + 1)
        nc_band = _band_cells(bands, H, reach)
        nc, lreach = nc_band[k], _lon_reach(bands, H, reach)[k]
    else:
        nc_band = None
        nc, lreach = _band_cells(k + kmin, H, reach), _lon_reach(k + kmin, H, reach)
    w = _TWO_PI / nc
    u = np.divide(lam, w)
    np.floor(u, out=u)
    c = u.astype(np.int64)
    last = nc - 1
    np.minimum(c, last, out=c)
    # ghosts in the same band: next cell, and the last cell for cell 0 (wrap-around)
    np.multiply(c, w, out=u)
    np.subtract(lam, u, out=u)  # position in the cell
    u += lreach  # reaches the next cell
    multi = nc > 1
    nxt = np.flatnonzero(multi & (u >= w) & (c < last))
    u -= lreach
    u -= lreach  # reaches the previous cell
    wrap = np.flatnonzero(multi & (c == 0) & (u <= 0))
    del u, w, multi
    up = []  # ghosts in the band above: the (up to 3) cells its longitude reach overlaps
    if top.size:
        ku = k[top] + 1
        ncu = nc_band[ku] if nc_band is not None else _band_cells(ku + kmin, H, reach)
        wu = _TWO_PI / ncu
        lo = np.floor((lam[top] - lreach[top]) / wu).astype(np.int64)
        hi = np.floor((lam[top] + lreach[top]) / wu).astype(np.int64)
        hi = np.where(ncu == 1, lo, np.minimum(hi, lo + 2))
        for off in range(3):
            sel = np.flatnonzero(lo + off <= hi)
            cu = np.mod(lo[sel] + off, ncu[sel])
            up.append((((ku[sel] * ncmax + cu) << sh) | (top[sel] << 1)) | 1)
    del lam, lreach
    key = np.empty(m + nxt.size + wrap.size + sum(x.size for x in up), np.int64)
    home = key[:m]
    np.multiply(k, ncmax, out=home)
    del k
    home += c
    del c
    home <<= sh
    q = np.arange(m, dtype=np.int64)
    q <<= 1
    home |= q
    del q
    at = m
    for part in (home[nxt] + ((1 << sh) | 1), home[wrap] + ((last[wrap] << sh) | 1), *up):
        key[at:at + part.size] = part
        at += part.size
    return key


def _sweep(key, tu, wus, qbits):
    """Pairs (ranks) of each sorted element with the following ones of its cell at most
    ``wus`` later, not both ghosts."""
    sh = qbits + 1
    rank = (key >> 1) & ((1 << qbits) - 1)
    t = tu[rank]
    cell = key >> sh
    cand = np.flatnonzero((t[1:] - t[:-1] <= wus) & (cell[1:] == cell[:-1]))
    if cand.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # how many follow each candidate within its cell and window: step while any do (few
    # steps in practice), then a binary search for those still going
    cnt = np.ones(cand.size, np.int64)
    live = np.arange(cand.size)
    for step in range(2, _STEPS + 2):
        pos = cand[live] + step
        ok = pos < key.size
        live, pos = live[ok], pos[ok]
        base = cand[live]
        live = live[(t[pos] - t[base] <= wus) & (cell[pos] == cell[base])]
        if live.size == 0:
            break
        cnt[live] += 1
    else:
        base = cand[live]
        hi_rank = np.searchsorted(tu, tu[rank[base]] + wus, side="right")
        cnt[live] = np.searchsorted(key, (cell[base] << sh) | (hi_rank << 1)) - base - 1
    del t, cell
    first = np.repeat(cand, cnt)
    second = np.arange(first.size, dtype=np.int64)
    second -= np.repeat(np.cumsum(cnt) - cnt - cand - 1, cnt)
    keep = np.flatnonzero(((key[first] & key[second]) & 1) == 0)
    return rank[first[keep]], rank[second[keep]]
