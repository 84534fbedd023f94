"""Options and I/O shared by every ``gapmap`` subcommand.

* :func:`add_incident_options` — ``--incidents FILE | --store PATH``, ``--preset``, ``--map``,
  ``--source``; :func:`load_incidents_from_args` turns them into canonical, de-duplicated,
  indexed incidents.
* :func:`add_tier_options` — ``--tier public|partner|restricted``, ``--k``.
* :func:`add_filter_options` — ``--outcome``, ``--sources``, ``--drug``, ``--age``, ``--sex``
  (repeatable or comma lists); :func:`query_from_args` builds the one
  :class:`products.query.Query` of a command from them and ``--start``/``--end``.
* :func:`write_table` — the only way a command writes a table: through the privacy gate
  (:func:`geo.privacy.publish`), then CSV / Parquet / GeoJSON by the file's extension.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from geo.cells import cells_to_polygons, cells_to_str
from geo.privacy import TIERS, PrivacyPolicy, publish, with_record_keys

__all__ = [
    "add_incident_options",
    "add_engine_options",
    "add_tier_options",
    "add_window_options",
    "add_res_option",
    "add_filter_options",
    "filters_from_args",
    "query_from_args",
    "count_columns",
    "parse_mapping",
    "load_incidents_from_args",
    "policy_from_args",
    "write_table",
    "write_json",
]

OUTPUT_SUFFIXES = (".csv", ".parquet", ".geojson")


def add_incident_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--incidents", metavar="FILE",
                     help="incident export (CSV, GeoJSON, Parquet), or a partitioned Parquet "
                     "dataset: a folder or a quoted glob such as 'exports/*.parquet'")
    src.add_argument("--store", metavar="PATH",
                     help="incident store (DuckDB file) instead of a file")
    p.add_argument("--preset", default=None,
                   help="column preset of the export (see `gapmap ingest --help`); default: auto")
    p.add_argument("--map", action="append", default=[], metavar="CANON=COLUMN",
                   help="map a canonical column onto a source column, "
                   "e.g. --map occurred_at=CallDate")
    p.add_argument("--source", default=None,
                   help="source of every row of a file without a source column (ems, police, ...)")


class _EngineAction(argparse.Action):
    """``--engine``/``--scheduler``: a scheduler implies ``dask``; with ``local`` it is an error."""

    def __call__(self, parser, namespace, value, option_string=None):
        setattr(namespace, self.dest, value)
        if self.dest == "engine":
            namespace._engine_given = True
        elif not getattr(namespace, "_engine_given", False):
            namespace.engine = "dask"
        if namespace.engine == "local" and namespace.scheduler is not None:
            parser.error("--scheduler needs --engine dask (it names a Dask cluster)")


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """``--engine local|dask`` and ``--scheduler ADDRESS`` (see :mod:`geo.distributed`)."""
    p.add_argument("--engine", choices=("local", "dask"), default="local", action=_EngineAction,
                   help="local (default) or dask: read, index and de-duplicate a partitioned "
                   "Parquet dataset (folder or glob) on a Dask cluster; same results")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None, action=_EngineAction,
                   help="Dask scheduler, e.g. tcp://10.0.0.5:8786; implies --engine dask "
                   "(default with --engine dask: a local cluster of 2 worker processes)")


def add_tier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", choices=TIERS, default="public",
                   help="public (default): counts perturbed (cell-key method), 1..k-1 "
                   "suppressed, fixed release windows, no points or times; partner: res floor "
                   "9; restricted: exact, internal use only")
    p.add_argument("--k", type=int, default=10,
                   help="suppression threshold: counts 1..k-1 are hidden (default 10; public "
                   "and partner output cannot go below 10)")


def add_window_options(p: argparse.ArgumentParser) -> None:
    """``--start``/``--end``: the window ``[start, end)``, the same in every subcommand."""
    p.add_argument("--start", default=None, metavar="DATE",
                   help="first day included (window [start, end)); public tier: a release "
                   "window start, see README Privacy (default: the last 52 weeks)")
    p.add_argument("--end", default=None, metavar="DATE",
                   help="first day EXCLUDED (window [start, end)); public tier: the release "
                   "date, the Monday after the last complete week (default)")


def add_res_option(p: argparse.ArgumentParser, default: int = 8) -> None:
    p.add_argument("--res", type=int, default=default,
                   help=f"H3 resolution 0-15, no finer than the tier's floor (default {default})")


# ------------------------------------------------------------------ filters (issue 10)
#: Query field → (option, words). ``--source`` (no s) is taken: it names the source of every
#: row of a file without a source column (:func:`add_incident_options`).
FILTER_OPTIONS = {
    "outcomes": (("--outcome", "--outcomes"), "outcome"),
    "sources": (("--sources",), "source"),
    "drugs": (("--drug", "--drugs"), "suspected drug"),
    "age_bands": (("--age", "--age-band"), "age band"),
    "sexes": (("--sex",), "sex"),
}


def filter_levels(name: str) -> tuple[str, ...]:
    """The values a filter accepts (:data:`geo.schema.OUTCOMES`, :data:`~geo.schema.SOURCES`,
    :data:`products.breakdowns.LEVELS`)."""
    from geo.schema import OUTCOMES, SOURCES
    from products.breakdowns import FILTERS, LEVELS

    if name == "outcomes":
        return tuple(OUTCOMES)
    if name == "sources":
        return tuple(SOURCES)
    return tuple(LEVELS[FILTERS[name]])


def _levels_type(name: str):
    """argparse ``type``: a comma list of allowed values (bad ones: one sentence, exit 2)."""
    words = FILTER_OPTIONS[name][1]

    def parse(text: str) -> tuple[str, ...]:
        allowed = filter_levels(name)
        vals = [v.strip().lower() for v in str(text).split(",") if v.strip()]
        bad = [v for v in vals if v not in allowed]
        if not vals or bad:
            got = f"unknown {words} {', '.join(repr(v) for v in bad)}" if bad else \
                f"no {words} given"
            raise argparse.ArgumentTypeError(
                f"{got}: choose from {', '.join(allowed)} "
                "(repeat the option or separate values with commas)")
        return tuple(vals)

    return parse


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """``--outcome``, ``--sources``, ``--drug``, ``--age``, ``--sex``: filters of every
    analysis command (repeatable or comma lists; public/partner: all or one of each)."""
    g = p.add_argument_group(
        "filters", "only these overdoses (repeat an option or give a comma list; public and "
        "partner tiers: one value per filter, the restricted tier may combine)")
    for name, (flags, words) in FILTER_OPTIONS.items():
        allowed = ", ".join(filter_levels(name))
        g.add_argument(*flags, dest=name, action="append", type=_levels_type(name),
                       default=None, metavar="VALUE", help=f"{words}: {allowed}")


def filters_from_args(args: argparse.Namespace) -> dict:
    """The filter options as :class:`products.query.Query` fields (``None`` = all)."""
    out = {}
    for name in FILTER_OPTIONS:
        given = getattr(args, name, None)
        if isinstance(given, str):  # a command's own comma-list option
            given = [_levels_type(name)(given)]
        if not given:
            out[name] = None
            continue
        allowed = filter_levels(name)
        chosen = {v for vals in given for v in vals}
        out[name] = None if chosen >= set(allowed) else tuple(v for v in allowed if v in chosen)
    return out


def query_from_args(args: argparse.Namespace, res: int | None = None):
    """The command's :class:`products.query.Query`: ``--start``/``--end`` (when the command
    has them), the filter options and ``res`` (default 8)."""
    from products.query import Query

    return Query(res=8 if res is None else int(res), start=getattr(args, "start", None),
                 end=getattr(args, "end", None), **filters_from_args(args))


def count_columns(query) -> tuple[str, ...]:
    """The store columns a cell-count product (Gi*, gaps) reads for ``query``:
    :data:`geo.store_read.COUNT_COLUMNS` without the suspected-drug, age-band and sex columns
    the query does not filter on (three text columns, ~15 % of the read)."""
    from geo.store_read import COUNT_COLUMNS
    from products.breakdowns import COLUMNS, FILTERS

    unused = {COLUMNS[fam] for name, fam in FILTERS.items() if getattr(query, name) is None}
    return tuple(c for c in COUNT_COLUMNS if c not in unused)


def parse_mapping(items: list[str]) -> dict[str, str]:
    """``["occurred_at=CallDate", ...]`` → ``{"occurred_at": "CallDate"}`` with clear errors."""
    out: dict[str, str] = {}
    for it in items or []:
        if "=" not in it:
            raise ValueError(f"--map expects CANONICAL=SOURCE_COLUMN, got {it!r}")
        k, v = it.split("=", 1)
        if not k.strip() or not v.strip():
            raise ValueError(f"--map expects CANONICAL=SOURCE_COLUMN, got {it!r}")
        out[k.strip()] = v.strip()
    return out


def load_incidents_from_args(args: argparse.Namespace, *, since=None, columns=None,
                             cell_res=None) -> pd.DataFrame:
    """Canonical, de-duplicated incidents (with uint64 ``h3`` at the base resolution).

    From ``--store``, a command that knows its query passes ``since`` (``since(probe)``: the
    first time its product reads, see :func:`geo.store_read.load_since`) and may pass the
    ``columns`` its product reads (default all, e.g. :data:`geo.store_read.COUNT_COLUMNS`) and
    the stored ``cell_res`` (default all).
    """
    if getattr(args, "store", None):
        from geo.store import IncidentStore
        from geo.store_read import STORED_CELL_RES, load_since

        return load_since(IncidentStore(args.store), since, columns=columns,
                          cell_res=STORED_CELL_RES if cell_res is None else cell_res)
    from geo.distributed import is_dataset, read_dataset
    from geo.ingest import read_incidents

    engine = getattr(args, "engine", "local")
    if engine == "dask" or is_dataset(args.incidents):  # a folder / glob of Parquet partitions
        result = read_dataset(args.incidents, engine=engine,
                              scheduler=getattr(args, "scheduler", None), preset=args.preset,
                              mapping=parse_mapping(args.map), source=args.source)
        return with_record_keys(result.incidents)
    result = read_incidents(
        args.incidents,
        preset=args.preset,
        mapping=parse_mapping(args.map),
        source=args.source,
    )
    if result.summary.get("rejected"):
        print(
            f"note: {result.summary['rejected']} row(s) of {args.incidents} could not be used "
            "(run `gapmap ingest` to see them with line numbers and reasons)",
            file=sys.stderr,
        )
    return with_record_keys(result.incidents)


def policy_from_args(args: argparse.Namespace) -> PrivacyPolicy:
    return PrivacyPolicy.for_tier(getattr(args, "tier", "public"), k=getattr(args, "k", 10))


def _check_out(path: Path) -> None:
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"output {path} must end in one of {OUTPUT_SUFFIXES}")
    if not path.parent.exists():
        raise FileNotFoundError(f"output folder {path.parent} does not exist")


def write_table(df: pd.DataFrame, out: str | Path, policy: PrivacyPolicy, *,
                geography=None, geometry=None) -> pd.DataFrame:
    """Write a table published by a product (or publish ``df`` first); returns what was written.

    A uint64 ``h3`` column is written as hex strings; ``.geojson`` output carries the cell
    outlines as polygons (never points), or ``geometry`` (one polygon per row, e.g. named
    areas) when given. With ``geography = (area layers, places)`` a ``label`` column
    (:func:`geo.labels.cell_labels`: area names, nearest place) follows ``h3``. Restricted
    outputs leave an audit row.
    """
    path = Path(out)
    _check_out(path)
    # a product's table has passed the gate already (it carries the gate's ``suppressed``
    # column): written as it is, never re-published (rules live in the products and the gate)
    pub = df if "suppressed" in df.columns else publish(df, policy)
    if policy.restricted:  # restricted exports leave an audit row (cases.audit)
        from cases.audit import record_cli

        record_cli(f"cli:{path.name}", len(pub), str(path))
    if "h3" in pub.columns and pub["h3"].dtype == np.uint64:
        cells = pub["h3"].to_numpy(np.uint64)
        pub = pub.assign(h3=cells_to_str(cells))
        if geography is not None:
            from geo.labels import cell_labels

            pub.insert(int(pub.columns.get_loc("h3")) + 1, "label",
                       cell_labels(cells, *geography).to_numpy())
    else:
        cells = None
    tmp = path.with_name(path.name + ".part")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        pub.to_csv(tmp, index=False)
    elif suffix == ".parquet":
        pub.to_parquet(tmp, index=False)
    else:
        import geopandas as gpd

        if geometry is None and cells is None:
            raise ValueError("GeoJSON output needs an 'h3' cell column")
        shapes = list(geometry) if geometry is not None else list(cells_to_polygons(cells))
        gdf = gpd.GeoDataFrame(pub, geometry=shapes, crs=4326)
        tmp.write_text(gdf.to_json(drop_id=True))
    tmp.replace(path)  # atomic: a failure never leaves a half-written output
    return pub


def write_json(obj: dict, out: str | Path) -> None:
    path = Path(out)
    if not path.parent.exists():
        raise FileNotFoundError(f"output folder {path.parent} does not exist")
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(obj, indent=2, default=float))
    tmp.replace(path)
