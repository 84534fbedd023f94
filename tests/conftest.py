"""Shared fixtures. Tests use the bundled synthetic sample or data they build themselves."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_browser():
    """Skip browser tests without Debian chromium, unless CI demands them (then fail)."""
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("GAPMAP_REQUIRE_BROWSER") == "1":
        pytest.fail("GAPMAP_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
    pytest.skip("Debian chromium not installed (apt-get install chromium)")


@pytest.fixture(autouse=True, scope="session")
def _operations_db_outside_the_repository(tmp_path_factory):
    """The follow-up/audit database of every test (CLI, app, browser servers started from
    here) lives in the session's tmp folder, never in the repository's data/store."""
    path = tmp_path_factory.mktemp("operations") / "cases.duckdb"
    old = os.environ.get("GAPMAP_CASES_DB")
    os.environ["GAPMAP_CASES_DB"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GAPMAP_CASES_DB", None)
    else:
        os.environ["GAPMAP_CASES_DB"] = old
