"""``streamlit run`` with each script run timed on the server (for ``bench_browser.py``).

Usage: ``python bench/_timed_server.py LOG [--root DIR] dashboard.py [streamlit run options]``
(``--root``: run the dashboard of another checkout DIR, e.g. a ``git worktree`` of an older
commit, with its own modules and config; ``bench_browser.py --base``). Every script
run (a page, a rerun or a fragment rerun) appends one JSON line to LOG: its wall seconds and
the CPU seconds of the thread that ran it (``time.thread_time``), so a benchmark can tell the
server's share of what a user waits for from the browser's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from streamlit.runtime.scriptrunner import script_runner

_LOG = sys.argv.pop(1)
if len(sys.argv) > 2 and sys.argv[1] == "--root":  # run another checkout's dashboard (--base)
    _root = Path(sys.argv.pop(2)).resolve()
    sys.argv.pop(1)
    _here = Path(__file__).resolve().parent.parent
    sys.path[:] = [str(_root)] + [p for p in sys.path if p and Path(p).resolve() != _here]
    os.environ["PYTHONPATH"] = str(_root)
    os.chdir(_root)  # (its .streamlit/config.toml)
    sys.argv[1] = str(_root / Path(sys.argv[1]).name)
_run = script_runner.ScriptRunner._run_script


def _timed(self, rerun_data):
    frag = bool(getattr(rerun_data, "fragment_id_queue", None)
                or getattr(rerun_data, "fragment_id", None))
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        return _run(self, rerun_data)
    finally:
        rec = {"end": time.time(), "wall": time.perf_counter() - t0,
               "cpu": time.thread_time() - c0,
               "fragment": frag}
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")


script_runner.ScriptRunner._run_script = _timed

if __name__ == "__main__":
    from streamlit.web.cli import main

    sys.argv = ["streamlit", "run", *sys.argv[1:]]
    sys.exit(main())
