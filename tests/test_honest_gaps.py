"""Issue 9, defaults that fit: a cell without overdoses has gap score 0; reasons say "no site
open now" (or "matches the site filters") when sites exist but are closed or filtered out;
"open now" is the study area's clock. Small hand-made fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.access import DEFAULT_GROUPS
from layers.gaps import gap_scores, sensitivity
from layers.hours import DAYS, local_now, local_time, study_tz
from layers.sites import validate_resources
from products.gaps import absent_words


def test_a_cell_without_overdoses_scores_zero_even_in_a_hot_rising_neighbourhood():
    table = pd.DataFrame({
        "count_12m": [12, 0, 0, 3],
        "trend": ["rising", "rising", "none", "stable"],
        "gi_class": ["hot_99", "hot_99", "not_significant", "not_significant"],
        "dist_m_naloxone": [500.0, 9000.0, 9000.0, 100.0],
    })
    w = {"burden": 2.0, "trend": 0.5, "hotspot": 1.0, "naloxone": 1.0}
    s = gap_scores(table, w, hot_column="gi_class", groups=DEFAULT_GROUPS)
    # cell 1: hot (1.0) with no burden share: burden index (0 + 0 + 1)/3.5 > 0, yet score 0
    assert s.loc[1, "burden_index"] > 0
    assert s.loc[1, "gap_score"] == 0 and s.loc[2, "gap_score"] == 0
    assert s.loc[0, "gap_score"] > 0 and s.loc[3, "gap_score"] > 0
    assert s.loc[0, "gap_rank"] == 1 and set(s.loc[[1, 2], "gap_rank"]) == {3, 4}
    # a hidden count (NaN) is not zero: scored as given, not forced to 0
    hidden = gap_scores(table.assign(count_12m=[12, np.nan, 0, 3]).fillna({"count_12m": 5}),
                        w, hot_column="gi_class")
    assert hidden.loc[1, "gap_score"] > 0
    sens = sensitivity(table, w, hot_column="gi_class", top_n=2)
    assert (sens["top_overlap"] >= 0).all()


def _sites(rows):
    raw = pd.DataFrame(rows)
    return validate_resources(raw).sites


def test_reasons_say_closed_or_filtered_not_absent():
    today = local_now().day_of_week
    other = DAYS[(today + 3) % 7]  # a clinic open only on another weekday: closed now
    every = _sites([
        {"kind": "treatment", "lat": 36.07, "lon": -79.79, "hours": f"{other} 08:00-09:00",
         "buprenorphine": "yes", "medicaid": "yes"},
        {"kind": "naloxone", "lat": 36.08, "lon": -79.80, "open_24_7": "yes"},
        {"kind": "ssp", "lat": 36.06, "lon": -79.78, "hours": "Mo-Su 00:00-24:00"},
    ])
    now = absent_words(every, DEFAULT_GROUPS, open_at=local_now())
    assert now["treatment"] == "no MOUD site open now"
    assert now["medicaid_buprenorphine"] == "no Medicaid buprenorphine site open now"
    assert "naloxone" not in now and "ssp" not in now  # open: no special words
    sat = absent_words(every, DEFAULT_GROUPS, open_at=pd.Timestamp("2026-11-28 23:00"))
    if other not in ("Sa",):
        assert sat["treatment"] == "no MOUD site open at Sat 23:00"
    # filtered out by the door (e.g. "accepts Medicaid" leaving no treatment site)
    kept = every[every["kind"].astype(str) != "treatment"]
    filt = absent_words(kept, DEFAULT_GROUPS, all_resources=every)
    assert filt["treatment"] == "no MOUD site matches the site filters"
    # truly absent everywhere: the default words stay
    assert absent_words(kept, DEFAULT_GROUPS, all_resources=kept) == {}


def test_open_now_is_the_study_area_clock(monkeypatch):
    monkeypatch.delenv("GAPMAP_TZ", raising=False)
    assert study_tz() == "America/New_York"
    monkeypatch.setenv("GAPMAP_TZ", "Asia/Tokyo")
    assert study_tz() == "Asia/Tokyo" and study_tz("Europe/Paris") == "Europe/Paris"
    utc = pd.Timestamp.now(tz="UTC").tz_localize(None)
    tokyo = local_now()
    assert abs((tokyo - utc) - pd.Timedelta(hours=9)) < pd.Timedelta(minutes=2)
    assert local_time(pd.Timestamp("2026-11-28 04:00", tz="UTC"), "America/New_York") == \
        pd.Timestamp("2026-11-27 23:00")
    assert local_time(pd.Timestamp("2026-11-28 04:00")) == pd.Timestamp("2026-11-28 04:00")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        study_tz("Mars/Olympus")


def test_cli_open_now_and_tz(tmp_path, capsys):
    from cli import main

    inc = pd.DataFrame({"occurred_at": pd.Timestamp("2026-10-01") + pd.to_timedelta(
        np.arange(40), unit="D"), "lat": 36.07 + np.arange(40) % 3 * 0.01, "lon": -79.79,
        "outcome": "nonfatal", "naloxone": "yes", "source": "ems"})
    inc.to_csv(tmp_path / "inc.csv", index=False)
    today = local_now("Pacific/Auckland").day_of_week
    pd.DataFrame([{"kind": "treatment", "lat": 36.07, "lon": -79.79,
                   "hours": f"{DAYS[(today + 3) % 7]} 08:00-09:00"},
                  {"kind": "naloxone", "lat": 36.08, "lon": -79.80, "open_24_7": "yes"}]
                 ).to_csv(tmp_path / "res.csv", index=False)
    out = tmp_path / "g.csv"
    args = ["gaps", "--incidents", str(tmp_path / "inc.csv"), "--resources",
            str(tmp_path / "res.csv"), "--tier", "restricted", "--out", str(out)]
    assert main([*args, "--open-now", "--tz", "Pacific/Auckland"]) == 0
    g = pd.read_csv(out)
    assert g["reason"].str.contains("no MOUD site open now").all()
    assert main([*args, "--open-now", "--tz", "Nowhere/Zone"]) == 2
    assert "unknown time zone 'Nowhere/Zone'" in capsys.readouterr().err
