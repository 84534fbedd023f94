"""The store at the edges: foreign files, a lock held by another process, a killed ingest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from geo.store import IncidentStore

ROOT = Path(__file__).resolve().parent.parent


def export(path, n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.datetime64("2024-01-01T00:00") + rng.integers(0, 300 * 1440, n).astype(
        "timedelta64[m]")
    pd.DataFrame({"incident_id": [f"R{seed}-{k}" for k in range(n)],
                  "occurred_at": t.astype("datetime64[s]").astype(str),
                  "lat": np.round(rng.uniform(35.9, 36.3, n), 6),
                  "lon": np.round(rng.uniform(-80.0, -79.5, n), 6),
                  "source": rng.choice(["ems", "police"], n)}).to_csv(path, index=False)
    return path


def cli(*args):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def wait_for_line(proc, text, timeout=120):
    """Read the child's stdout until a line holding ``text`` (the child's own signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"child ended early: {proc.stderr.read()}")
    raise AssertionError(f"child never said {text!r}")


def hold_lock(path):
    """A child process holding the store open read-write until its stdin closes."""
    code = textwrap.dedent(f"""
        import sys, duckdb
        con = duckdb.connect({str(path)!r})
        print("locked", flush=True)
        sys.stdin.read()
        con.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_line(proc, "locked")
    return proc


@pytest.mark.parametrize("kind", ["text", "folder", "other_duckdb"])
def test_foreign_store_is_one_sentence(tmp_path, kind):
    store = tmp_path / "s.duckdb"
    if kind == "text":
        store.write_text("incident_id,occurred_at\n1,2024-01-01\n" * 50)
    elif kind == "folder":
        store.mkdir()
    else:
        con = duckdb.connect(str(store))
        con.execute("CREATE TABLE t AS SELECT 1 AS a")
        con.close()
    before = store.read_bytes() if store.is_file() else None
    with pytest.raises(ValueError, match="store"):
        IncidentStore(store).load()
    f = export(tmp_path / "x.csv", 20)
    for args in (["ingest", str(f), "--store", str(store)],
                 ["hotspots", "--store", str(store), "--out", str(tmp_path / "h.csv")]):
        r = cli(*args)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and "store" in lines[0], r.stderr
    if before is not None:
        assert store.read_bytes() == before  # refused, not touched


def test_locked_store_waits_then_one_sentence(tmp_path):
    path = tmp_path / "s.duckdb"
    IncidentStore(path).ingest(export(tmp_path / "a.csv", 30))
    child = hold_lock(path)
    try:
        waits = []
        store = IncidentStore(path, wait_s=0.3, on_wait=lambda p, s: waits.append((p, s)))
        with pytest.raises(ValueError, match="in use by another process"):
            store.ingest(export(tmp_path / "b.csv", 10, seed=1))
        with pytest.raises(ValueError, match="in use by another process"):
            store.load()  # the dashboard's read waits the same way
        assert waits == [(path, 0.3)] * 2
        r = subprocess.run([sys.executable, str(ROOT / "cli.py"), "ingest",
                            str(tmp_path / "b.csv"), "--store", str(path)], capture_output=True,
                           text=True, cwd=ROOT, env={**os.environ, "GAPMAP_STORE_WAIT": "0.5"})
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "waiting up to" in r.stderr and r.stderr.strip().splitlines()[-1].count(".") >= 1
        assert "in use by another process" in r.stderr.strip().splitlines()[-1]
    finally:
        child.stdin.close()
        child.wait(timeout=60)


def test_writer_waits_for_the_lock_and_then_ingests(tmp_path):
    path = tmp_path / "s.duckdb"
    IncidentStore(path).ingest(export(tmp_path / "a.csv", 30))
    child = hold_lock(path)
    started = threading.Event()
    out = {}

    def run():
        store = IncidentStore(path, wait_s=120, on_wait=lambda p, s: started.set())
        out["summary"] = store.ingest(export(tmp_path / "b.csv", 10, seed=1))

    th = threading.Thread(target=run)
    th.start()
    try:
        assert started.wait(timeout=120)  # it is waiting for the child's lock
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    th.join(timeout=120)
    assert out["summary"]["added"] == 10 and out["summary"]["records"] == 40


def test_dashboard_load_does_not_hold_the_store(tmp_path):
    path = tmp_path / "s.duckdb"
    store = IncidentStore(path)
    store.ingest(export(tmp_path / "a.csv", 30))
    events = store.load()  # as the dashboard does: open read-only, read, close
    assert len(events) == 30
    # another process can now write at once (no wait)
    code = (f"import duckdb; c = duckdb.connect({str(path)!r}); "
            "c.execute('CREATE TABLE IF NOT EXISTS probe (a INT)'); c.close()")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_killed_ingest_leaves_no_growth(tmp_path):
    path = tmp_path / "s.duckdb"
    store = IncidentStore(path)
    store.ingest(export(tmp_path / "small.csv", 200))
    size0, status0 = path.stat().st_size, store.status()
    events0 = store.load()
    big = export(tmp_path / "big.csv", 150_000, seed=3)
    # the child ingests the big file and stops inside the transaction, after writing the
    # records and the events; it is then killed
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        import geo.store as gs
        real = gs.IncidentStore._update_events
        def stop(self, con, *a):
            real(self, con, *a)
            print("in transaction", flush=True)
            time.sleep(600)
        gs.IncidentStore._update_events = stop
        gs.IncidentStore({str(path)!r}).ingest({str(big)!r})
    """)
    for _ in range(1):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            wait_for_line(proc, "in transaction", timeout=280)
        finally:
            proc.kill()
            proc.wait(timeout=60)
    grown = path.stat().st_size
    st = store.status()
    assert (st["rows"], st["events"], st["files_ingested"]) == (
        status0["rows"], status0["events"], status0["files_ingested"])
    pd.testing.assert_frame_equal(store.load(), events0)
    # the next ingest gives the space back, and works
    s = store.ingest(export(tmp_path / "more.csv", 5, seed=4))
    assert s["added"] == 5
    st = store.status()
    assert (st["rows"], st["files_ingested"]) == (status0["rows"] + 5,
                                                  status0["files_ingested"] + 1)
    assert len(store.load()) == len(events0) + 5
    assert grown > size0 + (4 << 20)  # the killed transactions had written to the file
    assert path.stat().st_size < size0 + (2 << 20), (size0, grown, path.stat().st_size)
