"""layers.outreach: recent nonfatal overdoses by area, nearest resources, the line list."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.cells import cells_to_latlng, cells_to_parent, haversine_m, latlng_to_cells
from geo.privacy import PrivacyError, publish
from layers.outreach import nearest_site_names, outreach_line_list, recent_nonfatal

AS_OF = pd.Timestamp("2026-11-15 12:00")


def _toy() -> pd.DataFrame:
    # (hours before AS_OF, lat, lon, outcome)
    rows = [
        (1, 36.07, -79.79, "nonfatal"),
        (23.9, 36.0701, -79.7901, "nonfatal"),
        (30, 36.07, -79.79, "nonfatal"),
        (71, 36.2, -79.6, "nonfatal"),
        (73, 36.07, -79.79, "nonfatal"),  # outside 72 h
        (2, 36.07, -79.79, "fatal"),  # not nonfatal
        (-1, 36.07, -79.79, "nonfatal"),
    ]  # after "as of"
    df = pd.DataFrame(rows, columns=["h", "lat", "lon", "outcome"])
    df["occurred_at"] = AS_OF - pd.to_timedelta(df["h"], unit="h")
    df["h3"] = latlng_to_cells(df["lat"].to_numpy(), df["lon"].to_numpy(), 11)
    df["incident_id"] = [f"i{i}" for i in range(len(df))]
    return df.drop(columns="h")


def test_recent_nonfatal_hand_counts():
    df = _toy()
    out = recent_nonfatal(df, res=7, as_of=AS_OF)
    a = cells_to_parent(latlng_to_cells(np.array([36.07]), np.array([-79.79]), 11), 7)[0]
    b = cells_to_parent(latlng_to_cells(np.array([36.2]), np.array([-79.6]), 11), 7)[0]
    row_a = out[out["h3"] == a].iloc[0]
    row_b = out[out["h3"] == b].iloc[0]
    assert (row_a["n_24h"], row_a["n_48h"], row_a["n_72h"]) == (2, 3, 3)
    assert (row_b["n_24h"], row_b["n_48h"], row_b["n_72h"]) == (0, 0, 1)
    assert out["n_72h"].sum() == 4  # conserved: every nonfatal in (as_of − 72 h, as_of]
    assert out.iloc[0]["h3"] == a  # sorted by the 24 h count
    assert not {"lat", "lon", "occurred_at"} & set(out.columns)
    assert len(df) == 7 and "n_24h" not in df.columns  # input untouched


def test_as_of_defaults_to_latest_incident():
    df = _toy()
    out = recent_nonfatal(df, res=7)  # latest row is 1 h after AS_OF
    latest = df["occurred_at"].max()
    ages = (latest - df["occurred_at"]).dt.total_seconds() / 3600
    expect = int(((df["outcome"] == "nonfatal") & (ages >= 0) & (ages < 72)).sum())
    assert out["n_72h"].sum() == expect == 4  # the 71 h one drops out, the -1 h one comes in


def test_nearest_site_names_equals_brute_force():
    rng = np.random.default_rng(3)
    sites = pd.DataFrame(
        {
            "name": [f"s{i}" for i in range(30)],
            "kind": np.where(np.arange(30) % 2, "naloxone", "treatment"),
            "lat": rng.uniform(35.9, 36.3, 30),
            "lon": rng.uniform(-80, -79.5, 30),
        }
    )
    qlat, qlon = rng.uniform(35.9, 36.3, 50), rng.uniform(-80, -79.5, 50)
    out = nearest_site_names(qlat, qlon, sites, kinds=("naloxone", "treatment", "ssp"))
    for kind in ("naloxone", "treatment"):
        sub = sites[sites["kind"] == kind]
        d = haversine_m(
            qlat[:, None], qlon[:, None], sub["lat"].to_numpy()[None], sub["lon"].to_numpy()[None]
        )
        assert np.allclose(out[f"dist_m_{kind}"], np.round(d.min(axis=1)), atol=1)
        assert out[f"nearest_{kind}"].tolist() == sub["name"].to_numpy()[d.argmin(axis=1)].tolist()
    assert out["dist_m_ssp"].isna().all() and out["nearest_ssp"].isna().all()
    with pytest.raises(ValueError, match="sites need column"):
        nearest_site_names(qlat, qlon, sites.drop(columns="kind"))


def test_area_table_with_sites_uses_cell_centres():
    df = _toy()
    sites = pd.DataFrame({"name": ["box"], "kind": ["naloxone"], "lat": [36.0], "lon": [-79.8]})
    out = recent_nonfatal(df, res=8, as_of=AS_OF, sites=sites, kinds=("naloxone",))
    lat, lon = cells_to_latlng(out["h3"].to_numpy(np.uint64))
    assert np.allclose(out["dist_m_naloxone"], np.round(haversine_m(lat, lon, 36.0, -79.8)), atol=1)


def test_line_list_is_restricted_only():
    df = _toy()
    lst = outreach_line_list(df, as_of=AS_OF, hours=24)
    assert lst["incident_id"].tolist() == ["i0", "i1"]  # newest first
    assert lst["hours_ago"].tolist() == [1.0, 23.9]
    with pytest.raises(PrivacyError):
        publish(lst, "public")
    assert len(outreach_line_list(df, as_of=AS_OF, hours=72)) == 4


def test_bad_arguments():
    df = _toy()
    with pytest.raises(ValueError, match="outreach needs incident column"):
        recent_nonfatal(df.drop(columns="h3"))
    with pytest.raises(ValueError, match="hours must be positive"):
        recent_nonfatal(df, hours=(0, 24))
