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
