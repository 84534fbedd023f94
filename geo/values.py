"""Value normalisation for incident and resource exports: yes/no, outcome, naloxone, source and
age words to the canonical values (:mod:`geo.validate` checks the rows).

Booleans accept TRUE/FALSE, T/F, Y/N, yes/no, 1/0 (any case); NA, N/A, null, unknown and blank
mean unknown. Each function is vectorised: one mask per rule, lookups once per distinct value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.textparse import arrow_codes, arrow_text
from geo.textparse import clean_text as _clean

__all__ = ["parse_bool", "normalize_outcome", "normalize_naloxone", "normalize_source",
           "age_to_band"]

_TRUE = {"true", "t", "y", "yes", "1", "1.0"}
_FALSE = {"false", "f", "n", "no", "0", "0.0"}
_NA = {"", "na", "n/a", "nan", "null", "none", "unknown", "unk", "u", "-", "?", "not recorded"}

_FATAL = {"fatal", "death", "dead", "deceased", "died", "doa", "fatal overdose",
          "4212013", "4212015", "4212017", "4212019"}  # NEMSIS eDisposition.12 dead at scene
_NONFATAL = {"nonfatal", "non-fatal", "non fatal", "not fatal", "survived", "alive",
             "non-fatal overdose", "nonfatal overdose"}
_SOURCE_ALIASES = {
    "ems": "ems", "emergency medical services": "ems", "fire": "ems", "fire/ems": "ems",
    "ems/fire": "ems", "ambulance": "ems",
    "police": "police", "law enforcement": "police", "le": "police", "pd": "police",
    "sheriff": "police", "law": "police",
    "hospital": "hospital", "ed": "hospital", "er": "hospital",
    "emergency department": "hospital", "hospital ed": "hospital",
    "odmap": "odmap", "other": "other",
}
_SEX = {"m": "male", "male": "male", "f": "female", "female": "female",
        "x": "other", "other": "other", "nonbinary": "other", "non-binary": "other"}
_AGE_EDGES = [0, 18, 25, 35, 45, 55, 65, 200]
_AGE_LABELS = ["0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]


def _distinct(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(code per row, the distinct cleaned values) of a column: rules run once per value.

    Arrow-backed text is cleaned per distinct raw value (cleaning is element-wise)."""
    data = arrow_text(s)
    if data is None:
        codes, uniq = pd.factorize(_clean(s))
        return codes, pd.Series(uniq, dtype="string")
    raw_codes, raw = arrow_codes(data)
    codes, uniq = pd.factorize(_clean(pd.Series(raw, dtype=s.dtype)))
    return codes[raw_codes], pd.Series(uniq, dtype="string")


def _coded(s: pd.Series, rule) -> tuple[np.ndarray, tuple]:
    """(code per row, ``rule`` of each distinct value): ``rule`` is vectorised and element-wise
    over cleaned text, so ``result[codes]`` is ``rule(_clean(s))``."""
    codes, uniq = _distinct(s)
    return codes, tuple(np.asarray(r) for r in rule(uniq))


def _per_value(s: pd.Series, rule) -> tuple[np.ndarray, ...]:
    """``rule(_clean(s))``, computed once per distinct value."""
    codes, res = _coded(s, rule)
    return tuple(r[codes] for r in res)


def _isin(low: pd.Series, values) -> np.ndarray:
    """Membership of cleaned text in a set of values (a hash lookup on Arrow strings)."""
    return low.isin(list(values)).to_numpy(dtype=bool)


def _lookup(low: pd.Series, fn) -> np.ndarray:
    """``fn`` of every value, called once per distinct value (object array)."""
    codes, uniq = pd.factorize(low)
    table = np.array([fn(v) for v in uniq] + [fn("")], dtype=object)
    return table[codes]  # codes -1 (missing) take fn("")


def parse_bool(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Yes/no text → ``"yes"``/``"no"``/``"unknown"`` and a mask of unrecognised values.

    The one yes/no parser of the project (incident flags, resource flags, siting filters).
    Case and surrounding blanks are ignored. True: ``true t yes y 1 1.0`` (and Python/NumPy
    ``True``); false: ``false f no n 0 0.0`` (and ``False``); unknown, not an error: blank,
    missing, ``na n/a nan null none unknown unk u - ? "not recorded"``. Anything else is
    ``"unknown"`` *and* flagged in the mask, so callers can report it.

    Parameters
    ----------
    s : pandas.Series
        Values of any dtype (text, bool, nullable boolean, 0/1 numbers).

    Returns
    -------
    labels : numpy.ndarray of object
        ``"yes"``, ``"no"`` or ``"unknown"`` per row.
    bad : numpy.ndarray of bool
        True where the value was not recognised.
    """
    return _per_value(s, _bool_rule)


def _bool_rule(clean: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    low = clean.str.lower()
    out = np.full(len(low), "unknown", dtype=object)
    yes = _isin(low, _TRUE)
    no = _isin(low, _FALSE)
    out[yes] = "yes"
    out[no] = "no"
    bad = ~(yes | no | _isin(low, _NA))
    return out, bad


def normalize_outcome(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text → fatal / nonfatal / unknown; booleans read as "fatal?" (yes → fatal)."""
    return _per_value(s, _outcome_rule)


def _outcome_rule(clean: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    low = clean.str.lower()
    out = np.full(len(low), "unknown", dtype=object)
    fatal = _isin(low, _FATAL | _TRUE) | low.str.contains("dead", regex=False).to_numpy(bool)
    nonfatal = _isin(low, _NONFATAL | _FALSE)
    out[nonfatal] = "nonfatal"
    out[fatal] = "fatal"
    bad = ~(fatal | nonfatal | _isin(low, _NA))
    return out, bad


def normalize_naloxone(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Booleans, or RxNorm code lists (NEMSIS eMedications.03: RxCUI 7242 = naloxone)."""
    return _per_value(s, _naloxone_rule)


def _naloxone_rule(clean: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    out, bad = _bool_rule(clean)
    if bad.any():
        low = clean.str.lower()
        codes = low.str.fullmatch(r"[\d\s|,;]+").fillna(False).to_numpy(bool)
        has_7242 = low.str.contains(r"(?:^|\D)7242(?:\D|$)", regex=True).fillna(False)
        named = low.str.contains("naloxone|narcan", regex=True).fillna(False).to_numpy(bool)
        yes = bad & ((codes & has_7242.to_numpy(bool)) | named)
        no = bad & codes & ~yes
        out[yes] = "yes"
        out[no] = "no"
        bad = bad & ~(yes | no)
    return out, bad


def normalize_source(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text → one of :data:`geo.schema.SOURCES`; blank → ``""`` (to be filled), other → other."""
    return _per_value(s, _source_rule)


def _source_rule(clean: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    low = clean.str.lower()
    out = _lookup(low, lambda v: _SOURCE_ALIASES.get(v, "other") if v else "")
    bad = (out == "other") & (low != "other").to_numpy(bool)
    return out, bad


def age_to_band(s: pd.Series) -> np.ndarray:
    """Exact ages become bands (``"25-34"``); text bands pass through; blank → missing."""
    return _per_value(s, _age_rule)[0]


def _age_rule(txt: pd.Series) -> tuple[np.ndarray]:
    num = pd.to_numeric(txt, errors="coerce").to_numpy(float)
    out = txt.where(txt != "").to_numpy(dtype=object)
    ok = np.isfinite(num) & (num >= 0) & (num < 130)
    band = np.searchsorted(_AGE_EDGES, num[ok], "right") - 1
    out[ok] = np.asarray(_AGE_LABELS, dtype=object)[band]
    out[np.isfinite(num) & ~ok] = None
    return (out,)
