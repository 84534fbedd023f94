"""Synthetic follow-up data for the sample: cases, contacts, services and person keys.

Generated (seeded) from the sample incidents, never written into the repository's sample
files. Lags from overdose to receipt differ by source as the issue describes (police and
hospital reports arrive within hours or days, EMS exports weeks later), so the timeliness
figures have something to show.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cases import queue

__all__ = ["synthetic_tables", "seed_sample", "SOURCE_LAG_HOURS", "WORKERS"]

#: mean hours from overdose to receipt, per source (exponential)
SOURCE_LAG_HOURS = {"police": 6.0, "hospital": 30.0, "ems": 24.0 * 12, "odmap": 2.0,
                    "other": 48.0}
WORKERS = ("coach.amy", "coach.ben", "peer.cal")
_ACCEPT = {"naloxone kit": 0.8, "fentanyl test strips": 0.6, "xylazine test strips": 0.3,
           "overdose education": 0.7, "safety plan": 0.5, "referral: MOUD": 0.35,
           "referral: syringe services": 0.25, "referral: recovery coach": 0.3,
           "referral: basic needs": 0.2}


def synthetic_tables(incidents: pd.DataFrame, now, *, days: int = 180, seed: int = 12
                     ) -> dict[str, pd.DataFrame]:
    """Cases of the nonfatal events of the last ``days`` before ``now``, with their work.

    Parameters
    ----------
    incidents : DataFrame
        De-duplicated events (the sample).
    now : timestamp
        The clock: cases are those received by ``now``; contacts happen before ``now``.

    Returns
    -------
    dict
        ``cases``, ``contacts``, ``services``, ``notes`` as :func:`cases.queue.load_all` gives.
    """
    rng = np.random.default_rng(seed)
    now = pd.Timestamp(now)
    occ = pd.to_datetime(incidents["occurred_at"])
    ev = incidents.loc[(incidents["outcome"].astype("string") == "nonfatal").fillna(False)
                       & (occ > now - pd.Timedelta(days=days)) & (occ <= now)]
    cases = queue._cases_from_events(ev, now)
    n = len(cases)
    lag = np.array([SOURCE_LAG_HOURS.get(str(s), 48.0) for s in cases["source"]])
    received = cases["occurred_at"] + pd.to_timedelta(rng.exponential(lag), unit="h")
    keep = (received <= now).to_numpy()
    cases = cases.assign(received_at=received.dt.floor("min"), opened_at=received.dt.floor(
        "min")).loc[keep].reset_index(drop=True)
    n = len(cases)
    # pseudonymous person keys: most people once, some two or three times
    keys = np.array([f"P{i:05d}" for i in rng.permutation(n)], dtype=object)
    again = np.flatnonzero(rng.random(n) < 0.06)  # a few people overdose again
    keys[again] = keys[rng.integers(0, n, len(again))]
    cases["person_key"] = keys
    cases["assigned_to"] = rng.choice(WORKERS, n)
    contacts, services, notes = [], [], []
    for i, c in cases.iterrows():
        t = c["received_at"] + pd.Timedelta(hours=float(rng.exponential(10.0)))
        for _ in range(3):
            if t > now:
                break
            mode = str(rng.choice(queue.MODES, p=[0.5, 0.2, 0.3]))
            u = rng.random()
            outcome = ("reached" if u < 0.5 else "no answer" if u < 0.8 else "declined"
                       if u < 0.9 else "unreachable")
            contacts.append((c["case_id"], t.floor("min"), mode, outcome,
                             c["assigned_to"], t.floor("min")))
            if outcome == "reached":
                got = [s for s, p in _ACCEPT.items() if rng.random() < p]
                if "referral: MOUD" in got and rng.random() < 0.45:
                    got.append("confirmed linkage")
                services += [(c["case_id"], t.floor("min"), s, c["assigned_to"]) for s in got]
                break
            if outcome in ("declined", "unreachable"):
                break
            t = t + pd.Timedelta(hours=float(rng.uniform(8, 30)))
        if i % 7 == 0:
            notes.append((c["case_id"], c["received_at"], c["assigned_to"],
                          "Met at the shelter; prefers text messages."))
    cases["status"] = np.where(cases["received_at"] < now - pd.Timedelta(days=7), "closed",
                               "open")
    cases["closed_at"] = np.where(cases["status"] == "closed",
                                  cases["received_at"] + pd.Timedelta(days=7), pd.NaT)
    cases["closed_at"] = pd.to_datetime(cases["closed_at"])
    cases["close_reason"] = np.where(cases["status"] == "closed", "follow-up window ended",
                                     None)
    return {
        "cases": cases[queue.CASE_COLUMNS],
        "contacts": pd.DataFrame(contacts, columns=["case_id", "attempted_at", "mode",
                                                    "outcome", "worker", "recorded_at"]),
        "services": pd.DataFrame(services, columns=["case_id", "provided_at", "service",
                                                    "worker"]),
        "notes": pd.DataFrame(notes, columns=["case_id", "written_at", "worker", "text"]),
    }


def seed_sample(incidents: pd.DataFrame, now, *, path: str | Path | None = None,
                **kw) -> dict[str, int]:
    """Write :func:`synthetic_tables` into an (empty) operations database; rows per table."""
    from cases.db import connect

    tables = synthetic_tables(incidents, now, **kw)
    with connect(path) as con:
        if con.execute("SELECT count(*) FROM cases").fetchall()[0][0]:
            raise ValueError("the cases database already has cases: seed only an empty one")
        for name, df in tables.items():
            con.register("t", df)
            con.execute(f"INSERT INTO {name} SELECT * FROM t")
            con.unregister("t")
    return {k: len(v) for k, v in tables.items()}
