"""Two readers, one answer: geo.readers' vectorised text scan and the exact reader agree (rows,
line numbers, rejects) on odd files; read_columns matches the reader. Moved from
tests/test_broken_files.py (where the rest of the odd files stay).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.ingest import read_incidents

HEADER = "incident_id,occurred_at,lat,lon,source,agency"
ROWS = ["a1,2024-03-01 10:00,36.00,-79.80,ems,Médic", "a2,2024-03-02 11:30,36.10,-79.70,ems,Médic",
        "a3,2024-03-03 12:45,36.20,-79.60,police,PD"]
TEXT = HEADER + "\n" + "\n".join(ROWS) + "\n"


# ------------------------------------------------------------------ two readers, one answer
@pytest.mark.parametrize("text", [
    TEXT,
    HEADER + "\n\n" + ROWS[0] + "\n\n\n" + ROWS[1] + "\r\n" + ROWS[2],       # blanks, no final \n
    HEADER + "\n" + ROWS[0] + ",x\n" + ROWS[1] + "\na9\n" + ROWS[2] + "\n",  # ragged both ways
    'id,note,lat\n1,"a, ""quoted""\nnote",36\n\n2,plain,37\n3,"x",38,extra\n',  # quotes span lines
    "\n\n" + HEADER + "\n" + ROWS[0] + "\n",                                  # blank lines first
])
def test_fast_and_exact_readers_agree(tmp_path, text, monkeypatch):
    import geo.textfiles as readers
    from geo.readers import read_table
    from geo.textfiles import _read_text_exact

    path = tmp_path / "x.csv"
    path.write_bytes(text.encode("utf-8"))
    with monkeypatch.context() as m:  # the vectorised scan + pandas handle it alone
        m.setattr(readers, "_read_text_exact", lambda *a: pytest.fail("fell back"))
        fast = read_table(path)
    exact = _read_text_exact(path, "utf-8", ",", None)
    pd.testing.assert_frame_equal(fast.frame.astype(object), exact.frame.astype(object),
                                  check_dtype=False)
    assert fast.lines.tolist() == exact.lines.tolist()
    assert fast.bad["line"].tolist() == exact.bad["line"].tolist()
    assert fast.bad["reason"].tolist() == exact.bad["reason"].tolist()
    if len(exact.bad):
        pd.testing.assert_frame_equal(fast.bad.astype(object), exact.bad.astype(object),
                                      check_dtype=False)


def test_readers_agree_on_random_ragged_files(tmp_path, monkeypatch):
    import geo.textfiles as readers
    from geo.readers import read_table
    from geo.textfiles import _read_text_exact

    fallbacks = []

    def counted(*a):
        fallbacks.append(a[0])
        return _read_text_exact(*a)

    monkeypatch.setattr(readers, "_read_text_exact", counted)

    rng = np.random.default_rng(7)
    for trial in range(60):
        lines = ["a,b,c"]
        for _ in range(rng.integers(1, 30)):
            kind = rng.integers(0, 6)
            if kind == 0:
                lines.append("")
            elif kind == 1:
                lines.append(",".join(["x"] * int(rng.integers(1, 6))))
            elif kind == 2:
                lines.append('"multi\nline",y,z')
            elif kind == 3:
                lines.append('"comma, inside",""""' + ",z" * int(rng.integers(0, 3)))
            else:
                lines.append(f"{rng.integers(100)},q,r")
        path = tmp_path / f"r{trial}.csv"
        path.write_text("\n".join(lines) + ("\n" if trial % 2 else ""))
        fast, exact = read_table(path), _read_text_exact(path, "utf-8", ",", None)
        assert fast.lines.tolist() == exact.lines.tolist(), path.read_text()
        assert fast.bad["line"].tolist() == exact.bad["line"].tolist(), path.read_text()
        assert (fast.frame.astype(object).values.tolist()
                == exact.frame.astype(object).values.tolist())
    assert len(fallbacks) == 0  # every file went through the vectorised path


def test_read_columns_matches_the_reader(tmp_path):
    from geo.readers import read_columns

    p = tmp_path / "x.csv"
    p.write_bytes(b"\xff\xfe" + TEXT.replace(",", ";").encode("utf-16-le"))
    assert read_columns(p) == HEADER.split(",") == list(read_incidents(p).rejects.columns[2:])
