# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest, issue 9: the Overview page of an export that never recorded outcome or naloxone and
began 60 days ago says "not recorded" and "no data" instead of zeros and +500%."""

from __future__ import annotations

import pandas as pd
from app_helpers import END, app_env, app_inputs, metric, run_page  # noqa: F401


def test_unrecorded_fields_and_prior_without_data(app_inputs, monkeypatch, tmp_path):
    df = pd.read_csv(app_inputs["incidents"])
    t = pd.to_datetime(df["occurred_at"])
    df = df[t >= END - pd.Timedelta(days=60)].drop(columns=["outcome", "naloxone",
                                                             "naloxone_doses"])
    path = tmp_path / "no_outcome.csv"
    df.to_csv(path, index=False)
    monkeypatch.setenv("GAPMAP_INCIDENTS", str(path))
    at = run_page()
    assert metric(at, "Fatal, 364 d") == "not recorded"
    assert metric(at, "Nonfatal, 364 d") == "not recorded"
    assert metric(at, "Naloxone given, 364 d") == "not recorded"
    assert any("no data: before the first record" in s.value for s in at.subheader)
    over = [m for m in at.metric if m.label.startswith("Overdoses, 364")][0]
    assert not over.delta  # no change against a period without data
    assert any("unknown is not zero" in i.value for i in at.info)
    assert any("blank, not zero" in c.value for c in at.caption)
