# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the Data page's writes need a login; stores come from one folder; uploads are
validated like ``gapmap ingest`` (study-area check included), leave no temp files, and every
error is one sentence."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from app_helpers import ROOT, app_env, app_inputs, load_incidents, metric, run_page  # noqa: F401

NEW = "(new store…)"
RESTRICTED = {"tier": "restricted"}


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    """An empty GAPMAP_STORE_DIR for the test."""
    folder = tmp_path / "stores"
    monkeypatch.setenv("GAPMAP_STORE_DIR", str(folder))
    return folder


@pytest.fixture
def temp_dir(tmp_path, monkeypatch) -> Path:
    """An empty folder that ``tempfile`` uses for the test (to find leftovers)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _texts(at) -> list[str]:
    out = []
    for kind in ("caption", "markdown", "info", "error", "success", "warning", "title"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    return out


def _new_store(at, name: str):
    at.selectbox(key="store_choice").set_value(NEW).run()
    at.text_input(key="store_new_name").input(name).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at, name: str, content: bytes):
    at.file_uploader(key="inc_upload").upload(name, content, "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_public_tier_sees_no_uploader_store_or_path(app_inputs, store_dir, tmp_path):
    at = run_page("data")
    assert len(at.file_uploader) == 0
    assert len(at.selectbox) == len(at.sidebar.selectbox)  # no store selector on the page
    assert len(at.text_input) == len(at.sidebar.text_input)
    assert len(at.button) == len(at.sidebar.button)  # no ingest / use-store buttons
    assert len(at.get("download_button")) == 0
    assert len(at.dataframe) == 0  # no breakdowns at all
    assert any(i.value == "Log in to upload or ingest data." for i in at.info)
    # dates only, no times, through the last complete week; the total of the default release
    # window (52 weeks) through the gate (cell-key perturbation moves it by at most 3)
    from geo.privacy import release_window

    inc = load_incidents(app_inputs["incidents"])
    t = pd.to_datetime(inc["occurred_at"])
    start, end = release_window(t.max(), 364)
    last = end - pd.Timedelta(days=1)
    assert metric(at, "Dates covered") == f"{t.min():%Y-%m-%d} to {last:%Y-%m-%d}"
    label = f"Overdose events ({start:%Y-%m-%d} to {last:%Y-%m-%d})"
    true = int(((t >= start) & (t < end)).sum())
    shown = metric(at, label)
    assert abs(int(shown.replace(",", "")) - true) <= 3
    # no server path anywhere on the page
    for text in _texts(at):
        assert str(tmp_path) not in text and str(ROOT) not in text, text
        assert not re.search(r"(^|\s)/\w+/", text), text


def test_public_tier_store_in_use_is_named_not_pathed(app_inputs, store_dir, monkeypatch):
    from geo.store import IncidentStore

    store = store_dir / "county.duckdb"
    IncidentStore(store).ingest(app_inputs["incidents"])
    monkeypatch.setenv("GAPMAP_STORE", str(store))  # still selects the initial store
    at = run_page("data")
    assert any(c.value == "In use: incident store county" for c in at.caption)
    assert not any(str(store_dir) in t for t in _texts(at))
    assert len(at.file_uploader) == 0


def test_restricted_ingests_the_bundled_sample_into_a_new_store(
    app_inputs, store_dir, temp_dir, tmp_path
):
    from data import get_path
    from geo.store import IncidentStore

    sample = get_path("incidents")
    at = run_page("data", session=RESTRICTED)
    assert store_dir.is_dir()  # created when missing
    assert at.selectbox(key="store_choice").options == [NEW]
    _new_store(at, "county-1")
    _upload(at, "sample_incidents.csv", sample.read_bytes())
    assert any(i.label.startswith("Ingest sample_incidents.csv") for i in at.button)
    at.button(key="ingest_btn").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # the same file through the CLI's path, with the app's boundary: the same store
    ref = IncidentStore(tmp_path / "ref.duckdb").ingest(sample, boundary=app_inputs["boundary"])
    status = IncidentStore(store_dir / "county-1.duckdb").status()
    assert status["rows"] == ref["records"] and status["events"] == ref["events"]
    assert status["rows"] > 6000
    assert any("Ingested sample_incidents.csv into store county-1" in s.value for s in at.success)
    assert at.selectbox(key="store_choice").value == "county-1"
    assert metric(at, "Rows stored") == f"{ref['records']:,}"
    assert list(temp_dir.iterdir()) == []  # the upload's temp folder is gone
    # the new store can be put in use for the whole dashboard
    at.button(key="use_store").click().run()
    assert at.session_state["store_path"] == str(store_dir / "county-1.duckdb")
    assert any(c.value == "In use: incident store county-1" for c in at.caption)


def test_swapped_row_is_rejected_with_its_line_number(app_inputs, store_dir, temp_dir):
    from geo.store import IncidentStore

    rows = pd.read_csv(app_inputs["incidents"]).head(20)
    lat, lon = rows.loc[7, "lat"], rows.loc[7, "lon"]
    rows.loc[7, "lat"], rows.loc[7, "lon"] = lon, lat  # swapped on file line 9
    at = run_page("data", session=RESTRICTED)
    _new_store(at, "swap_test")
    _upload(at, "export.csv", rows.to_csv(index=False).encode())
    assert metric(at, "Rows rejected") == "1"
    assert metric(at, "Rows accepted") == "19"
    rejects = next(d.value for d in at.dataframe if "line" in d.value.columns)
    assert rejects["line"].tolist() == [9]
    assert rejects["reason"].iloc[0].startswith("latitude/longitude look swapped")
    assert len(at.get("download_button")) == 1
    at.button(key="ingest_btn").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert IncidentStore(store_dir / "swap_test.duckdb").status()["rows"] == 19
    assert list(temp_dir.iterdir()) == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "my store", "a.b", "x" * 65])
def test_bad_store_name_is_one_sentence(store_dir, name):
    at = run_page("data", session=RESTRICTED)
    _new_store(at, name)
    assert [e.value for e in at.error] == [
        "A store name may use only letters, digits, - and _ (at most 64 characters)."
    ]
    assert not [b for b in at.button if b.key == "ingest_btn"]
    assert list(store_dir.iterdir()) == []


def test_unreadable_upload_is_one_sentence_without_temp_path(store_dir, temp_dir):
    at = run_page("data", session=RESTRICTED)
    _new_store(at, "x")
    _upload(at, "junk.csv", b"a,b\n1,2\n")
    assert len(at.error) == 1
    msg = at.error[0].value
    assert msg.startswith("Reading junk.csv failed")
    assert str(temp_dir) not in msg and "gapmap_upload_" not in msg and "Traceback" not in msg
    assert msg.count(". ") == 0 and msg.endswith(".")
    assert list(temp_dir.iterdir()) == []


def test_store_selector_offers_only_store_files_of_the_folder(app_inputs, store_dir):
    from geo.store import IncidentStore

    for name in ("b", "a-1"):
        IncidentStore(store_dir / f"{name}.duckdb").ingest(app_inputs["incidents"])
    (store_dir / "notes.txt").write_text("not a store")
    (store_dir / "bad name.duckdb").write_bytes(b"")
    at = run_page("data", session=RESTRICTED)
    assert at.selectbox(key="store_choice").options == ["a-1", "b", NEW]
    assert not [t for t in at.text_input if t.key == "store_new_name"]  # only for a new store


def test_store_dir_defaults_to_data_store(monkeypatch):
    from app_pages import _data

    monkeypatch.delenv("GAPMAP_STORE_DIR", raising=False)
    assert _data.store_dir() == ROOT / "data" / "store"
    assert _data.store_file("county_2") == ROOT / "data" / "store" / "county_2.duckdb"
    with pytest.raises(ValueError, match="letters, digits"):
        _data.store_file("../x")
