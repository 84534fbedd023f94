"""Point-density clusters of incidents: DBSCAN / HDBSCAN on great-circle distance, in metres.

An estimator in the scikit-learn style: parameters in ``__init__``, :meth:`PointClusters.fit`
returns ``self``, ``labels_`` has ``-1`` for noise. Distances are great-circle (scikit-learn's
``haversine`` metric on ``[lat, lon]`` in radians, from :func:`geo.cells.latlon_to_radians`, the
one conversion); radii are given in metres and divided by the Earth radius here.

:meth:`PointClusters.cluster_summaries` gives one row per cluster: size, first/last date,
centroid, the H3 cells the cluster covers, and its convex hull (shapely, ``(lng, lat)``). Hulls
and centroids describe where people overdosed: they are for the restricted tier only; public
outputs use the cells (through the privacy gate).

References
----------
Ester, M., Kriegel, H.-P., Sander, J. and Xu, X. (1996). A density-based algorithm for
discovering clusters in large spatial databases with noise. *KDD-96*, 226–231.
Campello, R. J. G. B., Moulavi, D. and Sander, J. (2013). Density-based clustering based on
hierarchical density estimates. *PAKDD 2013*, LNCS 7819, 160–172.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from geo.cells import (
    EARTH_RADIUS_M,
    latlng_to_cells,
    latlon_to_radians,
    latlon_to_xyz,
)

__all__ = ["PointClusters", "METHODS"]

METHODS = ("dbscan", "hdbscan")


def _positive(name: str, value, integer: bool = False):
    ok = isinstance(value, int | np.integer) if integer else isinstance(
        value, int | float | np.integer | np.floating)
    if isinstance(value, bool) or not ok or not value > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


class PointClusters:
    """DBSCAN or HDBSCAN on incident points with haversine distance, parameters in metres.

    Parameters
    ----------
    method : {"dbscan", "hdbscan"}, default "dbscan"
    eps_m : float, default 250
        DBSCAN: neighbourhood radius in metres. HDBSCAN: ``cluster_selection_epsilon`` in
        metres (clusters closer than this are merged; 0 disables).
    min_samples : int, default 10
        Points within ``eps_m`` (self included) that make a core point (DBSCAN), or HDBSCAN's
        ``min_samples``.
    min_cluster_size : int, default 10
        HDBSCAN only: the smallest cluster.

    Attributes
    ----------
    labels_ : numpy.ndarray of int, shape (n,)
        Cluster id per input row, ``-1`` for noise; clusters are numbered 0, 1, … by size
        (largest first).
    n_clusters_ : int

    References
    ----------
    Ester et al. (1996); Campello et al. (2013); scikit-learn ``DBSCAN`` / ``HDBSCAN``.
    """

    def __init__(self, method: str = "dbscan", eps_m: float = 250.0, min_samples: int = 10,
                 min_cluster_size: int = 10):
        self.method = method
        self.eps_m = eps_m
        self.min_samples = min_samples
        self.min_cluster_size = min_cluster_size

    def _validate(self, df: pd.DataFrame):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.method == "dbscan" or self.eps_m != 0:
            _positive("eps_m", self.eps_m)
        _positive("min_samples", self.min_samples, integer=True)
        _positive("min_cluster_size", self.min_cluster_size, integer=True)
        if self.method == "hdbscan" and self.min_cluster_size < 2:
            raise ValueError("min_cluster_size must be at least 2 for HDBSCAN")
        for c in ("lat", "lon"):
            if c not in df.columns:
                raise ValueError(
                    f"incident table has no {c!r} column: density clusters need points "
                    f"(restricted data); found {list(df.columns)}"
                )
        lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float)
        lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float)
        bad = ~(np.isfinite(lat) & np.isfinite(lon))
        if bad.any():
            raise ValueError(
                f"{int(bad.sum())} incident(s) have missing coordinates; drop them first"
            )
        return lat, lon

    def fit(self, df: pd.DataFrame, y=None) -> PointClusters:
        """Cluster the incidents of ``df`` (columns ``lat``, ``lon``; never mutated)."""
        from sklearn.cluster import DBSCAN, HDBSCAN

        lat, lon = self._validate(df)
        X = latlon_to_radians(lat, lon)
        if len(X) == 0:
            labels = np.empty(0, dtype=np.int64)
        elif self.method == "dbscan":
            est = DBSCAN(eps=self.eps_m / EARTH_RADIUS_M, min_samples=int(self.min_samples),
                         metric="haversine", algorithm="ball_tree")
            labels = est.fit_predict(X)
        elif len(X) < self.min_cluster_size:
            labels = np.full(len(X), -1, dtype=np.int64)
        else:
            est = HDBSCAN(min_cluster_size=int(self.min_cluster_size),
                          min_samples=int(self.min_samples), metric="haversine",
                          algorithm="ball_tree",
                          cluster_selection_epsilon=float(self.eps_m) / EARTH_RADIUS_M,
                          copy=True)
            labels = est.fit_predict(X)
        self.labels_ = _relabel_by_size(np.asarray(labels, dtype=np.int64))
        self.n_clusters_ = int(self.labels_.max() + 1) if self.labels_.size else 0
        self._df = df
        self._latlon = (lat, lon)
        return self

    def fit_predict(self, df: pd.DataFrame, y=None) -> np.ndarray:
        """``fit(df).labels_``."""
        return self.fit(df).labels_

    def cluster_summaries(self, res: int = 8) -> pd.DataFrame:
        """One row per cluster (noise excluded).

        Parameters
        ----------
        res : int, default 8
            Resolution of the H3 cells listed per cluster.

        Returns
        -------
        DataFrame
            Indexed by ``cluster`` (0 = largest): ``count`` (size), ``first_date``,
            ``last_date`` (if ``occurred_at`` is present), ``centroid_lat``, ``centroid_lon``
            (spherical mean), ``cells`` (sorted uint64 array at ``res``), ``n_cells``,
            ``hull`` (shapely convex hull in ``(lng, lat)``; a point or line for degenerate
            clusters).
        """
        if not hasattr(self, "labels_"):
            raise ValueError("call fit(df) before cluster_summaries()")
        lat, lon = self._latlon
        lab = self.labels_
        cells = latlng_to_cells(lat, lon, res)  # point-in-hexagon (never the parent of h3)
        times = (pd.to_datetime(self._df["occurred_at"]).to_numpy()
                 if "occurred_at" in self._df.columns else None)
        rows = []
        for c in range(self.n_clusters_):
            m = lab == c
            cx, cy, cz = latlon_to_xyz(lat[m], lon[m]).mean(axis=0)
            row = {
                "cluster": c,
                "count": int(m.sum()),
                "centroid_lat": float(np.degrees(np.arctan2(cz, np.hypot(cx, cy)))),
                "centroid_lon": float(np.degrees(np.arctan2(cy, cx))),
            }
            if times is not None:
                row["first_date"] = pd.Timestamp(times[m].min()).normalize()
                row["last_date"] = pd.Timestamp(times[m].max()).normalize()
            cc = np.unique(cells[m])
            row["cells"] = cc
            row["n_cells"] = int(cc.size)
            row["hull"] = shapely.MultiPoint(np.column_stack([lon[m], lat[m]])).convex_hull
            rows.append(row)
        cols = ["cluster", "count", "first_date", "last_date", "centroid_lat", "centroid_lon",
                "cells", "n_cells", "hull"]
        if times is None:
            cols = [c for c in cols if c not in ("first_date", "last_date")]
        out = pd.DataFrame(rows, columns=cols)
        return out.set_index("cluster")


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..K-1 from the largest down (ties by first appearance); -1 stays."""
    out = np.full(labels.shape, -1, dtype=np.int64)
    ids, first, counts = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    if ids.size == 0:
        return out
    order = np.lexsort((first, -counts))
    new = np.empty(ids.size, dtype=np.int64)
    new[order] = np.arange(ids.size)
    pos = np.searchsorted(ids, labels[labels >= 0])
    out[labels >= 0] = new[pos]
    return out
