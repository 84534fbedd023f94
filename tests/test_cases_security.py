"""The operations database at rest (encryption) and the audit of restricted CLI outputs."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from cases import accounts, audit, db

PW = "a long password"


@pytest.fixture
def ops(tmp_path, monkeypatch):
    path = tmp_path / "ops.duckdb"
    monkeypatch.setenv("GAPMAP_CASES_DB", str(path))
    for var in (db.KEY_ENV, db.KEY_FILE_ENV):
        monkeypatch.delenv(var, raising=False)
    return path


def test_encrypted_database_cannot_be_opened_without_the_key(ops, monkeypatch, tmp_path):
    # DuckDB writes encrypted files with OpenSSL (httpfs) or, opted in, its built-in module
    monkeypatch.setenv(db.UNSAFE_ENV, "1")
    monkeypatch.setenv(db.KEY_ENV, "correct-key-from-the-environment")
    accounts.add_user("olga", "outreach", PW)
    with db.connect() as con:
        con.execute("INSERT INTO notes VALUES ('c1', now(), 'olga', 'seen at the shelter')")
    assert b"seen at the shelter" not in ops.read_bytes()  # ciphertext on disk
    monkeypatch.delenv(db.KEY_ENV)
    with pytest.raises(ValueError, match="if it is encrypted, set GAPMAP_CASES_KEY"):
        accounts.list_users()
    with pytest.raises(duckdb.Error):  # plain DuckDB cannot read it either
        duckdb.connect(str(ops)).execute("SELECT * FROM notes").fetchall()
    monkeypatch.setenv(db.KEY_ENV, "a wrong key")
    with pytest.raises(ValueError, match="with the configured key"):
        accounts.list_users()
    keyfile = tmp_path / "cases.key"  # the key from a secrets file
    keyfile.write_text("correct-key-from-the-environment\n")
    monkeypatch.delenv(db.KEY_ENV)
    monkeypatch.setenv(db.KEY_FILE_ENV, str(keyfile))
    assert accounts.list_users()["username"].tolist() == ["olga"]


def test_without_a_key_the_file_is_plain(ops):
    accounts.add_user("olga", "outreach", PW)
    with db.connect() as con:
        con.execute("INSERT INTO notes VALUES ('c1', now(), 'olga', 'seen at the shelter')")
    assert duckdb.connect(str(ops)).execute("SELECT text FROM notes").fetchall() == [
        ("seen at the shelter",)]


def test_restricted_cli_output_writes_an_audit_row(ops, tmp_path):
    from cli import main
    from data import get_path

    out = tmp_path / "cells.csv"
    args = ["cells", "--incidents", str(get_path("incidents")), "--out", str(out)]
    assert main(args) == 0  # no operations database: nothing to audit into
    assert not ops.exists()
    accounts.add_user("adam", "admin", PW)
    assert main(args) == 0  # public output: not audited
    assert audit.read().empty
    assert main(args + ["--tier", "restricted"]) == 0
    log = audit.read()
    rows = len(pd.read_csv(out))
    assert log[["role", "action", "what", "n_records"]].values.tolist() == [
        ["cli", "export", "cli:cells.csv", rows]]


def test_restricted_area_table_is_audited_like_every_cli_output(ops, tmp_path):
    """`gapmap areas` writes through the one CLI writer, so its restricted output is audited."""
    from cli import main
    from data import get_path

    accounts.add_user("adam", "admin", PW)
    out = tmp_path / "areas.csv"
    assert main(["areas", "--incidents", str(get_path("incidents")), "--areas",
                 str(get_path("incidents").parent / "sample_neighbourhoods.geojson"),
                 "--area-name", "name", "--tier", "restricted", "--out", str(out)]) == 0
    log = audit.read()
    assert log[["action", "what", "n_records"]].values.tolist() == [
        ["export", "cli:areas.csv", len(pd.read_csv(out))]]
