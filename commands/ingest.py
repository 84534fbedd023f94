"""``gapmap ingest``: append an agency export to the incident store, with a rejects file.

Reads the export (CSV/TSV/TXT in any common encoding and delimiter, Excel ``.xlsx``, GeoJSON,
Parquet) through :func:`geo.ingest.read_incidents`, appends the accepted records to the DuckDB
store (:class:`geo.store.IncidentStore`, de-duplicated across everything stored), writes every
row not used (rejected, excluded, dropped as a duplicate) with its line number and reason to a
rejects CSV and prints the summary: read / accepted / rejected / excluded / duplicates / merged.
Re-ingesting the same file adds nothing; a failure leaves the store as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from commands.common import add_engine_options, parse_mapping
from geo.presets import PRESETS
from geo.schema import SOURCES

__all__ = ["register", "run", "default_rejects_path", "format_summary"]

_PROGRESS_EVERY = 1_000_000


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "ingest",
        help="append an incident export (CSV/GeoJSON/Parquet) to the incident store",
        description="Map, validate, index and de-duplicate an incident export and append it to "
        "the incident store (a DuckDB file). Presets: " + ", ".join(sorted(PRESETS))
        + " (auto-detected when --preset is omitted). Records of different sources within "
        "--window-min minutes and --radius-m metres become one event.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("file", metavar="FILE",
                   help="export to ingest (.csv/.tsv/.txt, .xlsx, .geojson, .parquet)")
    p.add_argument("--store", metavar="PATH", default=None,
                   help="incident store (DuckDB file); default data/store/gapmap.duckdb")
    p.add_argument("--source", choices=SOURCES, default=None,
                   help="source of rows without a source column/value")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="column layout of the export (default: auto-detect)")
    p.add_argument("--map", action="append", default=[], metavar="CANON=COLUMN",
                   help="map a canonical column onto an input column, e.g. --map lat=Y_COORD")
    p.add_argument("--boundary", metavar="GEOJSON", default=None,
                   help="study area: rows outside are flagged (or dropped with --drop-outside)")
    p.add_argument("--drop-outside", action="store_true",
                   help="reject rows outside --boundary instead of flagging them")
    p.add_argument("--rejects", metavar="PATH", default=None,
                   help="rejects CSV (default: <FILE stem>.rejects.csv next to the store)")
    p.add_argument("--window-min", type=float, default=60,
                   help="de-duplication time window in minutes")
    p.add_argument("--radius-m", type=float, default=300,
                   help="de-duplication radius in metres")
    p.add_argument("--exclude", action="append", default=[], metavar="COLUMN=VALUE",
                   help="set aside rows whose COLUMN equals VALUE (case-insensitive; "
                   "repeatable), e.g. --exclude Disposition=Cancelled; the count is reported")
    p.add_argument("--drop-identical", action="store_true",
                   help="set aside rows identical to an earlier row that have no incident id "
                   "(default: keep them, they are separate incidents; the count is reported)")
    p.add_argument("--same-source-window-min", type=float, default=None, metavar="MIN",
                   help="same-source near-duplicate rule (off by default): set aside a row of "
                   "the same source and agency within MIN minutes and --same-source-radius-m "
                   "metres of an earlier kept row (CAD systems logging several responses to one "
                   "scene); e.g. 60")
    p.add_argument("--same-source-radius-m", type=float, default=None, metavar="M",
                   help="radius of the same-source rule in metres (default 300 when the rule "
                   "is on)")
    p.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                   help="read, validate and store CSV/Parquet files N rows at a time (memory "
                   "stays bounded by N; default 250000)")
    add_engine_options(p)  # FILE may be a Parquet folder / glob (geo.distributed)
    p.set_defaults(func=run)


def default_rejects_path(file: str | Path, store_path: Path) -> Path:
    """``<store folder>/<input stem>.rejects.csv``: beside the store, never beside the input."""
    return store_path.parent / f"{Path(file).stem}.rejects.csv"


def format_summary(s: dict) -> str:
    """One human-readable block for a store-ingest summary."""
    if s.get("skipped"):
        return (f"{s['path']}: already ingested (same file contents); nothing added. "
                f"Store: {s['records']} records, {s['events']} events.")
    lines = [
        f"{s['path']} (preset {s.get('preset')}):",
        f"  read {s['read']} · accepted {s['accepted']} · rejected {s['rejected']} · "
        f"merged {s['merged']}",
        f"  added {s['added']} new record(s), {s['already_stored']} already in the store; "
        f"store now {s['records']} records, {s['events']} events",
    ]
    if s.get("excluded"):
        lines.append(f"  excluded {s['excluded']} row(s) by --exclude")
    if s.get("identical"):
        kept = "set aside (--drop-identical)" if s.get("dropped_identical") else \
            "kept as separate incidents (no id column; --drop-identical to drop them)"
        lines.append(f"  {s['identical']} row(s) identical to an earlier row: {kept}")
    if s.get("near_duplicates"):
        lines.append(f"  {s['near_duplicates']} same-source near-duplicate(s) set aside")
    if s.get("outside_area"):
        lines.append(f"  {s['outside_area']} record(s) outside the study area (flagged)")
    if s.get("reasons"):
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in s["reasons"].items()))
    if s.get("rejects_path"):
        lines.append(f"  rejected rows with line numbers and reasons: {s['rejects_path']}")
    return "\n".join(lines)


def _progress(stage: str, done: int, total) -> None:
    if done >= _PROGRESS_EVERY:
        print(f"  {stage}: {done:,} rows", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from geo.distributed import ingest_dataset, is_dataset
    from geo.store import IncidentStore

    store = IncidentStore(args.store)
    rejects = Path(args.rejects) if args.rejects else default_rejects_path(args.file, store.path)
    if args.engine == "dask" or is_dataset(args.file):  # partitioned Parquet (issue 13)
        summary = ingest_dataset(
            store, args.file, engine=args.engine, scheduler=args.scheduler,
            window_min=args.window_min, radius_m=args.radius_m, rejects_path=rejects,
            preset=args.preset, mapping=parse_mapping(args.map), source=args.source,
            boundary=args.boundary, drop_outside=args.drop_outside, exclude=args.exclude,
            drop_identical=args.drop_identical,
            same_source_window_min=args.same_source_window_min,
            same_source_radius_m=args.same_source_radius_m)
        print(format_summary({**summary, "path": args.file}))
        return 0
    if not rejects.parent.exists():
        rejects.parent.mkdir(parents=True, exist_ok=True)
    # CSV/Parquet are streamed chunk by chunk (geo.ingest_stream); a bad file fails with one
    # sentence before the store is touched
    summary = store.ingest(
        args.file, preset=args.preset, mapping=parse_mapping(args.map), source=args.source,
        boundary=args.boundary, drop_outside=args.drop_outside, window_min=args.window_min,
        radius_m=args.radius_m, rejects_path=rejects, progress=_progress,
        exclude=args.exclude, drop_identical=args.drop_identical,
        same_source_window_min=args.same_source_window_min,
        same_source_radius_m=args.same_source_radius_m, chunk_rows=args.chunk_rows,
    )
    summary = {**summary, "path": args.file}
    print(format_summary(summary))
    for w in summary.get("warnings", []):  # e.g. a placeholder coordinate
        print(f"warning: {w}", file=sys.stderr)
    return 0
