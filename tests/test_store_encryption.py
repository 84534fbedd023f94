"""The incident store at rest: encrypted with GAPMAP_STORE_KEY, plain without a key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data import get_path
from geo import store_open
from geo.at_rest import UNSAFE_ENV
from geo.store import IncidentStore

ROOT = Path(__file__).resolve().parent.parent
KEY = "store-key-from-the-environment"
SECRET = b"Sample County EMS"  # an agency name of the sample, plain text in a plain store


@pytest.fixture
def env(monkeypatch):
    # DuckDB writes encrypted files with OpenSSL (httpfs) or, opted in, its built-in module
    monkeypatch.setenv(UNSAFE_ENV, "1")
    for var in (store_open.KEY_ENV, store_open.KEY_FILE_ENV):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.fixture
def plain(tmp_path_factory):
    path = tmp_path_factory.mktemp("plain") / "plain.duckdb"
    IncidentStore(path).ingest(get_path("incidents"))
    return path


def test_encrypted_store_loads_the_same_events_and_hides_them_on_disk(env, tmp_path, plain):
    expected = IncidentStore(plain).load()
    assert SECRET in plain.read_bytes() and b"nonfatal" in plain.read_bytes()
    env.setenv(store_open.KEY_ENV, KEY)
    path = tmp_path / "enc.duckdb"
    summary = IncidentStore(path).ingest(get_path("incidents"))
    assert summary["added"] == 6533
    pd.testing.assert_frame_equal(IncidentStore(path).load(), expected)
    data = path.read_bytes()
    assert SECRET not in data and b"nonfatal" not in data and b"EMS-000001" not in data
    with pytest.raises(duckdb.Error):  # plain DuckDB cannot read it either
        duckdb.connect(str(path), read_only=True)


def test_without_or_with_a_wrong_key_one_sentence(env, tmp_path):
    env.setenv(store_open.KEY_ENV, KEY)
    path = tmp_path / "enc.duckdb"
    IncidentStore(path).ingest(get_path("incidents"))
    before = path.read_bytes()
    env.delenv(store_open.KEY_ENV)
    for read_only in (True, False):
        with pytest.raises(ValueError, match=r"encrypted; set GAPMAP_STORE_KEY") as exc:
            store_open.connect(path, read_only=read_only)
        assert "\n" not in str(exc.value)
    env.setenv(store_open.KEY_ENV, "a wrong key")
    with pytest.raises(ValueError, match=r"another key .*set GAPMAP_STORE_KEY") as exc:
        IncidentStore(path).load()
    assert "\n" not in str(exc.value)
    with pytest.raises(ValueError, match="set GAPMAP_STORE_KEY"):
        IncidentStore(path).ingest(get_path("incidents"))
    assert path.read_bytes() == before  # refused, not touched
    keyfile = tmp_path / "store.key"  # the key from a secrets file
    keyfile.write_text(KEY + "\n")
    env.delenv(store_open.KEY_ENV)
    env.setenv(store_open.KEY_FILE_ENV, str(keyfile))
    assert len(IncidentStore(path).load()) > 0


def test_reclaim_copy_stays_encrypted(env, tmp_path):
    env.setenv(store_open.KEY_ENV, KEY)
    path = tmp_path / "enc.duckdb"
    store = IncidentStore(path)
    store.ingest(get_path("incidents"))
    expected = store.load()
    con = store_open.connect(path, read_only=False)
    # space left behind: a large table written and dropped (as a killed ingest leaves)
    con.execute("CREATE TABLE junk AS SELECT range AS k, 'nonfatal' || range AS v "
                "FROM range(400000)")
    con.execute("CHECKPOINT")
    con.execute("DROP TABLE junk")
    env.setattr(store_open, "RECLAIM_MIN_BYTES", 0)
    grown = path.stat().st_size
    con = store_open.reclaim(con, path)
    con.close()
    assert path.stat().st_size < grown  # rewritten into a fresh, smaller file
    assert not path.with_name(path.name + ".compact").exists()
    data = path.read_bytes()
    assert SECRET not in data and b"nonfatal" not in data
    pd.testing.assert_frame_equal(IncidentStore(path).load(), expected)
    env.delenv(store_open.KEY_ENV)
    with pytest.raises(ValueError, match="set GAPMAP_STORE_KEY"):
        IncidentStore(path).load()


def test_cli_ingest_and_cells_with_the_env_key(tmp_path, plain):
    envv = {k: v for k, v in os.environ.items()
            if k not in (store_open.KEY_ENV, store_open.KEY_FILE_ENV)}
    envv.update({UNSAFE_ENV: "1", store_open.KEY_ENV: KEY,
                 "GAPMAP_CASES_DB": str(tmp_path / "ops.duckdb")})  # no audit elsewhere
    store = tmp_path / "enc.duckdb"

    def cli(*args, env=envv):
        return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True,
                              text=True, cwd=ROOT, timeout=300, env=env)

    r = cli("ingest", str(get_path("incidents")), "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert SECRET not in store.read_bytes()
    out, ref = tmp_path / "cells.csv", tmp_path / "ref.csv"
    r = cli("cells", "--store", str(store), "--out", str(out))
    assert r.returncode == 0, r.stderr
    r = cli("cells", "--store", str(plain), "--out", str(ref),
            env={k: v for k, v in envv.items() if k != store_open.KEY_ENV})
    assert r.returncode == 0, r.stderr
    got = pd.read_csv(out)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, pd.read_csv(ref))
    nokey = {k: v for k, v in envv.items() if k != store_open.KEY_ENV}
    r = cli("cells", "--store", str(store), "--out", str(tmp_path / "x.csv"), env=nokey)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "GAPMAP_STORE_KEY" in lines[0], r.stderr
