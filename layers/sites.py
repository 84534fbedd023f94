"""Resource sites in the canonical schema: treatment, syringe services, naloxone.

:func:`load_resources` reads CSV and GeoJSON files (one or several) into the canonical columns
of :data:`RESOURCE_COLUMNS`; :func:`validate_resources` does the same for an in-memory frame.
Validation mirrors incident ingest: a missing column is a precise error listing what was found;
a bad *row* is not an error but a reject with its file, line and reason (bad coordinates,
unknown kind/subtype, unreadable yes/no flag or capacity, unparsable opening hours, duplicate
``site_id``, a ragged CSV line). Nothing is dropped silently: ``len(sites) + len(rejects)``
equals the rows read.

Swapped coordinates are caught as for incidents (:func:`swapped_locations`): a latitude beyond
±90 that fits as a longitude; with a study area, a site outside it whose swapped position lies
inside; and always a site south of 60°S (Antarctica: a list whose Latitude column holds US
longitudes lands there). Files are read by :func:`geo.readers.read_table` (encodings,
delimiters, ``.xlsx``, true line numbers).

Opening hours that cannot be parsed (see :mod:`layers.hours`) make the row a *reject*, not a
flag: a site whose hours we cannot read would otherwise silently count as closed at night.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.validate import parse_bool
from layers.hours import hours_error, parse_hours
from layers.site_files import COLUMN_ALIASES, public_columns, read_site_table, swapped_locations

__all__ = [
    "RESOURCE_COLUMNS",
    "KINDS",
    "SUBTYPES",
    "FLAG_COLUMNS",
    "REQUIRED_RESOURCE_COLUMNS",
    "LoadResult",
    "empty_sites",
    "load_resources",
    "validate_resources",
]

#: kind → allowed subtypes.
SUBTYPES: dict[str, tuple[str, ...]] = {
    "treatment": ("otp", "buprenorphine", "naltrexone"),
    "ssp": ("ssp_fixed", "ssp_mobile"),
    "naloxone": ("naloxone_box", "vending_machine", "pharmacy", "distribution_site"),
}
KINDS = tuple(SUBTYPES)

FLAG_COLUMNS = (
    "methadone",
    "buprenorphine",
    "naltrexone",
    "naloxone_distribution",
    "fentanyl_test_strips",
    "open_24_7",
    "medicaid",
    "sliding_fee",
    "walk_in",
)

#: column → pandas dtype, canonical order. Flags are nullable booleans (<NA> = not known).
RESOURCE_COLUMNS: dict[str, str] = {
    "site_id": "string",
    "name": "string",
    "kind": "string",
    "subtype": "string",
    "lat": "float64",
    "lon": "float64",
    **{c: "boolean" for c in FLAG_COLUMNS[:5]},
    "open_24_7": "boolean",
    "hours": "string",
    "medicaid": "boolean",
    "sliding_fee": "boolean",
    "walk_in": "boolean",
    "capacity": "Float64",
    "source": "string",
    "as_of": "string",
}

REQUIRED_RESOURCE_COLUMNS = ("kind", "lat", "lon")
_ALIASES = COLUMN_ALIASES
REJECT_COLUMNS = ("file", "line", "site_id", "name", "reason")


@dataclass
class LoadResult:
    """Outcome of loading resource files.

    Attributes
    ----------
    sites : DataFrame
        Valid sites in the canonical columns (:data:`RESOURCE_COLUMNS`), index 0..n-1.
    rejects : DataFrame
        One row per unusable input row: ``file, line, site_id, name, reason``.
    summary : dict
        ``read``, ``loaded``, ``rejected``, ``files``, ``by_kind`` and ``reasons`` counts.
    """

    sites: pd.DataFrame
    rejects: pd.DataFrame
    summary: dict = field(default_factory=dict)


def empty_sites() -> pd.DataFrame:
    """A zero-row frame with every canonical resource column and dtype."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in RESOURCE_COLUMNS.items()})


def _read_file(path: Path) -> pd.DataFrame:
    return read_site_table(path)


def _normalise_columns(df: pd.DataFrame) -> pd.DataFrame:
    ren = {}
    for c in df.columns:
        key = str(c).strip().lower()
        ren[c] = _ALIASES.get(key, key) if not key.startswith("_") else c
    out = df.rename(columns=ren)
    return out.loc[:, ~out.columns.duplicated()]


def _to_flag(values: pd.Series, column: str) -> tuple[pd.Series, pd.Series]:
    """(nullable boolean, error text or None) per row (:func:`geo.validate.parse_bool`)."""
    labels, bad = parse_bool(values)
    out = pd.Series(pd.NA, index=values.index, dtype="boolean")
    out[labels == "yes"] = True
    out[labels == "no"] = False
    err = pd.Series(None, index=values.index, dtype="object")
    err[bad] = [f"{column}: {v!r} is not yes/no (true/false, 1/0)" for v in values[bad]]
    return out, err


def validate_resources(
    df: pd.DataFrame,
    *,
    origin: str = "<frame>",
    source: str | None = None,
    taken_ids: set | frozenset = frozenset(),
    boundary=None,
) -> LoadResult:
    """Validate a raw resource table and put it in the canonical schema.

    Parameters
    ----------
    df : DataFrame
        Raw rows (strings or typed values). Column names are matched case-insensitively;
        ``latitude``/``longitude``/``lng`` are accepted for ``lat``/``lon``. A ``_line`` column,
        if present, gives the line numbers used in rejects. Not mutated.
    origin : str
        File name reported in rejects.
    source : str, optional
        Value of ``source`` for rows without one (default: ``origin``'s stem).
    taken_ids : set of str
        ``site_id`` values already loaded (from earlier files); rows reusing one are rejected.
    boundary : shapely geometry, optional
        Study area, for the swapped-coordinates check (:func:`swapped_locations`).

    Returns
    -------
    LoadResult

    Raises
    ------
    ValueError
        If a required column (:data:`REQUIRED_RESOURCE_COLUMNS`) is missing; the message lists
        the columns found.
    """
    raw = _normalise_columns(df)
    missing = [c for c in REQUIRED_RESOURCE_COLUMNS if c not in raw.columns]
    if missing:
        found = public_columns(raw.columns)
        raise ValueError(
            f"resource table {origin} is missing column(s) {missing}; found {found}. "
            "Rename the columns (lat/lon or latitude/longitude, kind = treatment/ssp/naloxone)."
        )
    n = len(raw)
    raw = raw.reset_index(drop=True)
    line = raw["_line"].to_numpy() if "_line" in raw.columns else np.arange(1, n + 1)
    reasons: list[list[str]] = [[] for _ in range(n)]

    def note(mask, msgs):
        for i in np.flatnonzero(np.asarray(mask, bool)):
            reasons[i].append(msgs[i] if isinstance(msgs, list | np.ndarray | pd.Series) else msgs)

    out = pd.DataFrame(index=raw.index)
    default_source = source or Path(origin).stem
    sid = raw["site_id"] if "site_id" in raw.columns else pd.Series(pd.NA, index=raw.index)
    sid = sid.astype("string").str.strip()
    auto = pd.Series([f"{default_source}-{int(x)}" for x in line], index=raw.index, dtype="string")
    out["site_id"] = sid.mask(sid.isna() | (sid == ""), auto)
    out["name"] = (raw["name"] if "name" in raw.columns else pd.Series("", index=raw.index)
                   ).astype("string").fillna("").str.strip()

    kind = raw["kind"].astype("string").str.strip().str.lower()
    bad_kind = ~kind.isin(KINDS).fillna(False).to_numpy(bool)
    note(bad_kind, [f"unknown kind {k!r}; use one of {list(KINDS)}" for k in
                    raw["kind"].astype(object).tolist()])
    out["kind"] = kind
    if "subtype" in raw.columns:
        sub = raw["subtype"].astype("string").str.strip().str.lower().replace("", pd.NA)
    else:
        sub = pd.Series(pd.NA, index=raw.index, dtype="string")
    ok_sub = [
        s is pd.NA or (k in SUBTYPES and s in SUBTYPES[k])
        for k, s in zip(kind.tolist(), sub.tolist(), strict=True)
    ]
    bad_sub = ~np.array(ok_sub, dtype=bool) & ~bad_kind
    note(bad_sub, [f"unknown subtype {s!r} for kind {k!r}; use one of "
                   f"{list(SUBTYPES.get(k, ()))}" for k, s in zip(kind, sub, strict=True)])
    out["subtype"] = sub

    lat = pd.to_numeric(raw["lat"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(raw["lon"], errors="coerce").to_numpy(float)
    bad_xy = ~(np.isfinite(lat) & np.isfinite(lon)) | (np.abs(lat) > 180) | (np.abs(lon) > 180) | (
        (np.abs(lat) > 90) & (np.abs(lon) > 90)) | ((lat == 0) & (lon == 0))
    note(bad_xy, [f"bad coordinates lat={a!r}, lon={b!r} (need WGS84 degrees, not 0,0)"
                  for a, b in zip(raw["lat"].tolist(), raw["lon"].tolist(), strict=True)])
    swapped = swapped_locations(lat, lon, boundary)
    note(swapped != "", swapped)
    for helper in ("_geometry_error", "_row_error"):
        if helper in raw.columns:
            ge = raw[helper]
            note(ge.notna().to_numpy(), ge.tolist())
    out["lat"], out["lon"] = lat, lon

    for c in FLAG_COLUMNS:
        if c in raw.columns:
            flag, err = _to_flag(raw[c], c)
            note(err.notna().to_numpy(), err.tolist())
        else:
            flag = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        out[c] = flag

    hours = (raw["hours"] if "hours" in raw.columns else pd.Series(pd.NA, index=raw.index))
    hours = hours.astype("string").str.strip().replace("", pd.NA)
    herr = [hours_error(h) if h is not pd.NA else None for h in hours.tolist()]
    note([e is not None for e in herr], [f"bad hours text: {e}" for e in herr])
    out["hours"] = hours
    # open_24_7 not given: derive it from hours that cover the whole week.
    full = [h is not pd.NA and e is None and bool(parse_hours(h).all())
            for h, e in zip(hours.tolist(), herr, strict=True)]
    derived = pd.Series(full, index=raw.index, dtype="boolean").mask(hours.isna(), pd.NA)
    out["open_24_7"] = out["open_24_7"].fillna(derived)
    out = out[[c for c in RESOURCE_COLUMNS if c in out.columns]]

    if "capacity" in raw.columns:
        cap_txt = raw["capacity"].astype("string").str.strip().replace("", pd.NA)
        cap = pd.to_numeric(cap_txt, errors="coerce")
        bad_cap = (cap_txt.notna() & (cap.isna() | (cap < 0))).to_numpy(bool)
        note(bad_cap, [f"capacity {v!r} is not a non-negative number" for v in cap_txt.tolist()])
        out["capacity"] = cap.astype("Float64")
    else:
        out["capacity"] = pd.Series(pd.NA, index=raw.index, dtype="Float64")
    src = raw["source"].astype("string").str.strip() if "source" in raw.columns else None
    out["source"] = (src.replace("", pd.NA).fillna(default_source) if src is not None
                     else pd.Series(default_source, index=raw.index, dtype="string"))
    out["as_of"] = (raw["as_of"].astype("string").str.strip() if "as_of" in raw.columns
                    else pd.Series(pd.NA, index=raw.index, dtype="string"))

    dup = out["site_id"].duplicated(keep="first").to_numpy(bool)
    note(dup, [f"duplicate site_id {s!r} (first occurrence kept)" for s in out["site_id"]])
    again = out["site_id"].isin(list(taken_ids)).to_numpy(bool)
    note(again, [f"duplicate site_id {s!r} already loaded from an earlier file"
                 for s in out["site_id"]])

    bad = np.array([bool(r) for r in reasons], dtype=bool)
    rejects = pd.DataFrame({
        "file": pd.Series([origin] * int(bad.sum()), dtype="string"),
        "line": line[bad].astype(np.int64),
        "site_id": out["site_id"][bad].to_numpy(),
        "name": out["name"][bad].to_numpy(),
        "reason": ["; ".join(reasons[i]) for i in np.flatnonzero(bad)],
    })
    sites = out.loc[~bad].reset_index(drop=True).astype(RESOURCE_COLUMNS)
    return LoadResult(sites, rejects, _summary([origin], n, sites, rejects))


def _summary(files, n_read, sites, rejects) -> dict:
    reasons: dict[str, int] = {}
    for r in rejects["reason"]:
        for part in str(r).split("; "):
            key = part.split(":")[0].split(" ")[0:2]
            reasons[" ".join(key)] = reasons.get(" ".join(key), 0) + 1
    return {
        "files": [str(f) for f in files],
        "read": int(n_read),
        "loaded": int(len(sites)),
        "rejected": int(len(rejects)),
        "by_kind": {k: int(v) for k, v in sites["kind"].value_counts().items()},
        "reasons": reasons,
    }


def load_resources(path_or_paths, *, source: str | None = None, boundary=None) -> LoadResult:
    """Load one or several resource files (CSV / GeoJSON) into the canonical schema.

    Parameters
    ----------
    path_or_paths : str, Path or sequence of them
        ``.csv`` (header row; line numbers count the header as line 1) or ``.geojson``
        (Point features; "line" is the feature number, 1-based).
    source : str, optional
        ``source`` for rows that have none (default: the file's stem).
    boundary : shapely geometry, optional
        Study area (swapped-coordinates check).

    Returns
    -------
    LoadResult
        Sites from all files (``site_id`` unique across files; later duplicates rejected).

    Raises
    ------
    FileNotFoundError
        A file does not exist.
    ValueError
        Wrong file type, unreadable GeoJSON, or required columns missing (listing those found).
    """
    paths = [path_or_paths] if isinstance(path_or_paths, str | Path) else list(path_or_paths)
    if not paths:
        raise ValueError("path_or_paths is empty: give at least one resource file")
    results = []
    taken: set = set()
    for p in paths:
        p = Path(p)
        res = validate_resources(_read_file(p), origin=str(p), source=source, taken_ids=taken,
                                 boundary=boundary)
        taken.update(res.sites["site_id"].tolist())
        results.append(res)
    sites = pd.concat([r.sites for r in results], ignore_index=True)
    rejects = pd.concat([r.rejects for r in results], ignore_index=True)
    n_read = sum(r.summary["read"] for r in results)
    sites = sites.astype(RESOURCE_COLUMNS) if len(sites) else empty_sites()
    return LoadResult(sites, rejects, _summary(paths, n_read, sites, rejects))
