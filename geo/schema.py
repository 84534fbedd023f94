"""Canonical incident columns: what leaves ingest and what every analysis reads.

No names, no addresses, no exact age: the schema has no column for them, so ingest cannot
carry them through.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "INCIDENT_COLUMNS",
    "REQUIRED_COLUMNS",
    "OUTCOMES",
    "NALOXONE_VALUES",
    "SOURCES",
    "TIME_PRECISIONS",
    "BASE_RES",
    "empty_incidents",
    "check_incidents",
]

#: Resolution at which every incident is indexed once; coarser views are parent roll-ups.
BASE_RES = 11

OUTCOMES = ("fatal", "nonfatal", "unknown")
NALOXONE_VALUES = ("yes", "no", "unknown")
SOURCES = ("ems", "police", "hospital", "odmap", "other")
TIME_PRECISIONS = ("minute", "hour", "day")

#: column → pandas dtype, in canonical order.
INCIDENT_COLUMNS: dict[str, str] = {
    "incident_id": "string",
    "occurred_at": "datetime64[us]",
    "time_precision": "string",
    "lat": "float64",
    "lon": "float64",
    "outcome": "string",
    "naloxone": "string",
    "naloxone_doses": "Int64",
    "source": "string",
    "agency": "string",
    "suspected_drug": "string",
    "age_band": "string",
    "sex": "string",
    "location_precision": "string",
    "area": "string",  # name/code of the area a record is located to only (optional)
    "in_study_area": "boolean",
    "event_id": "string",
    "n_sources": "Int64",
    "sources": "string",  # e.g. "ems+police", sorted, after de-duplication
    "h3": "uint64",  # cell at BASE_RES
}

#: Only a date (or date-time) and a location are required of an input file.
REQUIRED_COLUMNS = ("occurred_at", "lat", "lon")


def empty_incidents() -> pd.DataFrame:
    """A zero-row frame with every canonical column and dtype."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in INCIDENT_COLUMNS.items()})


def check_incidents(df: pd.DataFrame, need: tuple[str, ...] = ("occurred_at", "lat", "lon")):
    """Raise a clear ``ValueError`` if a frame lacks canonical columns an analysis needs."""
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(
            f"incident table is missing column(s) {missing}; found {list(df.columns)}. "
            "Load incidents through geo.ingest so they have the canonical columns."
        )
    if "h3" in need and df["h3"].dtype != np.uint64:
        raise TypeError(f"column 'h3' must be uint64 cells, got {df['h3'].dtype}")
