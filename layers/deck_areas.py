"""pydeck layers for named areas and places: outlines, choropleths and names drawn offline.

Every layer here is built from local files (area layers, a places file) and draws with no
network: outlines are ``PathLayer``\\ s, area fills ``PolygonLayer``\\ s and names
``TextLayer``\\ s (deck.gl renders text from a font atlas it builds in the browser with the
system's fonts; nothing is fetched). Never imports Streamlit; never computes statistics.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pydeck as pdk
import shapely

from geo.areas import AreaLayer
from layers.deck import _records, _rings, _tips, legend_html

__all__ = [
    "AREA_LINE_COLORS",
    "area_outline_layer",
    "area_fill_layer",
    "text_layer",
    "area_names_layer",
    "places_layers",
    "context_layers",
    "context_legend",
    "road_paths",
    "roads_layer",
    "ROAD_COLOR",
]

#: Roads drawn as context: a mid grey under the cells' outlines (major roads wider).
ROAD_COLOR = (120, 120, 120)
_ROAD_WIDTH = {"motorway": 60.0, "trunk": 50.0, "primary": 40.0, "secondary": 30.0}  # metres

#: Outline colour per layer position (dark slate, purple, brown …).
AREA_LINE_COLORS = ((55, 65, 81), (118, 42, 131), (140, 81, 10), (1, 102, 94))


def area_outline_layer(layer: AreaLayer, *, layer_id: str, color: Sequence[int] = (55, 65, 81),
                       width_px: float = 1.2) -> pdk.Layer:
    """Area outlines as a ``PathLayer`` (not pickable)."""
    paths = []
    for name, geom in zip(layer.names, layer.geometry, strict=True):
        for ring in _rings(geom):
            paths.append({"path": ring, "tip": html.escape(str(name))})
    return pdk.Layer("PathLayer", id=layer_id, data=paths, get_path="path",
                     get_color=list(color)[:3] + [200], width_min_pixels=width_px,
                     pickable=False)


def area_fill_layer(layer: AreaLayer, fill: np.ndarray, tooltip: Sequence[str], *,
                    layer_id: str = "areas", extra: pd.DataFrame | None = None) -> pdk.Layer:
    """Filled, pickable area polygons (a choropleth), one colour and tooltip per area."""
    fill = np.asarray(fill)
    if fill.shape[0] != layer.n or len(tooltip) != layer.n:
        raise ValueError(f"area_fill_layer: areas ({layer.n}), fill ({fill.shape[0]}) and "
                         f"tooltip ({len(tooltip)}) must have the same length")
    rows = []
    tips = _tips(tooltip)
    for i, geom in enumerate(layer.geometry):
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type != "Polygon":
                continue
            row = {"polygon": _rings(poly), "tip": tips[i], "area": str(layer.names[i]),
                   "fill": [int(v) for v in fill[i]]}
            if extra is not None:
                row.update({c: extra[c].iloc[i] for c in extra.columns})
            rows.append(row)
    data = pd.DataFrame(rows)
    return pdk.Layer("PolygonLayer", id=layer_id, data=_records(data), get_polygon="polygon",
                     get_fill_color="fill", get_line_color=[60, 60, 60, 200],
                     line_width_min_pixels=1, stroked=True, filled=True, pickable=True,
                     auto_highlight=True)


def text_layer(names: Sequence[str], lat, lon, *, layer_id: str, size: int = 13,
               color: Sequence[int] = (20, 20, 20)) -> pdk.Layer:
    """Names drawn at points (``TextLayer`` with a white halo so they read over any fill)."""
    # one "position" field, not lat/lon columns: a label is not an incident point
    xy = np.column_stack([np.asarray(lon, float), np.asarray(lat, float)]).round(6).tolist()
    data = [{"name": str(n), "position": p} for n, p in zip(names, xy, strict=True)]
    return pdk.Layer("TextLayer", id=layer_id, data=data, get_position="position",
                     get_text="name", get_size=size, get_color=list(color)[:3] + [255],
                     font_settings={"sdf": True}, outline_width=3,
                     outline_color=[255, 255, 255, 230], pickable=False)
    # deck.gl's defaults already centre the text on the point in pixel units; passing
    # size_units / text-anchor strings through pydeck breaks the layer (blank, blurred map)


def area_names_layer(layer: AreaLayer, *, layer_id: str, size: int = 13,
                     color: Sequence[int] = (20, 20, 20)) -> pdk.Layer:
    """Each area's name at a point inside it (``representative_point``)."""
    pts = shapely.point_on_surface(layer.geometry)
    return text_layer(layer.names, shapely.get_y(pts), shapely.get_x(pts), layer_id=layer_id,
                      size=size, color=color)


def places_layers(places: pd.DataFrame, *, layer_id: str = "places") -> list[pdk.Layer]:
    """Named places: small dark dots and their names just above (two layers)."""
    dots = pd.DataFrame({"lon": places["lon"].to_numpy(float),
                         "lat": places["lat"].to_numpy(float),
                         "tip": _tips(places["name"].astype(str))})
    return [
        pdk.Layer("ScatterplotLayer", id=f"{layer_id}-dots", data=_records(dots),
                  get_position=["lon", "lat"], get_fill_color=[30, 30, 30, 230],
                  get_radius=60, radius_min_pixels=2, radius_max_pixels=4, pickable=False),
        text_layer(places["name"], places["lat"].to_numpy(float) + 0.004,
                   places["lon"].to_numpy(float), layer_id=f"{layer_id}-names", size=11,
                   color=(60, 60, 60)),
    ]


def road_paths(roads) -> pd.DataFrame:
    """``path`` ([[lon, lat], …]), ``width`` (metres) and ``tip`` (road name) per line of a
    roads GeoDataFrame (LineString / MultiLineString, WGS84); other geometries are skipped."""
    rows = []
    hw = roads["highway"].astype(str) if "highway" in roads.columns else None
    nm = roads["name"] if "name" in roads.columns else None
    for i, geom in enumerate(roads.geometry):
        if geom is None or geom.is_empty:
            continue
        parts = getattr(geom, "geoms", [geom])
        for part in parts:
            if part.geom_type != "LineString":
                continue
            xy = np.asarray(part.coords)[:, :2]
            rows.append({"path": np.round(xy, 6).tolist(),
                         "width": _ROAD_WIDTH.get(hw.iloc[i] if hw is not None else "", 20.0),
                         "tip": html.escape("" if nm is None or pd.isna(nm.iloc[i])
                                            else str(nm.iloc[i]))})
    return pd.DataFrame(rows, columns=["path", "width", "tip"])


#: Road classes drawn as context on county-scale maps: a street grid drawn whole hides the
#: cells and areas beneath it (every few pixels at county zoom), so only the network's
#: skeleton is shown.
CONTEXT_ROAD_CLASSES = ("motorway", "motorway_link", "trunk", "trunk_link", "primary",
                        "primary_link", "secondary", "secondary_link")


def roads_layer(roads, *, layer_id: str = "roads",
                classes: tuple[str, ...] | None = CONTEXT_ROAD_CLASSES) -> pdk.Layer | None:
    """Roads as a thin grey ``PathLayer`` (offline context), or None without lines.

    ``classes``: the ``highway`` values drawn (default the major roads; ``None`` = all). A file
    without a ``highway`` column is drawn whole.
    """
    if classes is not None and "highway" in roads.columns:
        major = roads["highway"].astype(str).isin(classes).to_numpy()
        if major.any():
            roads = roads[major]
    data = road_paths(roads)
    if data.empty:
        return None
    return pdk.Layer("PathLayer", id=layer_id, data=data.to_dict("records"), get_path="path",
                     # widths in metres, clamped in pixels: a units string through pydeck
                     # becomes an accessor and drew every road as a grey block over the map
                     get_width="width", width_min_pixels=1, width_max_pixels=4,
                     get_color=list(ROAD_COLOR) + [170], pickable=False)


def context_layers(areas: Sequence[AreaLayer] = (), places: pd.DataFrame | None = None, *,
                   names_of: int | None = 0, roads=None) -> list[pdk.Layer]:
    """Offline map context: outlines of every area layer, names of one, and places.

    Parameters
    ----------
    areas : sequence of AreaLayer
    places : DataFrame, optional
        ``name``, ``lat``, ``lon`` (:func:`geo.labels.load_places`).
    names_of : int or None
        Index of the layer whose area names are drawn (``None``: none).
    roads : GeoDataFrame, optional
        Road lines (drawn first, under the outlines; see :func:`roads_layer`).
    """
    out = []
    if roads is not None:
        lay = roads_layer(roads)
        if lay is not None:
            out.append(lay)
    for i, layer in enumerate(areas):
        out.append(area_outline_layer(layer, layer_id=f"area-outline-{i}",
                                      color=AREA_LINE_COLORS[i % len(AREA_LINE_COLORS)],
                                      width_px=1.6 if i == 0 else 1.0))
    if names_of is not None and 0 <= names_of < len(areas):
        out.append(area_names_layer(areas[names_of], layer_id="area-names"))
    if places is not None and len(places):
        if "kind" in places.columns and (places["kind"] != "hospital").any():
            places = places.loc[places["kind"] != "hospital"]  # settlements name the map
        out.extend(places_layers(places))
    return out


def context_legend(areas: Sequence[AreaLayer] = (), places: pd.DataFrame | None = None,
                   roads=None) -> str:
    """Legend entries for the context layers."""
    entries = [(ROAD_COLOR, "road")] if roads is not None and len(roads) else []
    entries += [(AREA_LINE_COLORS[i % len(AREA_LINE_COLORS)], f"{layer.kind} outline")
               for i, layer in enumerate(areas)]
    if places is not None and len(places):
        entries.append(((30, 30, 30), "named place"))
    return legend_html(entries, "Map context") if entries else ""
