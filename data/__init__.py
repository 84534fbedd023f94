"""Bundled synthetic sample data (see ``data/README.md``). Nothing here is real person data."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DATA_DIR", "get_path", "SAMPLE_FILES"]

DATA_DIR = Path(__file__).resolve().parent

#: Logical name → file shipped in ``data/``.
SAMPLE_FILES = {
    "incidents": "sample_incidents.csv",
    "resources": "sample_resources.csv",
    "candidates": "sample_candidates.csv",
    "boundary": "sample_boundary.geojson",
    "population": "sample_population.geojson",
    "ground_truth": "sample_ground_truth.json",
    "neighbourhoods": "sample_neighbourhoods.geojson",
    "zips": "sample_zips.geojson",
    "places": "sample_places.geojson",
    "roads": "sample_roads.geojson",  # synthetic streets (data/_roads.py, issue 11)
}


def get_path(name: str) -> Path:
    """Path of a bundled sample file by logical name (``"incidents"``, ``"resources"`` …)."""
    if name not in SAMPLE_FILES:
        raise KeyError(f"unknown sample file {name!r}; choose one of {sorted(SAMPLE_FILES)}")
    path = DATA_DIR / SAMPLE_FILES[name]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: regenerate it with `python -m data.generate`")
    return path
