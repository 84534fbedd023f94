"""`gapmap alerts`: spike tables and scan clusters end to end, the privacy gate, bad arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cli
from geo.cells import cells_to_str, latlng_to_cells, str_to_cells

END = pd.Timestamp("2024-06-30")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """EMS-only export: ~6 a day over 70 days spread over the county, plus 30 extra on the
    last day in one neighbourhood (a bad-batch spike)."""
    rng = np.random.default_rng(3)
    n = 420
    days = rng.integers(0, 70, n)
    lat = 36.07 + rng.uniform(-0.08, 0.08, n)
    lon = -79.79 + rng.uniform(-0.08, 0.08, n)
    k = 30
    days = np.r_[days, np.zeros(k, int)]
    lat = np.r_[lat, 36.101 + rng.normal(0, 0.0006, k)]
    lon = np.r_[lon, -79.752 + rng.normal(0, 0.0006, k)]
    t = END - pd.to_timedelta(days, unit="D") + pd.to_timedelta(rng.integers(0, 1440, days.size),
                                                                unit="min")
    df = pd.DataFrame({
        "incident_id": [f"E{i:05d}" for i in range(days.size)],
        "occurred_at": t.strftime("%Y-%m-%dT%H:%M:%S"),
        "lat": lat.round(6), "lon": lon.round(6),
        "outcome": "nonfatal", "naloxone": "yes", "source": "ems", "agency": "County EMS",
    })
    path = tmp_path_factory.mktemp("alerts") / "ems.csv"
    df.to_csv(path, index=False)
    return path


def _run(*argv):
    return cli.main(["alerts", *map(str, argv)])


def test_ears_on_jurisdiction_restricted(export, tmp_path):
    out = tmp_path / "a.csv"
    assert _run("--incidents", export, "--method", "ears", "--days", 14, "--tier", "restricted",
                "--area", "jurisdiction", "--out", out) == 0
    tab = pd.read_csv(out)
    last = tab[(tab["date"] == str(END.date())) & (tab["severity"] == "alert")]
    assert len(last) == 1 and last.iloc[0]["area"] == "whole area"
    assert last.iloc[0]["method"] == "C2"
    # observed = every incident of the last day; expected = mean of days t-9 .. t-3 by hand
    src = pd.read_csv(export, parse_dates=["occurred_at"])
    day = src["occurred_at"].dt.floor("D")
    assert last.iloc[0]["observed"] == (day == END).sum()
    base = [(day == END - pd.Timedelta(days=d)).sum() for d in range(3, 10)]
    assert last.iloc[0]["expected"] == pytest.approx(np.mean(base))
    assert last.iloc[0]["baseline"] == sum(base) and last.iloc[0]["baseline_days"] == 7
    assert (tab["suppressed"] == False).all()  # noqa: E712 (restricted: nothing hidden)


def test_h3_alerts_public_go_through_gate(export, tmp_path, monkeypatch):
    import products.alerts as product

    calls = []
    real = product.publish

    def spy(table, policy, **kw):
        calls.append((policy, kw))
        return real(table, policy, **kw)

    monkeypatch.setattr(product, "publish", spy)
    out = tmp_path / "h.csv"
    assert _run("--incidents", export, "--method", "ewma", "--area", "h3", "--res", 8,
                "--days", 7, "--out", out) == 0
    assert len(calls) == 1 and calls[0][0].tier == "public"
    assert calls[0][1]["count_columns"] == ["observed", "baseline"]
    tab = pd.read_csv(out)
    spike = cells_to_str(latlng_to_cells([36.101], [-79.752], 8))[0]
    row = tab[(tab["area"] == spike) & (tab["date"] == str(END.date()))]
    assert len(row) == 1 and row.iloc[0]["severity"] == "alert"
    exact_out = tmp_path / "hr.csv"
    assert _run("--incidents", export, "--method", "ewma", "--area", "h3", "--res", 8,
                "--days", 7, "--tier", "restricted", "--out", exact_out) == 0
    ex = pd.read_csv(exact_out)
    exact = ex[(ex["area"] == spike) & (ex["date"] == str(END.date()))].iloc[0]["observed"]
    assert exact >= 10 and abs(row.iloc[0]["observed"] - exact) <= 3  # perturbed, shown
    small = tab[tab["observed"].isna()]
    assert small["suppressed"].all()
    for c in ("expected", "threshold", "baseline"):  # nothing beside a hidden count
        assert small[c].isna().all(), c
    assert tab["statistic"].isna().all() and tab["p"].isna().all()  # restricted only
    shown = pd.to_numeric(tab["observed"]).dropna()
    assert not ((shown >= 1) & (shown <= 9)).any()
    warn = tab[tab["method"] == "neighbour"]
    assert len(warn) and (warn.loc[warn["trigger_area"] == spike, "date"] == str(END.date())).all()
    str_to_cells(tab["area"].to_numpy())  # areas are valid hex cells


def test_end_is_exclusive_and_said_in_help(export, tmp_path, capsys):
    """--end is the first day excluded: the spike day counts with --end END+1, not with END."""
    inc, exc = tmp_path / "in.csv", tmp_path / "ex.csv"
    nxt = str((END + pd.Timedelta(days=1)).date())
    assert _run("--incidents", export, "--area", "jurisdiction", "--tier", "restricted",
                "--end", nxt, "--days", 3, "--out", inc) == 0
    assert _run("--incidents", export, "--area", "jurisdiction", "--tier", "restricted",
                "--start", str((END - pd.Timedelta(days=3)).date()), "--end", str(END.date()),
                "--out", exc) == 0
    a, b = pd.read_csv(inc), pd.read_csv(exc)
    assert str(END.date()) in set(a["date"]) and str(END.date()) not in set(b["date"])
    src = pd.read_csv(export, parse_dates=["occurred_at"])
    spike = a[a["date"] == str(END.date())].iloc[0]
    assert spike["observed"] == (src["occurred_at"].dt.floor("D") == END).sum()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["alerts", "--help"])
    assert "first day EXCLUDED" in capsys.readouterr().out


def test_threshold_method(export, tmp_path):
    out = tmp_path / "t.csv"
    assert _run("--incidents", export, "--method", "threshold", "--threshold", 25, "--days", 10,
                "--area", "jurisdiction", "--tier", "restricted", "--out", out) == 0
    tab = pd.read_csv(out)
    assert tab["date"].tolist() == [str(END.date())]
    assert tab.iloc[0]["threshold"] == 25 and tab.iloc[0]["observed"] >= 30


def test_scan_command(export, tmp_path):
    out = tmp_path / "s.csv"
    assert _run("--incidents", export, "--method", "scan", "--res", 8, "--days", 30,
                "--replicates", 99, "--seed", 4, "--tier", "restricted", "--out", out) == 0
    tab = pd.read_csv(out)
    for c in ("rank", "cells", "start", "end", "observed", "expected", "llr", "p",
              "recurrence_days", "zone_count"):
        assert c in tab.columns
    top = tab.iloc[0]
    spike = cells_to_str(latlng_to_cells([36.101], [-79.752], 8))[0]
    assert spike in top["cells"].split(";")
    # [start, end): the cluster's last day is END, so end is the day after
    assert top["end"] == str((END + pd.Timedelta(days=1)).date())
    assert top["p"] == pytest.approx(0.01) and top["recurrence_days"] == pytest.approx(100)
    assert top["observed"] >= 30
    # same seed → same file
    out2 = tmp_path / "s2.csv"
    _run("--incidents", export, "--method", "scan", "--res", 8, "--days", 30,
         "--replicates", 99, "--seed", 4, "--tier", "restricted", "--out", out2)
    assert out.read_text() == out2.read_text()


def test_scan_command_public(export, tmp_path):
    out = tmp_path / "sp.csv"
    assert _run("--incidents", export, "--method", "scan", "--res", 8, "--replicates", 99,
                "--seed", 4, "--out", out) == 0
    tab = pd.read_csv(out)
    assert tab["llr"].isna().all()  # with expected it would solve back for the exact count
    hidden = tab[tab["observed"].isna()]
    assert hidden[["expected", "p", "recurrence_days"]].isna().all().all()
    shown = pd.concat([tab["observed"], tab["zone_count"]]).dropna()
    assert not ((shown >= 1) & (shown <= 9)).any()
    assert tab["observed"].max() >= 13  # the planted spike (≥ 16), perturbed by at most 3


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--days", "30"], "fixed release windows"),
        (["--days", "0"], "--days must be at least 1"),
        (["--area", "h3", "--res", "9"], "finer than the public floor"),
        (["--start", "2024-06-01"], "--start needs --end"),
        (["--method", "threshold"], "restricted-tier only"),
        (["--method", "scan", "--max-days", "40"], "max_days"),
        (["--method", "scan", "--replicates", "0"], "replicates"),
        (["--method", "ears", "--sd-floor", "-1"], "sd_floor"),
        (["--method", "ewma", "--smoothing", "fast"], "--smoothing expects numbers"),
        (["--method", "ewma", "--smoothing", "1.2"], "smoothing must be in (0, 1)"),
    ],
)
def test_bad_arguments(export, tmp_path, capsys, extra, match):
    code = _run("--incidents", export, *extra, "--out", tmp_path / "x.csv")
    assert code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_help_lists_methods(capsys):
    with pytest.raises(SystemExit):
        cli.main(["alerts", "--help"])
    text = capsys.readouterr().out
    for word in ("ears", "ewma", "threshold", "scan", "--max-radius-m", "--replicates", "--tier"):
        assert word in text


def test_polygon_areas(export, tmp_path):
    import geopandas as gpd
    import shapely

    # the spike neighbourhood sits in "north-east"; "north-west" touches it; "far" is away
    polys = gpd.GeoDataFrame(
        {"name": ["north-east", "north-west", "far"]},
        geometry=[shapely.box(-79.77, 36.08, -79.70, 36.16),
                  shapely.box(-79.87, 36.08, -79.77, 36.16),
                  shapely.box(-70.0, 40.0, -69.9, 40.1)],
        crs=4326,
    )
    areas = tmp_path / "areas.geojson"
    polys.to_file(areas, driver="GeoJSON")
    out = tmp_path / "p.csv"
    assert _run("--incidents", export, "--area", "polygon", "--areas", areas, "--area-id", "name",
                "--days", 7, "--tier", "restricted", "--out", out) == 0
    tab = pd.read_csv(out)
    last = tab[tab["date"] == str(END.date())]
    row = last[last["area"] == "north-east"].iloc[0]
    assert row["severity"] == "alert" and row["observed"] >= 30
    warn = last[last["method"] == "neighbour"]
    assert warn["area"].tolist() == ["north-west"]
    assert warn["trigger_area"].tolist() == ["north-east"]
    assert "far" not in set(tab["area"])
    code = _run("--incidents", export, "--area", "polygon", "--out", tmp_path / "q.csv")
    assert code == 2


def test_store_gives_same_alerts_as_file(export, tmp_path):
    from geo.store import IncidentStore

    store = tmp_path / "s.duckdb"
    IncidentStore(store).ingest(export)
    a, b = tmp_path / "file.csv", tmp_path / "store.csv"
    assert _run("--incidents", export, "--method", "ears", "--area", "h3", "--days", 10,
                "--tier", "restricted", "--out", a) == 0
    assert _run("--store", store, "--method", "ears", "--area", "h3", "--days", 10,
                "--tier", "restricted", "--out", b) == 0
    fa, fb = pd.read_csv(a), pd.read_csv(b)
    assert len(fa) > 0
    pd.testing.assert_frame_equal(fa, fb)
