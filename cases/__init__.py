"""Post-overdose follow-up: accounts and roles, the audit trail, the case queue, evaluation.

Everything here lives in one DuckDB file of its own, the **operations database**
(:mod:`cases.db`; ``GAPMAP_CASES_DB``, default ``data/store/cases.duckdb``), separate from the
incident store. Incidents are only read (through the app's loader or
:meth:`geo.store.IncidentStore.load`). No Streamlit here.

* :mod:`cases.accounts` — users with roles ``viewer`` / ``partner`` / ``outreach`` / ``admin``;
* :mod:`cases.audit` — the append-only audit trail of restricted views and exports;
* :mod:`cases.queue` — the 24/48/72-hour follow-up case queue;
* :mod:`cases.evaluation` — aggregated program evaluation through the privacy gate;
* :mod:`cases.sample` — synthetic cases, contacts and person keys for the sample.
"""
