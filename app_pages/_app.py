"""App layer shared by every page: data sources, cached library calls, sidebar filters, login.

Pages import this module (``from app_pages import _app``) and call ``_app.<name>``; it
re-exports, by name, exactly what the pages use from four parts: ``_data`` (sources and cached
loaders), ``_ui`` (tiers, login, sidebar, maps), ``_analysis`` (cached overview/hotspot/alert
wrappers) and ``_planning`` (cached siting/outreach/gap wrappers). A name a page does not use
is not re-exported; import it from its part. These ``app_pages/_*.py`` modules are the only
place with Streamlit caching. Cached functions take primitives only (file path + modification
time, resolution, dates, tuples of filter values) — never widgets, never globals — and call
the library (geo/, clustering/, layers/, report/, products/). Filters are applied outside the
caches to the cached tables.

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

from app_pages._analysis import (
    ALERT_DAYS,
    ALERT_RES,
    DENSITY_AUTO_MAX,
    DENSITY_MAX_POINTS,
    SCAN_AUTO_MAX,
    SCAN_DAYS,
    alerts,
    breakdown,
    cell_history,
    density,
    drug_alerts,
    emerging,
    hotspots,
    kpi_table,
    rates,
    scan,
    selected_object,
    weekly_table,
)
from app_pages._data import (
    SAMPLE_ENV,
    _load_boundary,
    _load_incidents,
    _load_sites,
    _mtime,
    boundary,
    candidates,
    data_range,
    incidents,
    resources,
    sample_path,
    source_key,
    store_dir,
    store_file,
    store_names,
    store_path,
)
from app_pages._planning import (
    filter_sites,
    gap_table,
    gap_travel_notes,
    island_note,
    outreach,
    outreach_list,
    outreach_totals,
    reach_outline,
    roads_path,
    siting,
)
from app_pages._ui import check_password, filters, policy, show_map, sidebar, tier

__all__ = [
    # _data
    "SAMPLE_ENV",
    "sample_path",
    "store_dir",
    "store_names",
    "store_file",
    "store_path",
    "source_key",
    "incidents",
    "data_range",
    "resources",
    "candidates",
    "boundary",
    "_load_incidents",
    "_load_sites",
    "_load_boundary",
    "_mtime",
    # _ui
    "check_password",
    "tier",
    "policy",
    "sidebar",
    "filters",
    "show_map",
    # _analysis
    "kpi_table",
    "weekly_table",
    "hotspots",
    "rates",
    "cell_history",
    "emerging",
    "density",
    "scan",
    "alerts",
    "breakdown",
    "drug_alerts",
    "selected_object",
    "ALERT_RES",
    "ALERT_DAYS",
    "SCAN_DAYS",
    "DENSITY_MAX_POINTS",
    "DENSITY_AUTO_MAX",
    "SCAN_AUTO_MAX",
    # _planning
    "siting",
    "outreach",
    "outreach_totals",
    "outreach_list",
    "filter_sites",
    "gap_table",
    "reach_outline",
    "roads_path",
    "gap_travel_notes",
    "island_note",
]

