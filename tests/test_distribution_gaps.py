# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""Distribution gaps (high burden, few kits) from the naloxone log, and on the Gaps page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, run_page  # noqa: F401
from test_public_sweep import check_public_table

from cases.naloxone import distribution_gaps


def per_table() -> pd.DataFrame:
    """A published kits-per-overdose table: counts 40, 30, 20, 12, hidden (<NA>), 0."""
    count = pd.array([40, 30, 20, 12, pd.NA, 0], dtype="Int64")
    kits = np.array([10, 60, 5, 2, 0, 50])
    n = pd.Series(count).astype("Float64").to_numpy(float, na_value=np.nan)
    ratio = pd.Series(kits / np.where(n > 0, n, np.nan)).round(2)
    return pd.DataFrame({"h3": np.arange(1, 7, dtype=np.uint64), "count": count, "kits": kits,
                         "kits_per_overdose": ratio})


def test_gaps_are_high_burden_and_few_kits_by_hand():
    per = per_table()
    # published counts > 0: 40, 30, 20, 12 → 75th percentile 32.5; only 40 is high burden,
    # and it has 10 kits for 40 overdoses (0.25 < 1): a gap
    assert distribution_gaps(per)["h3"].tolist() == [1]
    # median 25 → 40 and 30 are high burden; 30 has 2 kits per overdose: not a gap
    assert distribution_gaps(per, burden_quantile=0.5)["h3"].tolist() == [1]
    # every shown area is high burden: 40 (0.25), 20 (0.25), 12 (0.17) have few kits;
    # the hidden count and the area without overdoses are never gaps
    assert distribution_gaps(per, burden_quantile=0.0)["h3"].tolist() == [1, 3, 4]
    assert distribution_gaps(per, burden_quantile=0.0,
                             max_kits_per_overdose=0.2)["h3"].tolist() == [4]
    with pytest.raises(ValueError, match="burden_quantile"):
        distribution_gaps(per, burden_quantile=2)


def test_gaps_page_shows_kits_per_overdose_and_gaps_through_the_gate(app_inputs):
    from cases.naloxone import add_kits, synthetic_kits

    res = pd.read_csv(app_inputs["resources"])
    inc = pd.read_csv(app_inputs["incidents"], parse_dates=["occurred_at"])
    kits = synthetic_kits(res, inc["occurred_at"].max(), weeks=52)
    assert add_kits(kits, "test") == len(kits)
    at = run_page("gaps")
    assert not at.exception
    assert any(s.value == "Naloxone distribution: kits per overdose" for s in at.subheader)
    gaps = at.dataframe[-2].value
    every = at.dataframe[-1].value
    assert list(every.columns) == ["h3", "overdoses", "kits handed out", "kits per overdose"]
    assert every["kits handed out"].sum() > 0 and len(at.dataframe) >= 3
    for name, t in (("distribution gaps", gaps), ("kits per overdose", every)):
        check_public_table(t, name)
        n = pd.to_numeric(t["overdoses"], errors="coerce")
        assert not n.between(1, 9).any()
    # the gaps are the published rows with a top-quarter count and under one kit per overdose
    n = pd.to_numeric(every["overdoses"], errors="coerce").astype(float)
    cut = np.quantile(n[n > 0], 0.75)
    want = every[(n >= cut) & (every["kits per overdose"].astype(float) < 1)]
    assert sorted(gaps["h3"]) == sorted(want["h3"])
