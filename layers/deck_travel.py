"""pydeck layer of reach outlines (areas within M minutes along the streets; issue 11)."""

from __future__ import annotations

import html

import pydeck as pdk

__all__ = ["reach_layer", "REACH_COLORS"]

#: Fill / line colours of the outlines of existing and recommended sites.
REACH_COLORS = {"existing": (46, 125, 50), "chosen": (106, 27, 154)}


def _rings(geom) -> list[list[list[float]]]:
    polys = list(getattr(geom, "geoms", [geom]))
    out = []
    for p in polys:
        if p.geom_type == "Polygon" and not p.is_empty:
            out.append([[round(float(x), 6), round(float(y), 6)] for x, y in p.exterior.coords])
    return out


def reach_layer(geom, *, layer_id: str, kind: str, label: str) -> pdk.Layer | None:
    """A translucent ``PolygonLayer`` of a reach outline (``None`` for no geometry)."""
    if geom is None or geom.is_empty:
        return None
    r, g, b = REACH_COLORS.get(kind, (80, 80, 80))
    data = [{"polygon": ring, "tip": html.escape(label)} for ring in _rings(geom)]
    return pdk.Layer("PolygonLayer", id=layer_id, data=data, get_polygon="polygon",
                     filled=True, stroked=True, get_fill_color=[r, g, b, 90],
                     get_line_color=[r, g, b, 200], line_width_min_pixels=2, pickable=False)
