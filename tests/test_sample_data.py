"""The bundled synthetic sample: deterministic, committed as generated, realistic, with signal."""

from __future__ import annotations

import itertools
import json
import re

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
RESOURCE_COLUMNS = [
    "site_id",
    "name",
    "kind",
    "subtype",
    "lat",
    "lon",
    "methadone",
    "buprenorphine",
    "naltrexone",
    "naloxone_distribution",
    "fentanyl_test_strips",
    "open_24_7",
    "hours",
    "medicaid",
    "sliding_fee",
    "walk_in",
    "capacity",
    "source",
    "as_of",
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


# ---------------------------------------------------------------- resources and candidates
def test_resource_schema_and_counts():
    r = pd.read_csv(get_path("resources"), dtype=str, keep_default_na=False)
    assert list(r.columns) == RESOURCE_COLUMNS and r["site_id"].is_unique
    n = r["subtype"].value_counts()
    assert n["otp"] == 3 and 20 <= n["buprenorphine"] <= 30 and 3 <= n["naltrexone"] <= 7
    assert n["ssp_fixed"] == 2 and n["ssp_mobile"] == 1 and 35 <= n["pharmacy"] <= 45
    assert (
        8 <= n["naloxone_box"] <= 12 and n["vending_machine"] == 3 and n["distribution_site"] >= 2
    )
    kind = {
        "otp": "treatment",
        "buprenorphine": "treatment",
        "naltrexone": "treatment",
        "ssp_fixed": "ssp",
        "ssp_mobile": "ssp",
    }
    assert (r["kind"] == r["subtype"].map(kind).fillna("naloxone")).all()
    flags = [
        "methadone",
        "buprenorphine",
        "naltrexone",
        "naloxone_distribution",
        "fentanyl_test_strips",
        "open_24_7",
        "medicaid",
        "sliding_fee",
        "walk_in",
    ]
    assert set(np.unique(r[flags].to_numpy())) == {"true", "false"}
    assert (r.loc[r["subtype"] == "otp", "methadone"] == "true").all()
    assert ((r["open_24_7"] == "true") == (r["hours"] == "24/7")).all()
    hours = re.compile(r"24/7|(Mo|Tu|We|Th|Fr|Sa|Su)[-,A-Za-z]* \d\d:\d\d-\d\d:\d\d(; .+)?")
    assert r["hours"].map(lambda h: bool(hours.fullmatch(h))).all()
    assert r["capacity"].map(lambda v: v == "" or v.isdigit()).all()


def test_planted_access_gaps(truth):
    r = pd.read_csv(get_path("resources"))
    gap_km = truth["gap_radius_km"]
    for s in truth["signals"]:
        d = haversine_m(r["lat"].values, r["lon"].values, s["centre"]["lat"], s["centre"]["lon"])
        near_nal = d[(r["kind"] == "naloxone").to_numpy()].min()
        near_trt = d[(r["kind"] == "treatment").to_numpy()].min()
        assert near_nal == pytest.approx(s["nearest_naloxone_m"], abs=1)
        if s["underserved"]:
            assert min(near_nal, near_trt) > 1000 * min(gap_km.values())
        elif s["type"] == "persistent_hotspot":
            assert near_nal < 1000


def test_candidates():
    c = pd.read_csv(get_path("candidates"), dtype=str, keep_default_na=False)
    assert list(c.columns) == ["site_id", "name", "subtype", "lat", "lon", "open_24_7", "hours"]
    assert 250 <= len(c) <= 350 and c["site_id"].is_unique
    assert set(c["subtype"]) == {"library", "fire_station", "transit_stop", "convenience_store"}
    assert ((c["open_24_7"] == "true") == (c["hours"] == "24/7")).all()
    lat, lon = c["lat"].astype(float).values, c["lon"].astype(float).values
    for s in (*PERSISTENT_HOTSPOTS, EMERGING_HOTSPOT):
        if s.underserved:  # somewhere to put a new box in every planted gap
            from data._model import xy_to_latlon

            clat, clon = xy_to_latlon(s.x, s.y)
            assert (haversine_m(lat, lon, float(clat), float(clon)) < 1500).sum() >= 2, s.id


# ---------------------------------------------------------------- contracts with the readers
def test_ingest_dedup_recovers_true_duplicate_groups(truth):
    """geo.ingest reads the sample unchanged, and the documented dedup rule (60 min, 300 m)
    recovers the planted duplicate reports (date-only hospital rows are, by rule, not merged)."""
    ingest = pytest.importorskip("geo.ingest")
    dedup = pytest.importorskip("geo.dedup")
    res = ingest.read_incidents(get_path("incidents"), dedup=False)
    assert res.summary["rejected"] == 0 and res.summary["accepted"] == truth["counts"]["records"]
    rec = res.records
    _, per_record = dedup.dedup_incidents(rec)
    timed = dict(zip(rec["incident_id"], rec["time_precision"] != "day", strict=True))

    def pairs(groups):
        return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}

    true_pairs = pairs([[i for i in g if timed[i]] for g in truth["duplicate_groups"]])
    found = pd.Series(rec["incident_id"].to_numpy()).groupby(per_record.to_numpy()).agg(list)
    found_pairs = pairs(found.tolist())
    hit = len(true_pairs & found_pairs)
    assert hit / len(true_pairs) > 0.99 and hit / len(found_pairs) > 0.99


def test_hours_parse_with_site_reader():
    hours = pytest.importorskip("layers.hours")
    for name in ("resources", "candidates"):
        df = pd.read_csv(get_path(name))
        bad = {h: hours.hours_error(h) for h in df["hours"].unique() if hours.hours_error(h)}
        assert not bad, bad
