"""Colours and legends of the dashboard maps (:mod:`layers.deck` draws the layers).

Gi* classes use ColorBrewer RdBu (7 classes), counts and rates a reversed viridis, resource
kinds the Okabe–Ito palette: all colour-blind safe. Legends are small HTML blocks for
``st.markdown``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

__all__ = ["GI_CLASSES", "GI_COLORS", "GI_LABELS", "SITE_COLORS", "SUPPRESSED_COLOR",
           "NO_DATA_COLOR", "legend_html", "class_legend", "sequential_legend", "sites_legend"]

GI_CLASSES = ("hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99")
#: ColorBrewer RdBu, 7 classes (colour-blind safe); the middle class is a light neutral grey.
GI_COLORS = {
    "hot_99": (178, 24, 43),
    "hot_95": (239, 138, 98),
    "hot_90": (253, 219, 199),
    "not_significant": (230, 230, 230),
    "cold_90": (209, 229, 240),
    "cold_95": (103, 169, 207),
    "cold_99": (33, 102, 172),
}
GI_LABELS = {
    "hot_99": "Hot spot, 99% (q < 0.01)",
    "hot_95": "Hot spot, 95% (q < 0.05)",
    "hot_90": "Hot spot, 90% (q < 0.10)",
    "not_significant": "Not significant",
    "cold_90": "Cold spot, 90%",
    "cold_95": "Cold spot, 95%",
    "cold_99": "Cold spot, 99%",
}
#: viridis sampled at 6 stops, reversed: low values light yellow, high values dark purple, so
#: the many low cells recede on the light background and high values stand out.
_VIRIDIS = np.array(
    [(68, 1, 84), (65, 68, 135), (42, 120, 142), (34, 168, 132), (122, 209, 81), (253, 231, 37)],
    dtype=float,
)[::-1]
SUPPRESSED_COLOR = (150, 150, 150)
NO_DATA_COLOR = (245, 245, 245)
#: Okabe–Ito colours (colour-blind safe) for resource kinds.
SITE_COLORS = {
    "treatment": (0, 114, 178),  # blue
    "ssp": (0, 158, 115),  # bluish green
    "naloxone": (230, 159, 0),  # orange
    "candidate": (204, 121, 167),  # reddish purple
    "chosen": (213, 94, 0),  # vermillion
}


def legend_html(entries: Sequence[tuple[Sequence[int], str]], title: str = "") -> str:
    """Small HTML legend: a colour swatch and a label per entry (for ``st.markdown``)."""
    parts = [f"<div style='font-size:0.85rem;line-height:1.5'><b>{html.escape(title)}</b><br/>"]
    for color, label in entries:
        r, g, b = (int(x) for x in list(color)[:3])
        parts.append(
            "<span style='display:inline-block;width:0.9em;height:0.9em;margin-right:0.35em;"
            f"background:rgb({r},{g},{b});border:1px solid #555;vertical-align:middle'></span>"
            f"{html.escape(label)}<br/>"
        )
    parts.append("</div>")
    return "".join(parts)


def class_legend(title: str = "Gi* hot/cold spots (FDR-adjusted)") -> str:
    """Legend for :data:`GI_COLORS`, plus the grey of suppressed counts."""
    return legend_html([(GI_COLORS[c], GI_LABELS[c]) for c in GI_CLASSES], title)


def sequential_legend(vmin: float, vmax: float, title: str, unit: str, k: int | None = 10, *,
                      log: bool = False, zero_clear: bool = False) -> str:
    """Legend for :func:`sequential_colors` over ``[vmin, vmax]`` (and the suppressed grey;
    with ``log`` the stops follow the log scale; with ``zero_clear`` an entry for 0)."""
    if log and vmax > vmin:
        stops = vmin + np.expm1(np.linspace(0, np.log1p(vmax - vmin), len(_VIRIDIS)))
    else:
        stops = np.linspace(vmin, vmax, len(_VIRIDIS))
    span = abs(vmax - vmin)
    digits = 0 if span >= 20 else 1 if span >= 2 else 2  # round labels to the scale's size
    entries = [
        (tuple(_VIRIDIS[i]), f"{stops[i]:,.{digits}f} {unit}".strip())
        for i in range(len(_VIRIDIS))
    ]
    if log:
        title = f"{title} (log scale)"
    if zero_clear:
        entries.insert(0, (NO_DATA_COLOR, "0 (left clear)"))
    if k is not None:
        entries.append((SUPPRESSED_COLOR, f"1–{k - 1} (suppressed)"))
    return legend_html(entries, title)


def sites_legend(kinds: Sequence[str], labels: dict[str, str] | None = None) -> str:
    """Legend for resource points by kind (Okabe–Ito colours)."""
    labels = labels or {}
    return legend_html([(SITE_COLORS[k], labels.get(k, k)) for k in kinds], "Sites")
