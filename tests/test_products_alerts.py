# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""products.alerts: exact restricted values, CLI = dashboard = briefing, the public rules and
the expected × baseline-days attack."""

from __future__ import annotations

import h3
import numpy as np
import pandas as pd
import pytest
from app_helpers import app_env, app_inputs, load_incidents, run_page  # noqa: F401

import cli
from geo.privacy import with_record_keys
from products.alerts import current_alerts, scan_table
from products.query import Query


@pytest.fixture(scope="module")
def sample():
    from data import get_path
    from geo.ingest import read_incidents

    return with_record_keys(read_incidents(get_path("incidents")).incidents)


def test_restricted_alerts_equal_a_pandas_hand_count(sample):
    tab = current_alerts(sample, Query(), "restricted", method="C2", res=7, days=28)
    assert len(tab) and (tab["date"] >= "2026-10-19").all() and (tab["date"] < "2026-11-16").all()
    day = pd.to_datetime(sample["occurred_at"]).dt.floor("D")
    cell = pd.Series([h3.latlng_to_cell(a, o, 7)
                      for a, o in zip(sample["lat"], sample["lon"], strict=True)])
    per_cell = pd.DataFrame({"day": day.to_numpy(), "cell": cell}).groupby(["day", "cell"]).size()
    per_day = day.value_counts()
    for _, r in tab.iterrows():
        d = pd.Timestamp(r["date"])
        if r["area"] == "whole area":
            obs = per_day.get(d, 0)
            base = sum(per_day.get(d - pd.Timedelta(days=i), 0) for i in range(3, 10))
        else:
            obs = per_cell.get((d, r["area"]), 0)
            base = sum(per_cell.get((d - pd.Timedelta(days=i), r["area"]), 0)
                       for i in range(3, 10))
        assert r["observed"] == obs
        if r["method"] == "C2":  # baseline: days t-9 .. t-3
            assert r["baseline"] == base and r["baseline_days"] == 7
            assert r["expected"] == pytest.approx(base / 7)


def test_public_rules_and_the_expected_times_days_attack(sample):
    pub = current_alerts(sample, Query(), "public", method="C2", res=7, days=91)
    exact = current_alerts(sample, Query(), "restricted", method="C2", res=7, days=91,
                           )
    exact = exact[exact["date"] < pd.Timestamp(pub["date"].max()) + pd.Timedelta(days=1)]
    assert len(pub) > 10
    for c in ("observed", "baseline"):
        v = pub[c].dropna().astype(float)
        assert not ((v >= 1) & (v <= 9)).any(), c
    # an alert whose day count is hidden is withheld from the public table (said on the page)
    assert pub["observed"].notna().all()
    shown_keys = set(zip(pub["date"], pub["area"], pub["method"], strict=True))
    hidden_exact = exact[exact["observed"].between(1, 9)]
    assert len(hidden_exact) > 0
    assert not any(k in shown_keys for k in zip(hidden_exact["date"], hidden_exact["area"],
                                                hidden_exact["method"], strict=True))
    assert pub.attrs["withheld"] >= len(hidden_exact)
    assert pub["statistic"].isna().all() and pub["p"].isna().all()
    assert (pub["date"] == pub["date"].dt.normalize()).all()  # dates, never times
    # expected × baseline days is the published (perturbed) baseline, never an exact small one
    key = ["date", "area", "method"]
    m = pub.merge(exact, on=key, suffixes=("", "_x"))
    assert len(m) == len(pub)
    has = m["expected"].notna()
    np.testing.assert_allclose(m.loc[has, "expected"] * m.loc[has, "baseline_days"],
                               m.loc[has, "baseline"].astype(float))
    back = (m.loc[has, "expected"] * m.loc[has, "baseline_days"]).round()
    assert not ((back >= 1) & (back <= 9)).any()
    small = m["baseline_x"].between(1, 9)
    assert m.loc[small, "expected"].isna().all()
    assert (back != m.loc[has, "baseline_x"]).any()  # perturbed: not the exact totals
    assert (abs(back - m.loc[has, "baseline_x"]) <= 3).all()


def test_scan_public_blanks_statistics_of_hidden_clusters(sample):
    pub = scan_table(sample, Query(), "public", res=8, replicates=49, seed=1)
    raw = scan_table(sample, Query(end=pub["end"].max()), "restricted", res=8, replicates=49,
                     seed=1)
    assert len(pub) == len(raw) > 0
    hid = pub["observed"].isna()
    assert pub.loc[hid, ["expected", "p", "recurrence_days"]].isna().all().all()
    assert pub["llr"].isna().all()
    # restricted observed = a hand count of the cluster's cells and days
    at = [h3.str_to_int(h3.latlng_to_cell(a, o, 8))
          for a, o in zip(sample["lat"], sample["lon"], strict=True)]
    t = pd.to_datetime(sample["occurred_at"])
    for _, r in raw.iterrows():
        cells = {h3.str_to_int(c) for c in r["cells"].split(";")}
        inside = np.array([c in cells for c in at])
        assert r["observed"] == (inside & (t >= r["start"]) & (t < r["end"])).sum()


def _shown(v):
    return "suppressed" if pd.isna(v) else str(int(v))


def test_cli_csv_equals_dashboard_table_equals_briefing_section(app_inputs, tmp_path):
    from report.sections import briefing_content

    out = tmp_path / "alerts.csv"
    assert cli.main(["alerts", "--incidents", str(app_inputs["incidents"]), "--res", "7",
                     "--days", "7", "--out", str(out)]) == 0
    csv = pd.read_csv(out, dtype={"area": str, "trigger_area": str})
    at = run_page()
    dash = at.dataframe[0].value
    brief = briefing_content(load_incidents(app_inputs["incidents"]), res=7).alerts
    assert len(csv) > 0 and len(csv) == len(dash) == len(brief)

    def norm(df, observed):
        d = pd.DataFrame({
            "date": pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d"),
            "area": df["area"].astype(str), "severity": df["severity"].astype(str),
            "method": df["method"].astype(str),
            "observed": [v if isinstance(v, str) else _shown(v) for v in df[observed]],
            "expected": pd.to_numeric(df["expected"]).round(6),
        })
        return d.sort_values(["date", "area", "method"]).reset_index(drop=True)

    a, b, c = norm(csv, "observed"), norm(dash, "observed"), norm(brief, "count")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)


def test_the_split_module_keeps_every_public_name():
    """products.alerts kept its names after its series pieces moved to products.alert_series
    (commands, pages and the briefing import them from products.alerts)."""
    import products.alert_series as series
    import products.alerts as alerts

    assert {n for n in alerts.__all__ if not hasattr(alerts, n)} == set()
    assert alerts.WHOLE_AREA == series.WHOLE_AREA == "whole area"
    assert alerts.alert_window.__module__ == alerts.current_alerts.__module__ == "products.alerts"
    assert alerts.scan_table.__module__ == "products.alerts"
