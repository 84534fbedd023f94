"""Exports on every page: CSV of the tables shown (already published by their products) and
PNG of maps and charts, drawn on click by the briefing's renderer (:mod:`report.maps`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

__all__ = ["download_table", "download_map", "download_chart", "download_png"]


def download_table(df: pd.DataFrame, name: str, label: str = "Download CSV", *,
                   key: str | None = None) -> None:
    """A CSV download button for a table the page shows (already published by its product:
    the same rows and values as on screen; H3 cells as hex ids). The CSV is written when the
    button is pressed, not on every rerun of the page (as the PNG buttons)."""
    table = df.copy()  # the rows shown now, whatever the page does with ``df`` afterwards

    def render() -> bytes:
        out = table
        if "h3" in out.columns and out["h3"].dtype.kind == "u":
            from geo.cells import cells_to_str

            out = out.assign(h3=cells_to_str(out["h3"].to_numpy(np.uint64)))
        return out.to_csv(index=False).encode("utf-8")

    st.download_button(label, render, file_name=f"gapmap_{name}.csv", mime="text/csv",
                       key=key or f"dl_{name}")


def download_map(cells, name: str, *, counts=None, classes=None, title: str | None = None,
                 label: str = "Download map (PNG)") -> None:
    """A PNG of the cells the map shows, drawn by the briefing's renderer (report.maps) when
    the button is pressed; pass published counts or Gi* classes."""
    cells = np.asarray(cells)
    counts = None if counts is None else list(counts)
    classes = None if classes is None else [str(c) for c in classes]
    from app_pages._data import boundary
    from app_pages._ui import policy

    k = policy().k

    def render() -> bytes:
        from report.maps import cell_map_png

        return cell_map_png(cells, counts=counts, classes=classes, boundary=boundary(), k=k,
                            title=title)

    st.download_button(label, render, file_name=f"gapmap_{name}.png", mime="image/png",
                       key=f"dl_{name}_png")


def download_chart(table: pd.DataFrame, name: str, *, title: str = "", ylabel: str = "",
                   kind: str = "line", label: str = "Download chart (PNG)") -> None:
    """A PNG of a chart the page shows (report.maps.chart_png), rendered on press."""
    data = table.copy()

    def render() -> bytes:
        from report.maps import chart_png

        return chart_png(data, title=title, ylabel=ylabel, kind=kind)

    st.download_button(label, render, file_name=f"gapmap_{name}.png", mime="image/png",
                       key=f"dl_{name}_png")


def download_png(png: bytes | None, name: str, label: str = "Download PNG") -> None:
    """A download button for PNG bytes already rendered (e.g. the briefing's map)."""
    if png:
        st.download_button(label, png, file_name=f"gapmap_{name}.png", mime="image/png",
                           key=f"dl_{name}_png")
