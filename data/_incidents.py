"""Synthetic overdose events and the per-source records (EMS, police, hospital) that report them.

An *event* is one overdose; a *record* is one agency's report of it. Events are drawn first
(where, when, outcome, person), then each event is reported by one to three sources, the
secondary reports a few minutes and 50–250 m away from the EMS record, as real exports are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from shapely.geometry import Polygon

from data._geography import inside, sample_in_disk, sample_in_polygon
from data._model import (
    CITIES,
    EMERGING_HOTSPOT,
    END_DATE,
    EVENTS_PER_YEAR,
    HOSPITALS,
    PERSISTENT_HOTSPOTS,
    SPIKE,
    START_DATE,
    latlon_to_xy,
    xy_to_latlon,
)

__all__ = ["INCIDENT_CSV_COLUMNS", "make_events", "events_to_records"]

INCIDENT_CSV_COLUMNS = [
    "incident_id",
    "occurred_at",
    "lat",
    "lon",
    "outcome",
    "naloxone",
    "naloxone_doses",
    "source",
    "agency",
    "suspected_drug",
    "age_band",
    "sex",
]

#: Relative weight of each hour of the day (0–23): quiet early morning, heavy evening.
HOUR_WEIGHTS = np.array(
    [
        3.0,
        2.5,
        2.0,
        1.5,
        1.2,
        1.0,
        1.0,
        1.2,
        1.5,
        2.0,
        2.5,
        3.0,
        3.5,
        3.8,
        4.0,
        4.2,
        4.5,
        5.0,
        5.5,
        5.8,
        5.8,
        5.5,
        4.8,
        4.0,
    ]
)
#: Relative weight of each weekday, Monday first: Friday–Sunday heavier.
DOW_WEIGHTS = np.array([0.90, 0.88, 0.90, 0.95, 1.12, 1.22, 1.10])
DRUGS = (
    "fentanyl",
    "heroin",
    "opioid (unspecified)",
    "cocaine",
    "methamphetamine",
    "polysubstance",
    "fentanyl+xylazine",
)
DRUG_P = np.array([0.50, 0.05, 0.17, 0.07, 0.06, 0.10, 0.05])
AGE_BANDS = ("15-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_P = np.array([0.10, 0.30, 0.27, 0.17, 0.11, 0.05])
SEXES = ("male", "female")
SEX_P = np.array([0.68, 0.32])
#: Relative change of the baseline rate a year (overdoses declining slowly, as in 2024–2026).
TREND = -0.04
#: Share of events reported by EMS; of the others, share reported by police only.
P_EMS, P_POLICE_ONLY = 0.90, 0.60
#: Of EMS events: probability police / hospital also report, for nonfatal and fatal events.
P_POLICE = {False: 0.28, True: 0.75}
P_HOSPITAL = {False: 0.21, True: 0.03}
#: Share of hospital records that carry only a date.
P_DATE_ONLY = 0.30


def _days() -> pd.DatetimeIndex:
    return pd.date_range(START_DATE, END_DATE, freq="D")


def _day_weights(days: pd.DatetimeIndex) -> np.ndarray:
    """Weekday pattern × mild seasonality (summer +8 %) × a slow decline (:data:`TREND`)."""
    season = 1.0 + 0.08 * np.cos(2 * np.pi * (days.day_of_year.to_numpy() - 200) / 365.25)
    years = (days - days[0]).days.to_numpy() / 365.25
    trend = 1.0 + TREND * (years - years[-1] / 2)
    return DOW_WEIGHTS[days.day_of_week.to_numpy()] * season * trend


def _times(rng: np.random.Generator, days: pd.DatetimeIndex, weights: np.ndarray, n: int):
    """``n`` timestamps: a day by ``weights``, an hour by :data:`HOUR_WEIGHTS`, minute, second."""
    d = rng.choice(len(days), size=n, p=weights / weights.sum())
    h = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    secs = h * 3600 + rng.integers(0, 3600, size=n)
    return days[d].to_numpy() + secs.astype("timedelta64[s]")


def make_events(
    rng: np.random.Generator, boundary: Polygon, block_groups: list[dict]
) -> pd.DataFrame:
    """Overdose events with their planted signal label.

    Baseline events (a Poisson number, :data:`EVENTS_PER_YEAR` a year) are split between the
    persistent hotspots (their ``share``) and a background that follows block-group population
    times an urban-core excess risk. The emerging hotspot adds ``rate_per_day`` events a day from
    its start; the spike adds ``extra_events`` over its 7-day window.

    Returns
    -------
    pandas.DataFrame
        ``time`` (datetime64[s]), ``lat``, ``lon``, ``signal`` ("" for background), ``fatal``,
        ``drug``, ``age_band``, ``sex``; sorted by time.
    """
    days = _days()
    w = _day_weights(days)
    n_base = int(rng.poisson(EVENTS_PER_YEAR * len(days) / 365.25))
    shares = np.array([h.share for h in PERSISTENT_HOTSPOTS])
    comp = rng.choice(len(shares) + 1, size=n_base, p=np.append(shares, 1 - shares.sum()))
    parts = []
    # background: population × urban-core excess risk, uniform inside the block group
    pop = np.array([g["population"] for g in block_groups], dtype=float)
    risk = np.ones(len(block_groups))
    for c, amp, sd in ((CITIES[0], 1.0, 3.0), (CITIES[1], 0.7, 2.5)):
        d2 = np.array([(g["x"] - c.x) ** 2 + (g["y"] - c.y) ** 2 for g in block_groups])
        risk += amp * np.exp(-d2 / (2 * sd**2))
    n_bg = rng.multinomial(int(np.sum(comp == len(shares))), pop * risk / np.sum(pop * risk))
    for g, k in zip(block_groups, n_bg, strict=True):
        if k:
            parts.append(sample_in_polygon(rng, g["geometry"], int(k), boundary))
    bg = pd.DataFrame(
        {
            "lat": np.concatenate([p[0] for p in parts]),
            "lon": np.concatenate([p[1] for p in parts]),
            "signal": "",
        }
    )
    bg["time"] = _times(rng, days, w, len(bg))
    parts = [bg]
    for i, h in enumerate(PERSISTENT_HOTSPOTS):
        k = int(np.sum(comp == i))
        lat, lon = sample_in_disk(rng, h.x, h.y, h.radius_m, k, boundary)
        parts.append(
            pd.DataFrame({"lat": lat, "lon": lon, "signal": h.id, "time": _times(rng, days, w, k)})
        )
    e = EMERGING_HOTSPOT
    active = np.asarray(days >= pd.Timestamp(e.start))
    k = int(rng.poisson(e.rate_per_day * active.sum()))
    lat, lon = sample_in_disk(rng, e.x, e.y, e.radius_m, k, boundary)
    parts.append(
        pd.DataFrame(
            {"lat": lat, "lon": lon, "signal": e.id, "time": _times(rng, days, w * active, k)}
        )
    )
    s = SPIKE
    window = np.asarray((days >= pd.Timestamp(s.start)) & (days <= pd.Timestamp(s.end)))
    shape = np.zeros(len(days))
    shape[window] = np.array([2.0, 4.0, 5.0, 5.0, 4.0, 3.0, 2.0])[: window.sum()]
    k = int(s.extra_events)
    lat, lon = sample_in_disk(rng, s.x, s.y, s.radius_m, k, boundary)
    parts.append(
        pd.DataFrame({"lat": lat, "lon": lon, "signal": s.id, "time": _times(rng, days, shape, k)})
    )
    ev = pd.concat(parts, ignore_index=True)
    n = len(ev)
    fatal_p = np.where(ev["signal"] == SPIKE.id, SPIKE.fatal_share, 0.08)
    ev["fatal"] = rng.random(n) < fatal_p
    drug = np.array(DRUGS, dtype=object)[rng.choice(len(DRUGS), size=n, p=DRUG_P)]
    spike = (ev["signal"] == SPIKE.id).to_numpy()
    drug[spike & (rng.random(n) < 0.8)] = SPIKE.drug
    ev["drug"] = drug
    ev["age_band"] = np.array(AGE_BANDS, dtype=object)[rng.choice(len(AGE_BANDS), size=n, p=AGE_P)]
    ev["sex"] = np.array(SEXES, dtype=object)[rng.choice(len(SEXES), size=n, p=SEX_P)]
    ev["time"] = ev["time"].astype("datetime64[s]")
    return ev.sort_values(["time", "lat"], kind="stable").reset_index(drop=True)


def _offset(rng, lat, lon, lo_m: float, hi_m: float, boundary: Polygon):
    """Move each point ``lo_m``–``hi_m`` metres in a random direction, staying in the boundary."""
    x, y = latlon_to_xy(lat, lon)
    out_lat, out_lon = np.empty(len(x)), np.empty(len(x))
    todo = np.arange(len(x))
    while todo.size:
        dist = rng.uniform(lo_m, hi_m, todo.size) / 1000.0
        ang = rng.uniform(0, 2 * np.pi, todo.size)
        la, lo = xy_to_latlon(x[todo] + dist * np.cos(ang), y[todo] + dist * np.sin(ang))
        la, lo = np.round(la, 6), np.round(lo, 6)
        ok = inside(boundary, la, lo)
        out_lat[todo[ok]], out_lon[todo[ok]] = la[ok], lo[ok]
        todo = todo[~ok]
    return out_lat, out_lon


def _agency_police(lat, lon) -> np.ndarray:
    x, y = latlon_to_xy(lat, lon)
    out = np.full(len(x), "Sample County Sheriff's Office", dtype=object)
    for c, r in ((CITIES[1], 6.0), (CITIES[0], 8.0)):
        out[np.hypot(x - c.x, y - c.y) < r] = f"{c.name} Police Department"
    return out


def _agency_hospital(lat, lon) -> np.ndarray:
    x, y = latlon_to_xy(lat, lon)
    d = np.stack([np.hypot(x - h.x, y - h.y) for h in HOSPITALS])
    return np.array([h.name for h in HOSPITALS], dtype=object)[np.argmin(d, axis=0)]


def _naloxone(rng, n, p_yes, p_no, dose_p):
    u = rng.random(n)
    nal = np.where(u < p_yes, "yes", np.where(u < p_yes + p_no, "no", "unknown")).astype(object)
    doses = np.where(nal == "yes", rng.choice(len(dose_p), size=n, p=dose_p) + 1, 0)
    return nal, doses


def events_to_records(rng: np.random.Generator, events: pd.DataFrame, boundary: Polygon):
    """One row per source report of each event, in the canonical incident columns.

    Returns
    -------
    records : pandas.DataFrame
        :data:`INCIDENT_CSV_COLUMNS` as strings (the CSV text) plus ``event`` (row of
        ``events``) and ``time`` (true report time, for sorting); sorted by time.
    """
    n = len(events)
    fatal = events["fatal"].to_numpy()
    has_ems = rng.random(n) < P_EMS
    police_only = rng.random(n) < P_POLICE_ONLY
    has_pol = np.where(
        has_ems, rng.random(n) < np.where(fatal, P_POLICE[True], P_POLICE[False]), police_only
    )
    has_hos = np.where(
        has_ems, rng.random(n) < np.where(fatal, P_HOSPITAL[True], P_HOSPITAL[False]), ~police_only
    )
    lat0, lon0 = events["lat"].to_numpy(), events["lon"].to_numpy()
    t0 = events["time"].to_numpy().astype("datetime64[s]")
    rows = []

    def add(idx, source, lat, lon, t, nal, doses, agency, p_report):
        k = len(idx)

        def field(col, p):
            v = events[col].to_numpy()[idx].copy()
            v[rng.random(k) >= p] = ""
            return v

        rows.append(
            pd.DataFrame(
                {
                    "event": idx,
                    "source": source,
                    "lat": lat,
                    "lon": lon,
                    "time": t,
                    "outcome": np.where(fatal[idx], "fatal", "nonfatal"),
                    "naloxone": nal,
                    "naloxone_doses": doses,
                    "agency": agency,
                    "suspected_drug": field("drug", p_report[0]),
                    "age_band": field("age_band", p_report[1]),
                    "sex": field("sex", p_report[2]),
                }
            )
        )

    # EMS: the event itself (unit notified time), scene GPS with ~8 m noise
    e = np.flatnonzero(has_ems)
    la, lo = _offset(rng, lat0[e], lon0[e], 0.0, 15.0, boundary)
    nal, doses = _naloxone(rng, len(e), np.where(fatal[e], 0.65, 0.82), 0.15, [0.45, 0.38, 0.17])
    add(e, "ems", la, lo, t0[e], nal, doses, "Sample County EMS", (0.75, 0.97, 0.99))
    # police: with EMS -> 5 min before to 30 min after, 50–250 m away; alone -> at the event
    p = np.flatnonzero(has_pol)
    la, lo = _offset(rng, lat0[p], lon0[p], 0.0, 1.0, boundary)
    sec = has_ems[p]
    la[sec], lo[sec] = _offset(rng, lat0[p][sec], lon0[p][sec], 50.0, 250.0, boundary)
    dt = np.where(sec, rng.integers(-5 * 60, 30 * 60, len(p)), 0).astype("timedelta64[s]")
    nal, doses = _naloxone(rng, len(p), 0.35, 0.25, [0.7, 0.3])
    add(
        p,
        "police",
        la,
        lo,
        t0[p] + dt,
        nal,
        doses,
        _agency_police(lat0[p], lon0[p]),
        (0.6, 0.9, 0.97),
    )
    # hospital: 10–45 min after the event, 50–250 m away (and ≤ 280 m from a police record)
    h = np.flatnonzero(has_hos)
    sec = has_ems[h]
    la, lo = lat0[h].copy(), lon0[h].copy()
    la[sec], lo[sec] = _offset(rng, lat0[h][sec], lon0[h][sec], 50.0, 250.0, boundary)
    pol_pos = {int(ev): i for i, ev in enumerate(p)}
    pl = rows[1]
    for j, ev in enumerate(h):
        if not sec[j] or int(ev) not in pol_pos:
            continue
        i = pol_pos[int(ev)]
        px, py = latlon_to_xy(pl["lat"].iat[i], pl["lon"].iat[i])
        for _ in range(50):
            hx, hy = latlon_to_xy(la[j], lo[j])
            if np.hypot(hx - px, hy - py) <= 0.28:
                break
            nla, nlo = _offset(rng, lat0[ev : ev + 1], lon0[ev : ev + 1], 50.0, 250.0, boundary)
            la[j], lo[j] = nla[0], nlo[0]
    dt = np.where(sec, rng.integers(10 * 60, 45 * 60, len(h)), 0).astype("timedelta64[s]")
    nal = np.where(
        rng.random(len(h)) < 0.3, "yes", np.where(rng.random(len(h)) < 0.1, "no", "unknown")
    ).astype(object)
    add(
        h,
        "hospital",
        la,
        lo,
        t0[h] + dt,
        nal,
        np.zeros(len(h), int),
        _agency_hospital(lat0[h], lon0[h]),
        (0.85, 0.99, 0.995),
    )
    rec = pd.concat(rows, ignore_index=True)
    rec["date_only"] = (rec["source"] == "hospital") & (rng.random(len(rec)) < P_DATE_ONLY)
    order = {"ems": 0, "police": 1, "hospital": 2}
    rec["_s"] = rec["source"].map(order)
    rec = rec.sort_values(["time", "_s", "event"], kind="stable").reset_index(drop=True)
    prefix = {"ems": "EMS", "police": "PD", "hospital": "ED"}
    ids = np.empty(len(rec), dtype=object)
    for s, pre in prefix.items():
        m = (rec["source"] == s).to_numpy()
        seq = np.arange(1, m.sum() + 1)
        ids[m] = [f"{pre}-{i:06d}" for i in seq]
    rec["incident_id"] = ids
    t = rec["time"].dt
    rec["occurred_at"] = np.where(
        rec["date_only"], t.strftime("%Y-%m-%d"), t.strftime("%Y-%m-%dT%H:%M:%S")
    )
    rec["naloxone_doses"] = np.where(
        rec["naloxone_doses"] > 0, rec["naloxone_doses"].astype(str), ""
    )
    rec["lat"] = rec["lat"].map("{:.6f}".format)
    rec["lon"] = rec["lon"].map("{:.6f}".format)
    return rec[INCIDENT_CSV_COLUMNS + ["event", "time"]]
