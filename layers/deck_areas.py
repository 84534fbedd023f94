"""pydeck layers for named areas and places: outlines, choropleths and names drawn offline.

Every layer here is built from local files (area layers, a places file) and draws with no
network: outlines are ``PathLayer``\\ s, area fills ``PolygonLayer``\\ s and names
``TextLayer``\\ s (deck.gl renders text from a font atlas it builds in the browser with the
system's fonts; nothing is fetched), whatever the basemap (:mod:`layers.basemap`) does.
Names use a proportional sans-serif with a white halo; :func:`thin_labels` (called by
:func:`layers.deck.make_deck`) drops a context name that would overlap a more important label
at the deck's first view, and (when the layers include :func:`names_on_zoom_layer`, as
:func:`context_layers` does) hands the dropped names to deck.gl's ``CollisionFilterExtension``,
which draws each one again once the user has zoomed in far enough for it to fit. Never imports
Streamlit; never computes statistics.
"""

from __future__ import annotations

import copy
import html
import math
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
    "thin_labels",
    "DATA_LABEL_PRIORITY",
    "NAMES_ON_ZOOM",
    "names_on_zoom_layer",
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


#: Label font: a proportional sans-serif (narrower and easier to read than deck.gl's default
#: monospace); the browser's own fonts, nothing fetched.
LABEL_FONT = "Helvetica, Arial, Liberation Sans, DejaVu Sans, sans-serif"
#: Width of a character in units of the font size (an upper estimate for the label font) and
#: the gap (pixels) kept around each label by :func:`thin_labels`.
_CHAR_W = {False: 0.53, True: 0.57}
_LABEL_GAP = 4.0
#: Labels of at least this priority carry data (e.g. the order numbers of recommended sites):
#: :func:`thin_labels` always keeps them; context names give way to them.
DATA_LABEL_PRIORITY = 100


def text_layer(names: Sequence[str], lat, lon, *, layer_id: str, size: int = 13,
               color: Sequence[int] = (20, 20, 20), priority: int = DATA_LABEL_PRIORITY,
               bold: bool = False) -> pdk.Layer:
    """Names drawn at points (``TextLayer`` with a white halo so they read over any fill).

    Each label carries its ``priority`` and estimated box (``w``, ``h`` in pixels), so
    :func:`thin_labels` can drop the lower-priority one of two labels that would overlap. The
    default priority marks data labels (always kept); context names pass a lower one (area
    names 10, places 0).
    """
    # one "position" field, not lat/lon columns: a label is not an incident point
    xy = np.column_stack([np.asarray(lon, float), np.asarray(lat, float)]).round(6).tolist()
    data = [{"name": str(n), "position": p, "prio": int(priority),
             "w": round(len(str(n)) * size * _CHAR_W[bool(bold)], 1), "h": round(size * 1.2, 1)}
            for n, p in zip(names, xy, strict=True)]
    # pydeck turns a bare string into a JS accessor: a constant string is passed quoted
    return pdk.Layer("TextLayer", id=layer_id, data=data, get_position="position",
                     get_text="name", get_size=size, get_color=list(color)[:3] + [255],
                     font_family=f'"{LABEL_FONT}"', font_weight=700 if bold else 400,
                     font_settings={"sdf": True}, outline_width=3,
                     outline_color=[255, 255, 255, 235], pickable=False)
    # deck.gl's defaults already centre the text on the point in pixel units; passing
    # size_units / text-anchor strings through pydeck breaks the layer (blank, blurred map)


def _mercator_px(lon, lat, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator pixel coordinates at ``zoom`` (deck.gl: a 512-px world at zoom 0)."""
    scale = 512.0 * 2.0 ** float(zoom)
    lon = np.asarray(lon, float)
    lat = np.clip(np.asarray(lat, float), -85.05, 85.05)
    x = (lon + 180.0) / 360.0 * scale
    y = (1.0 - np.log(np.tan(np.radians(lat)) + 1.0 / np.cos(np.radians(lat))) / np.pi) / 2 * scale
    return x, y


def thin_labels(layers: Sequence[pdk.Layer], zoom: float) -> list[pdk.Layer]:
    """Layers with overlapping labels removed at ``zoom`` (the deck's initial view).

    Labels of every ``TextLayer`` built by :func:`text_layer` compete for space: in order of
    priority (then layer order, then row order) a label is kept unless its box, widened by a
    small gap, overlaps a label already kept. Data labels (priority ≥
    :data:`DATA_LABEL_PRIORITY`) are always kept. Other layers pass through unchanged; a text
    layer is copied, never changed in place. The kept labels are drawn at every zoom (they never
    collide at the first view or closer).

    An (empty) :func:`names_on_zoom_layer` among ``layers`` is replaced by the dropped names
    (:func:`_on_zoom`), which deck.gl shows only where they have room (zoomed in), or left out
    when no name was dropped.
    """
    on_zoom = [li for li, lyr in enumerate(layers) if getattr(lyr, "id", None) == NAMES_ON_ZOOM
               and not getattr(lyr, "data", None)]  # (a filled one passes through)
    rows = []  # (prio, order, layer index, row index)
    for li, lyr in enumerate(layers):
        if getattr(lyr, "type", None) != "TextLayer" or not isinstance(lyr.data, list) \
                or getattr(lyr, "id", None) == NAMES_ON_ZOOM:
            continue
        for ri, rec in enumerate(lyr.data):
            if isinstance(rec, dict) and {"position", "w", "h"} <= rec.keys():
                rows.append((-int(rec.get("prio", 0)), len(rows), li, ri))
    if not rows:
        return [lyr for li, lyr in enumerate(layers) if li not in on_zoom]
    rows.sort()
    recs = [layers[li].data[ri] for _, _, li, ri in rows]
    x, y = _mercator_px([r["position"][0] for r in recs], [r["position"][1] for r in recs], zoom)
    half_w = np.array([r["w"] for r in recs]) / 2 + _LABEL_GAP / 2
    half_h = np.array([r["h"] for r in recs]) / 2 + _LABEL_GAP / 2
    kept: list[int] = []
    keep = {}
    for i, (_, _, li, ri) in enumerate(rows):
        k = np.asarray(kept, dtype=int)
        clash = (np.abs(x[k] - x[i]) < half_w[k] + half_w[i]) & \
                (np.abs(y[k] - y[i]) < half_h[k] + half_h[i])
        if not clash.any() or -rows[i][0] >= DATA_LABEL_PRIORITY:
            kept.append(i)
            keep.setdefault(li, set()).add(ri)
    dropped = sorted(set(range(len(rows))) - set(kept))
    zoom_layer = None
    if on_zoom and dropped:
        fonts = [layers[rows[i][2]] for i in dropped]
        zoom_layer = _on_zoom([recs[i] for i in kept], [recs[i] for i in dropped],
                              [getattr(lyr, "get_size", 13) for lyr in fonts],
                              [getattr(lyr, "get_color", [20, 20, 20, 255]) for lyr in fonts],
                              bold=any(getattr(lyr, "font_weight", 400) == 700 for lyr in fonts))
    out = []
    for li, lyr in enumerate(layers):
        if li in on_zoom:
            if zoom_layer is not None and li == on_zoom[0]:
                out.append(zoom_layer)
            continue
        if getattr(lyr, "type", None) == "TextLayer" and li in {r[2] for r in rows}:
            lyr = copy.copy(lyr)
            lyr.data = [rec for ri, rec in enumerate(lyr.data) if ri in keep.get(li, set())]
        out.append(lyr)
    return out


#: Id of the layer that draws the names :func:`thin_labels` dropped at the first view.
NAMES_ON_ZOOM = "names-on-zoom"
#: deck.gl's collision priorities lie in [-1000, 1000], the higher box wins: the kept labels'
#: blocks are on top, the dropped names below in thin_labels' order.
_BLOCK_PRIORITY = 999.0
#: Priorities closer than about 6 did not order the boxes in Streamlit's deck.gl (9.4, Chromium
#: with SwiftShader: a name's own glyphs won over a block 5 above it); steps of 10 do (up to
#: 198 dropped names; more share the range in smaller steps).
_PRIORITY_STEP = 10.0
#: deck.gl fades a label whose anchor is within 2 px of a higher box (it samples 5×5 pixels).
_FADE_PX = 2.0
#: The en space (half an em in every font) draws nothing: a row of them gives a kept label an
#: invisible box of its estimated size in the collision map.
_EN_SPACE = "\u2002"
_CHARACTER_SET = "".join(chr(c) for c in range(32, 127)) + _EN_SPACE  # deck.gl's ASCII + it


def names_on_zoom_layer() -> pdk.Layer:
    """An empty placeholder for the names that do not fit at the first view: :func:`thin_labels`
    fills it with them (or leaves it out when every name fits)."""
    return pdk.Layer("TextLayer", id=NAMES_ON_ZOOM, data=[], pickable=False)


def _on_zoom(kept: list[dict], dropped: list[dict], sizes: list, colors: list, *,
             bold: bool) -> pdk.Layer:
    """The dropped labels as one ``TextLayer`` with deck.gl's ``CollisionFilterExtension``:
    deck.gl redraws, at every view, a map of label boxes where the higher priority wins, and
    draws a label only where its anchor shows its own box (so when it has room: zoomed in).

    Rows, lowest priority first: ``dropped`` (names as :func:`text_layer` draws them, priority
    falling in the order given) and one invisible block per ``kept`` label, at the top
    priority: en spaces at ``h`` size, a box at least ``w`` × ``h``. In the collision map every
    box is widened by half the widest and tallest dropped label plus the gap (``padding`` of the
    text backgrounds, transparent, in ``collisionTestProps``), so a dropped name is hidden
    wherever its box (``w`` × ``h``, an upper estimate) would come within the gap of a kept label
    or of a more important dropped one: at the first view every one of them (each overlapped a
    kept label there), zoomed in only those that still lack room. The test is conservative
    (every box is widened for the widest name), so a short name may come back a little later
    than :func:`thin_labels` at that zoom would keep it.
    """
    step = min(_PRIORITY_STEP, 1988.0 / len(dropped))
    data = [{"name": r["name"], "position": r["position"], "w": r["w"], "h": r["h"],
             "size": size if isinstance(size, (int, float)) else 13,
             "color": (list(color)[:3] + [255]) if isinstance(color, (list, tuple)) else
             [20, 20, 20, 255], "cp": round(_BLOCK_PRIORITY - _PRIORITY_STEP - k * step, 3)}
            for k, (r, size, color) in enumerate(zip(dropped, sizes, colors, strict=True))][::-1]
    data += [{"name": _EN_SPACE * max(1, math.ceil(r["w"] / (r["h"] / 2))),
              "position": r["position"], "size": r["h"], "color": [0, 0, 0, 0],
              "cp": _BLOCK_PRIORITY} for r in kept]
    pad_x = max(r["w"] for r in dropped) / 2 + _LABEL_GAP + _FADE_PX
    pad_y = max(r["h"] for r in dropped) / 2 + _LABEL_GAP + _FADE_PX
    pad = [round(pad_x, 1), round(pad_y, 1)] * 2
    lyr = pdk.Layer("TextLayer", id=NAMES_ON_ZOOM, data=data, get_position="position",
                    get_text="name", get_size="size", get_color="color",
                    font_family=f'"{LABEL_FONT}"', font_weight=700 if bold else 400,
                    font_settings={"sdf": True}, outline_width=3,
                    outline_color=[255, 255, 255, 235], background=True,
                    get_background_color=[255, 255, 255, 0],
                    extensions=[{"@@type": "CollisionFilterExtension"}],
                    get_collision_priority="cp",
                    collision_test_props={"padding": pad},
                    pickable=False)
    lyr.character_set = _CHARACTER_SET  # set after: pydeck would make a string an accessor
    return lyr


def area_names_layer(layer: AreaLayer, *, layer_id: str, size: int = 13,
                     color: Sequence[int] = (20, 20, 20)) -> pdk.Layer:
    """Each area's name at a point inside it (``representative_point``)."""
    pts = shapely.point_on_surface(layer.geometry)
    return text_layer(layer.names, shapely.get_y(pts), shapely.get_x(pts), layer_id=layer_id,
                      size=size, color=color, priority=10, bold=True)


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
                   color=(55, 55, 55), priority=0, bold=True),
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
                   names_of: int | None = 0, roads=None,
                   names_on_zoom: bool = False) -> list[pdk.Layer]:
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
    names_on_zoom : bool
        End with :func:`names_on_zoom_layer` (names dropped at the first view come back on
        zoom). Off by default: drawn without a GPU (software WebGL), its collision pass adds
        about 1 s of CPU to a map's first draw, so only a map whose names are its content
        (the Areas page) asks for it.
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
    if names_on_zoom and any(getattr(lyr, "type", None) == "TextLayer" for lyr in out):
        out.append(names_on_zoom_layer())  # names dropped at the first view, shown zoomed in
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
