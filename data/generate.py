"""Generate the bundled synthetic sample: ``python -m data.generate [--seed N] [--out DIR]``.

Everything is SYNTHETIC: a fictional "Sample County" shaped like a mid-sized US county
(Guilford County, NC), with planted hotspots, an emerging hotspot and a one-week spike whose
truth is written to ``sample_ground_truth.json``. Deterministic for a given seed; runs in a
couple of seconds. The model and its parameters are described in ``data/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, mapping

from data import DATA_DIR, SAMPLE_FILES
from data._geography import make_block_groups, make_boundary
from data._incidents import events_to_records, make_events
from data._model import (
    AREA_KM2,
    CENTRE_LAT,
    CENTRE_LON,
    CITIES,
    EMERGING_HOTSPOT,
    END_DATE,
    EVENTS_PER_YEAR,
    GENERATOR_VERSION,
    PERSISTENT_HOTSPOTS,
    SEED,
    SPIKE,
    START_DATE,
    Signal,
    xy_to_latlon,
)
from data._resources import GAP_RADIUS_KM, make_candidates, make_resources
from geo.cells import cells_to_str, haversine_m, latlng_to_cells, polygon_to_cells

__all__ = ["SampleData", "generate", "write_sample", "signal_cells", "main"]

#: H3 resolution of the ground-truth cell lists.
TRUTH_RES = 8


@dataclass(frozen=True)
class SampleData:
    """One generated sample: geometry, tables (CSV-ready strings) and the ground truth."""

    boundary: shapely.Polygon
    block_groups: list[dict]
    incidents: pd.DataFrame  # canonical columns (strings) + ``event`` + ``time``
    resources: pd.DataFrame
    candidates: pd.DataFrame
    ground_truth: dict


def _disk(sig: Signal) -> shapely.Polygon:
    lat, lon = xy_to_latlon(
        *np.array(Point(sig.x, sig.y).buffer(sig.radius_m / 1000.0, 32).exterior.coords).T
    )
    return shapely.Polygon(np.column_stack([lon, lat]))


def signal_cells(sig: Signal, res: int = TRUTH_RES) -> tuple[np.ndarray, int]:
    """H3 cells overlapping a signal's disk (sorted uint64) and the cell of its centre."""
    lat, lon = xy_to_latlon(sig.x, sig.y)
    centre = latlng_to_cells([lat], [lon], res)
    cells = np.union1d(polygon_to_cells(_disk(sig), res), centre)
    return cells, int(centre[0])


def _within(sig: Signal, lat, lon) -> np.ndarray:
    c_lat, c_lon = xy_to_latlon(sig.x, sig.y)
    return haversine_m(np.asarray(lat, float), np.asarray(lon, float), c_lat, c_lon) <= sig.radius_m


def _source_combinations(records: pd.DataFrame) -> tuple[pd.Series, list[list[str]]]:
    """Per event: its sources joined ("ems+police"); and the record ids of multi-source events."""
    bit = records["source"].map({"ems": 1, "hospital": 2, "police": 4}).to_numpy()
    ev = records["event"].to_numpy()
    mask = np.zeros(ev.max() + 1, dtype=int)
    np.bitwise_or.at(mask, ev, bit)
    names = {
        m: "+".join(s for b, s in ((1, "ems"), (2, "hospital"), (4, "police")) if m & b)
        for m in range(1, 8)
    }
    present = np.unique(ev)
    src = pd.Series([names[m] for m in mask[present]], index=present)
    multi = np.isin(ev, present[np.bitwise_count(mask[present]) > 1])
    order = np.argsort(ev[multi], kind="stable")
    ids, evs = records["incident_id"].to_numpy()[multi][order], ev[multi][order]
    cuts = np.flatnonzero(np.diff(evs)) + 1
    return src, [list(map(str, g)) for g in np.split(ids, cuts)]


def _ground_truth(seed: int, boundary, block_groups, events, records, resources) -> dict:
    years = (pd.Timestamp(END_DATE) - pd.Timestamp(START_DATE)).days + 1
    years /= 365.25
    r_lat, r_lon = (
        resources["lat"].astype(float).to_numpy(),
        resources["lon"].astype(float).to_numpy(),
    )
    kinds = resources["kind"].to_numpy()
    signals = []
    for sig in (*PERSISTENT_HOTSPOTS, EMERGING_HOTSPOT, SPIKE):
        lat, lon = xy_to_latlon(sig.x, sig.y)
        cells, centre = signal_cells(sig)
        ev_ids = np.flatnonzero(events["signal"].to_numpy() == sig.id)
        n_rec = int(np.isin(records["event"].to_numpy(), ev_ids).sum())
        if sig.type == "persistent_hotspot":
            expected = sig.share * EVENTS_PER_YEAR * years
        elif sig.type == "emerging_hotspot":
            expected = sig.rate_per_day * (
                (pd.Timestamp(END_DATE) - pd.Timestamp(sig.start)).days + 1
            )
        else:
            expected = sig.extra_events
        d = haversine_m(r_lat, r_lon, float(lat), float(lon))
        item = {
            "id": sig.id,
            "type": sig.type,
            "name": sig.name,
            "centre": {"lat": round(float(lat), 6), "lon": round(float(lon), 6)},
            "radius_m": sig.radius_m,
            "start": sig.start,
            "end": sig.end,
            "expected_extra_events": round(float(expected), 1),
            "planted_events": int(len(ev_ids)),
            "planted_records": n_rec,
            "centre_cell_res8": cells_to_str([centre])[0],
            "cells_res8": [str(c) for c in cells_to_str(cells)],
            "underserved": sig.underserved,
            "nearest_naloxone_m": round(float(d[kinds == "naloxone"].min()), 0),
            "nearest_treatment_m": round(float(d[kinds == "treatment"].min()), 0),
        }
        if sig.type == "persistent_hotspot":
            item["share_of_baseline_events"] = sig.share
        if sig.type == "emerging_hotspot":
            item["rate_per_day"] = sig.rate_per_day
            before = (events["time"] < pd.Timestamp(sig.start)).to_numpy()
            item["events_within_radius_before_start"] = int(
                (_within(sig, events["lat"], events["lon"]) & before).sum()
            )
        if sig.type == "spike":
            item["fatal_share"] = sig.fatal_share
            item["dominant_drug"] = sig.drug
        signals.append(item)
    src, dup = _source_combinations(records)
    return {
        "synthetic": True,
        "note": "SYNTHETIC DATA for testing and demonstration. Fictional county; no real people, "
        "places or addresses.",
        "generator": "data.generate",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "period": {"start": START_DATE, "end": END_DATE},
        "county": {
            "name": "Sample County (synthetic)",
            "modelled_on": "Guilford County, NC",
            "centre": {"lat": CENTRE_LAT, "lon": CENTRE_LON},
            "area_km2": AREA_KM2,
            "population": int(sum(g["population"] for g in block_groups)),
            "block_groups": len(block_groups),
            "cities": [
                {
                    "name": c.name,
                    **dict(
                        zip(
                            ("lat", "lon"),
                            map(lambda v: round(float(v), 6), xy_to_latlon(c.x, c.y)),
                            strict=True,
                        )
                    ),
                }
                for c in CITIES
            ],
        },
        "counts": {
            "events": int(len(events)),
            "records": int(len(records)),
            "records_by_source": {
                k: int(v) for k, v in records["source"].value_counts().sort_index().items()
            },
            "events_by_sources": {k: int(v) for k, v in src.value_counts().sort_index().items()},
            "fatal_events": int(events["fatal"].sum()),
            "baseline_events_per_year": EVENTS_PER_YEAR,
        },
        "dedup_rule_met": "secondary reports are 50-250 m and -5..+45 min from the EMS record",
        "gap_radius_km": GAP_RADIUS_KM,
        "signals": signals,
        "duplicate_groups": dup,
    }


def generate(seed: int = SEED) -> SampleData:
    """Build the whole sample in memory.

    Parameters
    ----------
    seed : int
        Root seed; each part (geography, events, records, resources, candidates) draws from its
        own child stream (``numpy.random.SeedSequence.spawn``), so changing one part's model
        does not reshuffle the others.

    Returns
    -------
    SampleData
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5)]
    boundary = make_boundary(rngs[0])
    bgs = make_block_groups(rngs[0], boundary)
    events = make_events(rngs[1], boundary, bgs)
    records = events_to_records(rngs[2], events, boundary)
    resources = make_resources(rngs[3], boundary, bgs)
    candidates = make_candidates(rngs[4], boundary, bgs)
    truth = _ground_truth(int(seed), boundary, bgs, events, records, resources)
    return SampleData(boundary, bgs, records, resources, candidates, truth)


def _coords(geom) -> list:
    return [[[round(x, 6), round(y, 6)] for x, y in ring] for ring in mapping(geom)["coordinates"]]


def _feature_collection(name: str, features: list[tuple[dict, object]]) -> str:
    lines = [
        json.dumps(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": _coords(geom)},
            },
            separators=(",", ":"),
        )
        for props, geom in features
    ]
    return (
        '{"type":"FeatureCollection","name":"'
        + name
        + '",\n"features":[\n'
        + ",\n".join(lines)
        + "\n]}\n"
    )


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_sample(out_dir: str | Path = DATA_DIR, seed: int = SEED) -> dict[str, Path]:
    """Generate and write the six sample files into ``out_dir`` (atomically, one by one).

    Returns
    -------
    dict
        Logical name (as in :data:`data.SAMPLE_FILES`) → written path.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} is not an existing directory; create it first")
    s = generate(seed)
    paths = {k: out / v for k, v in SAMPLE_FILES.items()}
    _write_text(
        paths["boundary"],
        _feature_collection(
            "sample_boundary",
            [({"name": "Sample County (synthetic)", "area_km2": AREA_KM2}, s.boundary)],
        ),
    )
    _write_text(
        paths["population"],
        _feature_collection(
            "sample_population",
            [
                ({"geoid": g["geoid"], "population": g["population"]}, g["geometry"])
                for g in s.block_groups
            ],
        ),
    )
    cols = [c for c in s.incidents.columns if c not in ("event", "time")]
    for key, df in (
        ("incidents", s.incidents[cols]),
        ("resources", s.resources),
        ("candidates", s.candidates),
    ):
        _write_text(paths[key], df.to_csv(index=False, lineterminator="\n"))
    _write_text(paths["ground_truth"], json.dumps(s.ground_truth, indent=1) + "\n")
    write_areas(paths, s.block_groups)
    from data._roads import write_roads  # synthetic streets clipped to the boundary above

    paths["roads"] = write_roads(out, boundary=paths["boundary"])
    return paths


def write_areas(paths: dict[str, Path], block_groups: list[dict]) -> None:
    """Write the named neighbourhoods, ZIP-like areas and places (deterministic, no draws)."""
    from data._areas import areas_geojson, make_areas, make_places, places_geojson

    areas = make_areas(block_groups)
    for key in ("neighbourhoods", "zips"):
        _write_text(paths[key], areas_geojson(f"sample_{key}", areas[key]))
    _write_text(paths["places"], places_geojson(make_places()))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: regenerate the sample files."""
    p = argparse.ArgumentParser(prog="python -m data.generate", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=SEED, help=f"root seed (default {SEED})")
    p.add_argument("--out", default=str(DATA_DIR), help="output directory (default: data/)")
    args = p.parse_args(argv)
    paths = write_sample(args.out, args.seed)
    for name, path in paths.items():
        print(f"{name:13s} {path}  ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
