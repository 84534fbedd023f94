"""Importer for SAMHSA treatment-locator exports (FindTreatment.gov shape) → canonical sites.

Accepted shapes
---------------
* **JSON** as the locator API returns it: ``{"rows": [...]}`` (or a bare list) of facilities
  with ``name1``, ``name2``, ``street1``, ``street2``, ``city``, ``state``, ``zip``, ``phone``,
  ``latitude``/``longitude`` **as strings**, optional ``_irow``, and ``services``: a list of
  coded entries — each a code string (``"MU"``) or an object whose ``f2`` (or ``code``/
  ``codes``) holds one or more codes separated by spaces, commas or semicolons.
* **CSV** with the same name/address/coordinate columns and either a ``codes`` (or
  ``services``) column holding a code string such as ``"MU BU MD SS"``, or one indicator column
  per code (``MU``, ``BU`` … with 1/0 or Y/N).

Code mapping (SAMHSA locator service codes)
-------------------------------------------
``MU`` → ``methadone``; ``BU`` → ``buprenorphine``; ``NU`` → ``naltrexone``; ``MD`` →
``medicaid``; ``SS`` → ``sliding_fee``. ``SF`` is **self-pay (cash)**, *not* a sliding fee
scale, and sets nothing. Subtype: ``otp`` if ``OTP`` or ``MU``, else ``buprenorphine`` if
``BU``, else ``naltrexone`` if ``NU``. A facility with none of ``MU/BU/NU/OTP`` offers no
medication for opioid use disorder and is rejected with that reason (never dropped silently).
Address and phone are not carried into the canonical output (not needed for access); the
facility name is (``name1`` plus ``name2`` when given).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.validate import parse_bool
from layers.site_files import check_readable, public_columns, read_site_table
from layers.sites import LoadResult, _summary, validate_resources

__all__ = ["MEDICATION_CODES", "read_samhsa", "samhsa_to_sites", "parse_codes"]

#: Codes that make a facility a MOUD site.
MEDICATION_CODES = ("MU", "BU", "NU", "OTP")
_FLAG_CODES = {"methadone": "MU", "buprenorphine": "BU", "naltrexone": "NU",
               "medicaid": "MD", "sliding_fee": "SS"}
_SPLIT = re.compile(r"[\s,;|]+")
_CHECK = "x"  # a ticked indicator column


def parse_codes(text) -> set[str]:
    """``"MU; BU, MD SS"`` → ``{"MU", "BU", "MD", "SS"}`` (upper-cased)."""
    if text is None or (not isinstance(text, str) and pd.isna(text)):
        return set()
    return {c.upper() for c in _SPLIT.split(str(text)) if c}


def _entry_codes(services) -> set[str]:
    codes: set[str] = set()
    if services is None or (isinstance(services, float) and np.isnan(services)):
        return codes
    if isinstance(services, str):
        return parse_codes(services)
    for e in services:
        if isinstance(e, str):
            codes |= parse_codes(e)
        elif isinstance(e, dict):
            for key in ("f2", "code", "codes"):
                if key in e:
                    codes |= parse_codes(e[key])
        else:
            raise ValueError(f"services entry {e!r} is neither a code string nor an object")
    return codes


def _read(path: Path) -> tuple[pd.DataFrame, list[set[str]]]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"SAMHSA export {path} is not valid JSON ({type(exc).__name__}); "
                             "download it again or use the CSV export") from None
        rows = doc.get("rows") if isinstance(doc, dict) else doc
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a list of facilities or an object with 'rows'")
        df = pd.DataFrame(rows)
        df["_line"] = np.arange(1, len(df) + 1)  # record number
        if "services" not in df.columns:
            raise ValueError(f"{path}: facilities have no 'services' list; found "
                             f"{public_columns(df.columns)}")
        codes = [_entry_codes(s) for s in df["services"].tolist()]
    elif suffix in (".csv", ".tsv", ".txt", ".xlsx"):
        df = read_site_table(path, what="SAMHSA export")  # true line numbers; ragged → reject
        low = {c.lower(): c for c in df.columns}
        col = low.get("codes") or low.get("services")
        known = set(MEDICATION_CODES) | {"MD", "SS", "SF", "MC", "PI", "PA"}
        ind = [c for c in df.columns if c.upper() in known]
        if col is not None:
            codes = [parse_codes(v) for v in df[col].tolist()]
        elif ind:
            # yes/no words by the one parser; SAMHSA's check-mark "X" also means offered
            yes = {c: (parse_bool(df[c])[0] == "yes")
                   | (df[c].fillna("").str.strip().str.lower() == _CHECK).to_numpy()
                   for c in ind}
            codes = [{c.upper() for c in ind if yes[c][i]} for i in range(len(df))]
        else:
            raise ValueError(f"{path}: no 'codes'/'services' column and no code columns "
                             f"(MU, BU, NU, OTP, MD, SS …); found {public_columns(df.columns)}")
    else:
        raise ValueError(f"SAMHSA export {path} must be .json, .csv or .xlsx, got {suffix!r}")
    return df, codes


def samhsa_to_sites(df: pd.DataFrame, codes: list[set[str]], *, origin: str = "<samhsa>",
                    as_of: str | None = None, boundary=None) -> LoadResult:
    """Map locator rows plus their code sets to canonical sites (see module docstring)."""
    low = {str(c).lower(): c for c in df.columns}
    for need in ("name1", "latitude", "longitude"):
        if need not in low:
            raise ValueError(f"SAMHSA export {origin} is missing column {need!r}; found "
                             f"{public_columns(df.columns)}")
    n = len(df)
    line = df["_line"].to_numpy() if "_line" in df.columns else np.arange(1, n + 1)
    name1 = df[low["name1"]].fillna("").astype(str).str.strip()
    name2 = (df[low["name2"]].fillna("").astype(str).str.strip() if "name2" in low
             else pd.Series("", index=df.index))
    name = np.where(name2 != "", name1 + " - " + name2, name1)
    irow = df[low["_irow"]].astype(str) if "_irow" in low else pd.Series(line, index=df.index)
    subtype = []
    for c in codes:
        if "OTP" in c or "MU" in c:
            subtype.append("otp")
        elif "BU" in c:
            subtype.append("buprenorphine")
        elif "NU" in c:
            subtype.append("naltrexone")
        else:
            subtype.append(None)
    raw = pd.DataFrame({
        "site_id": [f"samhsa-{x}" for x in irow],
        "name": name,
        "kind": "treatment",
        "subtype": subtype,
        "lat": df[low["latitude"]].to_numpy(),
        "lon": df[low["longitude"]].to_numpy(),
        **{flag: [code in c for c in codes] for flag, code in _FLAG_CODES.items()},
        "source": "samhsa_locator",
        "as_of": as_of,
        "_line": line,
    })
    if "_row_error" in df.columns:
        raw["_row_error"] = df["_row_error"].to_numpy(object)
    no_moud = np.array([s is None for s in subtype], dtype=bool)
    if "_row_error" in raw.columns:  # a ragged line is rejected for that, not for its codes
        no_moud &= raw["_row_error"].isna().to_numpy()
    res = validate_resources(raw.loc[~no_moud], origin=origin, source="samhsa_locator",
                             boundary=boundary)
    own = pd.DataFrame({
        "file": pd.Series([origin] * int(no_moud.sum()), dtype="string"),
        "line": line[no_moud].astype(np.int64),
        "site_id": raw["site_id"][no_moud].to_numpy(),
        "name": raw["name"][no_moud].to_numpy(),
        "reason": "no medication code (MU, BU, NU or OTP): not a MOUD site",
    })
    rejects = pd.concat([res.rejects, own], ignore_index=True).sort_values(
        "line", kind="stable").reset_index(drop=True)
    return LoadResult(res.sites, rejects, _summary([origin], n, res.sites, rejects))


def read_samhsa(path, *, as_of: str | None = None, boundary=None) -> LoadResult:
    """Read a SAMHSA treatment-locator export (JSON or CSV) into canonical treatment sites.

    Parameters
    ----------
    path : str or Path
    as_of : str, optional
        Date of the export (ISO), stored in ``as_of``.
    boundary : shapely geometry, optional
        Study area, for the swapped-coordinates check (:func:`layers.sites.swapped_locations`).

    Returns
    -------
    LoadResult
        Sites with ``kind = "treatment"``; rejects for bad coordinates and facilities without
        a medication code.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, wrong type, or missing columns (listing those found).
    """
    p = check_readable(path, "SAMHSA export")
    df, codes = _read(p)
    return samhsa_to_sites(df, codes, origin=str(p), as_of=as_of, boundary=boundary)
