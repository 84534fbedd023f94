"""report.kpis' per-source row masks equal geo.grid.incident_mask row by row (with missing
sources, with and without the de-duplicated ``sources`` column, string and object dtypes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.grid import incident_mask
from geo.schema import SOURCES
from report.kpis import _source_masks


def _frame(dtype: str) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    src = rng.choice(["ems", "police", "hospital", "odmap"], n)
    combos = rng.choice(["ems", "ems;police", "hospital;police", "odmap", None], n)
    df = pd.DataFrame({"source": pd.array(src, dtype=dtype),
                       "sources": pd.array(combos, dtype=dtype)})
    df.loc[df.index[:7], "source"] = None  # no source at all where sources is missing too
    return df


@pytest.mark.parametrize("dtype", ["string", "object"])
@pytest.mark.parametrize("dedup", [True, False])
def test_source_masks_equal_incident_mask(dtype, dedup):
    df = _frame(dtype)
    if not dedup:
        df = df.drop(columns="sources")
    for frame in (df, df.head(0)):
        got = _source_masks(frame, SOURCES)
        for s in SOURCES:
            ref = incident_mask(frame, sources=(s,))
            assert got[s].dtype == ref.dtype and np.array_equal(got[s], ref), s
    assert _source_masks(df, SOURCES)["police"].sum() > 0
