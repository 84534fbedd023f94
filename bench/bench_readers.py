"""Benchmark: what reading real exports costs (:func:`geo.readers.read_table`).

Prints, in one run on the same machine, CPU seconds (``time.process_time``, median of
``--repeat``) to read an ``--n``-row synthetic export:

1. plain ``pandas.read_csv(dtype=str)`` — the naive reader (wrong line numbers after blank lines
   and quoted multi-line fields, refuses a ragged line);
2. ``read_table`` on the same clean file (vectorised record scan + pandas' C reader);
3. ``read_table`` on the same rows with every text field quoted, 0.1% blank lines, 0.1% quoted
   two-line fields and 0.01% ragged lines (still the vectorised path);
4. the exact standard-library ``csv`` reader on that file (used only for UTF-16 or unbalanced
   quotes);
5. ``read_table`` on the clean file saved as UTF-16 (exact reader).

Usage::

    .venv/bin/python bench/bench_readers.py --n 1000000

Nothing is downloaded; the data are generated with a fixed seed in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.readers import read_table  # noqa: E402
from geo.textfiles import _read_text_exact  # noqa: E402


def cpu(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    n = a.n
    t = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 60, n), "min")
    df = pd.DataFrame({
        "incident_id": np.arange(n).astype(str), "occurred_at": t.strftime("%Y-%m-%d %H:%M"),
        "lat": np.round(36 + rng.random(n) * 0.3, 5),
        "lon": np.round(-79.9 + rng.random(n) * 0.3, 5),
        "source": "ems", "outcome": "nonfatal", "naloxone": "yes", "agency": "County EMS",
    })
    with tempfile.TemporaryDirectory() as tmp:
        clean = Path(tmp) / "clean.csv"
        df.to_csv(clean, index=False)
        odd = Path(tmp) / "odd.csv"
        lines = clean.read_text().splitlines()
        out = [lines[0]]
        for i, line in enumerate(lines[1:]):
            f = line.split(",")
            f[7] = f'"{f[7]}"' if i % 1000 else '"County\nEMS"'
            f[5] = f'"{f[5]}"'
            row = ",".join(f) + (",extra" if i % 10_000 == 7 else "")
            out.append(row)
            if i % 1000 == 3:
                out.append("")
        odd.write_text("\n".join(out) + "\n")
        u16 = Path(tmp) / "u16.csv"
        u16.write_bytes(clean.read_text().encode("utf-16"))
        naive = cpu(lambda: pd.read_csv(clean, dtype=str, keep_default_na=False,
                                        na_filter=False), a.repeat)
        fast = cpu(lambda: read_table(clean), a.repeat)
        fast_odd = cpu(lambda: read_table(odd), a.repeat)
        exact_odd = cpu(lambda: _read_text_exact(odd, "utf-8", ",", None), a.repeat)
        exact_u16 = cpu(lambda: read_table(u16), a.repeat)
        t_odd = read_table(odd)
    print(f"rows: {n:,}  (CPU seconds, median of {a.repeat})")
    print(f"  pandas.read_csv(dtype=str), clean file       {naive:6.2f} s  (1.00x)")
    print(f"  read_table, clean file                       {fast:6.2f} s  ({fast / naive:.2f}x)")
    print(f"  read_table, quoted/blank/multi-line/ragged   {fast_odd:6.2f} s  "
          f"({fast_odd / naive:.2f}x; {len(t_odd.bad)} ragged lines rejected)")
    print(f"  csv-module exact reader, same odd file       {exact_odd:6.2f} s  "
          f"({exact_odd / naive:.2f}x)")
    print(f"  read_table, UTF-16 file (exact reader)       {exact_u16:6.2f} s  "
          f"({exact_u16 / naive:.2f}x)")


if __name__ == "__main__":
    main()
