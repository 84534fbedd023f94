"""Benchmark: a drug / age band / sex filter change on the Overview's KPIs (issue 10).

The dashboard prepares the events of the whole data set once (``report.kpis.prepare_events``,
cached per data set); a drug / age / sex filter then masks them by level codes cached on the
prepared events (``PreparedEvents.people_mask``: the string mapping of a column is paid once,
on the first filter of that family). The naive alternative filters the incident frame
(``products.query.select``) and prepares the events again on every filter change. Second
table: ``products.breakdowns.levels_of`` (used by ``select`` in every product) maps the distinct
spellings of a column, against a per-row string mapping. Both give
the same KPI table (checked here). CPU time (``time.process_time``), seeded synthetic data,
no event sharing (one row per event, the store's de-duplicated layout).

Usage::

    .venv/bin/python bench/bench_filters.py --n 1000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` canonical incidents over three years ending 2026-11-15 (free-text people fields)."""
    from geo.privacy import with_record_keys

    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2026-11-16")
    t = end - pd.to_timedelta(rng.uniform(0, 3 * 365 * 86400, n), unit="s")
    drugs = np.array(["fentanyl", "Fentanyl + Xylazine", "heroin", "opioid", "cocaine", "meth",
                      "polysubstance", "kratom", ""], dtype=object)
    ages = np.array(["15-24", "25-34", "35-44", "45-54", "55-64", "65+", ""], dtype=object)
    df = pd.DataFrame({
        "incident_id": np.arange(n).astype(str),
        "occurred_at": t.sort_values().to_numpy(),
        "lat": rng.uniform(35.95, 36.2, n), "lon": rng.uniform(-80.0, -79.6, n),
        "outcome": rng.choice(np.array(["fatal", "nonfatal", "unknown"], dtype=object), n,
                              p=[0.1, 0.85, 0.05]),
        "naloxone": rng.choice(np.array(["yes", "no", "unknown"], dtype=object), n),
        "source": rng.choice(np.array(["ems", "police", "hospital"], dtype=object), n),
        "suspected_drug": rng.choice(drugs, n),
        "age_band": rng.choice(ages, n),
        "sex": rng.choice(np.array(["M", "F", "male", "female", ""], dtype=object), n),
    })
    return with_record_keys(df)


def per_row_levels(incidents: pd.DataFrame, family: str) -> np.ndarray:
    """Reference: the string mapping of every row (what ``levels_of`` did before it mapped
    the distinct values only)."""
    from products.breakdowns import _SYNONYMS, COLUMNS, LEVELS

    levels = LEVELS[family]
    s = incidents[COLUMNS[family]].astype("string").str.strip().str.lower().fillna("")
    s = s.replace(_SYNONYMS[family])
    codes = pd.Index(list(levels)).get_indexer(s.to_numpy(object)).astype(np.int64)
    codes[codes < 0] = levels.index("other") if family == "drug" else len(levels) - 1
    return codes


def cpu(fn, *args, **kw):
    t0 = time.process_time()
    out = fn(*args, **kw)
    return out, time.process_time() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()

    from products.overview import kpi_table
    from products.query import Query, select
    from report.kpis import prepare_events

    df = synthetic(args.n)
    prep, t_prep = cpu(prepare_events, df)
    print(f"{args.n:,} incidents; prepare_events once per data set: {t_prep:.2f} s CPU")
    changes = [{"drugs": ("fentanyl",)}, {"drugs": ("heroin",)},
               {"drugs": ("fentanyl", "fentanyl+xylazine"), "sexes": ("male",)},
               {"age_bands": ("25-34",)}, {"sexes": ("female",), "age_bands": ("65+",)}]
    rows = []
    for f in changes:
        q = Query(start=pd.Timestamp("2025-11-16"), end=pd.Timestamp("2026-11-16"), **f)
        fast, t_fast = cpu(kpi_table, prep, q, "restricted")
        q0 = Query(start=q.start, end=q.end)
        naive, t_naive = cpu(lambda f=f, q0=q0: kpi_table(prepare_events(select(df, Query(**f))),
                                                          q0, "restricted"))
        for c in ("overdoses", "fatal", "nonfatal", "naloxone_yes", "prior_overdoses"):
            assert np.array_equal(fast[c].to_numpy(float), naive[c].to_numpy(float)), (f, c)
        rows.append((", ".join(f"{k}={'/'.join(v)}" for k, v in f.items()), t_fast, t_naive,
                     int(fast["overdoses"].iloc[0])))
    print(f"{'filter':<52} {'cached levels':>13} {'naive':>8} {'ratio':>6} {'overdoses':>10}")
    for name, a, b, n in rows:
        print(f"{name:<52} {a:>11.3f} s {b:>6.2f} s {b / a:>5.1f}x {n:>10,}")
    print("(first change of a family computes its level codes once; later changes reuse them)")
    from products.breakdowns import LEVELS, levels_of

    print(f"\n{'levels_of (filter_mask, every select())':<40} {'distinct':>9} {'per row':>8} "
          f"{'ratio':>6}")
    for fam in LEVELS:
        a, t_a = cpu(levels_of, df, fam)
        b, t_b = cpu(per_row_levels, df, fam)
        assert np.array_equal(a, b), fam
        print(f"{fam:<40} {t_a:>7.3f} s {t_b:>6.2f} s {t_b / t_a:>5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
