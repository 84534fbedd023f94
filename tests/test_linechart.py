"""app_pages._linechart draws the chart st.line_chart draws (same spec, same data), no altair."""

from __future__ import annotations

import io
import json

import pyarrow as pa

APP = '''
import numpy as np, pandas as pd, streamlit as st
from app_pages._linechart import line_chart
idx = pd.date_range("2025-11-17", periods=52, freq="7D", name="week starting")
a = np.random.default_rng(0).integers(10, 30, 52).astype(float)
a[[3, 10]] = np.nan  # suppressed weeks are gaps
one = pd.DataFrame({"all overdoses": a}, index=idx)
three = pd.DataFrame({"all overdoses": a, "fatal": a // 10, "nonfatal": a - a // 10}, index=idx)
for df in (one, three):
    st.line_chart(df, y_label="overdoses per week", x_label="week starting")
    line_chart(df, y_label="overdoses per week", x_label="week starting")
'''


def _parts(el):
    spec = json.loads(el.proto.spec)
    spec.pop("$schema", None)  # altair's version stamp; Vega-Lite does not need it
    text = json.dumps(spec, sort_keys=True)
    for i, ds in enumerate(el.proto.datasets):
        text = text.replace(ds.name, f"dataset{i}")  # altair names a dataset by its hash
    tables = [pa.ipc.open_stream(io.BytesIO(ds.data.data)).read_all()
              for ds in el.proto.datasets]
    return json.loads(text), tables, el.proto.theme


def _pairs_equal(app: str):
    """Run ``app`` (two st.line_chart / line_chart pairs); each pair: same spec, theme, data.
    Returns the four charts."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(app, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    charts = at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")
    assert len(charts) == 4
    for ref, new in (charts[0:2], charts[2:4]):
        (s0, t0, th0), (s1, t1, th1) = _parts(ref), _parts(new)
        assert s1 == s0
        assert th1 == th0 == "streamlit"
        assert len(t0) == len(t1) == 1 and t1[0].equals(t0[0])
    return charts


def test_line_chart_spec_and_data_equal_st_line_chart():
    charts = _pairs_equal(APP)
    assert charts[2].proto.datasets[0].data.data != charts[0].proto.datasets[0].data.data


APP_XY = '''
import numpy as np, pandas as pd, streamlit as st
from app_pages._linechart import line_chart
curve = pd.DataFrame({"k": np.arange(0, 11), "covered_pct": np.linspace(0, 62.5, 11)})
st.line_chart(curve, x="k", y="covered_pct", y_label="burden covered (%)", x_label="new sites")
line_chart(curve.set_index("k"), y_label="burden covered (%)", x_label="new sites")
wide = pd.DataFrame({"EMS": [1.0, np.nan, 2.5], "police": [0.5, 1.0, np.nan]},
                    index=pd.Index(["2026-01", "2026-02", "2026-03"], name="month"))
wide.columns.name = "source"
st.line_chart(wide)
line_chart(wide)
'''


def test_the_siting_curve_and_the_evaluation_lags_equal_st_line_chart():
    """The Siting page's coverage curve (st.line_chart with x=, y=) and the Evaluation page's
    median lags (text months, several series with gaps), drawn without altair."""
    _pairs_equal(APP_XY)


APP_BAR = '''
import numpy as np, pandas as pd, streamlit as st
from app_pages._linechart import bar_chart
idx = pd.date_range("2025-01-01", periods=14, freq="28D", name="period")
hist = pd.Series([3.0, np.nan, 12.0, 0.0, 15.0, 11.0] + [np.nan] * 4 + [10.0, 22.0, 0.0, 13.0],
                 index=idx, name="count")  # the Hotspots cell history: suppressed periods NaN
st.bar_chart(hist, y_label="overdoses per 28-day period", x_label="28-day period starting")
bar_chart(hist, y_label="overdoses per 28-day period", x_label="28-day period starting")
wide = pd.DataFrame({"EMS": [1.0, np.nan, 2.5], "police": [1, 2, 3]},
                    index=pd.Index(["2026-01", "2026-02", "2026-03"], name="month"))
st.bar_chart(wide)
bar_chart(wide)
'''


def test_bar_chart_spec_and_data_equal_st_bar_chart():
    """The Hotspots cell history (dates, one series with suppressed gaps) and a text-x chart of
    two series (melted, integer column cast with the float one), drawn without altair."""
    charts = _pairs_equal(APP_BAR)  # in page order: st.bar_chart, bar_chart, twice
    specs = [json.loads(el.proto.spec) for el in charts]
    assert [s["mark"]["type"] for s in specs] == ["bar"] * 4
    assert [s["encoding"]["x"]["type"] for s in specs] == ["temporal"] * 2 + ["ordinal"] * 2
    assert "color" in specs[3]["encoding"] and "color" not in specs[1]["encoding"]


APP_BAR_INT = '''
import pandas as pd, streamlit as st
from app_pages._linechart import bar_chart
counts = pd.Series([4, 0, 7], index=pd.Index([2023, 2024, 2025], name="year"), name="n")
st.bar_chart(counts)
bar_chart(counts)
empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([], name="period"), name="count")
st.bar_chart(empty, y_label="overdoses")
bar_chart(empty, y_label="overdoses")
'''


def test_bar_chart_integer_x_is_ordinal_and_an_empty_series_matches():
    """Whole-number x (ordinal for a bar chart, whole-number ticks), and an empty date index
    (Streamlit looks at the first value to call x a date: none, so ordinal)."""
    specs = [json.loads(el.proto.spec) for el in _pairs_equal(APP_BAR_INT)]
    assert specs[1]["encoding"]["x"] == {"axis": {"grid": False, "tickMinStep": 1},
                                         "field": "year", "scale": {}, "title": "",
                                         "type": "ordinal"}
    assert specs[3]["encoding"]["x"]["type"] == "ordinal"
