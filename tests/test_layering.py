"""Computation packages never import Streamlit (STYLE.md rule 1)."""

import subprocess
import sys


def test_library_packages_do_not_import_streamlit():
    code = (
        "import sys, importlib, pkgutil\n"
        "for pkg in ('geo', 'clustering', 'layers', 'report'):\n"
        "    m = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(m.__path__, pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "assert 'streamlit' not in sys.modules, 'a library module imported streamlit'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
