"""Hotspot statistics and alerting on H3 cells. Never imports Streamlit.

Hot spots (plain result tables indexed like their input):

* :mod:`clustering.neighbours` — :func:`~clustering.neighbours.build_neighbourhood`: the k-ring
  weights as an immutable value, built once; :func:`~clustering.neighbours.ring_hull`.
* :mod:`clustering.gistar` — :func:`~clustering.gistar.gi_star` (z, p, q, class per cell),
  :func:`~clustering.gistar.gi_star_z`, seeded permutation inference.
* :mod:`clustering.fdr` — :func:`~clustering.fdr.bh_qvalues` (Benjamini–Hochberg).
* :mod:`clustering.rates` — population onto cells, crude and empirical-Bayes rates.
* :mod:`clustering.density` — :class:`~clustering.density.PointClusters` (DBSCAN / HDBSCAN in
  metres on great-circle distance).
* :mod:`clustering.emerging` — space-time Gi*, Mann–Kendall trend, emerging categories.
* :mod:`clustering.trend` — :func:`~clustering.trend.mann_kendall`.

Alerts: :mod:`clustering.alerts`, :mod:`clustering.ears`, :mod:`clustering.series`,
:mod:`clustering.scan` (spike detectors and the space-time permutation scan).

Submodules are imported explicitly (``from clustering.gistar import gi_star``); importing the
package loads nothing heavy.
"""

__all__: list[str] = []
