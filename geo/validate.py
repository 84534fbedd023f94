"""Row validation and value normalisation for incident exports.

Input is a frame of raw text (every cell a string, blanks as ``""``) plus the column choice of
:func:`geo.presets.resolve_columns`. Output is the canonical columns for every row and, per
row, the reasons it cannot be used. Each check is one vectorised mask; reason strings are only
built for the rows that fail, so a clean million-row file costs no per-row Python.

Reasons (several may apply to one row, joined by ``"; "``): missing date, unparsable date,
future date, date before 1900, missing / non-numeric latitude or longitude, latitude or
longitude out of range, (0, 0), latitude/longitude swapped, outside the study area (only when
``drop_outside``; otherwise the row is kept and flagged ``in_study_area = False``).

Values: booleans accept TRUE/FALSE, T/F, Y/N, yes/no, 1/0 (any case); NA, N/A, null, unknown
and blank mean unknown. Dates accept ISO 8601 (a trailing UTC offset is dropped, keeping the
local wall-clock time), ``MM/DD/YYYY[ HH:MM[:SS][ AM/PM]]`` and ``YYYY/MM/DD[ HH:MM[:SS]]``; a
value without a time of day has ``time_precision = "day"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from geo.schema import SOURCES
from geo.textdates import _text_dates, parse_datetimes  # noqa: F401  (re-exported)
from geo.textparse import stripped_or_missing, to_float
from geo.values import (  # noqa: F401  (re-exported: the one yes/no parser lives here too)
    _NA,
    _SEX,
    _age_rule,
    _clean,
    _coded,
    _distinct,
    _isin,
    _lookup,
    _naloxone_rule,
    _outcome_rule,
    _source_rule,
    age_to_band,
    normalize_naloxone,
    normalize_outcome,
    normalize_source,
    parse_bool,
)

_PRECISIONS = ("minute", "hour", "day")

__all__ = [
    "ValidationResult",
    "validate_rows",
    "parse_datetimes",
    "parse_bool",
    "normalize_outcome",
    "normalize_naloxone",
    "normalize_source",
    "age_to_band",
]

@dataclass
class ValidationResult:
    """Canonical values for every input row, and why some rows cannot be used.

    Attributes
    ----------
    records : DataFrame
        Canonical columns (no ``event_id``/``n_sources``/``sources``/``h3``), one row per input
        row, same index as the input.
    reasons : Series of str
        ``""`` for usable rows, otherwise the reasons joined by ``"; "``.
    unrecognised : dict
        Column → number of values not understood and read as unknown.
    """

    records: pd.DataFrame
    reasons: pd.Series
    unrecognised: dict
    #: text dates only: rows with a time of day, and whether any of them is not at midnight
    #: (a streaming ingest decides "a date-only export written with 00:00 times" per file)
    n_clock: int = 0
    off_midnight: bool = False
    #: rows with at least one reason (``reasons != ""``)
    bad: np.ndarray | None = None
    #: column → (code per row, Arrow labels): columns whose values are ``labels[codes]``
    coded: dict = field(default_factory=dict)


def _labels(values) -> pa.Array:
    """Object array of str/None → Arrow text (pandas' storage type, so never cast again)."""
    return pa.array(values, pa.large_string(), from_pandas=True)


def _text_array(values, index, codes=None) -> pd.Series:
    """Object array of str/None (``values[codes]`` when codes are given: a label per distinct
    value; ``values`` may be Arrow labels already) → Arrow-backed ``string`` Series (no
    per-value Python)."""
    arr = values if isinstance(values, pa.Array) else _labels(values)
    if codes is not None:
        codes = np.asarray(codes)
        one = codes.size and codes.min() == codes.max()
        arr = _repeated(arr[int(codes[0])].as_py(), codes.size) if one else arr.take(
            pa.array(codes))
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index)


def _repeated(label: str | None, n: int) -> pa.Array:
    """``n`` times one label as Arrow ``large_string`` (what ``take`` gives, built directly)."""
    if label is None:
        return pa.nulls(n, pa.large_string())
    data = label.encode()
    offsets = np.arange(n + 1, dtype=np.int64) * len(data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def _number(s: pd.Series):
    """(text for blank checks and messages, float values) of a text or numeric column.

    The text is an object array or the cleaned text's array (read only where a value is not a
    number: :func:`_texts`)."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        v = s.to_numpy(dtype=float, na_value=np.nan)
        txt = np.where(np.isnan(v), "", None).astype(object)  # None: "use the number itself"
        return txt, v
    t = _clean(s)
    return t.array, to_float(t)


def _texts(txt, idx: np.ndarray) -> np.ndarray:
    """The texts at positions ``idx`` (object array) of a :func:`_number` text."""
    if isinstance(txt, np.ndarray):
        return txt[idx]
    return np.asarray(txt.take(idx), dtype=object)


def _coord(raw: pd.DataFrame, colmap: dict[str, str]):
    pair = colmap.get("latlon")
    if "lat" in colmap and "lon" in colmap:
        # ``--map lat=X --map lon=X``: one column holding "lat,lon"
        pair = colmap["lat"] if colmap["lat"] == colmap["lon"] else None
    if pair is not None:
        parts = _clean(raw[pair]).str.split(r"[,;\s]+", n=1, regex=True, expand=True)
        parts = parts.reindex(columns=[0, 1]).fillna("")
        lat_txt, lon_txt = _clean(parts[0]), _clean(parts[1])
        return lat_txt.array, lon_txt.array, to_float(lat_txt), to_float(lon_txt)
    lat_txt, lat = _number(raw[colmap["lat"]])
    lon_txt, lon = _number(raw[colmap["lon"]])
    return lat_txt, lon_txt, lat, lon


def _missing_text(txt: np.ndarray, value: np.ndarray) -> np.ndarray:
    """True where a coordinate is blank or a "not available" marker (:data:`_NA`, any case)."""
    out = np.zeros(len(txt), dtype=bool)
    todo = np.flatnonzero(~np.isfinite(value))  # only values that are not numbers are looked at
    if todo.size:
        low = [str(t).strip().lower() if t is not None else "#" for t in _texts(txt, todo)]
        out[todo] = np.isin(np.asarray(low, dtype=object), list(_NA))
    return out


def _inside(boundary, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    ok = np.isfinite(lat) & np.isfinite(lon)
    out = np.zeros(lat.size, dtype=bool)
    shapely.prepare(boundary)
    out[ok] = shapely.contains_xy(boundary, lon[ok], lat[ok])  # shapely is (x=lng, y=lat)
    return out


def validate_rows(
    raw: pd.DataFrame,
    colmap: dict[str, str],
    *,
    source: str | None = None,
    default_source: str | None = None,
    boundary=None,
    drop_outside: bool = False,
    now: pd.Timestamp | None = None,
    midnight_day: bool | None = None,
) -> ValidationResult:
    """Turn raw text rows into canonical values and per-row rejection reasons.

    Parameters
    ----------
    raw : DataFrame
        Input rows as text. Never mutated.
    colmap : dict
        canonical key → column of ``raw`` (from :func:`geo.presets.resolve_columns`).
    source : str, optional
        Source for rows without one (``--source``).
    default_source : str, optional
        The preset's default source, used when neither a column nor ``source`` gives one.
    boundary : shapely (Multi)Polygon, optional
        Study area in WGS84 (lng, lat).
    drop_outside : bool
        Reject rows outside the study area instead of flagging them.
    now : Timestamp, optional
        "Now" for the future-date check (default: the current local time).
    midnight_day : bool, optional
        Text dates whose times are all 00:00 (at least two) are a date-only export written
        with 00:00 times: ``None`` decides from these rows, ``True``/``False`` takes the
        caller's decision for the whole file (a streaming ingest sees one chunk at a time).
        Typed timestamps (Parquet, Excel date-times) are never made date-only.
    """
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    n = len(raw)
    now = pd.Timestamp.now() if now is None else pd.Timestamp(now)
    checks: list[tuple[np.ndarray, callable]] = []
    unrec: dict[str, int] = {}

    # --- date
    date_col = raw[colmap["occurred_at"]]
    ts, has_time, blank = parse_datetimes(
        raw[colmap["occurred_at"]],
        raw[colmap["occurred_time"]] if "occurred_time" in colmap else None,
    )
    tsv = ts.to_numpy()
    nat = np.isnat(tsv)
    checks.append((blank, lambda i: "missing date"))
    checks.append((nat & ~blank, lambda i: f"unparsable date {str(date_col.iloc[i]).strip()!r}"))
    day = ~has_time
    clock = has_time & ~nat
    typed = "occurred_time" not in colmap and pd.api.types.is_datetime64_any_dtype(date_col)
    n_clock = 0 if typed else int(clock.sum())
    off_midnight = bool(n_clock) and bool(
        np.any(tsv[clock] != tsv[clock].astype("datetime64[D]")))
    all_midnight = (n_clock >= 2 and not off_midnight) if midnight_day is None else midnight_day
    if all_midnight and not typed:
        day = np.ones(n, dtype=bool)  # a date-only export written with 00:00 times
    future = ~nat & np.where(day, tsv.astype("datetime64[D]") > np.datetime64(now.date()),
                             tsv > np.datetime64(now.to_datetime64(), "us"))
    checks.append((future, lambda i: f"future date {pd.Timestamp(tsv[i])}"))
    old = ~nat & (tsv < np.datetime64("1900-01-01"))
    checks.append((old, lambda i: f"date before 1900 ({pd.Timestamp(tsv[i]).date()})"))
    # precision as codes into _PRECISIONS (minute, hour, day)
    prec = np.where(day, 2, 0).astype(np.intp)
    if "time_precision" in colmap:
        codes, uniq = _distinct(raw[colmap["time_precision"]])
        given = np.asarray(uniq.str.lower().to_numpy(object), dtype=object)
        pick = np.array([_PRECISIONS.index(g) if g in _PRECISIONS else -1 for g in given]
                        + [-1], dtype=np.intp)[codes]  # (code -1: missing)
        prec = np.where(pick >= 0, pick, prec)
    is_day = prec == 2
    if is_day.any():
        tsv = np.where(is_day, tsv.astype("datetime64[D]").astype("datetime64[us]"), tsv)

    # --- location
    lat_txt, lon_txt, lat, lon = _coord(raw, colmap)
    # NA, N/A, null, unknown ... are a missing coordinate, not "not a number"
    lat_blank, lon_blank = _missing_text(lat_txt, lat), _missing_text(lon_txt, lon)
    checks.append((lat_blank, lambda i: "missing latitude"))
    checks.append((lon_blank, lambda i: "missing longitude"))
    lat_nan = ~np.isfinite(lat) & ~lat_blank
    lon_nan = ~np.isfinite(lon) & ~lon_blank
    checks.append((lat_nan, lambda i: f"latitude is not a number: {lat_txt[i] or str(lat[i])!r}"))
    checks.append((lon_nan, lambda i: f"longitude is not a number: {lon_txt[i] or str(lon[i])!r}"))
    fin = np.isfinite(lat) & np.isfinite(lon)
    with np.errstate(invalid="ignore"):
        swapped = fin & (np.abs(lat) > 90) & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
        lat_range = np.isfinite(lat) & (np.abs(lat) > 90) & ~swapped
        lon_range = np.isfinite(lon) & (np.abs(lon) > 180)
    zero = fin & (lat == 0) & (lon == 0)
    inside = np.ones(n, dtype=bool)
    if boundary is not None:
        inside = _inside(boundary, lat, lon)
        swap_in = fin & ~inside & _inside(boundary, lon, lat)
        swapped = swapped | swap_in
    checks.append((zero, lambda i: "location is (0, 0)"))
    # Reasons are joined with "; " (and split on it for the summary): none may contain it.
    checks.append((swapped, lambda i: f"latitude/longitude look swapped (lat={lat[i]}, "
                                      f"lon={lon[i]}), fix the export or --map lat=/lon="))
    checks.append((lat_range, lambda i: f"latitude out of range [-90, 90]: {lat[i]}"))
    checks.append((lon_range, lambda i: f"longitude out of range [-180, 180]: {lon[i]}"))
    usable_loc = fin & ~zero & ~swapped & ~lat_range & ~lon_range
    in_area = np.where(usable_loc, inside, False)
    if boundary is not None and drop_outside:
        checks.append((usable_loc & ~inside, lambda i: "outside the study area"))

    # --- other columns
    # each rule runs once per distinct value (codes: the value of each row); a column the
    # file does not have is one blank value
    def coded(key, rule):
        if key in colmap:
            codes, labels = _coded(raw[colmap[key]], rule)
        else:
            codes, labels = np.zeros(n, np.intp), rule(pd.Series([""], dtype="string"))
            labels = tuple(np.asarray(r) for r in labels)
        if len(labels) > 1:
            unrec[key] = int(np.count_nonzero(labels[1][codes]))
        return codes, labels[0]

    out_codes, outcome = coded("outcome", _outcome_rule)
    nal_codes, nalox = coded("naloxone", _naloxone_rule)
    if "naloxone_doses" in colmap:
        doses = pd.to_numeric(_clean(raw[colmap["naloxone_doses"]]), errors="coerce")
        doses = doses.where((doses >= 0) & (doses == np.floor(doses))).astype("Int64")
        dv = doses.to_numpy(dtype=float, na_value=np.nan)
        doses = doses.to_numpy()
    else:  # all missing (what the missing Int64 column gives as a NumPy array)
        doses = dv = np.full(n, np.nan)
    nalox = np.append(nalox, ["yes", "no"]).astype(object)  # the doses decide "unknown"
    if "naloxone_doses" in colmap:
        unknown = (nalox == "unknown")[nal_codes]
        nal_codes = np.where(unknown & (dv > 0), len(nalox) - 2,
                             np.where(unknown & (dv == 0), len(nalox) - 1, nal_codes))
    src_codes, src = coded("source", _source_rule)
    src[src == ""] = source or default_source or "other"
    sex_codes, sex = coded("sex", lambda c: (
        _lookup(c.str.lower(), lambda v: _SEX.get(v, "unknown")),))
    age_codes, age = coded("age_band", _age_rule)

    def text(key):
        if key not in colmap:
            return pd.Series(pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())),
                             index=raw.index)
        return stripped_or_missing(raw[colmap[key]])

    labels = {"time_precision": (prec, _labels(np.array(_PRECISIONS, dtype=object))),
              "outcome": (out_codes, _labels(outcome)), "naloxone": (nal_codes, _labels(nalox)),
              "source": (src_codes, _labels(src)), "age_band": (age_codes, _labels(age)),
              "sex": (sex_codes, _labels(sex))}
    cols = {k: _text_array(lab, raw.index, codes) for k, (codes, lab) in labels.items()}
    records = pd.DataFrame(
        {
            "incident_id": text("incident_id"),
            "occurred_at": pd.Series(tsv, index=raw.index).astype("datetime64[us]"),
            "time_precision": cols["time_precision"],
            "lat": lat,
            "lon": lon,
            "outcome": cols["outcome"],
            "naloxone": cols["naloxone"],
            "naloxone_doses": doses,
            "source": cols["source"],
            "agency": text("agency"),
            "suspected_drug": text("suspected_drug"),
            "age_band": cols["age_band"],
            "sex": cols["sex"],
            "location_precision": text("location_precision"),
            "area": text("area"),  # stripped; blank → missing
            "in_study_area": pd.array(in_area, dtype="boolean"),
        },
        index=raw.index,
    )
    bad_any = np.zeros(n, dtype=bool)
    for mask, _ in checks:
        bad_any |= mask
    reasons = np.full(n, "", dtype=object)
    for i in np.flatnonzero(bad_any):
        reasons[i] = "; ".join(msg(i) for mask, msg in checks if mask[i])
    return ValidationResult(records, pd.Series(reasons, index=raw.index, dtype=object), unrec,
                            n_clock, off_midnight, bad_any, labels)
