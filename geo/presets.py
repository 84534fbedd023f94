"""Column presets: how the exports gapmap receives map onto the canonical incident columns.

A preset is a mapping ``canonical column → source column name``, plus the source to assume
when the file has no source column. Besides the canonical columns of :mod:`geo.schema`, two
helper keys are understood by :mod:`geo.validate`:

``occurred_time``
    a separate time-of-day column joined to the date column (ODMAP-style exports);
``latlon``
    one ``"lat,lon"`` text column split into ``lat`` and ``lon`` (NEMSIS ``eScene.11``).

Presets
-------
``canonical``
    the canonical column names themselves (what ``gapmap`` writes and the sample data uses).
``odmap``
    an ODMAP-style export: ``Date``, ``Time``, ``Latitude``, ``Longitude``,
    ``Fatal/Non-Fatal``, ``Naloxone Administered``, ``Naloxone Doses``, ``Suspected Drug``,
    ``Submitting Agency``, ``Agency Type``.
``nemsis``
    a NEMSIS v3-style EMS export with element ids as headers: ``eRecord.01`` (id),
    ``eTimes.03`` (unit notified: the event time), ``eScene.11`` (scene GPS ``"lat,lon"``),
    ``eMedications.03`` (RxNorm codes; naloxone = RxCUI 7242), ``eDisposition.12``
    (disposition; *dead at scene* → fatal), ``eResponse.01`` (agency).
``open_data``
    a generic open-data export (Tempe AZ-like): ``incident_date``, ``latitude``,
    ``longitude``, ``narcan_given`` (TRUE/FALSE/NA), optional ``gender``.

Auto-detection picks the preset whose required columns are all present and which matches the
most columns; if none fits, a few common aliases (``lat``/``latitude``/``y``, ``date``, ...)
are tried before giving up with an error that lists the columns found and the ``--map`` to use.

References
----------
NEMSIS v3.5 data dictionary, https://nemsis.org/technical-resources/version-3/
ODMAP, Washington/Baltimore HIDTA, https://www.odmap.org/
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geo.schema import INCIDENT_COLUMNS

__all__ = [
    "Preset",
    "PRESETS",
    "HELPER_KEYS",
    "MAPPABLE",
    "detect_preset",
    "resolve_columns",
]

#: Keys beyond the canonical columns that a mapping may use.
HELPER_KEYS = ("occurred_time", "latlon")

#: Canonical columns an input may provide (the rest are computed by ingest).
_COMPUTED = ("in_study_area", "event_id", "n_sources", "sources", "h3")
MAPPABLE = tuple(c for c in INCIDENT_COLUMNS if c not in _COMPUTED) + HELPER_KEYS


@dataclass(frozen=True)
class Preset:
    """One export layout.

    Parameters
    ----------
    name : str
    columns : dict
        canonical (or helper) key → source column name (matched case-insensitively).
    default_source : str or None
        Source of every row when the file has no source column and none is given.
    """

    name: str
    columns: dict[str, str] = field(default_factory=dict)
    default_source: str | None = None

    def has_location(self, found: dict[str, str]) -> bool:
        return ("lat" in found and "lon" in found) or "latlon" in found


PRESETS: dict[str, Preset] = {
    "canonical": Preset("canonical", {c: c for c in MAPPABLE if c not in HELPER_KEYS}),
    "odmap": Preset(
        "odmap",
        {
            "incident_id": "ODMAP ID",
            "occurred_at": "Date",
            "occurred_time": "Time",
            "lat": "Latitude",
            "lon": "Longitude",
            "outcome": "Fatal/Non-Fatal",
            "naloxone": "Naloxone Administered",
            "naloxone_doses": "Naloxone Doses",
            "suspected_drug": "Suspected Drug",
            "agency": "Submitting Agency",
            "source": "Agency Type",
        },
        default_source="odmap",
    ),
    "nemsis": Preset(
        "nemsis",
        {
            "incident_id": "eRecord.01",
            "occurred_at": "eTimes.03",
            "latlon": "eScene.11",
            "naloxone": "eMedications.03",
            "outcome": "eDisposition.12",
            "agency": "eResponse.01",
            "age_band": "ePatient.15",
            "sex": "ePatient.13",
        },
        default_source="ems",
    ),
    "open_data": Preset(
        "open_data",
        {
            "incident_id": "incident_number",
            "occurred_at": "incident_date",
            "lat": "latitude",
            "lon": "longitude",
            "naloxone": "narcan_given",
            "sex": "gender",
        },
        default_source=None,
    ),
}

#: Fallback aliases (lower case) tried when no preset fits.
_ALIASES: dict[str, tuple[str, ...]] = {
    "occurred_at": ("occurred_at", "datetime", "date_time", "incident_datetime", "date",
                    "incident_date", "call_date", "event_date", "timestamp", "time"),
    "lat": ("lat", "latitude", "y", "lat_dd", "gps_lat"),
    "lon": ("lon", "lng", "long", "longitude", "x", "lon_dd", "gps_lon"),
    "source": ("source", "agency_type", "source_type"),
    "outcome": ("outcome", "fatal", "fatality", "deceased"),
    "naloxone": ("naloxone", "naloxone_given", "narcan", "narcan_given", "naloxone_administered"),
    "incident_id": ("incident_id", "id", "incident_number", "record_id", "case_id"),
}


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _match(preset_cols: dict[str, str], columns: list[str]) -> dict[str, str]:
    """Canonical key → actual column name in ``columns`` (case/punctuation-insensitive)."""
    lookup = {_norm(c): c for c in columns}
    return {k: lookup[_norm(v)] for k, v in preset_cols.items() if _norm(v) in lookup}


def _has_required(found: dict[str, str], location_given: bool = False) -> bool:
    loc = location_given or ("lat" in found and "lon" in found) or "latlon" in found
    return "occurred_at" in found and loc


def detect_preset(columns: list[str], location_given: bool = False) -> str | None:
    """Name of the preset that best fits a header, or ``None`` if none has date + location.

    ``location_given`` means the input carries its location elsewhere (GeoJSON geometry).
    Ties go to the order of :data:`PRESETS` (``canonical`` first).
    """
    best, best_n = None, 0
    for name, preset in PRESETS.items():
        found = _match(preset.columns, columns)
        if _has_required(found, location_given) and len(found) > best_n:
            best, best_n = name, len(found)
    return best


def _missing_error(columns: list[str], found: dict[str, str], preset: str | None) -> ValueError:
    need = ["occurred_at", "lat", "lon"]
    missing = [c for c in need
               if c not in found and not (c in ("lat", "lon") and "latlon" in found)]
    hint = " ".join(f"--map {c}=<COLUMN>" for c in missing)
    where = f"with preset {preset!r}" if preset else "with any preset"
    return ValueError(
        f"input is missing required column(s) {missing} {where}; columns found: {list(columns)}. "
        f"Map them with {hint} (or choose --preset from {sorted(PRESETS)})."
    )


def resolve_columns(
    columns: list[str],
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
    *,
    location_given: bool = False,
) -> tuple[str, dict[str, str], str | None]:
    """Decide which source column feeds each canonical column.

    Parameters
    ----------
    columns : list of str
        Header of the input.
    preset : str, optional
        Preset name; auto-detected when ``None``.
    mapping : dict, optional
        Overrides ``canonical → source column`` (exact column names, as given by ``--map``).
    location_given : bool
        The input has a location outside its columns (GeoJSON point geometry).

    Returns
    -------
    preset_name, columns_map, default_source
        ``preset_name`` is ``"custom"`` when only aliases/overrides were used.

    Raises
    ------
    ValueError
        Unknown preset, unknown canonical key, a mapped column not in the input, or a
        required column (date, location) that cannot be found.
    """
    columns = [str(c) for c in columns]
    mapping = dict(mapping or {})
    for key, col in mapping.items():
        if key not in MAPPABLE:
            raise ValueError(
                f"--map {key}={col}: {key!r} is not a canonical column; "
                f"choose from {list(MAPPABLE)}"
            )
        if col not in columns:
            raise ValueError(
                f"--map {key}={col}: column {col!r} is not in the input; columns found: {columns}"
            )
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    name = preset if preset is not None else detect_preset(columns, location_given)
    if name is not None:
        found = _match(PRESETS[name].columns, columns)
        default_source = PRESETS[name].default_source
    else:
        name, default_source = "custom", None
        lookup = {_norm(c): c for c in columns}
        found = {}
        for key, aliases in _ALIASES.items():
            for a in aliases:
                if _norm(a) in lookup and lookup[_norm(a)] not in found.values():
                    found[key] = lookup[_norm(a)]
                    break
    for key, col in mapping.items():  # overrides win; a mapped lat/lon replaces a latlon pair
        found = {k: v for k, v in found.items() if v != col or k == key or k in mapping}
        found[key] = col
        if key in ("lat", "lon"):  # lat and lon mapped to one column: a "lat,lon" pair
            found.pop("latlon", None)
        if key == "latlon":
            found.pop("lat", None)
            found.pop("lon", None)
    if not _has_required(found, location_given):
        raise _missing_error(columns, found, preset)
    return name, found, default_source
