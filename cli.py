"""The ``gapmap`` command: thin wiring from arguments to library calls.

Each subcommand lives in ``commands/<name>.py`` with a ``register(subparsers)`` function that
adds its parser and sets ``func``. Library errors (``ValueError``, ``FileNotFoundError``) are
printed as one clear line and exit with status 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

COMMAND_MODULES = (
    "commands.ingest",
    "commands.cells",
    "commands.hotspots",
    "commands.alerts",
    "commands.gaps",
    "commands.site",
    "commands.brief",
    "commands.users",
    "commands.areas",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gapmap",
        description="Overdose surveillance and resource-gap analysis on H3 cells. "
        "Public outputs pass the privacy gate (counts 1-9 suppressed) unless --tier restricted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"gapmap {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
