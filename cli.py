"""The ``gapmap`` command: thin wiring from arguments to library calls.

Each subcommand lives in ``commands/<name>.py`` with a ``register(subparsers)`` function that
adds its parser and sets ``func``. Library errors (``ValueError``, ``FileNotFoundError``) are
printed as one clear line and exit with status 2; nothing is half-written.

Start-up cost matters (a command on a 1M store should take about a second): :func:`main`
imports only the module of the command it runs (``gapmap hotspots`` never imports the ingest,
dashboard-account or Dask code); ``gapmap --help`` and an unknown command build the full parser.
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


def _command_of(argv: list[str]) -> str | None:
    """The module of the command ``argv`` names (its first word), if it is one of ours."""
    argv = [str(a) for a in argv]
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or argv[0].startswith("-"):
        return None  # gapmap --help, gapmap -h hotspots, ...: the full parser
    name = f"commands.{first}"
    return name if name in COMMAND_MODULES else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``gapmap`` parser; ``only`` (a module of :data:`COMMAND_MODULES`) registers just
    that command (faster start-up: the other commands' modules are not imported)."""
    parser = argparse.ArgumentParser(
        prog="gapmap",
        description="Overdose surveillance and resource-gap analysis on H3 cells. "
        "Public outputs pass the privacy gate (counts 1-9 suppressed) unless --tier restricted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(_command_of(list(argv)))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"gapmap {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
