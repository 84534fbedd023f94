"""Point-density clusters: DBSCAN/HDBSCAN in metres on great-circle distance, the estimator
contract, summaries, and bad parameters."""

import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.cluster import DBSCAN

from clustering.density import PointClusters
from geo.cells import EARTH_RADIUS_M, cells_to_parent, haversine_m, latlng_to_cells

M_PER_DEG_LAT = np.pi * EARTH_RADIUS_M / 180


def blobs(seed=0):
    """Two tight blobs (60 and 30 points, sd ≈ 50 m) and sparse noise over ~20 km."""
    rng = np.random.default_rng(seed)
    sd = 50 / M_PER_DEG_LAT
    a = np.column_stack([36.0 + rng.normal(0, sd, 60), -79.8 + rng.normal(0, sd, 60)])
    b = np.column_stack([36.05 + rng.normal(0, sd, 30), -79.7 + rng.normal(0, sd, 30)])
    noise = np.column_stack([35.9 + rng.random(40) * 0.2, -79.9 + rng.random(40) * 0.3])
    pts = np.vstack([a, b, noise])
    df = pd.DataFrame({
        "lat": pts[:, 0], "lon": pts[:, 1],
        "occurred_at": pd.Timestamp("2024-03-01") + pd.to_timedelta(np.arange(130), unit="h"),
    })
    df["h3"] = latlng_to_cells(df["lat"], df["lon"], 11)
    truth = np.r_[np.zeros(60, int), np.ones(30, int), -np.ones(40, int)]
    return df, truth


def test_dbscan_recovers_blobs_and_sorts_by_size():
    df, truth = blobs()
    pc = PointClusters("dbscan", eps_m=150, min_samples=5)
    assert pc.fit(df) is pc
    assert pc.n_clusters_ == 2
    assert (pc.labels_[:60] == 0).mean() > 0.95 and (pc.labels_[60:90] == 1).mean() > 0.95
    assert (pc.labels_[90:] == -1).mean() > 0.9


def test_hdbscan_recovers_blobs():
    df, truth = blobs(1)
    pc = PointClusters("hdbscan", eps_m=0, min_samples=5, min_cluster_size=10).fit(df)
    assert pc.n_clusters_ == 2
    assert (pc.labels_[:60] == 0).mean() > 0.9 and (pc.labels_[60:90] == 1).mean() > 0.9


def test_metres_mean_great_circle_metres():
    # Pairs exactly 100 m apart east-west at 60° N: DBSCAN with eps 101 m joins, 99 m does not.
    # (A flat degree-based eps would be off by cos(60°) = 0.5.)
    lat = 60.0
    dlon = np.degrees(100 / (EARTH_RADIUS_M * np.cos(np.radians(lat))))
    df = pd.DataFrame({"lat": [lat, lat], "lon": [10.0, 10.0 + dlon]})
    assert haversine_m(lat, 10.0, lat, 10.0 + dlon) == pytest.approx(100, abs=0.01)
    assert PointClusters(eps_m=101, min_samples=2).fit_predict(df).tolist() == [0, 0]
    assert PointClusters(eps_m=99, min_samples=2).fit_predict(df).tolist() == [-1, -1]


def test_equivalent_to_sklearn_haversine_dbscan():
    df, _ = blobs(2)
    ours = PointClusters(eps_m=200, min_samples=4).fit(df).labels_
    ref = DBSCAN(eps=200 / EARTH_RADIUS_M, min_samples=4, metric="haversine").fit_predict(
        np.radians(df[["lat", "lon"]].to_numpy()))
    # Same partition (numbering may differ): a bijection between labels.
    pairs = set(zip(ours.tolist(), ref.tolist(), strict=True))
    assert len(pairs) == len(set(ours.tolist())) == len(set(ref.tolist()))
    assert ((ours == -1) == (ref == -1)).all()


def test_summaries():
    df, _ = blobs()
    pc = PointClusters(eps_m=150, min_samples=5).fit(df)
    s = pc.cluster_summaries(res=9)
    assert list(s.index) == [0, 1]
    assert s["count"].tolist() == [int((pc.labels_ == 0).sum()), int((pc.labels_ == 1).sum())]
    m0 = pc.labels_ == 0
    assert s.loc[0, "first_date"] == pd.Timestamp(df["occurred_at"][m0].min()).normalize()
    assert s.loc[0, "last_date"] == pd.Timestamp(df["occurred_at"][m0].max()).normalize()
    assert s.loc[0, "centroid_lat"] == pytest.approx(df["lat"][m0].mean(), abs=1e-5)
    assert s.loc[0, "centroid_lon"] == pytest.approx(df["lon"][m0].mean(), abs=1e-5)
    cells = np.unique(cells_to_parent(df["h3"].to_numpy(np.uint64)[m0], 9))
    np.testing.assert_array_equal(s.loc[0, "cells"], cells)
    assert s.loc[0, "n_cells"] == cells.size
    hull = s.loc[0, "hull"]
    assert isinstance(hull, shapely.Polygon)
    pts = shapely.points(df["lon"][m0], df["lat"][m0])  # hull is (lng, lat)
    assert shapely.covers(hull.buffer(1e-12), pts).all()


def test_input_not_mutated_and_no_points_case():
    df, _ = blobs()
    before = df.copy()
    PointClusters(eps_m=150, min_samples=5).fit(df).cluster_summaries()
    pd.testing.assert_frame_equal(df, before)
    empty = PointClusters().fit(df.iloc[:0])
    assert empty.n_clusters_ == 0 and len(empty.cluster_summaries()) == 0


def test_bad_parameters():
    df, _ = blobs()
    with pytest.raises(ValueError, match="method must be one of"):
        PointClusters("kmeans").fit(df)
    with pytest.raises(ValueError, match="eps_m must be a positive number"):
        PointClusters(eps_m=-5).fit(df)
    with pytest.raises(ValueError, match="min_samples must be a positive integer"):
        PointClusters(min_samples=2.5).fit(df)
    with pytest.raises(ValueError, match="no 'lat' column"):
        PointClusters().fit(df.drop(columns="lat"))
    with pytest.raises(ValueError, match="missing coordinates"):
        PointClusters().fit(df.assign(lat=np.r_[np.nan, df["lat"].to_numpy()[1:]]))
    with pytest.raises(ValueError, match="call fit"):
        PointClusters().cluster_summaries()
