"""Benchmark: H3 point indexing, gapmap against h3-py, h3ronpy and the C library itself.

Same points, same run, res 11 (the stored base resolution), for each engine:

- ``gapmap``       : :func:`geo.cells.latlng_to_cells` as it is now (what ingest and
  ``cells_at`` call);
- ``polars-h3``    : ``polars_h3.latlng_to_cell`` on a DataFrame (the previous engine);
- ``h3ronpy x1/x2``: ``h3ronpy.vector.coordinates_to_cells`` on one thread / on two chunks in
  two threads (it releases the GIL);
- ``h3-py loop``   : a Python loop over ``h3.api.basic_int.latlng_to_cell`` (the per-row way);
- ``C x1/x2``      : the H3 C library's own ``latLngToCell`` in a C loop, one thread / two
  pthreads, compiled here from an H3 source tree given with ``--h3-src`` (``src/h3lib`` of an
  ``uber/h3`` checkout at the tag matching ``h3.__version__``); skipped without it.

Reported: wall seconds, M points/s (wall) and CPU ns per point (process CPU time over all
threads, divided by the points), best of ``--repeat``. On a shared machine CPU per point is the
fair comparison; wall time depends on what else runs.

Usage::

    .venv/bin/python bench/bench_h3.py --n 2000000 --h3-src /path/to/h3/src/h3lib

Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import h3  # noqa: E402
import h3.api.basic_int as h3int  # noqa: E402
import polars as pl  # noqa: E402
import polars_h3 as plh3  # noqa: E402
from h3ronpy.vector import coordinates_to_cells  # noqa: E402

from geo.cells import latlng_to_cells  # noqa: E402

RES = 11

_WRAPPER = r"""
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include "h3api.h"
typedef struct { const double *lat, *lng; int64_t n; int res; uint64_t *out; } job_t;
static void *run(void *p) {
    job_t *j = (job_t *)p; LatLng g; H3Index c;
    for (int64_t i = 0; i < j->n; i++) {
        g.lat = j->lat[i] * M_PI / 180.0; g.lng = j->lng[i] * M_PI / 180.0;
        j->out[i] = latLngToCell(&g, j->res, &c) == E_SUCCESS ? c : 0;
    }
    return 0;
}
void batch(const double *lat, const double *lng, int64_t n, int res, uint64_t *out, int threads) {
    pthread_t t[64]; job_t jobs[64]; int64_t step = (n + threads - 1) / threads;
    for (int k = 0; k < threads; k++) {
        int64_t a = k * step, b = a + step < n ? a + step : n;
        jobs[k] = (job_t){lat + a, lng + a, b > a ? b - a : 0, res, out + a};
        pthread_create(&t[k], 0, run, &jobs[k]);
    }
    for (int k = 0; k < threads; k++) pthread_join(t[k], 0);
}
"""


def build_c(h3_src: Path) -> ctypes.CDLL:
    """Compile the H3 C library (-O3, as its CMake Release build) plus a batch loop."""
    out = Path(tempfile.mkdtemp(prefix="bench_h3_"))
    major, minor, patch = h3.__version__.split(".")[:3]
    tmpl = (h3_src / "include" / "h3api.h.in").read_text()
    hdr = (
        tmpl.replace("@H3_VERSION_MAJOR@", major)
        .replace("@H3_VERSION_MINOR@", minor)
        .replace("@H3_VERSION_PATCH@", patch)
    )
    (out / "h3api.h").write_text(hdr)
    (out / "wrap.c").write_text(_WRAPPER)
    srcs = sorted(str(p) for p in (h3_src / "lib").glob("*.c"))
    lib = out / "libh3bench.so"
    cmd = [
        "gcc", "-O3", "-DNDEBUG", "-DH3_HAVE_VLA", "-DH3_HAVE_ALLOCA", "-fPIC", "-shared",
        "-pthread", f"-I{out}", f"-I{h3_src / 'include'}", *srcs, str(out / "wrap.c"),
        "-lm", "-o", str(lib),
    ]
    subprocess.run(cmd, check=True)
    dll = ctypes.CDLL(str(lib))
    dll.batch.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_void_p,
        ctypes.c_int,
    ]
    return dll


def c_cells(dll, lat, lon, res, threads):
    out = np.empty(lat.size, dtype=np.uint64)
    dll.batch(lat.ctypes.data, lon.ctypes.data, lat.size, res, out.ctypes.data, threads)
    return out


def polars_h3(lat, lon, res):
    df = pl.DataFrame({"lat": lat, "lon": lon})
    s = df.select(plh3.latlng_to_cell("lat", "lon", res, return_dtype=pl.UInt64).alias("c"))["c"]
    return s.fill_null(0).to_numpy()


def h3ronpy_cells(lat, lon, res, threads=1):
    def one(a, b):
        return np.asarray(coordinates_to_cells(lat[a:b], lon[a:b], res)).astype(np.uint64)

    if threads == 1:
        return one(0, lat.size)
    step = -(-lat.size // threads)
    parts: list = [None] * threads

    def work(k):
        parts[k] = one(k * step, min(lat.size, (k + 1) * step))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return np.concatenate(parts)


def h3py_loop(lat, lon, res):
    f = h3int.latlng_to_cell
    pts = zip(lat.tolist(), lon.tolist(), strict=True)
    return np.fromiter((f(a, b, res) for a, b in pts), np.uint64)


def timed(fn, repeat):
    best = None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w, time.process_time() - c
        if best is None or c < best[1]:
            best = (w, c)
    return best, out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--loop-n", type=int, default=300_000, help="points for the h3-py loop")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--h3-src", type=Path, default=None, help="uber/h3 src/h3lib to compile")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(13)
    # a county-sized box (what gapmap indexes), fixed seed
    lat = rng.uniform(39.0, 40.5, args.n)
    lon = rng.uniform(-76.5, -74.5, args.n)
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"h3 {h3.__version__}, n={args.n:,}, res {RES}, best of {args.repeat} by CPU")

    engines = {
        "gapmap latlng_to_cells": lambda: latlng_to_cells(lat, lon, RES),
        "polars-h3": lambda: polars_h3(lat, lon, RES),
        "h3ronpy x1": lambda: h3ronpy_cells(lat, lon, RES, 1),
        "h3ronpy x2 threads": lambda: h3ronpy_cells(lat, lon, RES, 2),
    }
    if args.h3_src is not None:
        dll = build_c(args.h3_src)
        engines["C latLngToCell x1"] = lambda: c_cells(dll, lat, lon, RES, 1)
        engines["C latLngToCell x2 threads"] = lambda: c_cells(dll, lat, lon, RES, 2)

    ref = None
    rows = []
    for name, fn in engines.items():
        (w, c), out = timed(fn, args.repeat)
        if ref is None:
            ref = out
        same = bool(np.array_equal(out, ref))
        rows.append((name, args.n, w, c, same))
    m = args.loop_n
    (w, c), out = timed(lambda: h3py_loop(lat[:m], lon[:m], RES), 1)
    rows.append(("h3-py loop (basic_int)", m, w, c, bool(np.array_equal(out, ref[:m]))))

    c_ns = {r[0]: r[3] / r[1] * 1e9 for r in rows}
    base = c_ns.get("C latLngToCell x1")
    print(f"{'engine':28s} {'points':>10s} {'wall s':>8s} {'M pts/s':>8s} {'CPU ns/pt':>10s}"
          f" {'vs C x1':>8s}  same cells")
    for name, n, w, _c, same in rows:
        ratio = f"{c_ns[name] / base:8.2f}" if base else "     n/a"
        print(f"{name:28s} {n:10,d} {w:8.3f} {n / w / 1e6:8.2f} {c_ns[name]:10.0f} {ratio}  {same}")


if __name__ == "__main__":
    main()
