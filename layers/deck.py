"""pydeck layer builders: hexagon maps, the study-area outline, resource points and legends.

Everything here turns library tables into pydeck objects; it never computes statistics and never
imports Streamlit. H3 cells arrive as ``uint64`` and leave as hex strings (via
:func:`geo.cells.cells_to_str`, the one owner of conversions). Every layer has an ``id`` so a
keyed ``st.pydeck_chart(on_select="rerun")`` can report which layer was clicked.

Basemap: :func:`make_deck` asks the viewer's browser for a tokenless public basemap by default
(CARTO Positron, :data:`DEFAULT_BASEMAP`); ``GAPMAP_BASEMAP`` names another style URL, or ``off``
/ ``none`` for air-gapped deployments (``map_provider=None``: a plain background, no request
outside the deployment). The deck.gl layers (cells, outlines, roads, names) are drawn from the
page's own data whatever the network: an unreachable basemap leaves them on a plain background.

Colour scales are colour-blind safe: Gi* classes use ColorBrewer ``RdBu`` (diverging, safe for
deuteranopia/protanopia), continuous values use ``viridis``; suppressed cells are grey.

References
----------
Brewer, C. A. (2003). ColorBrewer: https://colorbrewer2.org (RdBu, colour-blind safe).
van der Walt, S. & Smith, N. (2015). viridis, a perceptually uniform colour map.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pydeck as pdk

from geo.cells import cells_to_str
from layers.basemap import BASEMAP_ENV, DEFAULT_BASEMAP, basemap_style
from layers.deck_json import CompactDeck
from layers.palette import (
    _VIRIDIS,
    GI_CLASSES,
    GI_COLORS,
    GI_LABELS,
    NO_DATA_COLOR,
    SITE_COLORS,
    SUPPRESSED_COLOR,
    class_legend,
    legend_html,
    sequential_legend,
    sites_legend,
)

__all__ = [
    "GI_CLASSES",
    "GI_COLORS",
    "GI_LABELS",
    "SITE_COLORS",
    "SUPPRESSED_COLOR",
    "NO_DATA_COLOR",
    "ZERO_ALPHA",
    "CELL_COVERAGE",
    "sequential_colors",
    "class_colors",
    "count_text",
    "hex_layer",
    "outline_layer",
    "sites_layer",
    "reach_circles_layer",
    "view_for_bounds",
    "DEFAULT_BASEMAP",
    "BASEMAP_ENV",
    "basemap_style",
    "make_deck",
    "legend_html",
    "class_legend",
    "sequential_legend",
    "sites_legend",
]

_ALPHA = 190
#: Share of its hexagon each cell fills (deck.gl ``coverage``): the thin gap left between
#: neighbouring cells shows where one ends, as a white outline did, without a second drawing
#: pass. In a browser without a GPU (software WebGL) the outline pass cost as much as the cells
#: themselves: ~0.6 s of CPU per redraw of the 2,644 cells (bench/bench_browser.py).
CELL_COVERAGE = 0.9
#: Opacity of zero cells with ``zero_clear`` (nearly transparent).
ZERO_ALPHA = 25


def sequential_colors(values, vmin: float | None = None, vmax: float | None = None, *,
                      log: bool = False, zero_clear: bool = False) -> np.ndarray:
    """RGBA rows (``uint8``, n × 4) on reversed viridis; NaN/NA values get the grey of suppression.

    Parameters
    ----------
    values : array-like of float
        Values to colour (NaN / ``pd.NA`` for suppressed or missing).
    vmin, vmax : float, optional
        Scale limits (default: finite min / max of ``values``).
    log : bool
        Position on the scale by ``log1p(value - vmin)`` (counts: a few very high cells do not
        flatten every other cell into the lowest colour).
    zero_clear : bool
        Cells whose value is exactly 0 are drawn almost transparent, so the many empty cells
        do not swamp the map (the outline of the study area still shows where data exist).
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = np.empty((v.size, 4), dtype=np.uint8)
    out[:] = (*SUPPRESSED_COLOR, 120)
    ok = np.isfinite(v)
    if not ok.any():
        return out
    lo = float(np.nanmin(v[ok])) if vmin is None else float(vmin)
    hi = float(np.nanmax(v[ok])) if vmax is None else float(vmax)
    if hi <= lo:
        t = np.zeros(ok.sum())
    elif log:
        t = np.clip(np.log1p(np.maximum(v[ok] - lo, 0)) / np.log1p(hi - lo), 0, 1)
    else:
        t = np.clip((v[ok] - lo) / (hi - lo), 0, 1)
    pos = t * (len(_VIRIDIS) - 1)
    i = np.minimum(pos.astype(int), len(_VIRIDIS) - 2)
    f = (pos - i)[:, None]
    rgb = _VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f
    out[ok, :3] = np.round(rgb).astype(np.uint8)
    out[ok, 3] = _ALPHA
    if zero_clear:
        zero = ok & (v == 0)
        out[zero, :3] = NO_DATA_COLOR
        out[zero, 3] = ZERO_ALPHA
    return out


def class_colors(classes) -> np.ndarray:
    """RGBA rows for Gi* class labels (unknown labels → light grey)."""
    cls = pd.Series(classes, dtype="object").fillna("not_significant").to_numpy()
    out = np.empty((cls.size, 4), dtype=np.uint8)
    for i, c in enumerate(cls):
        out[i, :3] = GI_COLORS.get(c, NO_DATA_COLOR)
        out[i, 3] = 90 if c == "not_significant" else 210
    return out


def count_text(values, k: int = 10, unit: str = "overdoses") -> list[str]:
    """Display text for counts that may have been suppressed by the privacy gate.

    A missing value (``<NA>``, left by :func:`geo.privacy.publish`) shows as ``"suppressed"``:
    it is either a count of 1..k-1 or a larger value hidden because it would reveal one, so it
    is never labelled ``"<k"``. ``k`` is kept for the caller's legend text.
    """
    out = []
    for v in pd.Series(values, dtype="object"):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            out.append("suppressed")
        else:
            out.append(f"{int(v):,} {unit}".strip())
    return out


def _tips(texts: Sequence[str]) -> list[str]:
    """HTML-escaped tooltip texts; a newline becomes a line break."""
    return [html.escape(str(t)).replace("\n", "<br/>") for t in texts]


def _plain(v):
    """One JSON-safe cell value: numpy scalars and arrays as Python ones."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _column(s: pd.Series) -> list:
    """A column as JSON-safe Python values, NA → None (column-wise: no per-row dict work)."""
    na = s.isna().to_numpy()
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "biuf":  # tolist: Python scalars
        vals = s.to_numpy().tolist()
    else:
        vals = s.astype(object).to_numpy().tolist()  # (an object array: the values as they are)
        if pd.api.types.infer_dtype(vals, skipna=True) not in ("string", "empty"):
            vals = [_plain(v) for v in vals]  # numpy scalars / arrays inside
    if na.any():
        for i in np.flatnonzero(na).tolist():
            vals[i] = None
    return vals


def _records(df: pd.DataFrame) -> list[dict]:
    """JSON-safe records (plain Python scalars; NA → None)."""
    cols = list(df.columns)
    if not cols:
        return [{} for _ in range(len(df))]
    values = [_column(df.iloc[:, j]) for j in range(len(cols))]
    return [dict(zip(cols, row, strict=True)) for row in zip(*values, strict=True)]


def hex_layer(
    cells,
    fill: np.ndarray,
    tooltip: Sequence[str],
    *,
    layer_id: str = "cells",
    extra: pd.DataFrame | None = None,
    pickable: bool = True,
) -> pdk.Layer:
    """An ``H3HexagonLayer`` (flat, one fill pass) of cells with per-cell fill colours and
    tooltips; each cell fills :data:`CELL_COVERAGE` of its hexagon (no outline pass).

    Parameters
    ----------
    cells : array-like of uint64
        H3 cells (converted to hex strings here).
    fill : ndarray (n, 3 or 4)
        Colours per cell (e.g. from :func:`sequential_colors` / :func:`class_colors`).
    tooltip : sequence of str
        Tooltip text per cell (HTML-escaped here).
    layer_id : str
        Layer id (reported back by ``on_select``).
    extra : DataFrame, optional
        More columns to carry per cell (same row order), e.g. a class label for selection.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    fill = np.asarray(fill)
    if fill.shape[0] != cells.size or len(tooltip) != cells.size:
        raise ValueError(
            f"hex_layer: cells ({cells.size}), fill ({fill.shape[0]}) and tooltip "
            f"({len(tooltip)}) must have the same length"
        )
    data = pd.DataFrame({"h3": cells_to_str(cells), "tip": _tips(tooltip)})
    data["fill"] = fill.astype(np.int64).tolist()  # lists of Python ints
    if extra is not None:
        for c in extra.columns:
            if c not in data.columns:
                data[c] = extra[c].to_numpy()
    return pdk.Layer(
        "H3HexagonLayer",
        id=layer_id,
        data=_records(data),
        get_hexagon="h3",
        get_fill_color="fill",
        extruded=False,
        stroked=False,  # (cells are told apart by the gap: CELL_COVERAGE)
        filled=True,
        coverage=CELL_COVERAGE,
        pickable=pickable,
        auto_highlight=pickable,
    )


def _rings(geom) -> list[list[list[float]]]:
    """Exterior and interior rings of a shapely (Multi)Polygon as lists of ``[lng, lat]``."""
    polys = list(getattr(geom, "geoms", [geom]))
    rings = []
    for p in polys:
        if p.geom_type != "Polygon":
            continue
        rings.append([[float(x), float(y)] for x, y in p.exterior.coords])
        rings.extend([[float(x), float(y)] for x, y in r.coords] for r in p.interiors)
    return rings


def outline_layer(
    boundary, *, layer_id: str = "study-area", label: str = "Study area"
) -> pdk.Layer:
    """The study-area outline as a ``PathLayer`` (dark line, not pickable).

    ``boundary`` is anything :func:`geo.boundary.boundary_geometry` takes (a shapely
    (Multi)Polygon in WGS84, a GeoDataFrame/GeoSeries with a CRS, a vector file path).
    """
    from geo.boundary import boundary_geometry

    geom = boundary_geometry(boundary)
    paths = [{"path": r, "tip": html.escape(label)} for r in _rings(geom)]
    return pdk.Layer(
        "PathLayer",
        id=layer_id,
        data=paths,
        get_path="path",
        get_color=[40, 40, 40, 230],
        width_min_pixels=2,
        pickable=False,
    )


def sites_layer(
    sites: pd.DataFrame,
    *,
    layer_id: str,
    color: Sequence[int],
    tooltip: Sequence[str] | None = None,
    radius_m: float = 120,
    min_pixels: float = 4,
    max_pixels: float = 14,
    opacity: int = 235,
    extra_columns: Sequence[str] = (),
) -> pdk.Layer:
    """A ``ScatterplotLayer`` of public resource / candidate sites (``lat``, ``lon`` columns).

    Sites are public places, never incidents. Tooltip defaults to ``name`` (``subtype``).
    """
    for c in ("lat", "lon"):
        if c not in sites.columns:
            raise ValueError(f"sites_layer: column {c!r} missing; found {list(sites.columns)}")
    if tooltip is None:
        name = (
            sites["name"].astype(str)
            if "name" in sites.columns
            else pd.Series("site", index=sites.index)
        )
        sub = sites["subtype"].astype(str) if "subtype" in sites.columns else ""
        tooltip = (
            (name + " (" + sub + ")").tolist() if "subtype" in sites.columns else name.tolist()
        )
    data = pd.DataFrame(
        {
            "lon": sites["lon"].to_numpy(float),
            "lat": sites["lat"].to_numpy(float),
            "tip": _tips(tooltip),
        }
    )
    for c in extra_columns:
        data[c] = sites[c].to_numpy()
    return pdk.Layer(
        "ScatterplotLayer",
        id=layer_id,
        data=_records(data),
        get_position=["lon", "lat"],
        get_fill_color=list(color)[:3] + [int(opacity)],
        get_line_color=[20, 20, 20, int(opacity)],
        stroked=True,
        line_width_min_pixels=1,
        get_radius=radius_m,
        radius_min_pixels=min_pixels,
        radius_max_pixels=max_pixels,
        pickable=True,
    )


def reach_circles_layer(sites: pd.DataFrame, radius_m: float, *, layer_id: str,
                        color: Sequence[int] = SITE_COLORS["chosen"], n: int = 48) -> pdk.Layer:
    """Straight-line reach of sites: an outlined, lightly filled circle of ``radius_m`` metres
    around each ``lat``/``lon`` (a ``PolygonLayer`` of ``n``-gons on the local metre scale; not
    pickable: the site marker carries the tooltip)."""
    lat = pd.to_numeric(sites["lat"]).to_numpy(float)
    lon = pd.to_numeric(sites["lon"]).to_numpy(float)
    a = np.linspace(0, 2 * np.pi, n + 1)
    dlat = float(radius_m) / 111_320.0
    rings = [np.column_stack([x + dlat / max(math.cos(math.radians(y)), 1e-6) * np.cos(a),
                              y + dlat * np.sin(a)]).round(6).tolist()
             for x, y in zip(lon, lat, strict=True)]
    c = [int(x) for x in list(color)[:3]]
    return pdk.Layer("PolygonLayer", id=layer_id, data=[{"polygon": r} for r in rings],
                     get_polygon="polygon", stroked=True, filled=True,
                     get_fill_color=c + [35], get_line_color=c + [220],
                     line_width_min_pixels=2, pickable=False)


def view_for_bounds(
    minx: float, miny: float, maxx: float, maxy: float, *, height_px: int = 480, width_px: int = 740
) -> pdk.ViewState:
    """A view state centred on lon/lat bounds with a zoom that fits them (Web Mercator)."""
    if not (np.isfinite([minx, miny, maxx, maxy]).all() and maxx >= minx and maxy >= miny):
        raise ValueError(f"view_for_bounds: bad bounds {(minx, miny, maxx, maxy)}")
    lon, lat = (minx + maxx) / 2, (miny + maxy) / 2
    span_x = max(maxx - minx, 1e-4)
    span_y = max(maxy - miny, 1e-4) / max(math.cos(math.radians(lat)), 1e-6)
    zoom_x = math.log2(360 * width_px / (512 * span_x))  # deck.gl: 512 px world at zoom 0
    zoom_y = math.log2(360 * height_px / (512 * span_y))
    return pdk.ViewState(latitude=lat, longitude=lon, zoom=round(min(zoom_x, zoom_y) - 0.15, 2))


def make_deck(layers: list[pdk.Layer], view: pdk.ViewState, *, height: int = 520,
              basemap: bool = True) -> pdk.Deck:
    """A deck over the configured basemap (:func:`layers.basemap.basemap_style`; a misconfigured
    ``GAPMAP_BASEMAP`` is a ValueError). With the basemap off (configured, or ``basemap=False``)
    the deck uses ``map_provider=None``: a plain background and no request for a style.

    Every layer must have an id (checked). Tooltips show each object's ``tip`` field. Labels
    that would overlap at the initial view are thinned (:func:`layers.deck_areas.thin_labels`).
    """
    for lyr in layers:
        if not getattr(lyr, "id", None):
            raise ValueError("every layer needs an id (for on_select); pass layer_id=...")
    from layers.deck_areas import thin_labels  # (deck_areas imports this module)

    layers = thin_labels(layers, view.zoom)  # no two names drawn over each other
    style = basemap_style() if basemap else None
    kw = {"map_provider": "carto", "map_style": style} if style else {"map_provider": None}
    return CompactDeck(
        layers=layers,
        initial_view_state=view,
        tooltip={"html": "{tip}", "style": {"fontSize": "13px"}},
        height=height,
        **kw,
    )
