"""Leadership reporting: KPIs against the prior period and the one-page briefing PDF.

Nothing here imports Streamlit; the dashboard and the CLI call these functions. Everything
meant for the public tier passes :func:`geo.privacy.publish`.
"""

from report.kpis import incident_events, kpis, top_areas, weekly_trend

__all__ = ["kpis", "weekly_trend", "top_areas", "incident_events"]
