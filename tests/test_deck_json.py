"""The compact deck JSON (layers/deck_json.py) is pydeck's spec without whitespace, and the
column-wise records of hex_layer are the records of the row-wise reference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pydeck as pdk
from pydeck.bindings.json_tools import serialize
from shapely.geometry import box

from geo.cells import latlng_to_cells
from layers import deck
from layers.deck_areas import text_layer
from layers.deck_json import CompactDeck, compact_json


def _layers():
    lat = 36.07 + np.arange(40) * 0.004
    lon = -79.79 - np.arange(40) * 0.003
    cells = np.unique(latlng_to_cells(lat, lon, 8))
    n = cells.size
    counts = pd.array([None if i % 4 == 0 else i * 3 for i in range(n)], dtype="Int64")
    fill = deck.sequential_colors(counts, 0, 120, log=True, zero_clear=True)
    tips = [f"Cell {i} · Elm Grove & <Oak>\n{t}" for i, t in enumerate(deck.count_text(counts))]
    extra = pd.DataFrame({"cls": ["hot_99" if i % 3 else "not_significant" for i in range(n)],
                          "label": ["" if i % 2 else "Northgate · ZIP 00011" for i in range(n)],
                          "rate": [np.nan if i % 5 == 0 else i / 7 for i in range(n)]})
    sites = pd.DataFrame({"lat": [36.08, 36.09], "lon": [-79.8, -79.81],
                          "name": ["Clinic é", "Van \"A\""], "subtype": ["fixed", "mobile"]})
    return [
        deck.hex_layer(cells, fill, tips, layer_id="cells", extra=extra),
        deck.outline_layer(box(-79.95, 36.0, -79.7, 36.3)),
        deck.sites_layer(sites, layer_id="naloxone-sites", color=deck.SITE_COLORS["naloxone"]),
        text_layer(["Elm Grove", "Northgate"], [36.08, 36.1], [-79.8, -79.82], layer_id="t"),
    ]


def test_compact_json_is_pydecks_spec_without_whitespace():
    v = deck.view_for_bounds(-79.95, 36.0, -79.7, 36.3)
    carto = {"map_provider": "carto", "map_style": deck.DEFAULT_BASEMAP}
    for kw in ({"map_provider": None}, carto):
        ref = pdk.Deck(layers=_layers(), initial_view_state=v, height=520,
                       tooltip={"html": "{tip}", "style": {"fontSize": "13px"}}, **kw)
        ours = CompactDeck(layers=_layers(), initial_view_state=v, height=520,
                           tooltip={"html": "{tip}", "style": {"fontSize": "13px"}}, **kw)
        want, got = ref.to_json(), ours.to_json()
        assert json.loads(got) == json.loads(want)  # the same spec, key for key
        assert got == json.dumps(json.loads(want), sort_keys=True, separators=(",", ":"))
        assert len(got) < 0.8 * len(want) and "\n" not in got
        assert compact_json(ref) == got
        assert got.isascii()  # escaped like pydeck's (ensure_ascii)


def test_make_deck_builds_a_compact_deck_with_the_same_spec():
    v = deck.view_for_bounds(-79.95, 36.0, -79.7, 36.3)
    d = deck.make_deck(_layers(), v, basemap=False)
    assert isinstance(d, CompactDeck)
    assert json.loads(d.to_json()) == json.loads(serialize(d))
    spec = json.loads(d.to_json())
    cells = next(lyr for lyr in spec["layers"] if lyr["id"] == "cells")
    assert cells["data"][0]["tip"].startswith("Cell 0 · Elm Grove &amp; &lt;Oak&gt;<br/>")


def _records_reference(df: pd.DataFrame) -> list[dict]:
    """The row-wise conversion hex_layer used before (pandas to_dict + per-value fix-up)."""
    recs = df.astype(object).where(df.notna(), None).to_dict("records")
    for r in recs:
        for key, val in r.items():
            if isinstance(val, np.integer):
                r[key] = int(val)
            elif isinstance(val, np.floating):
                r[key] = float(val)
            elif isinstance(val, np.ndarray):
                r[key] = val.tolist()
    return recs


def test_records_match_the_row_wise_reference_value_and_type():
    n = 50
    df = pd.DataFrame({
        "h3": [f"88{i:x}" for i in range(n)],
        "fill": [[i, 2 * i, 3, 190] for i in range(n)],
        "cls": pd.Categorical(["hot_99" if i % 3 else "cold_95" for i in range(n)]),
        "f": [np.nan if i % 4 == 0 else i / 3 for i in range(n)],
        "i": np.arange(n),
        "I": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
        "F": pd.array([None if i % 7 == 0 else i / 3 for i in range(n)], dtype="Float64"),
        "s": pd.array([None if i % 6 == 0 else "x" for i in range(n)], dtype="string"),
        "o": [None if i % 6 == 0 else np.int64(i) for i in range(n)],
        "arr": [np.arange(3) for _ in range(n)],
        "b": np.arange(n) % 2 == 0,
    })
    want, got = _records_reference(df), deck._records(df)
    assert got == want
    assert [[type(v) for v in r.values()] for r in got] == \
        [[type(v) for v in r.values()] for r in want]
    assert got[0]["f"] is None and got[0]["I"] is None and got[1]["I"] == 1
    assert type(got[1]["I"]) is int and type(got[1]["i"]) is int and got[0]["arr"] == [0, 1, 2]
    assert deck._records(df.iloc[:0]) == []
