"""Static hex maps with matplotlib: H3 cells coloured by count class or Gi* class.

No basemap and no network: cell outlines come from :func:`geo.cells.cells_to_polygons`
(shapely, lng/lat), the study-area outline is drawn on top, and the map is shown in
longitude/latitude with the aspect corrected for the latitude (an equirectangular view that is
true to scale at the map's centre, enough for a county or a state).

Palettes are colour-blind safe (ColorBrewer): ``YlOrRd`` (sequential) for counts and ``RdBu``
(diverging) for hot/cold spots. Cells whose count was suppressed by the privacy gate are drawn
hatched grey and labelled "1–9 (suppressed)" in the legend.

References
----------
Brewer, C. A., Hatchard, G. W. and Harrower, M. A. (2003). ColorBrewer in print: a catalog of
color schemes for maps. *Cartography and Geographic Information Science* 30(1), 5–32.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless, before pyplot is imported anywhere in this process
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from geo.boundary import boundary_geometry  # noqa: E402  (re-exported: report.sections)
from geo.cells import cells_resolution, cells_to_polygons  # noqa: E402

__all__ = [
    "COUNT_COLOURS",
    "CLASS_COLOURS",
    "CLASS_LABELS",
    "H3_MEAN_AREA_KM2",
    "count_breaks",
    "plot_cells",
    "cell_map_figure",
    "figure_to_png",
    "cell_map_png",
    "chart_png",
    "boundary_geometry",
]

#: ColorBrewer YlOrRd, 5 classes (colour-blind safe).
COUNT_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
ZERO_COLOUR = "#ffffff"
SUPPRESSED_COLOUR = "#d9d9d9"
#: ColorBrewer RdBu, 7 classes (colour-blind safe), hottest first.
CLASS_COLOURS = {
    "hot_99": "#b2182b", "hot_95": "#ef8a62", "hot_90": "#fddbc7",
    "not_significant": "#f7f7f7",
    "cold_90": "#d1e5f0", "cold_95": "#67a9cf", "cold_99": "#2166ac",
}
CLASS_LABELS = {
    "hot_99": "Hot spot, 99% (FDR)", "hot_95": "Hot spot, 95%", "hot_90": "Hot spot, 90%",
    "not_significant": "Not significant",
    "cold_90": "Cold spot, 90%", "cold_95": "Cold spot, 95%", "cold_99": "Cold spot, 99%",
}
#: Average H3 cell area by resolution, km² (h3geo.org resolution table).
H3_MEAN_AREA_KM2 = {4: 1770.3, 5: 252.9, 6: 36.13, 7: 5.161, 8: 0.7373, 9: 0.1053, 10: 0.01504}


def _nice(x: float) -> float:
    """Round up to 1, 2 or 5 × 10^k."""
    if x <= 0:
        return 1.0
    e = 10 ** np.floor(np.log10(x))
    for m in (1, 2, 5, 10):
        if x <= m * e:
            return float(m * e)
    return float(10 * e)


def count_breaks(counts, k: int = 10, n_classes: int = 5) -> list[int]:
    """Lower edges of the count classes shown: ``k`` first (everything below is suppressed or
    zero), then rounded quantiles of the shown counts; strictly increasing integers."""
    v = pd.to_numeric(pd.Series(counts), errors="coerce").dropna().to_numpy(float)
    v = v[v >= k]
    edges = [int(k)]
    if v.size:
        for q in np.linspace(0, 1, n_classes + 1)[1:-1]:
            b = _round2(float(np.quantile(v, q)))
            if b > edges[-1]:
                edges.append(b)
    return edges


def _round2(x: float) -> int:
    """Round down to two significant figures (23, 37, 580 …) for readable legend edges."""
    if x < 100:
        return int(x)
    e = 10 ** (int(np.floor(np.log10(x))) - 1)
    return int(np.floor(x / e) * e)


def _polys(cells: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(p.exterior.coords) for p in cells_to_polygons(cells)]


def _outline(ax, geom, **kw) -> None:
    parts = getattr(geom, "geoms", [geom])
    for part in parts:
        rings = [part.exterior] if hasattr(part, "exterior") else [part]
        for ring in rings:
            xy = np.asarray(ring.coords)
            ax.plot(xy[:, 0], xy[:, 1], **kw)


def _scale_bar(ax, lat0: float) -> None:
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    km_per_deg = 111.32 * np.cos(np.radians(lat0))
    length_km = _nice((x1 - x0) * km_per_deg / 5)
    dx = length_km / km_per_deg
    bx, by = x1 - (x1 - x0) * 0.04 - dx, y0 + (y1 - y0) * 0.05
    ax.plot([bx, bx + dx], [by, by], color="black", lw=2, solid_capstyle="butt")
    label = f"{length_km:g} km"
    ax.text(bx + dx / 2, by + (y1 - y0) * 0.015, label, ha="center", va="bottom", fontsize=6)


def plot_cells(
    ax,
    cells,
    *,
    counts=None,
    classes=None,
    boundary=None,
    k: int = 10,
    legend_title: str | None = None,
    legend_loc: str = "upper left",
):
    """Draw H3 cells on ``ax`` coloured by Gi* class (``classes``) or by count (``counts``).

    Parameters
    ----------
    ax : matplotlib Axes
    cells : array of uint64
        Cells to draw (one resolution).
    counts : array-like, optional
        Count per cell; missing values (``<NA>``, suppressed by the privacy gate) are drawn
        hatched grey as "1–9 (suppressed)". Used when ``classes`` is None.
    classes : array-like of str, optional
        Gi* class per cell (:data:`CLASS_COLOURS` keys).
    boundary : shapely geometry or GeoDataFrame, optional
        Study-area outline, drawn on top.
    k : int
        Suppression threshold (for the legend wording).
    legend_title, legend_loc : str
        Legend title and position.

    Returns
    -------
    matplotlib Axes
    """
    cells = np.asarray(cells, dtype=np.uint64)
    if counts is None and classes is None:
        raise ValueError("plot_cells needs counts= or classes= to colour the cells")
    if counts is not None and len(counts) != cells.size:
        raise ValueError(f"counts has {len(counts)} values for {cells.size} cells")
    if classes is not None and len(classes) != cells.size:
        raise ValueError(f"classes has {len(classes)} values for {cells.size} cells")
    geom = boundary_geometry(boundary)
    polys = _polys(cells) if cells.size else []
    handles: list = []
    hatch = None
    if classes is not None:
        cls = np.asarray(classes, dtype=object)
        unknown = sorted(set(cls) - set(CLASS_COLOURS))
        if unknown:
            raise ValueError(
                f"unknown hot-spot class(es) {unknown}; expected {list(CLASS_COLOURS)}")
        colours = [CLASS_COLOURS[c] for c in cls]
        present = set(cls)
        handles = [Patch(facecolor=CLASS_COLOURS[c], edgecolor="#888888", label=CLASS_LABELS[c])
                   for c in CLASS_COLOURS if c in present]
        title = legend_title or "Gi* class"
    else:
        v = pd.to_numeric(pd.Series(counts), errors="coerce").to_numpy(float)
        edges = count_breaks(v, k=k)
        idx = np.searchsorted(edges, v, side="right") - 1  # class of counts ≥ k
        # a public table has no counts 1..k-1 (suppressed → NaN); a restricted one may: they
        # take the lightest colour and the classes ≥ k shift up by one
        offset = 1 if ((v > 0) & (v < k)).any() else 0
        top = len(COUNT_COLOURS) - 1
        colours = [
            SUPPRESSED_COLOUR if np.isnan(val) else ZERO_COLOUR if val == 0
            else COUNT_COLOURS[0] if val < k else COUNT_COLOURS[min(i + offset, top)]
            for val, i in zip(v, idx, strict=True)
        ]
        handles = _count_legend(v, edges, k)
        hatch = np.isnan(v)
        title = legend_title or "Overdoses per cell"
    if polys:
        pc = PolyCollection(polys, facecolors=colours, edgecolors="#9a9a9a", linewidths=0.25)
        ax.add_collection(pc)
        if hatch is not None and hatch.any():
            hp = PolyCollection([p for p, h in zip(polys, hatch, strict=True) if h],
                                facecolors="none", edgecolors="#7a7a7a", linewidths=0.0,
                                hatch="////")
            ax.add_collection(hp)
    if geom is not None:
        _outline(ax, geom, color="#222222", lw=0.9)
    # extent: the cells and the outline
    xs, ys = [], []
    for p in polys:
        xs += [p[:, 0].min(), p[:, 0].max()]
        ys += [p[:, 1].min(), p[:, 1].max()]
    if geom is not None:
        b = geom.bounds
        xs += [b[0], b[2]]
        ys += [b[1], b[3]]
    if xs:
        padx, pady = (max(xs) - min(xs)) * 0.03 + 1e-3, (max(ys) - min(ys)) * 0.03 + 1e-3
        ax.set_xlim(min(xs) - padx, max(xs) + padx)
        ax.set_ylim(min(ys) - pady, max(ys) + pady)
        lat0 = (min(ys) + max(ys)) / 2
        ax.set_aspect(1 / np.cos(np.radians(lat0)))
        _scale_bar(ax, lat0)
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_color("#bbbbbb")
    if handles:
        ax.legend(handles=handles, title=title, loc=legend_loc, fontsize=6, title_fontsize=6.5,
                  frameon=True, framealpha=0.9)
    if cells.size:
        res = int(cells_resolution(cells[:1])[0])
        area = H3_MEAN_AREA_KM2.get(res)
        note = f"H3 resolution {res} cells" + (f" (≈{area:g} km² each)" if area else "")
        ax.text(0.01, 0.01, note, transform=ax.transAxes, fontsize=5.5, color="#444444",
                va="bottom", ha="left")
    return ax


def _count_legend(v: np.ndarray, edges: list[int], k: int) -> list:
    handles = []
    has_small = bool(((v > 0) & (v < k)).any())
    offset = 1 if has_small else 0
    if has_small:
        handles.append(Patch(facecolor=COUNT_COLOURS[0], edgecolor="#888888", label=f"1–{k - 1}"))
    for i, lo in enumerate(edges):
        hi = edges[i + 1] - 1 if i + 1 < len(edges) else None
        label = f"{lo}–{hi}" if hi is not None and hi > lo else (f"{lo}" if hi == lo else f"{lo}+")
        colour = COUNT_COLOURS[min(i + offset, len(COUNT_COLOURS) - 1)]
        if ((v >= lo) & ((v <= hi) if hi is not None else True)).any():
            handles.append(Patch(facecolor=colour, edgecolor="#888888", label=label))
    if np.isnan(v).any():
        handles.append(Patch(facecolor=SUPPRESSED_COLOUR, edgecolor="#7a7a7a", hatch="////",
                             label=f"1–{k - 1} (suppressed)"))
    if (v == 0).any():
        handles.append(Patch(facecolor=ZERO_COLOUR, edgecolor="#888888", label="0"))
    return handles


def cell_map_figure(cells, *, counts=None, classes=None, boundary=None, k: int = 10,
                    title: str | None = None, size=(5.0, 5.0)):
    """A stand-alone figure with one hex map (see :func:`plot_cells`)."""
    fig, ax = plt.subplots(figsize=size)
    plot_cells(ax, cells, counts=counts, classes=classes, boundary=boundary, k=k)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def figure_to_png(fig, dpi: int = 120) -> bytes:
    """Render a figure to PNG bytes and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def cell_map_png(cells, *, counts=None, classes=None, boundary=None, k: int = 10,
                 title: str | None = None) -> bytes:
    """PNG bytes of one hex map (the dashboard's map exports; same renderer as the briefing).

    ``cells`` may be uint64 or hex strings; ``counts``/``classes`` as :func:`plot_cells`
    (pass the published values: suppressed counts are drawn hatched).
    """
    from geo.cells import str_to_cells

    cells = np.asarray(cells)
    if cells.dtype.kind in "OUS":
        cells = str_to_cells(cells.astype(str)) if cells.size else cells.astype(np.uint64)
    fig = cell_map_figure(cells, counts=counts, classes=classes, boundary=boundary, k=k,
                          title=title, size=(6.0, 6.0))
    return figure_to_png(fig, dpi=150)


def chart_png(table: pd.DataFrame, *, title: str = "", ylabel: str = "", kind: str = "line"
              ) -> bytes:
    """PNG bytes of a line (or bar) chart of a table's numeric columns against its index
    (blank values stay gaps: suppressed counts are not drawn as zero)."""
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    data = table.apply(pd.to_numeric, errors="coerce").astype(float)
    if kind == "bar":
        data.plot.bar(ax=ax, width=0.8, legend=data.shape[1] > 1)
    else:
        data.plot(ax=ax, legend=data.shape[1] > 1)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_xlabel(str(table.index.name or ""), fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return figure_to_png(fig, dpi=150)
