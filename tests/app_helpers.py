"""Small synthetic inputs for the dashboard's AppTest tests (seeded; written to a tmp dir).

A 12 km × 10 km study area near (36.07 N, 79.79 W), ~2,400 incidents over two years ending
2026-11-15 with a planted hot spot, a few nonfatal overdoses in the last 72 hours, resources
of each kind and candidate host sites. Small enough that every page runs in about a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["make_inputs", "HOT_LAT", "HOT_LON", "END", "RECENT"]

LAT0, LON0 = 36.03, -79.86
DLAT, DLON = 0.09, 0.13
HOT_LAT, HOT_LON = 36.07, -79.79
END = pd.Timestamp("2026-11-15 18:00")
#: (hours before END, lat, lon) of planted nonfatal overdoses for the outreach page
RECENT = [(2, 36.071, -79.791), (5, 36.0705, -79.7905), (30, 36.05, -79.83), (60, 36.1, -79.76)]


def _boundary() -> dict:
    ring = [
        [LON0, LAT0],
        [LON0 + DLON, LAT0],
        [LON0 + DLON, LAT0 + DLAT],
        [LON0 + 0.03, LAT0 + DLAT + 0.01],
        [LON0, LAT0 + DLAT],
        [LON0, LAT0],
    ]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Test County"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }


def _population() -> dict:
    """Four quadrants of the study box with different populations."""
    feats = []
    for i, (x, y) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        x0, y0 = LON0 + x * DLON / 2, LAT0 + y * DLAT / 2
        ring = [
            [x0, y0],
            [x0 + DLON / 2, y0],
            [x0 + DLON / 2, y0 + DLAT / 2],
            [x0, y0 + DLAT / 2],
            [x0, y0],
        ]
        feats.append(
            {
                "type": "Feature",
                "properties": {"geoid": f"Q{i}", "population": [5000, 20000, 1000, 40000][i]},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": feats}


def _incidents(rng: np.random.Generator, n: int = 2400) -> pd.DataFrame:
    n_hot = n // 4
    lat = np.r_[
        rng.uniform(LAT0 + 0.005, LAT0 + DLAT - 0.005, n - n_hot), rng.normal(HOT_LAT, 0.003, n_hot)
    ]
    lon = np.r_[
        rng.uniform(LON0 + 0.005, LON0 + DLON - 0.005, n - n_hot), rng.normal(HOT_LON, 0.003, n_hot)
    ]
    start = END - pd.Timedelta(days=730)
    t = start + pd.to_timedelta(rng.uniform(0, 729 * 86400 - 4 * 86400, n), unit="s")
    outcome = np.where(rng.random(n) < 0.1, "fatal", "nonfatal")
    source = rng.choice(["ems", "police", "hospital"], n, p=[0.7, 0.2, 0.1])
    naloxone = np.where(rng.random(n) < 0.7, "yes", "no")
    df = pd.DataFrame(
        {
            "incident_id": [f"T{i:05d}" for i in range(n)],
            "occurred_at": pd.Series(t).dt.floor("min"),
            "lat": lat,
            "lon": lon,
            "outcome": outcome,
            "naloxone": naloxone,
            "naloxone_doses": np.where(naloxone == "yes", 1, 0),
            "source": source,
            "agency": "Test EMS",
            "age_band": "25-34",
            "sex": "F",
        }
    )
    recent = pd.DataFrame(
        {
            "incident_id": [f"R{i}" for i in range(len(RECENT))],
            "occurred_at": [END - pd.Timedelta(hours=h) for h, _, _ in RECENT],
            "lat": [a for _, a, _ in RECENT],
            "lon": [o for _, _, o in RECENT],
            "outcome": "nonfatal",
            "naloxone": "yes",
            "naloxone_doses": 2,
            "source": "ems",
            "agency": "Test EMS",
            "age_band": "35-44",
            "sex": "M",
        }
    )
    out = pd.concat([df, recent], ignore_index=True).sort_values("occurred_at")
    out["occurred_at"] = out["occurred_at"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out


def _resources(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    specs = [
        ("treatment", "otp", 2),
        ("treatment", "buprenorphine", 5),
        ("ssp", "ssp_fixed", 2),
        ("naloxone", "naloxone_box", 4),
        ("naloxone", "pharmacy", 6),
    ]
    i = 0
    for kind, sub, n in specs:
        for _ in range(n):
            i += 1
            rows.append(
                {
                    "site_id": f"S{i:03d}",
                    "name": f"{sub.replace('_', ' ').title()} {i}",
                    "kind": kind,
                    "subtype": sub,
                    "lat": float(rng.uniform(LAT0 + 0.01, LAT0 + DLAT - 0.01)),
                    "lon": float(rng.uniform(LON0 + 0.01, LON0 + DLON - 0.01)),
                    "methadone": sub == "otp",
                    "buprenorphine": sub in ("otp", "buprenorphine"),
                    "naltrexone": False,
                    "naloxone_distribution": kind != "treatment",
                    "fentanyl_test_strips": kind == "ssp",
                    "open_24_7": i % 4 == 0,
                    "hours": "24/7" if i % 4 == 0 else "Mo-Fr 08:00-17:00",
                    "medicaid": i % 2 == 0,
                    "sliding_fee": False,
                    "walk_in": True,
                    "capacity": "",
                    "source": "test",
                    "as_of": "2026-11-01",
                }
            )
    return pd.DataFrame(rows)


def _candidates(rng: np.random.Generator, n: int = 40) -> pd.DataFrame:
    subtypes = np.array(["library", "fire_station", "transit_stop", "convenience_store"])
    sub = subtypes[np.arange(n) % 4]
    lat = np.r_[rng.normal(HOT_LAT, 0.004, 6), rng.uniform(LAT0 + 0.01, LAT0 + DLAT - 0.01, n - 6)]
    lon = np.r_[rng.normal(HOT_LON, 0.004, 6), rng.uniform(LON0 + 0.01, LON0 + DLON - 0.01, n - 6)]
    return pd.DataFrame(
        {
            "site_id": [f"C{i:03d}" for i in range(n)],
            "name": [f"Candidate {i}" for i in range(n)],
            "subtype": sub,
            "lat": lat,
            "lon": lon,
            "open_24_7": (sub == "fire_station") | (sub == "convenience_store"),
            "hours": np.where(
                (sub == "fire_station") | (sub == "convenience_store"), "24/7", "Mo-Sa 09:00-18:00"
            ),
        }
    )


def make_inputs(folder: Path, seed: int = 7) -> dict[str, Path]:
    """Write the synthetic inputs into ``folder``; return logical name → path."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    paths = {
        "incidents": folder / "incidents.csv",
        "resources": folder / "resources.csv",
        "candidates": folder / "candidates.csv",
        "boundary": folder / "boundary.geojson",
        "population": folder / "population.geojson",
    }
    _incidents(rng).to_csv(paths["incidents"], index=False)
    _resources(rng).to_csv(paths["resources"], index=False)
    _candidates(rng).to_csv(paths["candidates"], index=False)
    paths["boundary"].write_text(json.dumps(_boundary()))
    paths["population"].write_text(json.dumps(_population()))
    return paths


# ------------------------------------------------------------------ AppTest plumbing
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = str(ROOT / "dashboard.py")


@pytest.fixture(scope="session")
def app_inputs(tmp_path_factory) -> dict[str, Path]:
    """The synthetic inputs, written once per test session."""
    return make_inputs(tmp_path_factory.mktemp("app_inputs"))


@pytest.fixture(autouse=True)
def app_env(app_inputs, monkeypatch, tmp_path):
    """Point the app at the synthetic inputs; no store, no password; clear Streamlit caches."""
    import streamlit as st

    for name, path in app_inputs.items():
        monkeypatch.setenv(f"GAPMAP_{name.upper()}", str(path))
    monkeypatch.setenv("GAPMAP_CASES_DB", str(tmp_path / "cases.duckdb"))  # accounts, audit
    monkeypatch.delenv("GAPMAP_CASES_KEY", raising=False)
    for var in ("GAPMAP_STORE", "GAPMAP_PASSWORD_HASH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GAPMAP_BASEMAP", "off")  # app tests: no basemap (tests/test_deck.py)
    # stores made by a test live in the session's tmp folder, never in the repository
    monkeypatch.setenv("GAPMAP_STORE_DIR", str(app_inputs["incidents"].parent / "stores"))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def run_page(page: str | None = None, session: dict | None = None, timeout: float = 60):
    """Run the router (and switch to ``app_pages/<page>.py``); returns the AppTest."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(DASHBOARD, default_timeout=timeout)
    for k, v in (session or {}).items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def load_incidents(path) -> pd.DataFrame:
    """Incidents read the way the app reads them (geo.ingest when installed)."""
    try:
        from geo.ingest import read_incidents
    except ModuleNotFoundError:
        from geo.grid import index_incidents

        df = pd.read_csv(
            path, dtype={"outcome": "string", "naloxone": "string", "source": "string"}
        )
        df["occurred_at"] = pd.to_datetime(df["occurred_at"], format="mixed")
        return index_incidents(df)
    return read_incidents(path).incidents


def deck_spec(at, i: int = 0) -> dict:
    """The i-th pydeck chart's JSON spec (layers with inlined data)."""
    return json.loads(at.get("deck_gl_json_chart")[i].proto.json)


def layer(spec: dict, layer_id: str) -> dict:
    """A layer of a deck spec by id."""
    for lyr in spec["layers"]:
        if lyr.get("id") == layer_id:
            return lyr
    raise KeyError(f"no layer {layer_id!r}; have {[x.get('id') for x in spec['layers']]}")


def metric(at, label_start: str) -> str:
    """Value of the first metric whose label starts with ``label_start``."""
    for m in at.metric:
        if m.label.startswith(label_start):
            return m.value
    raise KeyError(f"no metric starting {label_start!r}; have {[m.label for m in at.metric]}")
