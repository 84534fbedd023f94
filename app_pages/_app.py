"""App layer shared by every page: data sources, cached library calls, sidebar filters, login.

Pages import this facade (``from app_pages import _app``); it re-exports four parts:
``_data`` (sources and cached loaders), ``_ui`` (tiers, login, sidebar, maps), ``_analysis``
(cached overview/hotspot/alert wrappers) and ``_planning`` (cached siting/outreach/gap
wrappers). These ``app_pages/_*.py`` modules are the only place with Streamlit caching. Cached
functions take primitives only (file
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

from app_pages._analysis import *  # noqa: F403
from app_pages._analysis import __all__ as _an_all
from app_pages._data import *  # noqa: F403
from app_pages._data import __all__ as _data_all
from app_pages._data import _load_boundary, _load_incidents, _load_sites, _mtime  # noqa: F401
from app_pages._planning import *  # noqa: F403
from app_pages._planning import __all__ as _plan_all
from app_pages._ui import *  # noqa: F403
from app_pages._ui import __all__ as _ui_all

__all__ = [*_data_all, *_ui_all, *_an_all, *_plan_all]
