"""Parameters of the synthetic "Sample County" and its local metric frame.

Every number here is our own modelling choice for a fictional county shaped like a mid-sized US
county (Guilford County, NC: ~540k people, ~1,700 km², two cities, ~1,300 suspected-overdose EMS
calls a year). Positions are given in kilometres east (x) and north (y) of the county centre and
converted to WGS84 by :func:`xy_to_latlon`, an equirectangular projection that is accurate to
~0.1 % over a county.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "GENERATOR_VERSION",
    "SEED",
    "CENTRE_LAT",
    "CENTRE_LON",
    "START_DATE",
    "END_DATE",
    "AREA_KM2",
    "POPULATION_TOTAL",
    "N_BLOCK_GROUPS",
    "EVENTS_PER_YEAR",
    "AS_OF",
    "Place",
    "Signal",
    "CITIES",
    "TOWNS",
    "HOSPITALS",
    "PERSISTENT_HOTSPOTS",
    "EMERGING_HOTSPOT",
    "SPIKE",
    "xy_to_latlon",
    "latlon_to_xy",
]

#: Bump when the model changes (the committed files record it).
GENERATOR_VERSION = "1.0.0"
#: Default seed of ``python -m data.generate``.
SEED = 20261115

CENTRE_LAT = 36.07
CENTRE_LON = -79.79
START_DATE = "2023-11-16"
END_DATE = "2026-11-15"  # inclusive: the data end date
AS_OF = "2026-11-01"  # resource directory snapshot date

AREA_KM2 = 1700.0
POPULATION_TOTAL = 540_000
N_BLOCK_GROUPS = 350
#: Baseline overdose events a year (all sources, before the emerging hotspot and the spike);
#: with 90 % of events attended by EMS this gives ~1,300 EMS calls a year.
EVENTS_PER_YEAR = 1445.0

_M_PER_DEG = 6_371_008.8 * np.pi / 180.0  # metres per degree of latitude (mean Earth radius)
_COS_LAT0 = float(np.cos(np.radians(CENTRE_LAT)))


def xy_to_latlon(x_km, y_km) -> tuple[np.ndarray, np.ndarray]:
    """Local kilometres (east, north of the centre) → WGS84 ``(lat, lon)`` degrees."""
    x = np.asarray(x_km, dtype=float)
    y = np.asarray(y_km, dtype=float)
    return CENTRE_LAT + y * 1000.0 / _M_PER_DEG, CENTRE_LON + x * 1000.0 / (_M_PER_DEG * _COS_LAT0)


def latlon_to_xy(lat, lon) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 ``(lat, lon)`` degrees → local km ``(x, y)``; inverse of :func:`xy_to_latlon`."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    return (lon - CENTRE_LON) * _M_PER_DEG * _COS_LAT0 / 1000.0, (
        lat - CENTRE_LAT
    ) * _M_PER_DEG / 1000.0


@dataclass(frozen=True)
class Place:
    """A named settlement: centre (km), spread (km, Gaussian sigma) and share of block groups."""

    name: str
    x: float
    y: float
    sigma: float
    share: float


@dataclass(frozen=True)
class Signal:
    """A planted signal: where, how big, when, and whether resources were kept away from it."""

    id: str
    type: str  # persistent_hotspot | emerging_hotspot | spike
    name: str
    x: float
    y: float
    radius_m: float
    share: float = 0.0  # persistent hotspots: share of baseline events
    rate_per_day: float = 0.0  # emerging hotspot: extra events a day after start
    extra_events: float = 0.0  # spike: extra events over the window
    start: str = START_DATE
    end: str = END_DATE
    underserved: bool = False  # resources are kept away from it (a planted access gap)
    fatal_share: float = 0.08
    drug: str | None = None  # dominant suspected drug, if any


#: Two cities (a Greensboro-like one at the centre, a High Point-like one to the south-west).
CITIES = (
    Place("Northgate", 1.0, 1.0, 4.6, 0.46),
    Place("Highmoor", -15.5, -10.5, 3.0, 0.21),
)
#: Small towns; the remaining share of block groups is spread uniformly (rural).
TOWNS = (
    Place("Oak Summit", -8.5, 12.0, 1.6, 0.05),
    Place("Jamesford", -10.5, -6.0, 1.4, 0.04),
    Place("Gibbs Mill", 16.0, 4.0, 1.5, 0.04),
)
#: Hospitals (agency of hospital records: the nearest one).
HOSPITALS = (
    Place("Northgate Regional Medical Center", 0.4, 2.2, 0, 0),
    Place("Northgate North Hospital", 2.5, 7.0, 0, 0),
    Place("Highmoor Medical Center", -15.0, -9.6, 0, 0),
)

PERSISTENT_HOTSPOTS = (
    Signal("H1", "persistent_hotspot", "Northgate downtown", 1.8, 0.4, 400, share=0.050),
    Signal(
        "H2",
        "persistent_hotspot",
        "Northgate east side",
        5.6,
        -0.4,
        450,
        share=0.045,
        underserved=True,
    ),
    Signal("H3", "persistent_hotspot", "Highmoor centre", -15.0, -9.9, 350, share=0.040),
    Signal(
        "H4",
        "persistent_hotspot",
        "Eastern highway motel strip",
        12.5,
        -6.5,
        500,
        share=0.030,
        underserved=True,
    ),
)
EMERGING_HOTSPOT = Signal(
    "E1",
    "emerging_hotspot",
    "Northern fringe (new)",
    5.5,
    12.5,
    400,
    rate_per_day=0.6,
    start="2026-08-01",
    underserved=True,
)
SPIKE = Signal(
    "S1",
    "spike",
    "Bad-batch week, Northgate south-west",
    -2.0,
    -3.8,
    500,
    extra_events=25,
    start="2026-10-05",
    end="2026-10-11",
    fatal_share=0.2,
    drug="fentanyl+xylazine",
)
