"""Contiguity neighbourhoods of named areas (polygons), for Gi* on areas.

Two areas are neighbours when their polygons share a vertex (queen) or an edge (rook), as
built by libpysal's :meth:`libpysal.graph.Graph.build_contiguity`. The result is the same
immutable :class:`clustering.neighbours.Neighbourhood` value the H3 statistics take — binary
weights with self included (the Gi* "star") — indexed by area position ``0 … n-1`` (the
``cells`` array holds those positions as uint64), so :func:`clustering.gistar.gi_star` runs on
areas unchanged.

References
----------
Rey, S. J. et al. (2022). The PySAL ecosystem. *Geographical Analysis* 54(3), 467–487.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from clustering.neighbours import Neighbourhood

__all__ = ["contiguity_neighbourhood", "contiguity_matrix"]


def contiguity_matrix(geometry, *, rook: bool = False) -> sp.csr_matrix:
    """Binary contiguity between polygons (no self links), ``n × n`` CSR.

    Parameters
    ----------
    geometry : sequence of shapely (Multi)Polygons
    rook : bool
        Edge sharing (rook) instead of vertex sharing (queen, default).
    """
    import geopandas as gpd
    from libpysal.graph import Graph

    geoms = gpd.GeoSeries(list(geometry))
    n = len(geoms)
    if n == 0:
        return sp.csr_matrix((0, 0))
    g = Graph.build_contiguity(geoms, rook=rook)
    adj = g.adjacency.reset_index()
    adj = adj[(adj["weight"] > 0) & (adj["focal"] != adj["neighbor"])]
    m = sp.coo_matrix((np.ones(len(adj)), (adj["focal"].to_numpy(int),
                                           adj["neighbor"].to_numpy(int))), shape=(n, n))
    m = m.tocsr()
    m.data[:] = 1.0
    return m


def contiguity_neighbourhood(geometry, *, rook: bool = False) -> Neighbourhood:
    """Gi* neighbourhood of polygons: contiguity plus self, as a :class:`Neighbourhood`.

    Row ``i`` belongs to the ``i``-th polygon; ``cells`` is ``arange(n)`` as uint64.
    """
    adj = contiguity_matrix(geometry, rook=rook)
    n = adj.shape[0]
    w = (adj + sp.identity(n, format="csr")).tocsr()
    w.data[:] = 1.0
    w.sort_indices()
    for a in (w.data, w.indices, w.indptr):
        a.setflags(write=False)
    wi = np.diff(w.indptr).astype(float)
    cells = np.arange(n, dtype=np.uint64)
    for a in (cells, wi):
        a.setflags(write=False)
    s1 = wi.copy()
    s1.setflags(write=False)
    return Neighbourhood(cells=cells, k=1, W=w, W_i=wi, S1_i=s1)
