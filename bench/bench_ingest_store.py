"""Incident-store part of ``bench_ingest.py --store`` (see its docstring); cases run as children.

Every case runs in a fresh child process (``bench_ingest.py --case NAME ...``) and prints one
JSON line: wall and CPU seconds of the case itself (imports excluded), and the child's peak
resident memory (``VmHWM``, imports included; ``rss_base`` is the figure after imports).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss, not inherited at exec)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- child cases
def _ingest(path, store):
    from geo.store import IncidentStore

    s = IncidentStore(store).ingest(path)
    return {k: s[k] for k in ("read", "accepted", "rejected", "added", "records", "events")}


def _polars(path, store):
    """read + parse + validate + H3 + store with polars (no de-duplication)."""
    import duckdb

    acc, rejected = _polars_records(path)
    con = duckdb.connect(store)
    con.register("acc", acc.to_arrow())
    con.execute("CREATE TABLE records AS SELECT * FROM acc")
    con.close()
    return {"accepted": acc.height, "rejected": rejected}


def _polars_records(path):
    """The accepted records of :func:`_polars` (a polars frame) and the rejected count."""
    import polars as pl
    import polars_h3 as plh3

    df = (pl.read_parquet(path).with_columns(pl.all().cast(pl.String))
          if str(path).endswith(".parquet") else pl.read_csv(path, infer_schema=False))
    t = pl.col("occurred_at").str.to_datetime(strict=False, time_unit="us")
    lat = pl.col("lat").cast(pl.Float64, strict=False)
    lon = pl.col("lon").cast(pl.Float64, strict=False)
    df = df.with_columns(t.alias("occurred_at"), lat.alias("lat"), lon.alias("lon"))
    ok = (pl.col("occurred_at").is_not_null() & pl.col("lat").is_between(-90, 90)
          & pl.col("lon").is_between(-180, 180) & ~((pl.col("lat") == 0) & (pl.col("lon") == 0))
          & (pl.col("occurred_at") < pl.lit(np.datetime64("2030-01-01"))))
    acc = df.filter(ok).with_columns(
        plh3.latlng_to_cell("lat", "lon", 11, return_dtype=pl.UInt64).alias("h3"))
    acc = acc.with_columns(acc.hash_rows().alias("fingerprint"))
    return acc, df.height - acc.height


def _polars_store(path, store):
    """:func:`_polars` plus what gapmap's store keeps besides the records (issue 13 item 2:
    events stored at ingest, never rebuilt on load), still without de-duplication: every
    record is its own event, written to an events table (one row per event: the record's
    columns, its event id, the point-in-hexagon cells at resolutions 6-10, the first record's
    fingerprint and the id's hash) and a record -> event map. The floor of the store's
    contract with this toolkit (polars, polars-h3, DuckDB)."""
    import duckdb
    import polars as pl
    import polars_h3 as plh3

    from geo.grid import ANALYSIS_RES

    acc, rejected = _polars_records(path)
    con = duckdb.connect(store)
    con.from_arrow(acc.to_arrow()).query("_acc", "CREATE TABLE records AS SELECT * FROM _acc")
    ev = acc.with_columns(
        (pl.col("source") + ":" + pl.col("incident_id")).alias("event_id"),
        pl.lit(1, pl.Int64).alias("n_sources"), pl.col("source").alias("sources"),
        pl.col("fingerprint").alias("first_fp"),
        *[plh3.latlng_to_cell("lat", "lon", r, return_dtype=pl.UInt64).alias(f"h3_r{r}")
          for r in ANALYSIS_RES])
    con.from_arrow(ev.to_arrow()).query("_ev", "CREATE TABLE incidents AS SELECT *, "
                                        "hash(event_id) AS id_hash FROM _ev")
    con.from_arrow(ev.select("fingerprint", "event_id").to_arrow()).query(
        "_m", "CREATE TABLE events AS SELECT *, hash(event_id) AS id_hash FROM _m")
    con.close()
    return {"accepted": acc.height, "rejected": rejected}


def _duckdb(path, store):
    """read + parse + validate + H3 (the vectorised binding) + store with DuckDB."""
    import duckdb

    from geo.cells import latlng_to_cells

    con = duckdb.connect(store)
    con.execute(f"CREATE TEMP TABLE raw AS SELECT * FROM read_csv('{path}', all_varchar=true)")
    con.execute(
        "CREATE TEMP TABLE ok AS SELECT * EXCLUDE (occurred_at, lat, lon), "
        "try_cast(occurred_at AS TIMESTAMP) AS occurred_at, try_cast(lat AS DOUBLE) AS lat, "
        "try_cast(lon AS DOUBLE) AS lon FROM raw")
    con.execute("DELETE FROM ok WHERE occurred_at IS NULL OR occurred_at >= '2030-01-01' "
                "OR lat IS NULL OR lon IS NULL OR abs(lat) > 90 OR abs(lon) > 180 "
                "OR (lat = 0 AND lon = 0)")
    ll = con.sql("SELECT lat, lon FROM ok").fetchnumpy()
    import pyarrow as pa

    con.register("cells", pa.table({"h3": latlng_to_cells(ll["lat"], ll["lon"], 11)}))
    con.execute("CREATE TABLE records AS SELECT ok.*, cells.h3, hash(ok.incident_id, "
                "ok.occurred_at, ok.lat, ok.lon, ok.source) AS fingerprint "
                "FROM ok POSITIONAL JOIN cells")
    n = con.execute("SELECT count(*) FROM records").fetchall()[0][0]
    raw = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
    con.close()
    return {"accepted": n, "rejected": raw - n}


def _load(store, repeat="3"):
    from geo.store import IncidentStore

    st = IncidentStore(store)
    walls, cpus = [], []
    for _ in range(int(repeat)):
        c0, t0 = _cpu(), time.perf_counter()
        ev = st.load()
        walls.append(time.perf_counter() - t0)
        cpus.append(_cpu() - c0)
    return {"events": len(ev), "median_wall": statistics.median(walls),
            "median_cpu": statistics.median(cpus), "walls": [round(w, 3) for w in walls]}


CASES = {"ingest": _ingest, "polars": _polars, "polars_store": _polars_store, "duckdb": _duckdb,
         "load": _load}


def run_case(name, *args):
    """Child side: run one case and print its JSON line."""
    import polars  # noqa: F401

    import geo.store  # noqa: F401 - imports outside the measurement

    base = _rss_mb()
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    extra = CASES[name](*args)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    out = {"case": name, "wall": time.perf_counter() - t0, "cpu": user + sys_, "user": user,
           "sys": sys_, "faults": r1.ru_minflt - r0.ru_minflt,
           "rss_peak_mb": _rss_mb(), "rss_base_mb": base, **extra}
    print(json.dumps(out), flush=True)


def child(*args) -> dict:
    cmd = [sys.executable, str(HERE / "bench_ingest.py"), "--case", *map(str, args)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def timed_cli(*args) -> tuple[float, float]:
    """Wall and CPU seconds of one ``gapmap`` command, from process start."""
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    wall = time.perf_counter() - t0
    d = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (d.ru_utime + d.ru_stime) - (c.ru_utime + c.ru_stime)


# ---------------------------------------------------------------------------- parent
def _old_assign_events(n, i, j, score, source):
    """The pre-issue-13 loop: boolean-mask copies of every candidate pair on each pass."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from geo.dedup import _find, _source_codes
    from geo.schema import SOURCES

    codes = _source_codes(source)
    g = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    key = comp.astype(np.int64) * len(SOURCES) + codes
    sizes = np.bincount(comp)
    distinct = np.bincount(np.unique(key) // len(SOURCES), minlength=sizes.size)
    conflicted = sizes > distinct
    bad_pair = conflicted[comp[i]]
    parent = list(range(n))
    nodes = np.unique(np.concatenate([i[bad_pair], j[bad_pair]]))
    mask = {int(x): 1 << int(codes[x]) for x in nodes}
    for p in np.lexsort((j[bad_pair], i[bad_pair], score[bad_pair])):
        a, b = int(i[bad_pair][p]), int(j[bad_pair][p])
        ra, rb = _find(parent, a), _find(parent, b)
        if ra == rb or mask[ra] & mask[rb]:
            continue
        parent[rb] = ra
        mask[ra] |= mask[rb]
    return int(bad_pair.sum())


def bench_dedup(store: str, n: int, old: bool) -> None:
    """Greedy rebuild, masks built once vs the old per-pass masks, on the stored records."""
    import duckdb

    from geo.dedup import assign_events, candidate_pairs

    con = duckdb.connect(store, read_only=True)
    r = con.sql("SELECT occurred_at, lat, lon, source, time_precision FROM records "
                "ORDER BY occurred_at, fingerprint").fetchnumpy()
    con.close()
    src = np.asarray(r["source"], object)
    i, j, s = candidate_pairs(r["occurred_at"], r["lat"], r["lon"], src,
                              np.asarray(r["time_precision"], object) != "day")
    c0 = time.process_time()
    assign_events(len(src), i, j, s, src)
    new = time.process_time() - c0
    line = f"  assign_events {n:>9,} records, {i.size:,} pairs: masks once {new:6.2f} s cpu"
    if old:
        c0 = time.process_time()
        bad = _old_assign_events(len(src), i, j, s, src)
        was = time.process_time() - c0
        line += f"; old per-pass masks {was:7.2f} s cpu ({bad:,} pairs in conflicted chains): " \
                f"{was / new:.0f}x"
    print(line, flush=True)


def _fmt(r: dict, n: int) -> str:
    return (f"{r['wall']:6.2f} s wall, {r['cpu']:6.2f} s cpu ({r['cpu'] / n * 1e6:5.1f} µs/row), "
            f"peak RSS {r['rss_peak_mb']:,.0f} MB (after imports {r['rss_base_mb']:,.0f})")


def bench_store(sizes, synthetic_export, parquet_sizes=()) -> None:
    """Parent side: write the files, run every case, print the figures."""
    tmp = Path(tempfile.mkdtemp(prefix="gapmap_bench_"))
    try:
        per_row = {}
        for n in sizes:
            csv = tmp / f"x{n}.csv"
            df = synthetic_export(n)
            df.to_csv(csv, index=False)
            files = [("CSV", csv)]
            if n in parquet_sizes:
                df.to_parquet(tmp / f"x{n}.parquet", index=False)
                files.append(("Parquet", tmp / f"x{n}.parquet"))
            del df
            for kind, path in files:
                print(f"store ingest, {kind}, {n:,} rows (3 years, ~23% of records a second "
                      "report):", flush=True)
                store = tmp / f"s{n}{kind}.duckdb"
                r = child("ingest", path, store)
                if kind == "CSV":
                    per_row[n] = r["cpu"] / n
                print(f"  gapmap ingest (dedup on) : {_fmt(r, n)}, {n / r['cpu'] / 1e3:.0f}k "
                      f"rows per cpu-second; records {r['records']:,}, events {r['events']:,}",
                      flush=True)
                for name in ("polars", "duckdb") if kind == "CSV" else ("polars",):
                    q = child(name, path, tmp / f"{name}{n}{kind}.duckdb")
                    print(f"  {name}-only, no dedup    : {_fmt(q, n)}; accepted "
                          f"{q['accepted']:,} rejected {q['rejected']:,}; gapmap/{name} cpu "
                          f"{r['cpu'] / q['cpu']:.1f}x", flush=True)
            store = tmp / f"s{n}CSV.duckdb"
            bench_dedup(str(store), n, old=n <= 1_000_000)
        if len(sizes) > 1:
            a, b = min(sizes), max(sizes)
            print(f"  cpu per row {b:,} / {a:,}: {per_row[b] / per_row[a]:.2f} (total cpu "
                  f"ratio {per_row[b] * b / (per_row[a] * a):.2f} for {b / a:.0f}x rows)")
        n = min(sizes)
        store = tmp / f"s{n}CSV.duckdb"
        new = synthetic_export(10_000, seed=9)
        t = np.datetime64("2024-12-18T00:00") + np.random.default_rng(9).integers(
            0, 14 * 1440, len(new)).astype("timedelta64[m]")
        new["occurred_at"] = t.astype("datetime64[s]").astype(str)  # the last two weeks
        new["incident_id"] = [f"N{k}" for k in range(len(new))]
        new.to_csv(tmp / "new.csv", index=False)
        grown = tmp / "grown.duckdb"
        shutil.copy(store, grown)
        app = child("ingest", tmp / "new.csv", grown)
        emp = child("ingest", tmp / "new.csv", tmp / "empty.duckdb")
        print(f"append 10k rows (last two weeks) to the {n:,}-row store: {app['wall']:.2f} s wall, "
              f"{app['cpu']:.2f} s cpu; into an empty store {emp['wall']:.2f} s wall, "
              f"{emp['cpu']:.2f} s cpu: {app['cpu'] / emp['cpu']:.2f}x", flush=True)
        ld = child("load", store)
        legacy = tmp / "legacy.duckdb"
        shutil.copy(store, legacy)
        import duckdb

        con = duckdb.connect(str(legacy))
        con.execute("DROP TABLE incidents")
        con.execute("DELETE FROM meta WHERE key = 'layout'")
        con.close()
        old = child("load", legacy, 1)
        print(f"load() {ld['events']:,} events: median {ld['median_wall']:.3f} s wall "
              f"({ld['median_cpu']:.3f} s cpu; runs {ld['walls']}); rebuilt on load as before: "
              f"{old['median_wall']:.2f} s wall: {old['median_wall'] / ld['median_wall']:.0f}x",
              flush=True)
        data = ROOT / "data"
        for cmd in (["hotspots", "--store", store, "--out", tmp / "h.csv"],
                    ["gaps", "--store", store, "--resources", data / "sample_resources.csv",
                     "--out", tmp / "g.csv"]):
            runs = [timed_cli(*cmd) for _ in range(3)]
            imp = [timed_cli("--help") for _ in range(3)]
            print(f"gapmap {cmd[0]} on the {n:,}-row store, from process start: median "
                  f"{statistics.median(w for w, _ in runs):.2f} s wall, "
                  f"{statistics.median(c for _, c in runs):.2f} s cpu "
                  f"(runs {[round(w, 2) for w, _ in runs]}); `gapmap --help` alone "
                  f"{statistics.median(c for _, c in imp):.2f} s cpu", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.execv(sys.executable, [sys.executable, str(HERE / "bench_ingest.py"), *sys.argv[1:]])
