"""``gapmap areas``: one row per named area (:func:`products.areas.area_table`).

Reads incidents (``--incidents FILE`` or ``--store PATH``) and one or more area layers
(``--areas FILE --area-name COLUMN``, repeatable in pairs: neighbourhoods, ZIP codes, towns …)
and writes what the product returns: ``area``, ``count``, the breakdowns, ``count_prior`` and
``change_pct`` (the period of equal length before), ``population`` and ``rate_per_100k``
(when population is known), Gi* on contiguity neighbours, and ``suppressed``. ``.geojson``
output carries the area polygons. This module only parses and writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from commands.common import (
    add_engine_options,
    add_filter_options,
    add_incident_options,
    add_tier_options,
    add_window_options,
    load_incidents_from_args,
    parse_mapping,
    policy_from_args,
    query_from_args,
    write_table,
)

__all__ = ["register", "run", "add_area_options", "area_layers_from_args", "geography_from_args"]

_SUFFIXES = (".csv", ".parquet", ".geojson")


def add_area_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    """``--areas FILE --area-name COLUMN [--area-kind WORD] [--area-population COLUMN]``."""
    p.add_argument("--areas", action="append", default=[], metavar="FILE", required=required,
                   help="area layer (GeoJSON, GeoPackage or zipped Shapefile); repeat for "
                   "several layers, each with its own --area-name")
    p.add_argument("--area-name", action="append", default=[], metavar="COLUMN",
                   help="column of the area layer holding each area's name (one per --areas)")
    p.add_argument("--area-kind", action="append", default=[], metavar="WORD",
                   help="what the areas are, for notes and labels (e.g. neighbourhood, ZIP); "
                   "default: the file name")
    p.add_argument("--area-population", action="append", default=[], metavar="COLUMN",
                   help="population column of the area layer (one per --areas, '-' for none)")
    p.add_argument("--places", metavar="FILE", default=None,
                   help="named places (points with a 'name' column) for cell labels "
                   "('near …')")


def geography_from_args(args: argparse.Namespace):
    """``(area layers, places)`` for cell labels, or ``None`` when none are given."""
    layers = area_layers_from_args(args)
    places = None
    if getattr(args, "places", None):  # geo.labels only when places are given
        from geo.labels import load_places

        places = load_places(args.places)
    return (layers, places) if layers or places is not None else None


def area_layers_from_args(args: argparse.Namespace) -> list:
    """The area layers named on the command line (empty list when none)."""
    from geo.areas import load_areas

    files = list(getattr(args, "areas", []) or [])
    names = list(getattr(args, "area_name", []) or [])
    if not files:
        if names:
            raise ValueError("--area-name needs --areas FILE")
        return []
    if len(names) != len(files):
        raise ValueError(f"give one --area-name per --areas file ({len(files)} file(s), "
                         f"{len(names)} name column(s))")
    kinds = list(getattr(args, "area_kind", []) or [])
    pops = list(getattr(args, "area_population", []) or [])
    for opt, vals in (("--area-kind", kinds), ("--area-population", pops)):
        if vals and len(vals) != len(files):
            raise ValueError(f"give {opt} once per --areas file ({len(files)} file(s), "
                             f"{len(vals)} value(s)); use '-' for a layer without population")
    layers = []
    for i, (f, col) in enumerate(zip(files, names, strict=True)):
        kind = kinds[i] if i < len(kinds) else None
        pop = pops[i] if i < len(pops) and pops[i] != "-" else None
        layers.append(load_areas(f, col, kind=kind, population_column=pop))
    return layers


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "areas",
        help="incidents per named area (neighbourhood, ZIP, town …), privacy-gated",
        description="Count incidents per named area (point-in-polygon; records located only "
        "to an area centroid or named by an 'area' column count in their area), with "
        "breakdowns, prior-period change, rate per 100,000 and Gi* hot spots on contiguity "
        "neighbours. Public output (the default) perturbs counts and suppresses 1..k-1.",
    )
    add_incident_options(p)  # --incidents: a file, or a Parquet folder / glob (partitions)
    add_engine_options(p)  # --engine dask: read, index and de-duplicate on a Dask cluster
    add_area_options(p, required=True)
    add_tier_options(p)
    add_window_options(p)
    add_filter_options(p)  # --outcome/--sources/--drug/--age/--sex
    p.add_argument("--population", metavar="FILE", default=None,
                   help="population polygons (e.g. block groups) apportioned to the areas by "
                   "area share; default: the layer's --area-population column")
    p.add_argument("--population-column", default="population",
                   help="column of --population holding residents (default population)")
    p.add_argument("--out", metavar="OUT", required=True,
                   help="output file: .csv, .parquet or .geojson (area polygons)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from layers.population import load_population
    from products.areas import area_tables

    out = Path(args.out)
    if out.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"output {out} must end in one of {_SUFFIXES}")
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder {out.parent} does not exist")
    policy = policy_from_args(args)
    query = query_from_args(args)
    layers = area_layers_from_args(args)
    population = (load_population(args.population, args.population_column)
                  if args.population else None)
    if getattr(args, "engine", "local") == "dask" and args.incidents:  # counted on the workers
        from geo.distributed_counts import dask_area_tables

        table = dask_area_tables(args.incidents, layers, query, policy, population,
                                 population_column=args.population_column,
                                 scheduler=args.scheduler,
                                 options=dict(preset=args.preset, source=args.source,
                                              mapping=parse_mapping(args.map)))
    else:
        table = area_tables(load_incidents_from_args(args), layers, query, policy, population,
                            population_column=args.population_column)
    if len(layers) == 1:
        table = table.drop(columns="unit")
    # one writer for every command: atomic, audited in the restricted tier
    write_table(table, out, policy,
                geometry=np.concatenate([layer.geometry for layer in layers]))
    for note in table.attrs.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    n_sup = int(table["suppressed"].sum())
    print(f"wrote {len(table)} area(s) to {out} ({n_sup} with a suppressed count, "
          f"{policy.tier} tier)")
    return 0
