"""A line chart drawn from a plain Vega-Lite spec: ``st.line_chart``'s look without altair.

``st.line_chart`` builds its chart with altair, whose import and chart generation cost about
1 s of a cold dashboard start (the Overview's weekly trend is on the first page). This module
writes the same Vega-Lite spec that Streamlit 1.67's ``st.line_chart`` produces (line, hover
points, nearest-point highlight, zoom/pan bound to the scales, legend at the bottom for several
series) as a dict and hands it to ``st.vega_lite_chart``, which does not import altair. The
chart data is the same table: wide (x, one column) for one series; long (x, series name,
value, with Streamlit's generated column names) for several, as ``st.line_chart`` melts it.

``bar_chart`` does the same for ``st.bar_chart`` (vertical bars, zoom/pan bound to the scales;
x is ordinal unless it holds dates, as Streamlit makes a vertical bar chart's x discrete).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

__all__ = ["bar_chart", "bar_chart_spec", "line_chart", "line_chart_spec"]

#: the names st.line_chart gives the melted columns of a several-series chart
COLOR = "color -- streamlit-generated"
VALUE = "value -- streamlit-generated"


def _x_type(s: pd.Series) -> str:
    """Streamlit's Vega-Lite type of an x column (its ``infer_vegalite_type``)."""
    if pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype):
        return "temporal"
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return "quantitative"
    if isinstance(s.dtype, pd.CategoricalDtype) and s.cat.ordered:
        return "ordinal"
    return "nominal"


def _axis(s: pd.Series, grid: bool) -> dict:
    """Streamlit's axis: integer columns get whole-number ticks."""
    return {"grid": grid} | ({"tickMinStep": 1} if pd.api.types.is_integer_dtype(s) else {})


def _parts(data: pd.DataFrame, x_label: str | None, y_label: str | None, bar: bool):
    """The table and encodings shared by the line and the bar chart: x = the index, one
    series per column (several are melted into Streamlit's long table with a colour)."""
    x = str(data.index.name or "index")
    table = data.reset_index(names=x)
    table.columns = [str(c) for c in table.columns]
    ys = [str(c) for c in data.columns]
    # a vertical bar chart's x is discrete (ordinal) unless its first value is a date
    col = table[x]
    xtype = ("ordinal" if bar and not (len(col) and isinstance(col.iat[0], date))
             else _x_type(col))
    # titles as st.line_chart gives them for a chart drawn from the index: the labels, or none
    xenc = {"axis": _axis(col, False), "field": x, "scale": {},
            "title": "" if x_label is None else x_label, "type": xtype}
    tip_x = {"field": x, "type": _x_type(col)}  # the tooltip keeps the inferred type
    if len(ys) == 1:
        y_field, tips, color = ys[0], [tip_x, {"field": ys[0], "type": "quantitative"}], None
    else:
        table = pd.melt(table, id_vars=[x], value_vars=ys, var_name=COLOR, value_name=VALUE)
        y_field = VALUE
        tips = [tip_x, {"field": VALUE, "title": "value", "type": "quantitative"},
                {"field": COLOR, "title": "color", "type": "nominal"}]
        color = {"field": COLOR, "legend": {"titlePadding": 5, "offset": 5, "orient": "bottom"},
                 "title": " ", "type": "nominal"}
    yenc = {"axis": _axis(table[y_field], True), "field": y_field, "scale": {},
            "title": "" if y_label is None else y_label, "type": "quantitative"}

    def enc() -> dict:
        e = {"tooltip": [dict(t) for t in tips], "x": dict(xenc), "y": dict(yenc)}
        return ({"color": dict(color)} if color else {}) | e

    return table, x, enc


def line_chart_spec(data: pd.DataFrame, *, x_label: str | None = None,
                    y_label: str | None = None, name: str = "line_chart_data") -> dict:
    """The Vega-Lite spec (with its dataset under ``datasets[name]``) of ``st.line_chart(data,
    x_label=…, y_label=…)``: x = the index, one line per column."""
    table, x, enc = _parts(data, x_label, y_label, bar=False)
    layers = [
        {"mark": {"type": "line"}, "encoding": enc(), "name": "view_1"},
        {"mark": {"type": "point", "opacity": 0}, "encoding": enc(), "name": "view_2"},
        {"mark": {"type": "point", "filled": True, "size": 65}, "encoding": enc(),
         "transform": [{"filter": {"param": "param_1", "empty": False}}]},
    ]
    params = [
        {"name": "param_1", "select": {"type": "point", "clear": "mouseleave", "fields": [x],
                                       "nearest": True, "on": "mousemove"}, "views": ["view_2"]},
        {"name": "param_2", "select": {"type": "interval", "encodings": ["x", "y"]},
         "bind": "scales", "views": ["view_1"]},
    ]
    return {"layer": layers, "config": {"legend": {"symbolType": "stroke"}},
            "data": {"name": name}, "height": 0, "params": params, "width": 0,
            "datasets": {name: table}}


def line_chart(data: pd.DataFrame, *, x_label: str | None = None, y_label: str | None = None,
               name: str = "line_chart_data"):
    """Draw ``data`` as ``st.line_chart(data, x_label=…, y_label=…)`` does, without altair."""
    return st.vega_lite_chart(spec=line_chart_spec(data, x_label=x_label, y_label=y_label,
                                                   name=name), width="stretch")


def bar_chart_spec(data: pd.DataFrame | pd.Series, *, x_label: str | None = None,
                   y_label: str | None = None, name: str = "bar_chart_data") -> dict:
    """The Vega-Lite spec (with its dataset under ``datasets[name]``) of ``st.bar_chart(data,
    x_label=…, y_label=…)`` (vertical, default stacking and sorting): x = the index, one
    series per column (a Series is one column named after it)."""
    if isinstance(data, pd.Series):
        data = data.to_frame()
    table, _x, enc = _parts(data, x_label, y_label, bar=True)
    params = [{"name": "param_1", "select": {"type": "interval", "encodings": ["x", "y"]},
               "bind": "scales"}]
    return {"mark": {"type": "bar"}, "encoding": enc(), "data": {"name": name}, "height": 0,
            "params": params, "width": 0, "datasets": {name: table}}


def bar_chart(data: pd.DataFrame | pd.Series, *, x_label: str | None = None,
              y_label: str | None = None, name: str = "bar_chart_data"):
    """Draw ``data`` as ``st.bar_chart(data, x_label=…, y_label=…)`` does, without altair."""
    return st.vega_lite_chart(spec=bar_chart_spec(data, x_label=x_label, y_label=y_label,
                                                  name=name), width="stretch")
