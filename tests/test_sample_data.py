"""The bundled synthetic sample: deterministic, committed as generated, realistic, with signal.

Its resource sites, candidates and contracts with the readers: tests/test_sample_resources.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import shapely

from data import SAMPLE_FILES, get_path
from data._model import EMERGING_HOTSPOT, PERSISTENT_HOTSPOTS, SEED, SPIKE
from data.generate import generate, write_sample
from geo.cells import (
    cells_resolution,
    disk_matrix,
    haversine_m,
    latlng_to_cells,
    polygon_to_cells,
    str_to_cells,
)

CANONICAL = [
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


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    write_sample(out, SEED)
    return out


@pytest.fixture(scope="module")
def inc():
    df = pd.read_csv(get_path("incidents"), dtype=str, keep_default_na=False)
    df["t"] = pd.to_datetime(df["occurred_at"], format="ISO8601")
    df["lat_f"] = df["lat"].astype(float)
    df["lon_f"] = df["lon"].astype(float)
    return df


@pytest.fixture(scope="module")
def truth():
    return json.loads(get_path("ground_truth").read_text())


@pytest.fixture(scope="module")
def boundary():
    fc = json.loads(get_path("boundary").read_text())
    assert len(fc["features"]) == 1
    return shapely.geometry.shape(fc["features"][0]["geometry"])


@pytest.fixture(scope="module")
def res8_counts(inc, boundary):
    grid = polygon_to_cells(boundary, 8)
    idx = np.searchsorted(grid, latlng_to_cells(inc["lat_f"], inc["lon_f"], 8))
    counts = np.bincount(idx, minlength=len(grid)).astype(float)
    assert counts.sum() == len(inc)  # every record falls in the analysis grid
    return grid, counts


def _years(t: pd.Series) -> np.ndarray:
    """Data year 0, 1, 2 (each starts on 16 November)."""
    return np.searchsorted(
        pd.to_datetime(["2024-11-16", "2025-11-16"]).values, t.values, side="right"
    )


# ---------------------------------------------------------------- determinism and committed files
def test_committed_files_equal_fresh_generation(fresh):
    for name, fname in SAMPLE_FILES.items():
        assert (fresh / fname).read_bytes() == get_path(name).read_bytes(), f"{fname} is stale"


def test_same_seed_same_bytes(fresh, tmp_path):
    write_sample(tmp_path, SEED)
    for fname in SAMPLE_FILES.values():
        assert (tmp_path / fname).read_bytes() == (fresh / fname).read_bytes()


def test_sample_roads_registered_and_written(fresh):
    # issue 11: the synthetic streets are a sample file, written by write_sample (no draws)
    assert get_path("roads").name == "sample_roads.geojson"
    fc = json.loads((fresh / "sample_roads.geojson").read_text())
    kinds = {f["properties"]["highway"] for f in fc["features"]}
    assert {"residential", "secondary", "motorway", "footway"} <= kinds


def test_other_seed_other_data():
    a, b = generate(1), generate(2)
    assert not a.incidents["lat"].equals(b.incidents["lat"])
    assert a.ground_truth["seed"] == 1


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        generate(-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        generate(1.5)
    with pytest.raises(ValueError, match="out_dir .* is not an existing directory"):
        write_sample(tmp_path / "missing", SEED)


def test_files_small_and_registered():
    for name in SAMPLE_FILES:
        assert get_path(name).stat().st_size < 2_000_000


# ---------------------------------------------------------------- incidents: schema and realism
def test_incident_schema_and_values(inc):
    assert list(inc.columns[: len(CANONICAL)]) == CANONICAL
    assert inc["incident_id"].is_unique
    assert set(inc["outcome"]) == {"fatal", "nonfatal"}
    assert set(inc["naloxone"]) == {"yes", "no", "unknown"}
    assert set(inc["source"]) == {"ems", "police", "hospital"}
    assert set(inc["sex"]) <= {"male", "female", ""}
    assert set(inc["age_band"]) <= {"15-24", "25-34", "35-44", "45-54", "55-64", "65+", ""}
    full = inc["occurred_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
    date_only = inc["occurred_at"].str.fullmatch(r"\d{4}-\d\d-\d\d")
    assert (full | date_only).all()
    assert set(inc.loc[date_only, "source"]) == {"hospital"}
    share = date_only[inc["source"] == "hospital"].mean()
    assert 0.2 < share < 0.4
    assert inc["t"].min() >= pd.Timestamp("2023-11-16")
    assert inc["t"].max() < pd.Timestamp("2026-11-16")
    doses = inc["naloxone_doses"]
    assert set(doses[(inc["naloxone"] == "yes") & (inc["source"] == "ems")]) == {"1", "2", "3"}
    assert set(doses[(inc["naloxone"] == "yes") & (inc["source"] == "police")]) == {"1", "2"}
    assert (doses[inc["naloxone"] != "yes"] == "").all()
    assert (doses[inc["source"] == "hospital"] == "").all()


def test_ems_calls_per_year_near_1300(inc):
    ems = inc[inc["source"] == "ems"]
    per_year = np.bincount(_years(ems["t"]), minlength=3)
    assert per_year.shape == (3,)
    assert all(1200 <= n <= 1500 for n in per_year), per_year


def test_shares_of_events(truth, inc):
    c = truth["counts"]
    assert c["records"] == len(inc)
    assert c["records_by_source"] == inc["source"].value_counts().to_dict()
    by = c["events_by_sources"]
    n = c["events"]
    assert sum(by.values()) == n
    police = sum(v for k, v in by.items() if "police" in k) / n
    hospital = sum(v for k, v in by.items() if "hospital" in k) / n
    assert 0.27 < police < 0.40 and 0.17 < hospital < 0.27
    assert by["police"] > 50 and by["hospital"] > 50  # events only police or hospital saw
    assert 0.065 < c["fatal_events"] / n < 0.095
    ems = inc[inc["source"] == "ems"]
    assert 0.065 < (ems["outcome"] == "fatal").mean() < 0.10
    assert (ems["naloxone"] == "yes").mean() > 0.7  # naloxone in most EMS responses


def test_duplicate_reports_minutes_and_metres_apart(inc, truth):
    groups = truth["duplicate_groups"]
    assert len(groups) == sum(
        v for k, v in truth["counts"]["events_by_sources"].items() if "+" in k
    )
    pos = pd.Series(np.arange(len(inc)), index=inc["incident_id"])
    i = pos.loc[[rid for g in groups for rid in g]].to_numpy()
    gid = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    d = inc.iloc[i].assign(g=gid)
    assert (d.groupby("g")["source"].nunique() == d.groupby("g").size()).all()  # one per source
    ems = d[d["source"] == "ems"].set_index("g")
    for src in ("police", "hospital"):
        o = d[d["source"] == src].set_index("g")
        o = o[o.index.isin(ems.index)]
        e = ems.loc[o.index]
        dist = haversine_m(
            e["lat_f"].values, e["lon_f"].values, o["lat_f"].values, o["lon_f"].values
        )
        assert dist.min() >= 35 and dist.max() <= 266  # 50–250 m plus the EMS GPS noise
        timed = o["occurred_at"].str.len() > 10
        dt = (o["t"] - e["t"])[timed].dt.total_seconds() / 60
        assert dt.min() >= -5 and dt.max() <= 45
    assert d.groupby("g")["outcome"].nunique().max() == 1


def test_time_of_day_and_weekday_patterns(inc):
    timed = inc[inc["occurred_at"].str.len() > 10]
    hour = timed["t"].dt.hour
    assert hour.between(18, 23).mean() > 2.5 * hour.between(3, 8).mean()
    days = pd.date_range("2023-11-16", "2026-11-15")
    per_day = inc.groupby(inc["t"].dt.normalize()).size().reindex(days, fill_value=0)
    weekend = per_day[per_day.index.day_of_week >= 4].mean()  # Fri–Sun
    weekday = per_day[per_day.index.day_of_week < 4].mean()
    assert weekend > 1.15 * weekday


def test_all_points_inside_boundary(inc, boundary):
    assert shapely.contains_xy(boundary, inc["lon_f"], inc["lat_f"]).all()
    for name in ("resources", "candidates"):
        df = pd.read_csv(get_path(name))
        assert shapely.contains_xy(boundary, df["lon"], df["lat"]).all(), name


# ---------------------------------------------------------------- geography
def _area_km2(geoms) -> np.ndarray:
    import geopandas as gpd

    return gpd.GeoSeries(list(geoms), crs=4326).to_crs(32617).area.to_numpy() / 1e6


def test_boundary_irregular_county_sized(boundary):
    assert boundary.is_valid and len(boundary.exterior.coords) > 20
    assert boundary.area / boundary.envelope.area < 0.95  # not a rectangle
    assert 1650 < _area_km2([boundary])[0] < 1750
    c = boundary.centroid
    assert abs(c.y - 36.07) < 0.05 and abs(c.x + 79.79) < 0.05


def test_block_groups_tile_boundary(boundary):
    fc = json.loads(get_path("population").read_text())
    props = pd.DataFrame([f["properties"] for f in fc["features"]])
    geoms = [shapely.geometry.shape(f["geometry"]) for f in fc["features"]]
    assert 300 <= len(geoms) <= 400
    assert props["geoid"].is_unique and props["geoid"].str.fullmatch(r"\d{12}").all()
    assert props["population"].sum() == 540_000 and (props["population"] > 0).all()
    union = shapely.union_all(geoms)
    assert abs(union.area - boundary.area) / boundary.area < 1e-4  # covers the county
    assert abs(sum(g.area for g in geoms) - union.area) / union.area < 1e-4  # no overlaps
    dens = props["population"].to_numpy() / _area_km2(geoms)
    assert np.percentile(dens, 90) > 10 * np.percentile(dens, 10)  # urban vs rural


def test_incidents_follow_population(inc):
    fc = json.loads(get_path("population").read_text())
    geoms = [shapely.geometry.shape(f["geometry"]) for f in fc["features"]]
    pop = np.array([f["properties"]["population"] for f in fc["features"]], dtype=float)
    pts = shapely.points(inc["lon_f"].to_numpy(), inc["lat_f"].to_numpy())
    pt_i, bg_i = shapely.STRtree(geoms).query(pts, predicate="intersects")
    assert np.array_equal(np.unique(pt_i), np.arange(len(inc)))  # every record in a block group
    counts = np.bincount(bg_i[np.unique(pt_i, return_index=True)[1]], minlength=len(geoms))
    area = _area_km2(geoms)
    rho = pd.Series(counts / area).corr(pd.Series(pop / area), method="spearman")
    assert rho > 0.7


def test_readme_matches_ground_truth(truth):
    text = (get_path("incidents").parent / "README.md").read_text()
    assert "SYNTHETIC" in text and str(SEED) in text
    assert f"{truth['counts']['records']:,}" in text  # regenerate → update the README's figures


# ---------------------------------------------------------------- planted signal
def test_ground_truth_record(truth):
    assert truth["synthetic"] is True and truth["seed"] == SEED and truth["generator_version"]
    kinds = [s["type"] for s in truth["signals"]]
    assert kinds.count("persistent_hotspot") == len(PERSISTENT_HOTSPOTS) >= 3
    assert kinds.count("emerging_hotspot") == 1 and kinds.count("spike") == 1
    for s in truth["signals"]:
        cells = str_to_cells(s["cells_res8"])
        assert (cells_resolution(cells) == 8).all()
        assert s["centre_cell_res8"] in s["cells_res8"]
        c = latlng_to_cells([s["centre"]["lat"]], [s["centre"]["lon"]], 8)[0]
        assert format(int(c), "x") == s["centre_cell_res8"]
        assert 300 <= s["radius_m"] <= 500
        assert s["planted_events"] == pytest.approx(s["expected_extra_events"], rel=0.35)


def test_persistent_hotspot_cells_elevated_and_gi_star_significant(truth, res8_counts):
    grid, x = res8_counts
    # Gi* (Getis & Ord 1992), binary k-ring-1 weights incl. self, straight from the definition
    w = disk_matrix(grid, 1)
    n, wi = len(x), np.asarray(w.sum(axis=1)).ravel()
    z = (w @ x - x.mean() * wi) / (x.std() * np.sqrt((n * wi - wi**2) / (n - 1)))
    for s in truth["signals"]:
        if s["type"] != "persistent_hotspot":
            continue
        i = np.searchsorted(grid, str_to_cells([s["centre_cell_res8"]]))[0]
        assert x[i] > 20 * x.mean(), s["id"]
        assert z[i] > 5, s["id"]  # far beyond any multiple-testing threshold for ~2,600 cells


def _records_within(inc, s):
    d = haversine_m(
        inc["lat_f"].values, inc["lon_f"].values, s["centre"]["lat"], s["centre"]["lon"]
    )
    return inc[d <= s["radius_m"] + 250]


def test_emerging_hotspot_quiet_before_busy_after(inc, truth):
    s = next(s for s in truth["signals"] if s["type"] == "emerging_hotspot")
    assert s["start"] == EMERGING_HOTSPOT.start
    near = _records_within(inc, s)
    before = (near["t"] < pd.Timestamp(s["start"])).sum()
    after = (near["t"] >= pd.Timestamp(s["start"])).sum()
    days_before = (pd.Timestamp(s["start"]) - pd.Timestamp("2023-11-16")).days
    days_after = (pd.Timestamp("2026-11-16") - pd.Timestamp(s["start"])).days
    assert after >= 40
    assert after / days_after > 20 * max(before, 1) / days_before


def test_spike_week_stands_out(inc, truth):
    s = next(s for s in truth["signals"] if s["type"] == "spike")
    assert (s["start"], s["end"]) == (SPIKE.start, SPIKE.end)
    near = _records_within(inc, s)
    week = near["t"].between(
        pd.Timestamp(s["start"]), pd.Timestamp(s["end"]) + pd.Timedelta("1D"), inclusive="left"
    )
    weeks_other = (1096 - 7) / 7
    assert week.sum() >= 25
    assert week.sum() > 10 * (~week).sum() / weeks_other
