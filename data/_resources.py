"""Synthetic resource sites (treatment, syringe services, naloxone) and candidate host sites.

Sites follow population, except that no treatment or naloxone site is placed near the signals
marked ``underserved`` in :mod:`data._model` — the planted access gaps. Candidate host sites for
new naloxone boxes are placed everywhere people are, gaps included, so siting can close them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from shapely.geometry import Polygon

from data._geography import sample_in_disk, sample_in_polygon
from data._model import AS_OF, CITIES, EMERGING_HOTSPOT, PERSISTENT_HOTSPOTS, TOWNS, latlon_to_xy
from layers.sites import RESOURCE_COLUMNS as _SITE_SCHEMA

__all__ = [
    "RESOURCE_COLUMNS",
    "CANDIDATE_COLUMNS",
    "GAP_RADIUS_KM",
    "make_resources",
    "make_candidates",
]

#: The canonical resource schema, in order: owned by layers.sites (one definition).
RESOURCE_COLUMNS = list(_SITE_SCHEMA)
CANDIDATE_COLUMNS = ["site_id", "name", "subtype", "lat", "lon", "open_24_7", "hours"]
#: No treatment or naloxone site within this distance (km) of an underserved signal.
GAP_RADIUS_KM = {"urban": 2.5, "rural": 4.0}

_BUSINESS = (
    "Mo-Fr 08:00-17:00",
    "Mo-Th 08:00-18:00; Fr 08:00-12:00",
    "Mo-Fr 09:00-17:00; Sa 09:00-12:00",
)
_PHARMACY = (
    "Mo-Fr 09:00-21:00; Sa 09:00-18:00; Su 10:00-18:00",
    "Mo-Fr 08:00-20:00; Sa 09:00-17:00",
    "Mo-Fr 09:00-19:00; Sa 09:00-14:00",
    "Mo-Su 08:00-22:00",
)
_LABEL = {
    "otp": "Opioid Treatment Program",
    "buprenorphine": "Buprenorphine Clinic",
    "naltrexone": "Behavioral Health (naltrexone)",
    "ssp_fixed": "Syringe Services",
    "ssp_mobile": "Mobile Syringe Services",
    "pharmacy": "Pharmacy",
    "naloxone_box": "Naloxone Box",
    "vending_machine": "Naloxone Vending Machine",
    "distribution_site": "Naloxone Distribution",
    "library": "Library",
    "fire_station": "Fire Station",
    "transit_stop": "Transit Stop",
    "convenience_store": "Convenience Store",
}
_LIBRARY = "Mo-Th 09:00-21:00; Fr,Sa 09:00-18:00; Su 14:00-18:00"


def _gaps() -> list[tuple[float, float, float]]:
    out = []
    for s in (*PERSISTENT_HOTSPOTS, EMERGING_HOTSPOT):
        if s.underserved:
            urban = min(np.hypot(s.x - c.x, s.y - c.y) for c in CITIES) < 8.0
            out.append((s.x, s.y, GAP_RADIUS_KM["urban" if urban else "rural"]))
    return out


def _place_name(lat: float, lon: float) -> str:
    x, y = latlon_to_xy(lat, lon)
    places = CITIES + TOWNS
    d = [np.hypot(x - p.x, y - p.y) / p.sigma for p in places]
    i = int(np.argmin(d))
    return places[i].name if d[i] < 2.5 else "Sample County"


class _Sampler:
    """Points by block-group population (optionally only near the cities), avoiding gap zones."""

    def __init__(self, rng, boundary: Polygon, block_groups: list[dict]):
        self.rng, self.boundary, self.bgs = rng, boundary, block_groups
        self.pop = np.array([g["population"] for g in block_groups], dtype=float)
        self.xy = np.array([(g["x"], g["y"]) for g in block_groups])

    def points(
        self, n: int, *, avoid_gaps: bool, city_km: float | None = None, uniform: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points in block groups drawn by population (by area if ``uniform``), only in
        block groups within ``city_km`` (scaled by city size) of a city centre if given, and
        outside the planted gap zones if ``avoid_gaps``. Returns ``(lat, lon)``."""
        if uniform:  # by area: every part of the county alike
            w = np.array([g["geometry"].area for g in self.bgs])
        else:
            w = self.pop.copy()
        if city_km is not None:
            near = np.zeros(len(self.bgs), bool)
            for c in CITIES:
                near |= np.hypot(self.xy[:, 0] - c.x, self.xy[:, 1] - c.y) < city_km * c.sigma / 4.6
            w = w * near
        lat_out, lon_out = [], []
        while len(lat_out) < n:
            g = self.bgs[int(self.rng.choice(len(self.bgs), p=w / w.sum()))]
            la, lo = sample_in_polygon(self.rng, g["geometry"], 1, self.boundary)
            x, y = latlon_to_xy(la[0], lo[0])
            if avoid_gaps and any(np.hypot(x - gx, y - gy) < r for gx, gy, r in _gaps()):
                continue
            lat_out.append(la[0])
            lon_out.append(lo[0])
        return np.array(lat_out), np.array(lon_out)

    def near(self, x: float, y: float, radius_m: float, n: int):
        return sample_in_disk(self.rng, x, y, radius_m, n, self.boundary)


def make_resources(
    rng: np.random.Generator, boundary: Polygon, block_groups: list[dict]
) -> pd.DataFrame:
    """Treatment, SSP and naloxone sites in the canonical resource columns (CSV-ready strings).

    Counts: 3 OTPs, 25 buprenorphine prescribers, 5 naltrexone clinics, 2 fixed and 1 mobile
    SSP, 40 pharmacies, 10 naloxone boxes, 3 vending machines, 4 distribution sites.
    """
    smp = _Sampler(rng, boundary, block_groups)
    north, high = CITIES
    h1, _, h3, _ = PERSISTENT_HOTSPOTS
    rows: list[dict] = []

    def add(subtype, kind, lat, lon, **kw):
        for la, lo in zip(np.atleast_1d(lat), np.atleast_1d(lon), strict=True):
            i = sum(r["subtype"] == subtype for r in rows) + 1
            base = {
                "name": f"{_place_name(la, lo)} {_LABEL[subtype]} {i:02d} (fictional)",
                "kind": kind,
                "subtype": subtype,
                "lat": la,
                "lon": lo,
                "methadone": False,
                "buprenorphine": False,
                "naltrexone": False,
                "naloxone_distribution": False,
                "fentanyl_test_strips": False,
                "open_24_7": False,
                "hours": "",
                "medicaid": False,
                "sliding_fee": False,
                "walk_in": False,
                "capacity": None,
                "source": "synthetic directory",
                "as_of": AS_OF,
            }
            base.update({k: (v() if callable(v) else v) for k, v in kw.items()})
            rows.append(base)

    b = rng.random
    # opioid treatment programmes: two in Northgate (one near downtown), one in Highmoor
    caps = iter([480, 320, 260])
    for la, lo in (
        smp.near(h1.x - 0.9, h1.y + 0.6, 400, 1),
        smp.near(north.x - 4.0, north.y + 1.5, 600, 1),
        smp.near(high.x + 1.2, high.y + 0.4, 400, 1),
    ):
        add(
            "otp",
            "treatment",
            la,
            lo,
            methadone=True,
            buprenorphine=True,
            naltrexone=lambda: bool(b() < 0.5),
            naloxone_distribution=True,
            hours="Mo-Fr 05:30-13:00; Sa 06:00-10:00",
            medicaid=True,
            sliding_fee=True,
            walk_in=True,
            capacity=lambda: next(caps),
            source="synthetic SAMHSA-like locator",
        )
    la, lo = smp.points(25, avoid_gaps=True, city_km=9.0)
    add(
        "buprenorphine",
        "treatment",
        la,
        lo,
        buprenorphine=True,
        naltrexone=lambda: bool(b() < 0.3),
        hours=lambda: _BUSINESS[rng.integers(3)],
        medicaid=lambda: bool(b() < 0.7),
        sliding_fee=lambda: bool(b() < 0.4),
        walk_in=lambda: bool(b() < 0.25),
        capacity=lambda: int(rng.integers(3, 28)) * 10 if b() < 0.6 else None,
        source="synthetic SAMHSA-like locator",
    )
    la, lo = smp.points(5, avoid_gaps=True, city_km=9.0)
    add(
        "naltrexone",
        "treatment",
        la,
        lo,
        naltrexone=True,
        hours=lambda: _BUSINESS[rng.integers(3)],
        medicaid=lambda: bool(b() < 0.6),
        sliding_fee=lambda: bool(b() < 0.5),
        capacity=lambda: int(rng.integers(2, 10)) * 10 if b() < 0.5 else None,
        source="synthetic SAMHSA-like locator",
    )
    # syringe services: fixed downtown Northgate and Highmoor; a mobile unit's home stop
    ssp = dict(
        naloxone_distribution=True,
        fentanyl_test_strips=True,
        medicaid=False,
        sliding_fee=False,
        walk_in=True,
        source="synthetic NASEN-like list",
    )
    for (la, lo), hrs in zip(
        (smp.near(h1.x + 0.3, h1.y - 0.5, 300, 1), smp.near(h3.x - 0.6, h3.y + 0.4, 300, 1)),
        ("Mo,We,Fr 10:00-16:00", "Tu,Th 11:00-17:00"),
        strict=True,
    ):
        add("ssp_fixed", "ssp", la, lo, hours=hrs, **ssp)
    add(
        "ssp_mobile",
        "ssp",
        *smp.near(north.x - 1.5, north.y - 2.0, 500, 1),
        hours="Tu 17:00-20:00; Sa 12:00-16:00",
        **ssp,
    )
    # naloxone: pharmacies (standing order), public boxes, vending machines, distribution sites
    la, lo = smp.points(40, avoid_gaps=True)
    add(
        "pharmacy",
        "naloxone",
        la,
        lo,
        naloxone_distribution=True,
        medicaid=True,
        walk_in=True,
        hours=lambda: _PHARMACY[rng.integers(len(_PHARMACY))],
        source="synthetic pharmacy list",
    )
    for i in rng.choice(40, size=2, replace=False):  # two 24-hour pharmacies
        rows[-40 + int(i)].update(open_24_7=True, hours="24/7")
    box = dict(naloxone_distribution=True, walk_in=True, source="synthetic health-department list")
    pts = [
        smp.near(h1.x, h1.y, 700, 2),
        smp.near(h3.x, h3.y, 600, 1),
        smp.points(7, avoid_gaps=True, city_km=8.0),
    ]
    for k, (la, lo) in enumerate(
        zip(np.concatenate([p[0] for p in pts]), np.concatenate([p[1] for p in pts]), strict=True)
    ):
        outdoor = k < 6
        add(
            "naloxone_box",
            "naloxone",
            la,
            lo,
            open_24_7=outdoor,
            hours="24/7" if outdoor else _BUSINESS[k % 3],
            fentanyl_test_strips=k % 3 == 0,
            **box,
        )
    vend = dict(
        naloxone_distribution=True,
        fentanyl_test_strips=True,
        open_24_7=True,
        hours="24/7",
        walk_in=True,
        source="synthetic health-department list",
    )
    for la, lo in (
        smp.near(north.x, north.y, 500, 1),
        smp.near(h1.x + 0.4, h1.y - 0.3, 300, 1),
        smp.near(high.x, high.y, 500, 1),
    ):
        add("vending_machine", "naloxone", la, lo, **vend)
    pts = [
        smp.near(north.x + 0.2, north.y + 0.3, 300, 1),
        smp.near(high.x - 0.3, high.y, 300, 1),
        smp.points(2, avoid_gaps=True, city_km=6.0),
    ]
    add(
        "distribution_site",
        "naloxone",
        np.concatenate([p[0] for p in pts]),
        np.concatenate([p[1] for p in pts]),
        naloxone_distribution=True,
        fentanyl_test_strips=True,
        walk_in=True,
        hours=_BUSINESS[0],
        source="synthetic health-department list",
    )
    df = pd.DataFrame(rows)
    df.insert(0, "site_id", [f"R{i:03d}" for i in range(1, len(df) + 1)])
    return _csv_ready(df[RESOURCE_COLUMNS])


def make_candidates(
    rng: np.random.Generator, boundary: Polygon, block_groups: list[dict]
) -> pd.DataFrame:
    """~300 candidate host sites for new naloxone boxes (libraries, fire stations, transit stops,
    convenience stores), everywhere people are — gap areas included."""
    smp = _Sampler(rng, boundary, block_groups)
    parts = []
    specs = (
        ("library", smp.points(20, avoid_gaps=False), lambda: (False, _LIBRARY)),
        (
            "fire_station",
            [
                np.concatenate(a)
                for a in zip(
                    smp.points(12, avoid_gaps=False, uniform=True),
                    smp.points(16, avoid_gaps=False),
                    strict=True,
                )
            ],
            lambda: (True, "24/7"),
        ),
        ("transit_stop", smp.points(180, avoid_gaps=False, city_km=8.0), lambda: (True, "24/7")),
        (
            "convenience_store",
            smp.points(64, avoid_gaps=False),
            lambda: (True, "24/7") if rng.random() < 0.4 else (False, "Mo-Su 06:00-23:00"),
        ),
    )
    # the gap areas have somewhere to put a box: highway-corridor stores, a rural fire station
    gap_sites = {"convenience_store": [], "fire_station": []}
    for sig in (*PERSISTENT_HOTSPOTS, EMERGING_HOTSPOT):
        if sig.underserved:
            gap_sites["convenience_store"].append(smp.near(sig.x, sig.y, 1200, 2))
            gap_sites["fire_station"].append(smp.near(sig.x, sig.y, 1500, 1))
    specs = tuple(
        (
            sub,
            [np.concatenate([p[k], *(g[k] for g in gap_sites.get(sub, []))]) for k in (0, 1)],
            hrs,
        )
        for sub, p, hrs in specs
    )
    for subtype, (la, lo), hours in specs:
        for i, (a, o) in enumerate(zip(la, lo, strict=True), start=1):
            open247, hrs = hours()
            parts.append(
                {
                    "name": f"{_place_name(a, o)} {_LABEL[subtype]} {i:03d} (fictional)",
                    "subtype": subtype,
                    "lat": a,
                    "lon": o,
                    "open_24_7": open247,
                    "hours": hrs,
                }
            )
    df = pd.DataFrame(parts)
    df.insert(0, "site_id", [f"C{i:03d}" for i in range(1, len(df) + 1)])
    return _csv_ready(df[CANDIDATE_COLUMNS])


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Booleans → ``true``/``false``, coordinates → 6 decimals, missing capacity → blank."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == bool:
            out[c] = np.where(out[c], "true", "false")
    out["lat"] = out["lat"].map("{:.6f}".format)
    out["lon"] = out["lon"].map("{:.6f}".format)
    if "capacity" in out:
        out["capacity"] = [
            ("" if v is None or pd.isna(v) else str(int(v))) for v in out["capacity"]
        ]
    return out
