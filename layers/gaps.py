"""The gap score: where overdose burden meets poor access to naloxone, SSPs and treatment.

Definition (our documented choice, not a published index)
---------------------------------------------------------
Every cell gets component scores in [0, 1] (columns ``score_<component>``):

* burden components — ``burden``: overdoses in the last 12 months as a share of the busiest
  cell's count (``count_12m / max count_12m``), so one overdose in a quiet rural cell stays
  small; ``trend``: that share times the trend word (rising 1, stable 0.5, falling or none 0),
  so a rising trend lifts busy cells, not single events; ``hotspot``: 1 if the optional Gi*
  class column says hot, else 0;
* access-deficit components — ``<group>``: the *percentile rank* (pandas ``rank(pct=True)``,
  ties averaged) among the analysis cells of the distance from the cell centre to the nearest
  site of each access group (:data:`layers.access.DEFAULT_GROUPS`: naloxone, 24/7 naloxone,
  syringe services, any MOUD, Medicaid buprenorphine); farther ranks higher, no site ranks top.

``burden_index`` and ``access_index`` are the weighted means of their components (weights are a
parameter, :data:`DEFAULT_WEIGHTS`), and

    gap_score = burden_index × access_index,

so a cell needs *both* overdoses and poor access to rank high. A cell without overdoses in
the window (``count_12m`` 0) scores exactly 0 however remote it is — also when a Gi* hot-spot
neighbourhood or a trend would otherwise lift its burden index. ``gap_rank`` 1 is the largest
gap (ties broken by recent count, then
input order). ``reason`` says why in words. Trend words come from :mod:`layers.burden`.

Public tier (``suppress_below=k``): counts 1..k-1 enter the score as the one value k/2, so the
published score and rank reveal nothing the suppressed counts hide.

:func:`sensitivity` shows how the ranking moves when each weight is scaled (Spearman rank
correlation of the scores and overlap of the top N).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from layers.access import DEFAULT_GROUPS, AccessGroup, cell_access, cell_e2sfca
from layers.burden import TREND_FALLING, TREND_RISING, burden_table
from layers.gap_reasons import explain_gaps

__all__ = [
    "DEFAULT_WEIGHTS",
    "BURDEN_COMPONENTS",
    "TREND_RISING",
    "TREND_FALLING",
    "burden_table",
    "gap_scores",
    "explain_gaps",
    "sensitivity",
    "build_gap_table",
]

BURDEN_COMPONENTS = ("burden", "trend", "hotspot")
#: Component weights (our choice): burden counts most; nearest naloxone is the main deficit.
DEFAULT_WEIGHTS: dict[str, float] = {
    "burden": 2.0,
    "trend": 0.5,
    "hotspot": 1.0,
    "naloxone": 1.0,
    "naloxone_24_7": 0.5,
    "ssp": 0.5,
    "treatment": 0.5,
    "medicaid_buprenorphine": 0.5,
}
def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    w = dict(weights)
    for k, v in w.items():
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"weight {k!r} must be a non-negative number, got {v}")
    if sum(w.values()) <= 0:
        raise ValueError("weights are all zero: give at least one positive weight")
    return w


def _public_counts(table: pd.DataFrame, suppress_below: int | None) -> pd.Series:
    """Recent counts as the score sees them: 1..k-1 replaced by k/2 in the public tier."""
    c = table["count_12m"].astype(float)
    if suppress_below is not None:
        c = c.mask((c >= 1) & (c < suppress_below), suppress_below / 2.0)
    return c


_TREND_VALUE = {"rising": 1.0, "stable": 0.5}


def _components(table: pd.DataFrame, weights: dict, hot_column: str | None,
                suppress_below: int | None = None) -> pd.DataFrame:
    """Component scores in [0, 1] for every weighted component (see the module docstring)."""
    need = []
    for k, v in weights.items():
        if v == 0:
            continue
        if k == "burden":
            need.append("count_12m")
        elif k == "trend":
            need += ["count_12m", "trend"]
        elif k == "hotspot":
            if hot_column is None:
                continue
            need.append(hot_column)
        else:
            need.append(f"dist_m_{k}")
    missing = sorted({c for c in need if c not in table.columns})
    if missing:
        raise ValueError(
            f"gap score needs column(s) {missing} for the weighted components; found "
            f"{list(table.columns)}. Set those weights to 0 or add the columns "
            "(burden_table, cell_access)."
        )
    out = pd.DataFrame(index=table.index)
    share = None
    if "count_12m" in table.columns:
        c = _public_counts(table, suppress_below)
        top = c.max()
        share = c / top if top > 0 else c * 0.0
    for k, v in weights.items():
        if v == 0:
            continue
        if k == "burden":
            out[k] = share
        elif k == "trend":
            out[k] = share * table["trend"].astype(str).map(_TREND_VALUE).fillna(0.0)
        elif k == "hotspot":
            if hot_column is None:
                continue
            cls = table[hot_column].astype("string").str.lower().str.strip()
            out[k] = cls.str.startswith("hot").fillna(False).astype(float)
        else:
            out[k] = table[f"dist_m_{k}"].astype(float).rank(pct=True)
    return out


def _no_events(table: pd.DataFrame) -> np.ndarray | None:
    """Cells with no overdoses in the window (a hidden count is not zero)."""
    if "count_12m" not in table.columns:
        return None
    c = pd.to_numeric(table["count_12m"]).to_numpy(dtype=float, na_value=np.nan)
    return c == 0


def _combine(pct: pd.DataFrame, weights: Mapping[str, float],
             none: np.ndarray | None = None) -> pd.DataFrame:
    def index(names):
        ws = {k: weights[k] for k in names if k in pct.columns and weights.get(k, 0) > 0}
        tot = sum(ws.values())
        if tot == 0:
            return pd.Series(1.0, index=pct.index)
        return sum(pct[k] * w for k, w in ws.items()) / tot

    b = index([k for k in pct.columns if k in BURDEN_COMPONENTS])
    a = index([k for k in pct.columns if k not in BURDEN_COMPONENTS])
    gap = b * a
    if none is not None:  # no overdoses: no gap, whatever the neighbours or the trend say
        gap = gap.mask(pd.Series(none, index=gap.index), 0.0)
    return pd.DataFrame({"burden_index": b, "access_index": a, "gap_score": gap})


def _rank(score: pd.Series, recent: pd.Series) -> np.ndarray:
    order = np.lexsort((np.arange(len(score)), -recent.to_numpy(float), -score.to_numpy(float)))
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = np.arange(1, len(score) + 1)
    return rank


def gap_scores(
    table: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    *,
    hot_column: str | None = None,
    groups: Sequence[AccessGroup] = DEFAULT_GROUPS,
    suppress_below: int | None = None,
    period: str = "in the last 12 months",
    absent: Mapping[str, str] | None = None,
    explain: bool = True,
) -> pd.DataFrame:
    """Score, rank and explain every cell (see the module docstring for the definition).

    Parameters
    ----------
    table : DataFrame
        One row per cell with ``count_12m`` and ``trend`` (:func:`burden_table`)
        and ``dist_m_<group>`` (:func:`layers.access.cell_access`). Not mutated.
    weights : mapping, optional
        Component → weight ≥ 0 (default :data:`DEFAULT_WEIGHTS`); unknown components are
        access groups whose ``dist_m_<name>`` column must exist.
    hot_column : str, optional
        Gi* class column (values starting with "hot" count as hot spots).
    groups : sequence of AccessGroup
        Labels and reaches used in the reason text.
    suppress_below : int, optional
        Public tier k: counts 1..k-1 are written "fewer than k" in ``reason`` and scored as
        the one value k/2, so the published score reveals nothing the suppressed counts hide.
    period : str
        Words naming the burden window, used in ``reason``.
    absent : mapping, optional
        Group name → the words used when the group has no site (see :func:`explain_gaps`).
    explain : bool
        Write ``reason`` (default); False leaves it out, for a caller that writes its own
        (the products word the published counts, not the scored values).

    Returns
    -------
    DataFrame
        Indexed like ``table``: ``score_<component>`` columns, ``burden_index``,
        ``access_index``, ``gap_score``, ``gap_rank``, ``reason``.
    """
    w = _check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    if suppress_below is not None and (not isinstance(suppress_below, int) or suppress_below < 1):
        raise ValueError(f"suppress_below must be a positive integer, got {suppress_below!r}")
    pct = _components(table, w, hot_column, suppress_below)
    comb = _combine(pct, w, _no_events(table))
    out = pd.concat([pct.add_prefix("score_"), comb], axis=1)
    out["gap_rank"] = _rank(comb["gap_score"], _public_counts(table, suppress_below))
    if explain:
        out["reason"] = explain_gaps(table, w, hot_column=hot_column, groups=groups,
                                     suppress_below=suppress_below, period=period, absent=absent)
    return out


def sensitivity(
    table: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    *,
    factors: Sequence[float] = (0.0, 0.5, 2.0),
    top_n: int = 10,
    hot_column: str | None = None,
    suppress_below: int | None = None,
) -> pd.DataFrame:
    """How the ranking moves when each weight is scaled.

    For every component with a positive weight and every factor, the weight is multiplied by
    the factor (others unchanged) and the score recomputed.

    Returns
    -------
    DataFrame
        One row per (component, factor): ``weight`` (the perturbed value), ``spearman`` (rank
        correlation of perturbed vs base scores over the cells scoring above 0 in either —
        the many zero-burden cells would otherwise inflate it), ``top_overlap`` (share of the
        base top ``top_n`` cells still in the perturbed top ``top_n``), ``entered`` (cells new
        to the top ``top_n``).
    """
    w = _check_weights(DEFAULT_WEIGHTS if weights is None else weights)
    if not isinstance(top_n, int) or top_n < 1:
        raise ValueError(f"top_n must be a positive integer, got {top_n!r}")
    if any((not np.isfinite(f)) or f < 0 for f in factors):
        raise ValueError(f"factors must be non-negative numbers, got {list(factors)}")
    pct = _components(table, w, hot_column, suppress_below)
    recent = _public_counts(table, suppress_below)
    none = _no_events(table)
    base = _combine(pct, w, none)["gap_score"]
    from scipy.stats import spearmanr  # here: scipy.stats costs ~0.5 s to import

    k = min(top_n, len(table))
    top = set(np.flatnonzero(_rank(base, recent) <= k))
    rows = []
    for comp in [c for c in w if w[c] > 0 and c in pct.columns]:
        for f in factors:
            w2 = {**w, comp: w[comp] * f}
            if sum(w2.values()) <= 0:
                continue
            s = _combine(pct, w2, none)["gap_score"]
            new = set(np.flatnonzero(_rank(s, recent) <= k))
            live = (base.to_numpy() > 0) | (s.to_numpy() > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                rho = (spearmanr(base.to_numpy()[live], s.to_numpy()[live]).statistic
                       if live.sum() > 1 else np.nan)
            rows.append({"component": comp, "factor": float(f), "weight": w2[comp],
                         "spearman": float(rho), "top_overlap": len(top & new) / k if k else np.nan,
                         "entered": len(new - top)})
    return pd.DataFrame(rows, columns=["component", "factor", "weight", "spearman",
                                       "top_overlap", "entered"])


def build_gap_table(
    incidents: pd.DataFrame,
    sites: pd.DataFrame,
    cells,
    res: int,
    *,
    as_of=None,
    population=None,
    groups: Sequence[AccessGroup] = DEFAULT_GROUPS,
    weights: Mapping[str, float] | None = None,
    hotspots: pd.DataFrame | None = None,
    suppress_below: int | None = None,
    catchment_m: float = 24_000.0,
    open_at=None,
) -> pd.DataFrame:
    """Burden, access, enhanced 2SFCA and gap score for every analysis cell.

    Parameters
    ----------
    incidents, sites : DataFrame
        Canonical incidents (with ``h3``) and canonical sites.
    cells : array-like of uint64
        Analysis cells at ``res`` (e.g. :func:`geo.grid.analysis_grid`).
    population : array-like, optional
        Population per cell (:func:`layers.population.population_to_cells`); the 2SFCA
        demand. Without it the demand is burden (``count_12m``).
    hotspots : DataFrame, optional
        ``h3`` + ``class`` (Gi* class per cell); adds the hotspot component.
    suppress_below : int, optional
        Public tier k for the reason text.
    catchment_m : float
        2SFCA catchment for treatment (default 24 km ≈ 30 min drive, an approximation).
    open_at : timestamp, optional
        Distances and counts only to sites open at this local time (e.g. a Saturday night).

    Returns
    -------
    DataFrame
        Rows aligned with ``cells``: burden columns, ``dist_m_*``, ``sites_within_*``,
        ``e2sfca_treatment`` (+ ``population`` if given), ``score_*``, ``burden_index``,
        ``access_index``, ``gap_score``, ``gap_rank``, ``reason``.
    """
    cells = np.asarray(cells, dtype=np.uint64)
    bt = burden_table(incidents, cells, res, as_of=as_of)
    acc = cell_access(cells, sites, groups, open_at=open_at).drop(columns="h3")
    table = pd.concat([bt, acc], axis=1)
    if population is not None:
        pop = np.asarray(population, float)
        if pop.shape != cells.shape:
            raise ValueError(f"population has {pop.size} values for {cells.size} cells")
        table["population"] = pop
        demand = pop
    else:
        # burden as demand; in the public tier with suppressed counts as k/2, like the score
        demand = _public_counts(bt, suppress_below).to_numpy(float)
    table["e2sfca_treatment"] = cell_e2sfca(cells, sites, demand, where={"kind": "treatment"},
                                            catchment_m=catchment_m)
    hot_column = None
    if hotspots is not None:
        for c in ("h3", "class"):
            if c not in hotspots.columns:
                raise ValueError(f"hotspots need columns 'h3' and 'class'; found "
                                 f"{list(hotspots.columns)}")
        cls = pd.Series(hotspots["class"].to_numpy(),
                        index=hotspots["h3"].to_numpy(np.uint64))
        table["gi_class"] = pd.Series(cells).map(cls).fillna("not significant").to_numpy()
        hot_column = "gi_class"
    scores = gap_scores(table, weights, hot_column=hot_column, groups=groups,
                        suppress_below=suppress_below)
    return pd.concat([table, scores], axis=1)
