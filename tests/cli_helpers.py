"""Test helper: which modules a gapmap command imports, run in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def modules_after_cli(argv: list[str], modules: tuple[str, ...]) -> dict[str, bool]:
    """Run ``cli.main(argv)`` in a new Python process (exit code 0 required) and return, for
    each of ``modules``, whether it was imported by the end."""
    code = (
        "import json, sys, cli\n"
        f"assert cli.main({[str(a) for a in argv]!r}) == 0\n"
        f"print(json.dumps({{m: m in sys.modules for m in {tuple(modules)!r}}}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])
