"""De-duplication from integer source codes (the store's path) gives what source names give."""

from __future__ import annotations

import numpy as np
import pytest
from test_dedup import _assign_events_reference, planted_records

from geo.dedup import _source_codes, assign_events, candidate_pairs
from geo.schema import SOURCES


def test_source_codes_of_integers_are_kept():
    names = np.array(["ems", "police", None, "odmap", "somebody", "hospital"], object)
    codes = _source_codes(names)
    assert codes.tolist() == [SOURCES.index("ems"), SOURCES.index("police"), len(SOURCES) - 1,
                              SOURCES.index("odmap"), len(SOURCES) - 1,
                              SOURCES.index("hospital")]
    for dtype in (np.int8, np.int64, np.uint8):
        np.testing.assert_array_equal(_source_codes(codes.astype(dtype)), codes)


@pytest.mark.parametrize("seed", [0, 3])
def test_pairs_and_events_from_codes_equal_those_from_names(seed):
    t, lat, lon, src = planted_records(seed=seed)
    codes = np.array([SOURCES.index(s) for s in src], np.int8)  # as read from the store
    i, j, score = candidate_pairs(t, lat, lon, src)
    ci, cj, cs = candidate_pairs(t, lat, lon, codes)
    np.testing.assert_array_equal(ci, i)
    np.testing.assert_array_equal(cj, j)
    np.testing.assert_array_equal(cs, score)
    labels = assign_events(t.size, ci, cj, cs, codes)
    np.testing.assert_array_equal(labels, _assign_events_reference(t.size, i, j, score, src))
    assert labels.max() + 1 < t.size
