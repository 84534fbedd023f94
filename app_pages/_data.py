"""App layer, part 1: data sources and the cached loaders (see :mod:`app_pages._app`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

if TYPE_CHECKING:
    from app_pages._ui import Filters

__all__ = [
    "file_key",
    "WINDOWS",
    "PUBLIC_WINDOWS",
    "SAMPLE_ENV",
    "sample_path",
    "STORE_DIR_ENV",
    "store_dir",
    "store_names",
    "store_file",
    "store_path",
    "source_key",
    "incidents",
    "filtered",
    "data_range",
    "resources",
    "candidates",
    "boundary",
    "grid",
    "cell_counts",
]

WINDOWS = {
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "Last 365 days": 365,
    "All data": None,
}
#: Public tier: the fixed release windows (geo.privacy.release), ending at the release date.
PUBLIC_WINDOWS = {
    "Last week": 7,
    "Last 4 weeks": 28,
    "Last 13 weeks": 91,
    "Last 52 weeks": 364,
}
SAMPLE_ENV = {
    "incidents": "GAPMAP_INCIDENTS",
    "resources": "GAPMAP_RESOURCES",
    "candidates": "GAPMAP_CANDIDATES",
    "boundary": "GAPMAP_BOUNDARY",
    "population": "GAPMAP_POPULATION",
}


# ------------------------------------------------------------------ data sources
def sample_path(name: str) -> Path | None:
    """Path of a bundled sample file (or its ``GAPMAP_<NAME>`` override); None if absent."""
    env = os.environ.get(SAMPLE_ENV.get(name, ""), "").strip()
    if env:
        p = Path(env)
        return p if p.exists() else None
    from data import get_path

    try:
        return get_path(name)
    except FileNotFoundError:
        return None


def _mtime(path: Path | str | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).exists() else 0.0


def file_key(name: str) -> tuple[str, float]:
    """(path or "", mtime) of a sample/override input: the cache key part of one file."""
    p = sample_path(name)
    return (str(p) if p else "", _mtime(p))


#: Environment variable naming the folder of incident stores offered on the Data page.
STORE_DIR_ENV = "GAPMAP_STORE_DIR"
_PROJECT_ROOT = Path(__file__).resolve().parents[1]
_STORE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def store_dir() -> Path:
    """Folder of the incident stores (``GAPMAP_STORE_DIR``, default ``data/store/``); created."""
    env = os.environ.get(STORE_DIR_ENV, "").strip()
    folder = Path(env) if env else _PROJECT_ROOT / "data" / "store"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


#: Database files in the store folder that are not incident stores (the follow-up cases).
RESERVED_NAMES = frozenset({"cases"})


def store_names() -> list[str]:
    """Names (file stems) of the ``*.duckdb`` stores in :func:`store_dir`, sorted.

    Files whose stem is not a valid store name (see :func:`store_file`) are not offered.
    """
    return sorted(
        p.stem
        for p in store_dir().glob("*.duckdb")
        if p.is_file() and _STORE_NAME.fullmatch(p.stem) and p.stem not in RESERVED_NAMES
    )


def store_file(name: str) -> Path:
    """The store file of a store name in :func:`store_dir` (never a path typed by a user).

    Raises
    ------
    ValueError
        The name is empty, longer than 64 characters or has characters other than letters,
        digits, ``-`` and ``_``.
    """
    name = str(name).strip()
    if not _STORE_NAME.fullmatch(name):
        raise ValueError(
            "A store name may use only letters, digits, - and _ (at most 64 characters)."
        )
    if name in RESERVED_NAMES:
        raise ValueError(f"'{name}' is reserved for the follow-up database: choose another name.")
    return store_dir() / f"{name}.duckdb"


def store_path() -> str | None:
    """The incident store in use, if it exists.

    The Data page's choice (always a file of :func:`store_dir`, set by that page only), else
    ``GAPMAP_STORE`` (the operator's initial store).
    """
    p = st.session_state.get("store_path") or os.environ.get("GAPMAP_STORE", "").strip()
    return p if p and Path(p).exists() else None


def source_key() -> tuple[str, str, float]:
    """(kind, path, mtime) identifying the incident data: the cache key of everything."""
    sp = store_path()
    if sp:
        return ("store", sp, _mtime(sp))
    p = sample_path("incidents")
    if p is None:
        return ("none", "", 0.0)
    return ("file", str(p), _mtime(p))


@st.cache_resource(max_entries=2, show_spinner="Loading incidents…")
def _load_incidents(kind: str, path: str, mtime: float) -> pd.DataFrame:
    """Canonical incidents with their record keys (``rkey``, for the privacy gate), once."""
    from geo.privacy import with_record_keys

    if kind == "store":  # one query into Arrow (geo.store_read); no ingest code imported
        from geo.store import IncidentStore

        return with_record_keys(IncidentStore(path).load())
    from geo.ingest import read_incidents

    return with_record_keys(read_incidents(path).incidents)


def incidents() -> pd.DataFrame:
    """Canonical incidents of the current source (shared and read-only: never mutate)."""
    kind, path, mtime = source_key()
    if kind == "none":
        st.warning(
            "No incident data: the bundled sample is missing and no store is configured. "
            "Upload a file on the Data page."
        )
        st.stop()
    try:  # the store is opened read-only for this load and closed at once (never held idle)
        return _load_incidents(kind, path, mtime)
    except ValueError as exc:  # not a store, or locked by an ingest for longer than the wait
        st.error(str(exc))
        st.stop()


def filtered(f: Filters, *, outcomes: bool = True) -> pd.DataFrame:
    """Incidents within the sidebar filters (applied outside the cache)."""
    from geo.grid import filter_incidents

    df = incidents()
    return filter_incidents(
        df, start=f.start, end=f.end, outcomes=f.outcomes if outcomes else None, sources=f.sources
    )


@st.cache_data(max_entries=4, show_spinner=False)
def _data_range(kind: str, path: str, mtime: float) -> tuple[pd.Timestamp, pd.Timestamp]:
    t = pd.to_datetime(_load_incidents(kind, path, mtime)["occurred_at"])
    return t.min(), t.max()


def data_range() -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last incident time of the current source."""
    return _data_range(*source_key())


@st.cache_data(max_entries=4, show_spinner=False)
def _load_sites(path: str, mtime: float, what: str) -> pd.DataFrame:
    """Canonical resource sites (``layers.sites.load_resources``) or the candidate CSV."""
    if what == "resources":
        from layers.sites import load_resources

        return load_resources(path).sites
    return pd.read_csv(path)


def resources() -> pd.DataFrame | None:
    """Canonical resource sites (treatment, SSP, naloxone), or None if no file."""
    p = st.session_state.get("resources_path") or sample_path("resources")
    return None if p is None else _load_sites(str(p), _mtime(p), "resources")


def candidates() -> pd.DataFrame | None:
    """Candidate host sites for new naloxone boxes, or None if no file."""
    p = sample_path("candidates")
    return None if p is None else _load_sites(str(p), _mtime(p), "candidates")


@st.cache_resource(max_entries=2, show_spinner=False)
def _load_boundary(path: str, mtime: float):
    """The study area as one WGS84 (Multi)Polygon (:func:`geo.boundary.boundary_geometry`, the
    normaliser of the CLI and the briefing)."""
    from geo.boundary import boundary_geometry

    return boundary_geometry(path)


def boundary():
    """The study area as one shapely (Multi)Polygon in WGS84, or None."""
    p = sample_path("boundary")
    return None if p is None else _load_boundary(str(p), _mtime(p))


@st.cache_data(max_entries=8, show_spinner=False)
def _grid(path: str, mtime: float, res: int) -> np.ndarray:
    from geo.grid import analysis_grid

    return analysis_grid(_load_boundary(path, mtime), res)


def grid(res: int) -> np.ndarray | None:
    """Every analysis cell of the study area at ``res`` (sorted uint64), or None."""
    p = sample_path("boundary")
    return None if p is None else _grid(str(p), _mtime(p), int(res))


@st.cache_resource(max_entries=4, show_spinner=False)
def _subset(kind, path, mtime, start, end, outcomes, sources) -> pd.DataFrame:
    """The incidents within filters, shared read-only by every cached wrapper of one rerun (a
    filter change filters 1M rows once, not once per table)."""
    from geo.grid import filter_incidents

    df = _load_incidents(kind, path, mtime)
    if start is None and end is None and outcomes is None and sources is None:
        return df
    return filter_incidents(df, start=start, end=end, outcomes=outcomes, sources=sources)


@st.cache_data(max_entries=16, show_spinner=False)
def _cell_counts(kind, path, mtime, res, start, end, outcomes, sources) -> pd.DataFrame:
    from geo.grid import incidents_to_cells

    df = _subset(kind, path, mtime, start, end, outcomes, sources)
    return incidents_to_cells(df, res, breakdown=False)  # pages show totals only: 10x faster


def cell_counts(f: Filters, res: int | None = None) -> pd.DataFrame:
    """Counts per occupied cell for the filters (restricted-tier values; publish before showing)."""
    return _cell_counts(*source_key(), int(res or f.res), f.start, f.end, f.outcomes, f.sources)
