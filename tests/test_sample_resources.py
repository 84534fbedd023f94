"""The bundled synthetic sample: its resource sites and candidate locations (schema, counts,
planted access gaps), and its contracts with the readers (ingest de-duplication, opening
hours). Moved from tests/test_sample_data.py (the generation, incidents and signals stay there).
"""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest

from data import get_path
from data._model import EMERGING_HOTSPOT, PERSISTENT_HOTSPOTS
from geo.cells import haversine_m

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
def truth():
    return json.loads(get_path("ground_truth").read_text())


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
