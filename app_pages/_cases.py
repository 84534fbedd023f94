"""App layer for the follow-up pages: the queue clock, syncing cases, the sample's cases.

* Clock: the server's time on an incident store; on a file (the bundled sample, a file set by
  ``GAPMAP_INCIDENTS``) the last incident time, so a snapshot's queue makes sense.
* Every Cases run opens the cases of new nonfatal events (:func:`cases.queue.sync_cases`).
* On the bundled sample with an empty cases database, synthetic cases, contacts, services and
  person keys are seeded (:func:`cases.sample.seed_sample`); never on real data.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from app_pages._data import SAMPLE_ENV, data_range, incidents, source_key
from cases import db as cases_db
from cases import queue

__all__ = ["source_key", "route_sheet", "kits", "clock", "is_bundled_sample", "sync", "tables",
           "evaluation_tables"]


def is_bundled_sample() -> bool:
    """True on the bundled synthetic sample (not a store, not a file set in the environment)."""
    return source_key()[0] == "file" and not os.environ.get(SAMPLE_ENV["incidents"])


def clock() -> pd.Timestamp:
    """The queue's now (server time on a store; the data end on a file snapshot)."""
    kind = source_key()[0]
    if kind == "file":
        return pd.Timestamp(data_range()[1]).ceil("min")
    return pd.Timestamp.now().floor("s")


def sync(now: pd.Timestamp) -> int:
    """Seed the sample (bundled sample, empty database) and open cases of new overdoses."""
    if source_key()[0] == "none":
        return 0
    if is_bundled_sample():
        with cases_db.connect() as con:
            empty = con.execute("SELECT count(*) FROM cases").fetchall()[0][0] == 0
        if empty:
            from cases.sample import seed_sample

            seed_sample(incidents(), now)
    return queue.sync_cases(incidents(), now=now)


def tables() -> dict[str, pd.DataFrame]:
    """Every queue table from the cases database (person-level: restricted)."""
    return queue.load_all()


@st.cache_data(max_entries=2, show_spinner=False)
def _synthetic(kind: str, path: str, mtime: float, now: pd.Timestamp) -> dict:
    from cases.sample import synthetic_tables

    return synthetic_tables(incidents(), now)


def evaluation_tables() -> tuple[dict[str, pd.DataFrame] | None, str]:
    """Tables the Evaluation page aggregates, and where they come from.

    The cases database when it has cases; on the bundled sample without one, the synthetic
    cases (in memory); otherwise None.
    """
    if cases_db.exists():
        t = queue.load_all()
        if len(t["cases"]):
            return t, "the cases database"
    if is_bundled_sample():
        return _synthetic(*source_key(), clock()), "synthetic sample cases"
    return None, ""


def route_sheet(q: pd.DataFrame, now: pd.Timestamp) -> bytes:
    """The route sheet PDF of the open cases in ``q`` with the nearest sites."""
    from app_pages._data import resources
    from cases.route_sheet import route_sheet_pdf

    return route_sheet_pdf(q, resources(), now)


def kits() -> tuple[pd.DataFrame | None, str]:
    """The naloxone distribution log (cases database; synthetic on the bundled sample)."""
    from cases.naloxone import load_kits

    if cases_db.exists():
        k = load_kits()
        if len(k):
            return k, "the distribution log"
    if is_bundled_sample():
        from app_pages._data import resources

        return _synthetic_kits(resources(), data_range()[1]), "a synthetic distribution log"
    return None, ""


@st.cache_data(max_entries=4, show_spinner=False)
def _synthetic_kits(sites: pd.DataFrame, end) -> pd.DataFrame:
    """:func:`cases.naloxone.synthetic_kits`, once per resources table and data end (it
    loops over sites × weeks in Python: a third of a Gaps rerun on the sample)."""
    from cases.naloxone import synthetic_kits

    return synthetic_kits(sites, end)
