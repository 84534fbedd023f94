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
