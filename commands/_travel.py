"""``--travel walk|drive|straight`` and ``--roads FILE``, shared by gaps, site and brief."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["add_travel_options", "travel_from_args"]


def add_travel_options(p: argparse.ArgumentParser, minutes: bool = False) -> None:
    """Add the travel-mode options (and ``--minutes`` for siting)."""
    p.add_argument("--travel", choices=("straight", "walk", "drive"), default=None,
                   help="access by straight line (default) or by walking / driving time on the "
                   "road network of --roads")
    p.add_argument("--roads", metavar="FILE", default=None,
                   help="road network: an OpenStreetMap extract (.osm.pbf) or road lines "
                   "(GeoJSON/GeoPackage with optional highway, maxspeed, oneway, name); "
                   "built once and cached ($GAPMAP_CACHE_DIR or ~/.cache/gapmap)")
    if minutes:
        p.add_argument("--minutes", type=float, default=None, metavar="M",
                       help="with --travel walk/drive: a site covers the cells within M "
                       "minutes (default 10)")


def travel_from_args(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """``(travel, roads)`` checked (a network mode needs --roads)."""
    travel = getattr(args, "travel", None)
    roads = getattr(args, "roads", None)
    if travel is None and roads is not None:
        raise ValueError("--roads needs --travel walk or --travel drive")
    if travel is None:
        return None, None
    store = getattr(args, "store", None)
    if store and not os.environ.get("GAPMAP_CACHE_DIR"):
        # the road graph is cached next to the incident store it serves
        os.environ["GAPMAP_CACHE_DIR"] = str(Path(store).resolve().parent / "cache")
    from layers.reach import check_travel  # the street-network code only with --travel

    check_travel(travel, roads)
    return travel, roads
