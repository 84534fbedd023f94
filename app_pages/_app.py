"""App layer shared by every page: data sources, cached library calls, sidebar filters, login.

This is the only module with Streamlit caching. Cached functions take primitives only (file
path + modification time, resolution, dates, tuples of filter values) — never widgets, never
globals — and call the library (geo/, clustering/, layers/, report/). Filters are applied
outside the caches to the cached tables.

* The loaded incident table is held with ``st.cache_resource`` (one shared, read-only object:
  the library never mutates its inputs, and copying 1M rows on every rerun, as
  ``st.cache_data`` does, would cost more than the filters). Everything derived from it is
  ``st.cache_data`` with ``max_entries`` bounds.
* Data source: the incident store named by ``st.session_state["store_path"]`` (set on the Data
  page) or the environment variable ``GAPMAP_STORE``; otherwise the bundled synthetic sample
  (``data.get_path``). ``GAPMAP_INCIDENTS`` / ``GAPMAP_RESOURCES`` / ``GAPMAP_CANDIDATES`` /
  ``GAPMAP_BOUNDARY`` / ``GAPMAP_POPULATION`` override single sample files.
* Tiers: ``public`` by default; ``restricted`` after a password that matches a bcrypt hash from
  ``st.secrets["auth"]["password_hash"]`` or ``GAPMAP_PASSWORD_HASH``.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import numpy as np
import pandas as pd
import streamlit as st

from geo.privacy import PrivacyPolicy, publish
from geo.schema import OUTCOMES, SOURCES

__all__ = [
    "Filters",
    "optional",
    "sample_path",
    "source_key",
    "incidents",
    "filtered",
    "resources",
    "candidates",
    "boundary",
    "grid",
    "cell_counts",
    "password_hash",
    "check_password",
    "tier",
    "policy",
    "sidebar",
    "missing_library",
    "WINDOWS",
]

WINDOWS = {
    "Last 7 days": 7,
    "Last 30 days": 30,
    "Last 90 days": 90,
    "Last 365 days": 365,
    "All data": None,
}
SAMPLE_ENV = {
    "incidents": "GAPMAP_INCIDENTS",
    "resources": "GAPMAP_RESOURCES",
    "candidates": "GAPMAP_CANDIDATES",
    "boundary": "GAPMAP_BOUNDARY",
    "population": "GAPMAP_POPULATION",
}


# ------------------------------------------------------------------ optional library modules
def optional(module: str):
    """Import a library module, or ``None`` if it does not exist (yet) in this installation."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            return None
        raise


def missing_library(what: str, module: str) -> None:
    """Say plainly that a feature's library module is not available."""
    st.info(
        f"{what} is not available in this installation: the library module `{module}` is missing."
    )


# ------------------------------------------------------------------ data sources
def sample_path(name: str) -> Path | None:
    """Path of a bundled sample file (or its ``GAPMAP_<NAME>`` override); None if absent."""
    env = os.environ.get(SAMPLE_ENV.get(name, ""), "").strip()
    if env:
        p = Path(env)
        return p if p.exists() else None
    from data import get_path

    try:
        return get_path(name)
    except FileNotFoundError:
        return None


def _mtime(path: Path | str | None) -> float:
    return Path(path).stat().st_mtime if path and Path(path).exists() else 0.0


def store_path() -> str | None:
    """The incident store in use (Data page choice, else ``GAPMAP_STORE``), if it exists."""
    p = st.session_state.get("store_path") or os.environ.get("GAPMAP_STORE", "").strip()
    return p if p and Path(p).exists() else None


def source_key() -> tuple[str, str, float]:
    """(kind, path, mtime) identifying the incident data: the cache key of everything."""
    sp = store_path()
    if sp:
        return ("store", sp, _mtime(sp))
    p = sample_path("incidents")
    if p is None:
        return ("none", "", 0.0)
    return ("file", str(p), _mtime(p))


@st.cache_resource(max_entries=2, show_spinner="Loading incidents…")
def _load_incidents(kind: str, path: str, mtime: float) -> pd.DataFrame:
    if kind == "store":
        from geo.store import IncidentStore

        return IncidentStore(path).load()
    ingest = optional("geo.ingest")
    if ingest is not None:
        return ingest.read_incidents(path).incidents
    # geo.ingest not installed: a canonical CSV only (dates parsed, indexed once at BASE_RES)
    from geo.grid import index_incidents

    df = pd.read_csv(path, dtype={"outcome": "string", "naloxone": "string", "source": "string"})
    df["occurred_at"] = pd.to_datetime(df["occurred_at"], format="mixed")
    return index_incidents(df)


def incidents() -> pd.DataFrame:
    """Canonical incidents of the current source (shared and read-only: never mutate)."""
    kind, path, mtime = source_key()
    if kind == "none":
        st.warning(
            "No incident data: the bundled sample is missing and no store is configured. "
            "Upload a file on the Data page."
        )
        st.stop()
    return _load_incidents(kind, path, mtime)


def filtered(f: Filters, *, outcomes: bool = True) -> pd.DataFrame:
    """Incidents within the sidebar filters (applied outside the cache)."""
    from geo.grid import filter_incidents

    df = incidents()
    return filter_incidents(
        df, start=f.start, end=f.end, outcomes=f.outcomes if outcomes else None, sources=f.sources
    )


@st.cache_data(max_entries=4, show_spinner=False)
def _data_range(kind: str, path: str, mtime: float) -> tuple[pd.Timestamp, pd.Timestamp]:
    t = pd.to_datetime(_load_incidents(kind, path, mtime)["occurred_at"])
    return t.min(), t.max()


def data_range() -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last incident time of the current source."""
    return _data_range(*source_key())


@st.cache_data(max_entries=4, show_spinner=False)
def _load_sites(path: str, mtime: float, what: str) -> pd.DataFrame:
    if what == "resources":
        sites = optional("layers.sites")
        if sites is not None:
            return sites.load_resources(path).sites
    return pd.read_csv(path)


def resources() -> pd.DataFrame | None:
    """Canonical resource sites (treatment, SSP, naloxone), or None if no file."""
    p = st.session_state.get("resources_path") or sample_path("resources")
    return None if p is None else _load_sites(str(p), _mtime(p), "resources")


def candidates() -> pd.DataFrame | None:
    """Candidate host sites for new naloxone boxes, or None if no file."""
    p = sample_path("candidates")
    return None if p is None else _load_sites(str(p), _mtime(p), "candidates")


@st.cache_resource(max_entries=2, show_spinner=False)
def _load_boundary(path: str, mtime: float):
    import geopandas as gpd

    return gpd.read_file(path).to_crs(4326)


def boundary():
    """The study-area GeoDataFrame (WGS84), or None."""
    p = sample_path("boundary")
    return None if p is None else _load_boundary(str(p), _mtime(p))


@st.cache_data(max_entries=8, show_spinner=False)
def _grid(path: str, mtime: float, res: int) -> np.ndarray:
    from geo.grid import analysis_grid

    return analysis_grid(_load_boundary(path, mtime), res)


def grid(res: int) -> np.ndarray | None:
    """Every analysis cell of the study area at ``res`` (sorted uint64), or None."""
    p = sample_path("boundary")
    return None if p is None else _grid(str(p), _mtime(p), int(res))


@st.cache_data(max_entries=16, show_spinner=False)
def _cell_counts(kind, path, mtime, res, start, end, outcomes, sources) -> pd.DataFrame:
    from geo.grid import filter_incidents, incidents_to_cells

    df = filter_incidents(
        _load_incidents(kind, path, mtime), start=start, end=end, outcomes=outcomes, sources=sources
    )
    return incidents_to_cells(df, res, breakdown=False)  # pages show totals only: 10x faster


def cell_counts(f: Filters, res: int | None = None) -> pd.DataFrame:
    """Counts per occupied cell for the filters (restricted-tier values; publish before showing)."""
    return _cell_counts(*source_key(), int(res or f.res), f.start, f.end, f.outcomes, f.sources)


# ------------------------------------------------------------------ tiers and login
def password_hash() -> str | None:
    """The configured bcrypt hash (secrets ``[auth] password_hash`` or ``GAPMAP_PASSWORD_HASH``)."""
    try:
        h = st.secrets["auth"]["password_hash"]
        if h:
            return str(h)
    except (FileNotFoundError, KeyError, AttributeError):
        pass
    h = os.environ.get("GAPMAP_PASSWORD_HASH", "").strip()
    return h or None


def check_password(password: str, hashed: str | None) -> bool:
    """True when ``password`` matches the bcrypt ``hashed`` (False for no hash / bad hash)."""
    if not hashed or not password:
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("utf-8"))
    except ValueError:
        return False


def tier() -> str:
    """Current tier: ``"public"`` unless the user logged in this session."""
    return "restricted" if st.session_state.get("tier") == "restricted" else "public"


def policy() -> PrivacyPolicy:
    """Privacy policy of the current tier (k = 10)."""
    return PrivacyPolicy.for_tier(tier())


def show_table(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Publish a table through the privacy gate of the current tier and return it."""
    return publish(df, policy(), **kw)


def _login_box() -> None:
    st.sidebar.markdown("**Access**")
    if tier() == "restricted":
        st.sidebar.success("Restricted tier: line lists and points are visible.")
        if st.sidebar.button("Log out", key="logout"):
            st.session_state["tier"] = "public"
            st.rerun()
        return
    hashed = password_hash()
    if hashed is None:
        st.sidebar.caption(
            "Public tier. The restricted tier is unavailable: no password hash is "
            "configured (see README, Dashboard)."
        )
        return
    with st.sidebar.form("login", clear_on_submit=True):
        pw = st.text_input("Password for the restricted tier", type="password", key="login_pw")
        ok = st.form_submit_button("Log in")
    if ok:
        if check_password(pw, hashed):
            st.session_state["tier"] = "restricted"
            st.rerun()
        else:
            st.sidebar.error("Wrong password: still in the public tier.")
    st.sidebar.caption("Public tier: aggregated cells, counts 1–9 suppressed, no points.")


# ------------------------------------------------------------------ sidebar filters
@dataclass(frozen=True)
class Filters:
    """The shared sidebar choices, as primitives (cache keys)."""

    res: int
    window: str
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    outcomes: tuple[str, ...] | None
    sources: tuple[str, ...] | None
    data_end: pd.Timestamp | None

    @property
    def label(self) -> str:
        """Human-readable date range, e.g. ``2025-11-16 – 2026-11-15``."""
        if self.start is None:
            return "all dates"
        last = self.end - pd.Timedelta(days=1)
        return f"{self.start:%Y-%m-%d} – {last:%Y-%m-%d}"


def sidebar() -> Filters:
    """Draw the shared sidebar (data source, filters, login) and return the filters."""
    kind, path, _ = source_key()
    _login_box()
    if kind == "store":
        label = f"incident store {Path(path).name}"
    elif kind == "file":
        label = (
            "bundled synthetic sample"
            if not os.environ.get(SAMPLE_ENV["incidents"])
            else f"file {Path(path).name}"
        )
    else:
        label = "none loaded"
    st.sidebar.caption(f"Data: {label}")
    # res 9 (~0.1 km² cells) is the finest a county-wide map draws smoothly (~16k hexagons)
    res_opts = [6, 7, 8] if tier() == "public" else [6, 7, 8, 9]
    if st.session_state.get("res") not in res_opts:
        st.session_state["res"] = 8
    res = st.sidebar.select_slider(
        "H3 resolution (cell size)",
        res_opts,
        key="res",
        help="6 ≈ 36 km², 7 ≈ 5 km², 8 ≈ 0.7 km², 9 ≈ 0.1 km² per cell (restricted tier). "
        "Public tier: 8 or coarser.",
    )
    window = st.sidebar.selectbox("Time window", list(WINDOWS), index=3, key="window")
    outcomes = st.sidebar.multiselect(
        "Outcomes", list(OUTCOMES[:2]) + ["unknown"], default=list(OUTCOMES), key="outcomes"
    )
    sources = st.sidebar.multiselect("Sources", list(SOURCES), default=list(SOURCES), key="sources")
    start = end = last = None
    if kind != "none":
        _, last_t = data_range()
        last = pd.Timestamp(last_t).normalize()
        days = WINDOWS[window]
        if days is not None:
            end = last + pd.Timedelta(days=1)
            start = end - pd.Timedelta(days=days)
        st.sidebar.caption(f"Data end: {last:%Y-%m-%d} (windows end on the last day with data).")
    return Filters(
        res=int(res),
        window=window,
        start=start,
        end=end,
        outcomes=None if set(outcomes) >= set(OUTCOMES) else tuple(sorted(outcomes)),
        sources=None if set(sources) >= set(SOURCES) else tuple(sorted(sources)),
        data_end=last,
    )


def filters() -> Filters:
    """The filters the router put in session state for this run."""
    f = st.session_state.get("_filters")
    return f if f is not None else sidebar()


# ------------------------------------------------------------------ overview tables
@st.cache_data(max_entries=8, show_spinner=False)
def _kpis(kind, path, mtime, sources, tier_name) -> pd.DataFrame:
    from geo.grid import filter_incidents
    from report.kpis import kpis

    df = filter_incidents(_load_incidents(kind, path, mtime), sources=sources)
    return kpis(df, policy=tier_name)


def kpi_table(f: Filters, tier_name: str) -> pd.DataFrame:
    """report.kpis for the current source and source filter (published for ``tier_name``)."""
    return _kpis(*source_key(), f.sources, tier_name)


@st.cache_data(max_entries=8, show_spinner=False)
def _weekly(kind, path, mtime, sources, tier_name) -> pd.DataFrame:
    from geo.grid import filter_incidents
    from report.kpis import weekly_trend

    df = filter_incidents(_load_incidents(kind, path, mtime), sources=sources)
    return weekly_trend(df, policy=tier_name)


def weekly_table(f: Filters, tier_name: str) -> pd.DataFrame:
    """report.kpis.weekly_trend for the current source and source filter."""
    return _weekly(*source_key(), f.sources, tier_name)


# ------------------------------------------------------------------ hotspots
@st.cache_data(max_entries=12, show_spinner="Computing Gi* hot spots…")
def _hotspots(
    kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, k_ring
) -> pd.DataFrame:
    from clustering.gistar import gi_star
    from clustering.neighbours import build_neighbourhood
    from geo.grid import zero_fill

    counts = _cell_counts(kind, path, mtime, res, start, end, outcomes, sources)
    if bpath:
        table = zero_fill(counts, _grid(bpath, bmtime, res))
    else:
        table = counts.assign(in_grid=True)
    if len(table) < 3:
        return table.assign(z=np.nan, p=np.nan, q=np.nan, **{"class": "not_significant"})
    nbhd = build_neighbourhood(table["h3"].to_numpy(np.uint64), k=int(k_ring))
    return pd.concat([table, gi_star(table, nbhd)], axis=1)


def hotspots(f: Filters, k_ring: int = 1) -> pd.DataFrame:
    """Zero-filled analysis cells with counts and Gi* z, p, q, class (not yet published)."""
    bp = sample_path("boundary")
    return _hotspots(
        *source_key(),
        str(bp) if bp else "",
        _mtime(bp),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        int(k_ring),
    )


@st.cache_resource(max_entries=2, show_spinner=False)
def _load_population(path: str, mtime: float):
    import geopandas as gpd

    return gpd.read_file(path)


@st.cache_data(max_entries=8, show_spinner="Computing rates…")
def _rates(
    kind, path, mtime, bpath, bmtime, ppath, pmtime, res, start, end, outcomes, sources, method
) -> pd.DataFrame:
    from clustering.rates import population_to_cells, rate_table

    table = _hotspots(kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, 1)
    pop = population_to_cells(_load_population(ppath, pmtime), table["h3"].to_numpy(np.uint64))
    return rate_table(table[["h3", "count"]], pop, method=method)


def rates(f: Filters, method: str = "eb") -> pd.DataFrame | None:
    """Overdoses per 10,000 residents per analysis cell (population area-weighted onto cells;
    ``eb`` = global empirical-Bayes smoothing), or None without a population layer."""
    pp = sample_path("population")
    bp = sample_path("boundary")
    if pp is None or optional("clustering.rates") is None:
        return None
    return _rates(
        *source_key(),
        str(bp) if bp else "",
        _mtime(bp),
        str(pp),
        _mtime(pp),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        method,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def _cell_history(kind, path, mtime, res, cell, outcomes, sources) -> pd.DataFrame:
    from geo.cells import cells_to_parent
    from geo.grid import filter_incidents, incidents_to_cell_periods

    df = _load_incidents(kind, path, mtime)
    parent = cells_to_parent(df["h3"].to_numpy(np.uint64), res)
    sub = filter_incidents(df.loc[parent == np.uint64(cell)], outcomes=outcomes, sources=sources)
    return incidents_to_cell_periods(sub, res, freq="M")


def cell_history(f: Filters, cell: int) -> pd.DataFrame:
    """Monthly counts of one cell over all dates (outcome/source filters applied)."""
    return _cell_history(*source_key(), f.res, int(cell), f.outcomes, f.sources)


def selected_object(key: str) -> dict | None:
    """The object clicked on the keyed pydeck chart, if any (``on_select="rerun"``)."""
    state = st.session_state.get(key)
    try:
        objs = state["selection"]["objects"]
    except (KeyError, TypeError):
        return None
    for _layer, items in (objs or {}).items():
        if items:
            return items[0]
    return None


# ------------------------------------------------------------------ maps
def base_layers() -> list:
    """The study-area outline layer (always drawn), if a boundary is available."""
    from layers.deck import outline_layer

    b = boundary()
    return [] if b is None else [outline_layer(b)]


def view():
    """View state fitting the study area (or the incidents when there is no boundary)."""
    from layers.deck import view_for_bounds

    b = boundary()
    if b is not None:
        return view_for_bounds(*b.total_bounds)
    df = incidents()
    return view_for_bounds(df["lon"].min(), df["lat"].min(), df["lon"].max(), df["lat"].max())


def show_map(layers: list, key: str, legend: str, caption: str = ""):
    """One keyed, clickable pydeck chart with the outline under ``layers`` and a legend beside.

    Returns the selection state (``on_select="rerun"``).
    """
    from layers.deck import make_deck

    deck = make_deck(layers + base_layers(), view())
    left, right = st.columns([4, 1])
    with left:
        event = st.pydeck_chart(deck, on_select="rerun", selection_mode="single-object", key=key)
    with right:
        st.markdown(legend, unsafe_allow_html=True)
        st.caption("Black line: study-area boundary." + (f" {caption}" if caption else ""))
    return event


# ------------------------------------------------------------------ emerging, density, scan
@st.cache_data(max_entries=8, show_spinner="Computing emerging hot spots…")
def _emerging(
    kind, path, mtime, bpath, bmtime, res, start, end, outcomes, sources, slice_
) -> pd.DataFrame:
    from clustering.emerging import emerging_hotspots
    from geo.grid import filter_incidents

    df = filter_incidents(
        _load_incidents(kind, path, mtime), start=start, end=end, outcomes=outcomes, sources=sources
    )
    cells = _grid(bpath, bmtime, res) if bpath else None
    return emerging_hotspots(
        df,
        res,
        cells=cells,
        slice=slice_,
        start=start,
        end=None if end is None else end - pd.Timedelta(days=1),
    )


def emerging(f: Filters, slice_: str) -> pd.DataFrame:
    """Emerging hot-spot category per analysis cell (clustering.emerging) for the filters."""
    bp = sample_path("boundary")
    return _emerging(
        *source_key(),
        str(bp) if bp else "",
        _mtime(bp),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        slice_,
    )


#: DBSCAN's neighbourhoods grow quadratically in dense areas: above this, ask for a shorter window.
DENSITY_MAX_POINTS = 50_000
#: Run the space-time scan automatically below this many incidents (else on request).
SCAN_AUTO_MAX = 200_000


@st.cache_data(max_entries=8, show_spinner="Finding density clusters…")
def _density(kind, path, mtime, res, start, end, outcomes, sources, eps_m, min_samples):
    from clustering.density import PointClusters
    from geo.grid import filter_incidents

    df = filter_incidents(
        _load_incidents(kind, path, mtime), start=start, end=end, outcomes=outcomes, sources=sources
    )
    model = PointClusters(method="dbscan", eps_m=float(eps_m), min_samples=int(min_samples)).fit(df)
    return model.cluster_summaries(res=res)


def density(f: Filters, eps_m: float, min_samples: int) -> pd.DataFrame:
    """DBSCAN cluster summaries (clustering.density); hulls/centroids are restricted-tier only."""
    return _density(
        *source_key(), f.res, f.start, f.end, f.outcomes, f.sources, float(eps_m), int(min_samples)
    )


@st.cache_data(max_entries=4, show_spinner="Running the space-time scan (999 replicates)…")
def _scan(kind, path, mtime, sources, res, replicates):
    from clustering.scan import space_time_scan
    from geo.grid import filter_incidents

    df = filter_incidents(_load_incidents(kind, path, mtime), sources=sources)
    return space_time_scan(df, res=res, replicates=replicates, seed=0).clusters


def scan(f: Filters, res: int = 8, replicates: int = 999) -> pd.DataFrame:
    """Prospective space-time permutation scan clusters ending on the data end date."""
    return _scan(*source_key(), f.sources, int(res), int(replicates))


# ------------------------------------------------------------------ alerts
ALERT_RES = 7
ALERT_DAYS = 7


@st.cache_data(max_entries=8, show_spinner="Checking for spikes…")
def _alerts(kind, path, mtime, sources, method, res) -> pd.DataFrame:
    from clustering.alerts import alert_table, detect
    from clustering.series import area_neighbours, incidents_to_daily
    from geo.grid import filter_incidents

    df = filter_incidents(_load_incidents(kind, path, mtime), sources=sources)
    end = pd.to_datetime(df["occurred_at"]).max().normalize()
    start = end - pd.Timedelta(days=120)
    tables = []
    for area in ("jurisdiction", "h3"):
        series = incidents_to_daily(
            df, area=area, res=res if area == "h3" else None, start=start, end=end
        )
        nb = area_neighbours(series.columns) if area == "h3" else None
        tab = alert_table(
            detect(series, method),
            series=series,
            neighbours=nb,
            start=end - pd.Timedelta(days=ALERT_DAYS - 1),
            end=end,
        )
        tab = tab.assign(area_type=area)
        tables.append(tab)
    return pd.concat(tables, ignore_index=True)


def alerts(f: Filters, method: str = "C2") -> pd.DataFrame:
    """Spike alerts of the last 7 days (whole area + H3 res-7 cells), before publishing."""
    return _alerts(*source_key(), f.sources, method, ALERT_RES)


# ------------------------------------------------------------------ siting
@st.cache_data(max_entries=8, show_spinner=False)
def _siting(
    kind,
    path,
    mtime,
    res,
    start,
    end,
    outcomes,
    sources,
    rpath,
    rmtime,
    cpath,
    cmtime,
    k,
    radius_m,
    types,
    only_24_7,
    method,
    time_limit,
) -> dict:
    from layers.siting_plan import plan_sites

    demand = _cell_counts(kind, path, mtime, res, start, end, outcomes, sources)
    cand = _load_sites(cpath, cmtime, "candidates")
    existing = None
    if rpath:
        res_sites = _load_sites(rpath, rmtime, "resources")
        existing = res_sites[res_sites["kind"].astype(str) == "naloxone"]
    plan = plan_sites(
        demand,
        cand,
        int(k),
        float(radius_m),
        existing=existing,
        types=list(types),
        only_24_7=bool(only_24_7),
        method=method,
        time_limit=float(time_limit),
    )
    kmax = int(min(max(k, 10), plan.summary["n_candidates_allowed"]))
    curve = plan_sites(
        demand,
        cand,
        kmax,
        float(radius_m),
        existing=existing,
        types=list(types),
        only_24_7=bool(only_24_7),
        method="greedy",
    ).result
    covered = curve.covered_before + np.r_[0.0, np.cumsum(curve.marginal)]
    return {
        "sites": plan.sites,
        "result": plan.result,
        "summary": plan.summary,
        "curve": pd.DataFrame(
            {"k": np.arange(covered.size), "covered": covered, "total": curve.total_burden}
        ),
    }


def siting(
    f: Filters,
    k: int,
    radius_m: float,
    types: tuple[str, ...],
    only_24_7: bool,
    method: str,
    time_limit: float = 30.0,
) -> dict:
    """Recommended new naloxone sites (layers.siting_plan) for the current demand and options.

    Returns ``{"sites": chosen candidates in order with marginal_covered, "result":
    SitingResult, "summary": dict, "curve": greedy coverage vs k}``.
    """
    cp = sample_path("candidates")
    rp = st.session_state.get("resources_path") or sample_path("resources")
    return _siting(
        *source_key(),
        f.res,
        f.start,
        f.end,
        f.outcomes,
        f.sources,
        str(rp) if rp else "",
        _mtime(rp),
        str(cp),
        _mtime(cp),
        int(k),
        float(radius_m),
        tuple(sorted(types)),
        bool(only_24_7),
        method,
        float(time_limit),
    )


def count_label(value, unit: str = "") -> str:
    """One count through the privacy gate of the current tier, as display text."""
    one = publish(
        pd.DataFrame({"count": [int(round(float(value)))]}), policy(), count_columns=["count"]
    )
    v = one["count"].iloc[0]
    return f"<{policy().k}" if pd.isna(v) else f"{int(v):,}{unit}"


# ------------------------------------------------------------------ outreach
@st.cache_data(max_entries=8, show_spinner=False)
def _outreach(kind, path, mtime, res, sources, rpath, rmtime) -> pd.DataFrame:
    from geo.grid import filter_incidents
    from layers.outreach import recent_nonfatal

    df = filter_incidents(_load_incidents(kind, path, mtime), sources=sources)
    sites = _load_sites(rpath, rmtime, "resources") if rpath else None
    return recent_nonfatal(df, res=res, sites=sites)


def outreach(f: Filters) -> pd.DataFrame:
    """Nonfatal overdoses in the last 24/48/72 h per area with nearest resources (unpublished)."""
    rp = st.session_state.get("resources_path") or sample_path("resources")
    return _outreach(*source_key(), f.res, f.sources, str(rp) if rp else "", _mtime(rp))


def outreach_list(f: Filters, hours: int) -> pd.DataFrame:
    """The restricted-tier line list (person-level: only call after checking the tier)."""
    from geo.grid import filter_incidents
    from layers.outreach import outreach_line_list

    if tier() != "restricted":
        raise PermissionError("the outreach line list is restricted-tier only")
    df = filter_incidents(incidents(), sources=f.sources)
    return outreach_line_list(df, hours=hours, sites=resources())


# ------------------------------------------------------------------ gaps
_TRUE = ("true", "1", "yes", "y", "t")


def _flag(sites: pd.DataFrame, col: str) -> np.ndarray:
    if col not in sites.columns:
        return np.zeros(len(sites), bool)
    return sites[col].astype(str).str.lower().isin(_TRUE).to_numpy()


def filter_sites(
    sites: pd.DataFrame,
    moud: tuple[str, ...] = (),
    medicaid: bool = False,
    only_247: bool = False,
    open_at=None,
) -> pd.DataFrame:
    """Sites passing the Gaps page filters (MOUD offered and Medicaid apply to treatment sites)."""
    keep = np.ones(len(sites), bool)
    is_treat = (sites["kind"].astype(str) == "treatment").to_numpy()
    if moud:
        keep &= ~is_treat | np.logical_or.reduce([_flag(sites, m) for m in moud])
    if medicaid:
        keep &= ~is_treat | _flag(sites, "medicaid")
    if only_247:
        keep &= _flag(sites, "open_24_7")
    if open_at is not None:
        from layers.hours import sites_open_at

        keep &= sites_open_at(sites, open_at)
    return sites[keep]


@st.cache_data(max_entries=8, show_spinner="Scoring resource gaps…")
def _gaps(
    kind,
    path,
    mtime,
    bpath,
    bmtime,
    res,
    outcomes,
    sources,
    rpath,
    rmtime,
    moud,
    medicaid,
    only_247,
    open_at,
    k_suppress,
) -> pd.DataFrame:
    from geo.grid import filter_incidents
    from layers.gaps import build_gap_table

    df = filter_incidents(_load_incidents(kind, path, mtime), outcomes=outcomes, sources=sources)
    sites = filter_sites(_load_sites(rpath, rmtime, "resources"), moud, medicaid, only_247, open_at)
    if bpath:
        cells = _grid(bpath, bmtime, res)
    else:
        cells = np.unique(_cell_counts(kind, path, mtime, res, None, None, outcomes, sources)["h3"])
    end = pd.to_datetime(df["occurred_at"]).max()
    hot = _hotspots(
        kind,
        path,
        mtime,
        bpath,
        bmtime,
        res,
        end.normalize() - pd.Timedelta(days=364),
        end.normalize() + pd.Timedelta(days=1),
        outcomes,
        sources,
        1,
    )
    return build_gap_table(
        df, sites, cells, res, hotspots=hot[["h3", "class"]], suppress_below=k_suppress
    )


def gap_table(
    f: Filters, moud: tuple[str, ...], medicaid: bool, only_247: bool, open_at=None
) -> pd.DataFrame | None:
    """layers.gaps.build_gap_table for the analysis grid, filtered sites and Gi* classes of the
    last 12 months (unpublished; the reason text is already safe for the current tier)."""
    rp = st.session_state.get("resources_path") or sample_path("resources")
    if rp is None:
        return None
    bp = sample_path("boundary")
    return _gaps(
        *source_key(),
        str(bp) if bp else "",
        _mtime(bp),
        f.res,
        f.outcomes,
        f.sources,
        str(rp),
        _mtime(rp),
        tuple(sorted(moud)),
        bool(medicaid),
        bool(only_247),
        open_at,
        policy().k if tier() == "public" else None,
    )
