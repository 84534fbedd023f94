"""``gapmap gaps`` end to end on small synthetic files: values, privacy gate, options, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cli import main
from geo.cells import cells_to_latlng, cells_to_polygons, haversine_m, latlng_to_cells
from geo.grid import analysis_grid

BUSY = (36.070, -79.790)  # 20 overdoses, far from naloxone
SMALL = (36.120, -79.700)  # 3 overdoses, next to a naloxone box


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(5)
    n_busy, n_small = 20, 3
    lat = np.r_[BUSY[0] + rng.normal(0, 0.0003, n_busy), np.full(n_small, SMALL[0])]
    lon = np.r_[BUSY[1] + rng.normal(0, 0.0003, n_busy), np.full(n_small, SMALL[1])]
    n = lat.size
    # 3-day spacing from 2026-01-01 keeps every event inside the last 12 months and apart in time
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n) * 3, "D")
    pd.DataFrame({
        "incident_id": [f"i{i}" for i in range(n)],
        "occurred_at": t.strftime("%Y-%m-%d %H:%M"),
        "lat": lat, "lon": lon, "outcome": "nonfatal", "naloxone": "yes",
        "source": "ems", "agency": "county ems",
    }).to_csv(tmp_path / "inc.csv", index=False)
    pd.DataFrame({
        "site_id": ["N1", "S1", "T1", "BAD"],
        "name": ["Box", "SSP", "Clinic", "Broken"],
        "kind": ["naloxone", "ssp", "treatment", "naloxone"],
        "subtype": ["naloxone_box", "ssp_fixed", "buprenorphine", "naloxone_box"],
        "lat": [SMALL[0] + 0.001, 36.0, 36.1, 999],
        "lon": [SMALL[1], -79.8, -79.75, -79.7],
        "open_24_7": ["true", "false", "false", "false"],
        "buprenorphine": ["", "", "yes", ""],
        "medicaid": ["", "", "yes", ""],
        "capacity": ["4", "", "50", ""],
        "hours": ["24/7", "Mo-Fr 09:00-17:00", "Mo-Fr 08:00-17:00", ""],
    }).to_csv(tmp_path / "res.csv", index=False)
    return tmp_path


def run(files, *extra):
    return main(["gaps", "--incidents", str(files / "inc.csv"),
                 "--resources", str(files / "res.csv"), *extra])


def cell_of(p, res=8):
    return latlng_to_cells(np.array([p[0]]), np.array([p[1]]), res)[0]


def test_restricted_values(files, capsys):
    out = files / "g.csv"
    assert run(files, "--res", "8", "--tier", "restricted", "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert "1 resource row(s)" in err and "bad coordinates" in err  # the broken site, reported
    df = pd.read_csv(out)
    for c in ("h3", "count", "dist_m_treatment", "dist_m_ssp", "dist_m_naloxone",
              "gap_score", "gap_rank", "reason", "count_prior", "trend_ratio", "gi_class"):
        assert c in df.columns
    assert df["gap_rank"].tolist() == list(range(1, len(df) + 1))  # sorted by rank
    assert df["count"].sum() == 23
    busy = df.loc[df["count"].idxmax()]
    assert busy["count"] >= 18 and busy["gap_rank"] == 1
    # default window: the 52 weeks ending with the last day of data (2026-03-08), [start, end)
    assert busy["reason"].startswith(f"{busy['count']} overdoses in the 52 weeks to 2026-03-08")
    # distance from the cell centre to the naloxone box, by haversine
    cell = int(busy["h3"], 16)
    clat, clon = cells_to_latlng(np.array([cell], dtype=np.uint64))
    d = haversine_m(clat[0], clon[0], SMALL[0] + 0.001, SMALL[1])
    assert busy["dist_m_naloxone"] == pytest.approx(d, rel=1e-9)
    assert f"nearest naloxone {d / 1000:.1f} km" in busy["reason"]


def test_public_suppresses_and_words_reasons(files):
    out = files / "p.csv"
    assert run(files, "--res", "8", "--out", str(out)) == 0
    df = pd.read_csv(out)
    small = df[df["h3"] == format(int(cell_of(SMALL)), "x")].iloc[0]
    assert pd.isna(small["count"]) and bool(small["suppressed"])
    # public window: the 52 weeks to the release date 2026-03-09 (a Monday)
    assert small["reason"].startswith("fewer than 10 overdoses in the 52 weeks to 2026-03-08")
    assert pd.isna(small["trend_ratio"])  # a ratio of a hidden count is blanked with it
    assert "3 overdose" not in " ".join(df["reason"])
    busy = df.loc[df["count"].idxmax()]
    # 20 true overdoses, published with cell-key noise of at most 3
    assert 17 <= busy["count"] <= 23 and not bool(busy["suppressed"])
    assert busy["reason"].startswith(f"{int(busy['count'])} overdoses in the 52 weeks")


def test_boundary_population_and_sensitivity(files):
    cells = np.unique(latlng_to_cells(np.array([BUSY[0], SMALL[0]]),
                                      np.array([BUSY[1], SMALL[1]]), 7))
    import geopandas as gpd
    import shapely

    area = shapely.union_all(list(cells_to_polygons(cells))).buffer(0.001)
    gpd.GeoDataFrame({"name": ["study"]}, geometry=[area], crs=4326).to_file(
        files / "b.geojson", driver="GeoJSON")
    gpd.GeoDataFrame({"population": [5000.0]}, geometry=[area], crs=4326).to_file(
        files / "pop.geojson", driver="GeoJSON")
    out, sens = files / "g.csv", files / "s.csv"
    assert run(files, "--res", "8", "--boundary", str(files / "b.geojson"),
               "--population", str(files / "pop.geojson"), "--tier", "restricted",
               "--weight", "ssp=0", "--reach", "naloxone=200",
               "--out", str(out), "--sensitivity", str(sens)) == 0
    df = pd.read_csv(out)
    grid = analysis_grid(gpd.read_file(files / "b.geojson"), 8)
    assert sorted(int(h, 16) for h in df["h3"]) == sorted(grid.tolist())
    assert (df["count"] == 0).sum() == len(grid) - (df["count"] > 0).sum()
    assert df["population"].sum() == pytest.approx(5000.0, rel=1e-6)
    assert "score_ssp" not in df.columns and "syringe" not in df["reason"].iloc[0]
    s = pd.read_csv(sens)
    assert {"component", "factor", "spearman", "top_overlap"} <= set(s.columns)
    assert "ssp" not in set(s["component"])


def test_hotspots_option(files, capsys):
    busy, small = cell_of(BUSY), cell_of(SMALL)
    pd.DataFrame({"h3": [format(int(small), "x"), format(int(busy), "x")],
                  "class": ["hot_99", "not_significant"]}).to_csv(files / "hs.csv", index=False)
    out = files / "g.csv"
    assert run(files, "--res", "8", "--tier", "restricted", "--hotspots", str(files / "hs.csv"),
               "--weight", "hotspot=50", "--out", str(out)) == 0
    df = pd.read_csv(out)
    top = df.iloc[0]
    assert int(top["h3"], 16) == small and top["gi_class"] == "hot_99"
    assert "Gi* hot spot" in top["reason"] and top["score_hotspot"] == 1.0
    pd.DataFrame({"h3": ["872830828ffffff"], "class": ["hot_99"]}).to_csv(
        files / "far.csv", index=False)
    assert run(files, "--hotspots", str(files / "far.csv"), "--out", str(out)) == 2
    assert "is not at --res 8" in capsys.readouterr().err
    assert run(files, "--hotspots", str(files / "hs.csv"), "--no-hotspots",
               "--out", str(out)) == 2


def test_open_at_filters_sites(files, capsys):
    day, night = files / "day.csv", files / "night.csv"
    base = ("--res", "8", "--tier", "restricted")
    # Wednesday 10:00: the clinic (Mo-Fr 08:00-17:00) is open; Saturday 23:00 it is not.
    assert run(files, *base, "--open-at", "2026-11-25 10:00", "--out", str(day)) == 0
    assert run(files, *base, "--open-at", "2026-11-28 23:00", "--out", str(night)) == 0
    d, n = pd.read_csv(day), pd.read_csv(night)
    assert np.isfinite(d["dist_m_treatment"]).all()
    assert np.isinf(n["dist_m_treatment"]).all()  # no treatment site open then
    assert (d["dist_m_naloxone"].to_numpy() == n["dist_m_naloxone"].to_numpy()).all()  # 24/7 box
    # issue 9: the site exists but is closed then — not "no MOUD site in the data"
    assert "no MOUD site open at Sat 23:00" in n["reason"].iloc[0]
    assert "in the data" not in n["reason"].iloc[0]
    assert run(files, "--open-at", "someday", "--out", str(day)) == 2
    assert "--open-at expects a local time" in capsys.readouterr().err


def test_errors(files, capsys):
    assert main(["gaps", "--incidents", str(files / "inc.csv"), "--resources",
                 str(files / "nope.csv"), "--out", str(files / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run(files, "--weight", "burden", "--out", str(files / "x.csv")) == 2
    assert "--weight expects NAME=NUMBER" in capsys.readouterr().err
    assert run(files, "--weight", "bus=1", "--out", str(files / "x.csv")) == 2
    assert "unknown component(s) ['bus']" in capsys.readouterr().err
    assert run(files, "--reach", "bus=1", "--out", str(files / "x.csv")) == 2
    assert "unknown group(s) ['bus']" in capsys.readouterr().err
    assert run(files, "--res", "10", "--out", str(files / "x.csv")) == 2
    assert "finer than the public floor" in capsys.readouterr().err
    assert not (files / "x.csv").exists()


def test_help_lists_options(capsys):
    with pytest.raises(SystemExit):
        main(["gaps", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for opt in ("--resources", "--boundary", "--population", "--tier", "--weight", "--reach",
                "--start", "--end", "--as-of"):
        assert opt in text
    assert "first day EXCLUDED (window [start, end))" in text


def test_as_of_is_end_exclusive_and_public_windows_fixed(files, capsys):
    """--as-of is --end: [start, end) with end the first day excluded (no midnight cut)."""
    a, b = files / "a.csv", files / "b.csv"
    base = ("--res", "8", "--tier", "restricted", "--no-hotspots", "--start", "2026-01-01")
    # the first incident is 2026-01-01 00:00 (in: start is included); the last is
    # 2026-03-08 00:00: --end 2026-03-08 excludes it, --as-of 2026-03-09 includes it
    assert run(files, *base, "--end", "2026-03-08", "--out", str(a)) == 0
    assert run(files, *base, "--as-of", "2026-03-09", "--out", str(b)) == 0
    assert pd.read_csv(a)["count"].sum() == 22 and pd.read_csv(b)["count"].sum() == 23
    # public: only release windows
    assert run(files, "--start", "2026-01-01", "--end", "2026-03-07", "--out", str(a)) == 2
    assert "release" in capsys.readouterr().err
