"""The naloxone distribution log: kits handed out by site, event or team; kits per overdose.

Rows: ``distributed_on`` (date), ``site`` (a public place or team name), ``channel``
(``site`` / ``event`` / ``team``), ``lat``, ``lon`` (where the kits were handed out: a public
place, never a person's address) and ``kits``. Imported from CSV (:func:`read_kits_csv`,
rejected rows with line and reason) or entered on a form (:func:`add_kits`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cases.db import connect
from geo.privacy import PrivacyPolicy, as_policy, publish

__all__ = ["CHANNELS", "KIT_COLUMNS", "read_kits_csv", "add_kits", "load_kits",
           "kits_per_overdose", "distribution_gaps", "synthetic_kits"]

CHANNELS = ("site", "event", "team")
KIT_COLUMNS = ["distributed_on", "site", "channel", "lat", "lon", "kits"]


def read_kits_csv(path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valid rows and rejects (``line``, ``reason``) of a distribution CSV."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in KIT_COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: the distribution log needs column(s) {missing}")
    date = pd.to_datetime(raw["distributed_on"], errors="coerce", format="mixed")
    lat = pd.to_numeric(raw["lat"], errors="coerce")
    lon = pd.to_numeric(raw["lon"], errors="coerce")
    kits = pd.to_numeric(raw["kits"], errors="coerce")
    channel = raw["channel"].str.strip().str.lower()
    reason = pd.Series("", index=raw.index)
    for bad, why in ((date.isna(), "bad date"), (~lat.between(-90, 90), "bad lat"),
                     (~lon.between(-180, 180), "bad lon"),
                     (~(kits >= 0) | (kits % 1 != 0), "kits must be a whole number ≥ 0"),
                     (~channel.isin(CHANNELS), f"channel must be one of {', '.join(CHANNELS)}"),
                     (raw["site"].str.strip() == "", "missing site")):
        reason = reason.where(~(bad & (reason == "")), why)
    ok = reason == ""
    good = pd.DataFrame({"distributed_on": date.dt.normalize(), "site": raw["site"].str.strip(),
                         "channel": channel, "lat": lat, "lon": lon,
                         "kits": kits.fillna(0).astype(int)})[ok].reset_index(drop=True)
    rejects = pd.DataFrame({"line": raw.index[~ok] + 2, "reason": reason[~ok]})
    return good, rejects.reset_index(drop=True)


def add_kits(rows: pd.DataFrame, entered_by: str, *, path: str | Path | None = None) -> int:
    """Append distribution rows (:data:`KIT_COLUMNS`); return how many."""
    if rows.empty:
        return 0
    df = rows[KIT_COLUMNS].assign(entered_by=entered_by)
    with connect(path) as con:
        con.register("k", df)
        con.execute("INSERT INTO kits SELECT * FROM k")
    return len(df)


def load_kits(*, path: str | Path | None = None) -> pd.DataFrame:
    """The whole log."""
    with connect(path) as con:
        return con.execute("SELECT * FROM kits ORDER BY distributed_on").df()


def kits_per_overdose(kits: pd.DataFrame, incidents: pd.DataFrame, res: int,
                      policy: PrivacyPolicy | str = "public", start=None, end=None
                      ) -> pd.DataFrame:
    """Kits handed out and overdoses per H3 cell in ``[start, end)``, and kits per overdose.

    Overdose counts are keyed and published (``count``); ``kits_per_overdose`` is computed
    from the published count (blank where it is hidden). Kits are not about people: exact.
    """
    from geo.grid import cells_at
    from products.counting import keyed_cell_counts

    inc = incidents
    k = kits.copy()
    if start is not None:
        inc = inc[inc["occurred_at"] >= pd.Timestamp(start)]
        k = k[pd.to_datetime(k["distributed_on"]) >= pd.Timestamp(start)]
    if end is not None:
        inc = inc[inc["occurred_at"] < pd.Timestamp(end)]
        k = k[pd.to_datetime(k["distributed_on"]) < pd.Timestamp(end)]
    counts = keyed_cell_counts(inc, res, breakdown=())
    kc = pd.Series(k["kits"].to_numpy(), index=cells_at(k, res) if len(k) else []).groupby(
        level=0).sum() if len(k) else pd.Series(dtype=float)
    table = counts.merge(kc.rename("kits").rename_axis("h3").reset_index().astype(
        {"h3": np.uint64}), on="h3", how="outer")
    table["kits"] = table["kits"].fillna(0).astype(int)
    table["count"] = table["count"].fillna(0).astype(int)
    table["count__ckey"] = table["count__ckey"].fillna(0).astype(int)
    pub = publish(table, as_policy(policy), count_columns=["count"])
    n = pd.to_numeric(pub["count"], errors="coerce").astype("Float64")
    pub["kits_per_overdose"] = (pub["kits"] / n.where(n > 0)).round(2)
    return pub.sort_values("count", ascending=False, na_position="last").reset_index(drop=True)


def distribution_gaps(per: pd.DataFrame, *, burden_quantile: float = 0.75,
                      max_kits_per_overdose: float = 1.0) -> pd.DataFrame:
    """Distribution gaps: areas with a high overdose burden and few kits.

    Parameters
    ----------
    per : DataFrame
        A published :func:`kits_per_overdose` table (``h3``, ``count``, ``kits``,
        ``kits_per_overdose``); only its **published** values are used, so hidden counts
        (1–9 in public) never make an area a gap.
    burden_quantile : float
        High burden: a published overdose count at or above this quantile of the published
        counts (default the top quarter).
    max_kits_per_overdose : float
        Few kits: fewer kits than this per overdose (default 1: not even one kit each).

    Returns
    -------
    DataFrame
        The rows of ``per`` that are gaps, most overdoses first.
    """
    if not 0 <= burden_quantile <= 1:
        raise ValueError(f"burden_quantile must be between 0 and 1, got {burden_quantile}")
    n = pd.to_numeric(per["count"], errors="coerce").astype(float)
    shown = n[n > 0]
    if shown.empty:
        return per.iloc[0:0].copy()
    cut = float(np.quantile(shown.to_numpy(), burden_quantile))
    ratio = pd.to_numeric(per["kits_per_overdose"], errors="coerce").astype(float)
    gap = (n >= cut) & (ratio < max_kits_per_overdose)
    out = per[gap.fillna(False).to_numpy(bool)]
    return out.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def synthetic_kits(resources: pd.DataFrame, end, *, weeks: int = 26, seed: int = 12
                   ) -> pd.DataFrame:
    """A synthetic weekly log for the sample: naloxone sites and SSPs hand out kits."""
    rng = np.random.default_rng(seed)
    sites = resources[resources["kind"].astype(str).isin(["naloxone", "ssp"])]
    days = pd.date_range(end=pd.Timestamp(end).normalize(), periods=weeks, freq="7D")
    rows = [(d, s["name"], "site", float(s["lat"]), float(s["lon"]),
             int(rng.poisson(12 if s["kind"] == "ssp" else 4)))
            for d in days for _, s in sites.iterrows()]
    return pd.DataFrame(rows, columns=KIT_COLUMNS)
