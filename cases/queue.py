"""The post-overdose follow-up queue: one case per nonfatal overdose event, 24/48/72 h clock.

* :func:`sync_cases` opens a case for every nonfatal event (any source) not yet in the queue;
  the case id is the de-duplicated ``event_id``, so merged duplicate reports give one case.
  Deadlines run from the **overdose time** (``occurred_at``), not the ingest time.
* :func:`assign`, :func:`log_contact`, :func:`log_services`, :func:`add_note`,
  :func:`close_case` record the work; :func:`queue_table` lists cases with their deadline,
  overdue flag and repeat-overdose risk (pseudonymous ``person_key``: two or more overdoses
  within :data:`REPEAT_DAYS` days → ``elevated_risk``, listed first).

All tables are person-level (restricted tier): callers audit every view.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cases.db import connect

__all__ = ["DEADLINE_HOURS", "MODES", "CONTACT_OUTCOMES", "SERVICES", "REPEAT_DAYS",
           "NOTE_MAX", "NAME_WARNING", "sync_cases", "insert_cases", "assign", "log_contact",
           "log_services", "add_note", "close_case", "queue_table", "case_detail", "load_all",
           "first_times",
           "CASE_COLUMNS"]

DEADLINE_HOURS = (24, 48, 72)
MODES = ("phone", "text", "in person")
CONTACT_OUTCOMES = ("reached", "no answer", "declined", "unreachable", "moved", "deceased")
SERVICES = ("naloxone kit", "fentanyl test strips", "xylazine test strips",
            "overdose education", "safety plan", "referral: MOUD",
            "referral: syringe services", "referral: recovery coach", "referral: basic needs",
            "confirmed linkage")
REPEAT_DAYS = 90
NOTE_MAX = 280
NAME_WARNING = ("Do not write names, addresses, phone numbers or dates of birth unless your "
                "program's data agreement allows them. Notes are restricted and audited.")
CASE_COLUMNS = ["case_id", "event_id", "occurred_at", "source", "sources", "area", "lat", "lon",
                "person_key", "opened_at", "received_at", "assigned_to", "status", "closed_at",
                "close_reason"]


def _now(now) -> pd.Timestamp:
    return pd.Timestamp(now) if now is not None else pd.Timestamp.now().floor("s")


def _event_ids(df: pd.DataFrame) -> pd.Series:
    if "event_id" in df.columns:
        return df["event_id"].astype("string")
    return df["source"].astype("string") + ":" + df["incident_id"].astype("string")


def _cases_from_events(events: pd.DataFrame, now: pd.Timestamp) -> pd.DataFrame:
    import h3

    from geo.grid import cells_at

    ev = events.reset_index(drop=True)
    area = [h3.int_to_str(int(c)) for c in cells_at(ev, 8)] if len(ev) else []
    pk = ev["person_key"].astype("string") if "person_key" in ev.columns else pd.NA
    return pd.DataFrame({
        "case_id": _event_ids(ev).to_numpy(), "event_id": _event_ids(ev).to_numpy(),
        "occurred_at": pd.to_datetime(ev["occurred_at"]).to_numpy(),
        "source": ev["source"].astype("string").to_numpy(),
        "sources": (ev["sources"] if "sources" in ev.columns else ev["source"]).astype(
            "string").to_numpy(),
        "area": area, "lat": ev["lat"].to_numpy(float), "lon": ev["lon"].to_numpy(float),
        "person_key": pk, "opened_at": now, "received_at": now, "assigned_to": pd.NA,
        "status": "open", "closed_at": pd.NaT, "close_reason": pd.NA,
    })[CASE_COLUMNS]


def insert_cases(cases: pd.DataFrame, *, path: str | Path | None = None) -> int:
    """Insert case rows (:data:`CASE_COLUMNS`) whose ``case_id`` is new; return how many."""
    if cases.empty:
        return 0
    with connect(path) as con:
        con.register("new_cases", cases[CASE_COLUMNS])
        before = con.execute("SELECT count(*) FROM cases").fetchone()[0]
        con.execute("INSERT INTO cases SELECT n.* FROM new_cases n WHERE n.case_id NOT IN "
                    "(SELECT case_id FROM cases) QUALIFY row_number() OVER "
                    "(PARTITION BY n.case_id ORDER BY n.occurred_at) = 1")
        return int(con.execute("SELECT count(*) FROM cases").fetchone()[0] - before)


def sync_cases(events: pd.DataFrame, *, since=None, now=None,
               path: str | Path | None = None) -> int:
    """Open a case for every nonfatal event with ``occurred_at >= since`` not yet queued.

    Parameters
    ----------
    events : DataFrame
        De-duplicated events (the store's ``load()`` or the app's loader): ``event_id`` (or
        ``source`` + ``incident_id``), ``occurred_at``, ``lat``, ``lon``, ``outcome``,
        ``source``; optional ``sources`` and ``person_key``.
    since : timestamp, optional
        Oldest overdose time to open (default: 7 days before ``now``).
    now : timestamp, optional
        The clock (default the server's local time); also the case's ``received_at``.

    Returns
    -------
    int
        Cases opened.
    """
    t = _now(now)
    since = pd.Timestamp(since) if since is not None else t - pd.Timedelta(days=7)
    occ = pd.to_datetime(events["occurred_at"])
    keep = (events["outcome"].astype("string") == "nonfatal").fillna(False).to_numpy()
    keep &= (occ >= since).to_numpy() & (occ <= t).to_numpy()
    return insert_cases(_cases_from_events(events.loc[keep], t), path=path)


def _require_case(con, case_id: str) -> None:
    if not con.execute("SELECT 1 FROM cases WHERE case_id = ?", [case_id]).fetchone():
        raise ValueError(f"no case {case_id!r}")


def assign(case_id: str, worker: str, *, path: str | Path | None = None) -> None:
    """Assign a case to a worker (a user name)."""
    with connect(path) as con:
        _require_case(con, case_id)
        con.execute("UPDATE cases SET assigned_to = ? WHERE case_id = ?", [worker, case_id])


def log_contact(case_id: str, attempted_at, mode: str, outcome: str, worker: str, *,
                path: str | Path | None = None, now=None) -> None:
    """Record one contact attempt (time, mode, outcome)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if outcome not in CONTACT_OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(CONTACT_OUTCOMES)}, got {outcome!r}")
    at = pd.Timestamp(attempted_at)
    with connect(path) as con:
        _require_case(con, case_id)
        occ = pd.Timestamp(con.execute("SELECT occurred_at FROM cases WHERE case_id = ?",
                                       [case_id]).fetchone()[0])
        if at < occ:
            raise ValueError(f"a contact attempt ({at}) cannot precede the overdose ({occ})")
        con.execute("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?)",
                    [case_id, at.to_pydatetime(), mode, outcome, worker,
                     _now(now).to_pydatetime()])


def log_services(case_id: str, services, worker: str, provided_at=None, *,
                 path: str | Path | None = None) -> int:
    """Record services provided (each from :data:`SERVICES`); return how many were added."""
    bad = [s for s in services if s not in SERVICES]
    if bad:
        raise ValueError(f"unknown service(s) {bad}; choose from {', '.join(SERVICES)}")
    at = _now(provided_at).to_pydatetime()
    with connect(path) as con:
        _require_case(con, case_id)
        have = {r[0] for r in con.execute("SELECT service FROM services WHERE case_id = ?",
                                          [case_id]).fetchall()}
        new = [s for s in dict.fromkeys(services) if s not in have]
        for s in new:
            con.execute("INSERT INTO services VALUES (?, ?, ?, ?)", [case_id, at, s, worker])
    return len(new)


def add_note(case_id: str, text: str, worker: str, *, path: str | Path | None = None,
             now=None) -> None:
    """A short restricted note (at most :data:`NOTE_MAX` characters)."""
    text = (text or "").strip()
    if not text:
        raise ValueError("the note is empty")
    if len(text) > NOTE_MAX:
        raise ValueError(f"notes are at most {NOTE_MAX} characters (got {len(text)})")
    with connect(path) as con:
        _require_case(con, case_id)
        con.execute("INSERT INTO notes VALUES (?, ?, ?, ?)",
                    [case_id, _now(now).to_pydatetime(), worker, text])


def close_case(case_id: str, reason: str, *, path: str | Path | None = None, now=None) -> None:
    """Close a case with a reason (e.g. ``"linked to care"``, ``"unreachable after 72 h"``)."""
    if not (reason or "").strip():
        raise ValueError("closing a case needs a reason")
    with connect(path) as con:
        _require_case(con, case_id)
        con.execute("UPDATE cases SET status = 'closed', closed_at = ?, close_reason = ? "
                    "WHERE case_id = ?", [_now(now).to_pydatetime(), reason.strip(), case_id])


def load_all(*, path: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """Every table of the queue: ``cases``, ``contacts``, ``services``, ``notes``."""
    with connect(path) as con:
        return {t: con.execute(f"SELECT * FROM {t}").df()
                for t in ("cases", "contacts", "services", "notes")}


def _repeat_counts(cases: pd.DataFrame, days: int) -> np.ndarray:
    """Per case: overdoses of the same ``person_key`` within ``days`` (itself included)."""
    out = np.zeros(len(cases), dtype=np.int64)
    key = cases["person_key"].astype("string")
    t = pd.to_datetime(cases["occurred_at"])
    w = pd.Timedelta(days=days)
    for _, idx in cases.groupby(key, dropna=True).indices.items():
        tt = t.iloc[idx].to_numpy()
        for j, i in enumerate(idx):
            out[i] = int((np.abs(tt - tt[j]) <= w.to_timedelta64()).sum())
    return out


def first_times(contacts: pd.DataFrame) -> pd.DataFrame:
    """Per case: first attempt, first contact (outcome ``reached``) and attempts made."""
    c = contacts.assign(attempted_at=pd.to_datetime(contacts["attempted_at"]))
    first = c.groupby("case_id")["attempted_at"].agg(first_attempt="min", n_attempts="size")
    reached = c[c["outcome"] == "reached"].groupby("case_id")["attempted_at"].min()
    return first.assign(first_contact=reached).reset_index()


def queue_table(tables: dict[str, pd.DataFrame] | None = None, *, now=None,
                repeat_days: int = REPEAT_DAYS, path: str | Path | None = None) -> pd.DataFrame:
    """The queue: one row per case, elevated risk first, then open cases by next deadline.

    Columns add to :data:`CASE_COLUMNS`: ``hours_since``, ``next_deadline`` (the first of the
    24/48/72 h deadlines still ahead; NaT once all passed), ``first_attempt``,
    ``first_contact``, ``n_attempts``, ``services``, ``overdue`` (open, not reached and past
    72 h), ``flag`` (text) and ``repeat_90d`` / ``elevated_risk``.
    """
    t = _now(now)
    tables = tables if tables is not None else load_all(path=path)
    cases = tables["cases"].copy()
    if cases.empty:
        return cases.assign(hours_since=[], next_deadline=[], overdue=[], elevated_risk=[],
                            flag=[])
    cases["occurred_at"] = pd.to_datetime(cases["occurred_at"])
    ft = first_times(tables["contacts"]) if len(tables["contacts"]) else pd.DataFrame(
        columns=["case_id", "first_attempt", "n_attempts", "first_contact"])
    cases = cases.merge(ft, on="case_id", how="left")
    cases["n_attempts"] = cases["n_attempts"].fillna(0).astype(int)
    sv = tables["services"].groupby("case_id")["service"].agg(lambda s: ", ".join(sorted(s)))
    cases["services"] = cases["case_id"].map(sv).astype(object).where(lambda s: s.notna(), "")
    age = (t - cases["occurred_at"]).dt.total_seconds() / 3600
    cases["hours_since"] = age.round(1)
    nxt = pd.Series(pd.NaT, index=cases.index, dtype="datetime64[ns]")
    for h in reversed(DEADLINE_HOURS):
        d = cases["occurred_at"] + pd.Timedelta(hours=h)
        nxt = nxt.mask(d > t, d)
    cases["next_deadline"] = nxt
    open_ = cases["status"] == "open"
    not_reached = cases["first_contact"].isna()
    cases["overdue"] = open_ & not_reached & (age > DEADLINE_HOURS[-1])
    flag = np.where(cases["overdue"], "OVERDUE (72 h passed)", "")
    for h in (48, 24):
        late = open_ & not_reached & (age > h) & ~cases["overdue"] & (flag == "")
        flag = np.where(late, f"past {h} h, not reached", flag)
    no_try = open_ & (cases["n_attempts"] == 0) & (age > DEADLINE_HOURS[0])
    flag = np.where(no_try & (flag != ""), flag + "; no attempt yet", flag)
    cases["repeat_90d"] = _repeat_counts(cases, repeat_days)
    cases["elevated_risk"] = cases["repeat_90d"] >= 2
    cases["flag"] = np.where(cases["elevated_risk"], np.where(flag == "", "elevated risk",
                                                              "elevated risk; " + flag), flag)
    order = cases.assign(_open=~open_, _risk=~cases["elevated_risk"],
                         _d=cases["next_deadline"].fillna(pd.Timestamp.max))
    order = order.sort_values(["_open", "_risk", "_d", "occurred_at", "area"])
    return order.drop(columns=["_open", "_risk", "_d"]).reset_index(drop=True)


def case_detail(case_id: str, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Contacts, services and notes of one case (oldest first)."""
    out = {}
    for name, col in (("contacts", "attempted_at"), ("services", "provided_at"),
                      ("notes", "written_at")):
        t = tables[name]
        out[name] = t[t["case_id"] == case_id].sort_values(col).reset_index(drop=True)
    return out
