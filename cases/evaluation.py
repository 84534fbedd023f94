"""Program evaluation of the follow-up queue, aggregated and published through the gate.

Every count comes with its cell key (record keys of the cases, :mod:`geo.privacy.cellkey`)
and leaves through :func:`geo.privacy.publish`, so in the public and partner tiers counts are
perturbed and 1–9 suppressed. Shares are computed from the **published** counts; medians of
hours are whole hours, blanked with the count they describe.

Receipt time: the incident store keeps, per record, the time it reached the store
(:meth:`geo.store.IncidentStore.receipts`); data timeliness uses it (lag = receipt − overdose,
per source). Without a store (the bundled sample CSV), a case's ``received_at`` (when it
entered the queue) stands in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.privacy import KEY_SUFFIX, PrivacyPolicy, as_policy, keyed_counts, publish, record_keys

__all__ = ["case_facts", "summary_table", "hours_distribution", "service_table",
           "timeliness_table", "timeliness_trend", "repeat_table", "GROUPS", "LAG_BINS",
           "HOUR_BINS"]

GROUPS = ("month", "source", "area", "all")
#: hours-to-contact bins (upper bounds, hours); the last bin is "never"
HOUR_BINS = (("0–24 h", 24), ("24–48 h", 48), ("48–72 h", 72), ("over 72 h", np.inf))
#: receipt lag bins (upper bounds, days)
LAG_BINS = (("under 1 day", 1), ("1–3 days", 3), ("3–7 days", 7), ("7–30 days", 30),
            ("over 30 days", np.inf))


def case_facts(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per case: hours to first attempt and first contact, services, record key."""
    from cases.queue import SERVICES, first_times

    cases = tables["cases"].copy()
    cases["occurred_at"] = pd.to_datetime(cases["occurred_at"])
    ft = first_times(tables["contacts"]) if len(tables["contacts"]) else pd.DataFrame(
        columns=["case_id", "first_attempt", "n_attempts", "first_contact"])
    f = cases.merge(ft, on="case_id", how="left")
    occ = f["occurred_at"]
    f["h_attempt"] = (pd.to_datetime(f["first_attempt"]) - occ).dt.total_seconds() / 3600
    f["h_contact"] = (pd.to_datetime(f["first_contact"]) - occ).dt.total_seconds() / 3600
    f["lag_h"] = (pd.to_datetime(f["received_at"]) - occ).dt.total_seconds() / 3600
    f["month"] = occ.dt.strftime("%Y-%m")
    f["all"] = "all cases"
    sv = tables["services"]
    for s in SERVICES:
        f[f"svc:{s}"] = f["case_id"].isin(sv.loc[sv["service"] == s, "case_id"])
    f["rkey"] = record_keys(f[["occurred_at", "lat", "lon", "source"]].rename(
        columns={"source": "sources"}).assign(outcome="nonfatal"))
    return f


def _groups(f: pd.DataFrame, by: str) -> tuple[np.ndarray, list]:
    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, got {by!r}")
    codes, levels = pd.factorize(f[by].astype("string").fillna("unknown"), sort=True)
    return codes.astype(np.int64), list(levels)


def _count(out: dict, name: str, codes, rkey, mask, size: int) -> None:
    n, k = keyed_counts(codes[mask], rkey[mask], size)
    out[name], out[f"{name}{KEY_SUFFIX}"] = n, k


def _share(pub: pd.DataFrame, num: str, den: str) -> pd.Series:
    a = pd.to_numeric(pub[num], errors="coerce").astype("Float64")
    b = pd.to_numeric(pub[den], errors="coerce").astype("Float64")
    return (a / b.where(b > 0)).clip(upper=1.0).round(3)


def summary_table(tables, policy: PrivacyPolicy | str = "public", by: str = "month"
                  ) -> pd.DataFrame:
    """Cases, attempts, contacts, reach within 24/48/72 h and median hours per group.

    Columns: ``by``, ``n_cases``, ``n_attempted``, ``n_reached``, ``n_reached_24h``,
    ``n_reached_48h``, ``n_reached_72h`` (published counts), ``share_reached``,
    ``share_24h``, ``share_48h``, ``share_72h`` (of cases, from published counts),
    ``median_h_attempt``, ``median_h_contact`` (whole hours), ``suppressed``.
    """
    pol = as_policy(policy)
    f = case_facts(tables)
    codes, levels = _groups(f, by)
    rkey, size = f["rkey"].to_numpy(), len(levels)
    cols: dict = {by: levels}
    _count(cols, "n_cases", codes, rkey, np.ones(len(f), bool), size)
    _count(cols, "n_attempted", codes, rkey, f["h_attempt"].notna().to_numpy(), size)
    _count(cols, "n_reached", codes, rkey, f["h_contact"].notna().to_numpy(), size)
    for h in (24, 48, 72):
        _count(cols, f"n_reached_{h}h", codes, rkey, (f["h_contact"] <= h).to_numpy(), size)
    med = {}
    for c in ("h_attempt", "h_contact"):
        m = f.groupby(codes)[c].median()
        med[f"median_{c}"] = np.round(m.reindex(range(size)).to_numpy(float))
    table = pd.DataFrame(cols).assign(**med)
    counts = ["n_cases", "n_attempted", "n_reached", "n_reached_24h", "n_reached_48h",
              "n_reached_72h"]
    pub = publish(table, pol, count_columns=counts,
                  nested=[["n_reached_24h", "n_reached_48h", "n_reached_72h", "n_reached",
                           "n_cases"]],
                  derived={"median_h_attempt": ["n_attempted"],
                           "median_h_contact": ["n_reached"]})
    pub["share_reached"] = _share(pub, "n_reached", "n_cases")
    for h in (24, 48, 72):
        pub[f"share_{h}h"] = _share(pub, f"n_reached_{h}h", "n_cases")
    return pub


def hours_distribution(tables, policy: PrivacyPolicy | str = "public",
                       which: str = "contact") -> pd.DataFrame:
    """Cases by hours from overdose to first ``attempt`` or ``contact`` (bins, then never)."""
    if which not in ("attempt", "contact"):
        raise ValueError(f"which must be 'attempt' or 'contact', got {which!r}")
    f = case_facts(tables)
    h = f[f"h_{which}"].to_numpy(float)
    labels = [b[0] for b in HOUR_BINS] + ["never"]
    codes = np.full(len(f), len(HOUR_BINS), dtype=np.int64)
    lower = -np.inf
    for i, (_, hi) in enumerate(HOUR_BINS):
        codes[(h > lower) & (h <= hi)] = i
        lower = hi
    out: dict = {"hours": labels}
    _count(out, "n_cases", codes, f["rkey"].to_numpy(), np.ones(len(f), bool), len(labels))
    return publish(pd.DataFrame(out), as_policy(policy), count_columns=["n_cases"])


def service_table(tables, policy: PrivacyPolicy | str = "public") -> pd.DataFrame:
    """Cases given each service (acceptance), and the share of reached cases."""
    from cases.queue import SERVICES

    f = case_facts(tables)
    rkey = f["rkey"].to_numpy()
    rows = []
    reached = f["h_contact"].notna().to_numpy()
    n, k = keyed_counts(np.zeros(int(reached.sum()), np.int64), rkey[reached], 1)
    for s in SERVICES:
        m = f[f"svc:{s}"].to_numpy()
        ns, ks = keyed_counts(np.zeros(int(m.sum()), np.int64), rkey[m], 1)
        rows.append({"service": s, "n_cases": int(ns[0]), "n_cases__ckey": int(ks[0]),
                     "n_reached": int(n[0]), "n_reached__ckey": int(k[0])})
    pub = publish(pd.DataFrame(rows), as_policy(policy), count_columns=["n_cases", "n_reached"])
    pub["share_of_reached"] = _share(pub, "n_cases", "n_reached")
    return pub


def _lags(data) -> tuple[pd.DataFrame, str]:
    """Source, month, lag (hours) and record key per row, and the name of the count column.

    ``data`` is either the incident store's records (:meth:`geo.store.IncidentStore.receipts`:
    a DataFrame with ``received_at``; counted as ``n_records``) or the case tables (a dict;
    a case's ``received_at`` is when it entered the queue; counted as ``n_cases``).
    """
    if isinstance(data, pd.DataFrame):
        need = [c for c in ("occurred_at", "received_at", "source") if c not in data.columns]
        if need:
            raise ValueError(f"receipt records need column(s) {need}")
        occ = pd.to_datetime(data["occurred_at"])
        ident = [c for c in ("occurred_at", "lat", "lon", "outcome", "source", "agency")
                 if c in data.columns]
        f = pd.DataFrame({"source": data["source"].astype("string").to_numpy(),
                          "month": occ.dt.strftime("%Y-%m").to_numpy(),
                          "lag_h": ((pd.to_datetime(data["received_at"]) - occ)
                                    .dt.total_seconds() / 3600).to_numpy(float),
                          "rkey": record_keys(data[ident])})
        return f, "n_records"
    return case_facts(data)[["source", "month", "lag_h", "rkey"]], "n_cases"


def timeliness_table(data, policy: PrivacyPolicy | str = "public") -> pd.DataFrame:
    """Per source: lag from overdose to receipt — rows per lag bin, median and 90th pct (days).

    ``data``: the store's records with their receipt time (preferred: the time each record
    reached the store; count column ``n_records``) or the case tables (``n_cases``).
    """
    f, unit = _lags(data)
    codes, levels = _groups(f, "source")
    rkey, size = f["rkey"].to_numpy(), len(levels)
    lag_d = f["lag_h"].to_numpy(float) / 24
    cols: dict = {"source": levels}
    _count(cols, unit, codes, rkey, np.ones(len(f), bool), size)
    lower, names = -np.inf, []
    for label, hi in LAG_BINS:
        name = "n_lag_" + label.replace(" ", "_").replace("–", "_")
        _count(cols, name, codes, rkey, (lag_d > lower) & (lag_d <= hi), size)
        names.append(name)
        lower = hi
    g = pd.Series(lag_d).groupby(codes)
    table = pd.DataFrame(cols).assign(
        median_lag_days=np.round(g.median().reindex(range(size)).to_numpy(float), 1),
        p90_lag_days=np.round(g.quantile(0.9).reindex(range(size)).to_numpy(float), 1))
    return publish(table, as_policy(policy), count_columns=[unit, *names],
                   derived={"median_lag_days": [unit], "p90_lag_days": [unit]})


def timeliness_trend(data, policy: PrivacyPolicy | str = "public") -> pd.DataFrame:
    """Per source and month of the overdose: rows and the median lag to receipt (days)."""
    f, unit = _lags(data)
    key = f["source"].astype("string").fillna("unknown") + "|" + f["month"]
    codes, levels = pd.factorize(key, sort=True)
    cols: dict = {"source": [x.split("|")[0] for x in levels],
                  "month": [x.split("|")[1] for x in levels]}
    _count(cols, unit, codes.astype(np.int64), f["rkey"].to_numpy(),
           np.ones(len(f), bool), len(levels))
    med = pd.Series(f["lag_h"].to_numpy(float) / 24).groupby(codes).median()
    table = pd.DataFrame(cols).assign(
        median_lag_days=np.round(med.reindex(range(len(levels))).to_numpy(float), 1))
    return publish(table, as_policy(policy), count_columns=[unit],
                   derived={"median_lag_days": [unit]})


def repeat_table(tables, policy: PrivacyPolicy | str = "public") -> pd.DataFrame:
    """Repeat overdose within 30 / 90 days after a case, among those reached and not reached.

    Only cases with a ``person_key`` can be linked (others are left out). A description, not a
    causal effect: people who are reached differ from those who are not.
    """
    f = case_facts(tables)
    f = f[f["person_key"].notna()].reset_index(drop=True)
    t = f["occurred_at"].to_numpy()
    nxt = np.full(len(f), np.inf)
    for _, idx in f.groupby(f["person_key"].astype("string")).indices.items():
        tt = t[idx]
        for j, i in enumerate(idx):
            later = tt[tt > tt[j]]
            if len(later):
                nxt[i] = (later.min() - tt[j]) / np.timedelta64(1, "D")
    codes = np.where(f["h_contact"].notna().to_numpy(), 0, 1).astype(np.int64)
    rkey = f["rkey"].to_numpy()
    cols: dict = {"group": ["reached", "not reached"]}
    _count(cols, "n_cases", codes, rkey, np.ones(len(f), bool), 2)
    _count(cols, "n_repeat_30d", codes, rkey, nxt <= 30, 2)
    _count(cols, "n_repeat_90d", codes, rkey, nxt <= 90, 2)
    pub = publish(pd.DataFrame(cols), as_policy(policy),
                  count_columns=["n_cases", "n_repeat_30d", "n_repeat_90d"],
                  nested=[["n_repeat_30d", "n_repeat_90d", "n_cases"]])
    pub["share_repeat_30d"] = _share(pub, "n_repeat_30d", "n_cases")
    pub["share_repeat_90d"] = _share(pub, "n_repeat_90d", "n_cases")
    return pub
