"""The printable route sheet: the day's open cases with the nearest sites (restricted PDF).

Open cases ordered by next deadline (overdue first) and area, each with the nearest naloxone,
treatment and syringe-service site (:func:`layers.outreach.nearest_site_names`). Person-level:
restricted tier only; the caller audits the export. Deterministic bytes (no creation date).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

__all__ = ["route_table", "route_sheet_pdf", "ROWS_PER_PAGE"]

ROWS_PER_PAGE = 22
_KINDS = (("naloxone", "Naloxone"), ("treatment", "Treatment"), ("ssp", "Syringe services"))


def route_table(queue: pd.DataFrame, sites: pd.DataFrame | None) -> pd.DataFrame:
    """Rows of the sheet from :func:`cases.queue.queue_table` (open cases only)."""
    from layers.outreach import nearest_site_names

    q = queue[queue["status"] == "open"].copy()
    q["_overdue"] = ~q["overdue"].astype(bool)
    q["_d"] = pd.to_datetime(q["next_deadline"]).fillna(pd.Timestamp.max)
    q = q.sort_values(["_overdue", "_d", "area", "case_id"]).reset_index(drop=True)
    out = pd.DataFrame({
        "case": q["case_id"].astype(str),
        "deadline": np.where(q["overdue"].astype(bool), "OVERDUE",
                             pd.to_datetime(q["next_deadline"]).dt.strftime("%a %H:%M")
                             .fillna("72 h passed")),
        "hours since": q["hours_since"].round(0).astype("Int64").astype(str),
        "area": q["area"].astype(str),
        "assigned": q["assigned_to"].fillna("—").astype(str),
        "flag": q["flag"].fillna("").astype(str),
    })
    if sites is not None and len(sites) and len(q):
        near = nearest_site_names(q["lat"].to_numpy(float), q["lon"].to_numpy(float), sites,
                                  kinds=[k for k, _ in _KINDS])
        for kind, label in _KINDS:
            d = near[f"dist_m_{kind}"]
            out[label] = [f"{n} ({m / 1000:.1f} km)" if n is not None and np.isfinite(m)
                          else "—" for n, m in zip(near[f"nearest_{kind}"], d, strict=True)]
    return out


def route_sheet_pdf(queue: pd.DataFrame, sites: pd.DataFrame | None, now,
                    title: str = "Follow-up route sheet") -> bytes:
    """The route sheet as PDF bytes (A4 landscape, :data:`ROWS_PER_PAGE` cases a page)."""
    from matplotlib.backends.backend_pdf import PdfPages

    from report.maps import plt

    table = route_table(queue, sites)
    pages = max(1, int(np.ceil(len(table) / ROWS_PER_PAGE)))
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"CreationDate": None, "Creator": "gapmap",
                                 "Producer": "gapmap"}) as pdf:
        for p in range(pages):
            fig = plt.figure(figsize=(11.69, 8.27))
            fig.text(0.03, 0.96, f"{title} — {pd.Timestamp(now):%Y-%m-%d %H:%M}  "
                     f"(page {p + 1} of {pages})", fontsize=13, weight="bold")
            fig.text(0.03, 0.93, "RESTRICTED: person-level. Do not leave in a vehicle; shred "
                     "after the shift. Deadlines are 24/48/72 h after the overdose.",
                     fontsize=8, color="#a00")
            part = table.iloc[p * ROWS_PER_PAGE:(p + 1) * ROWS_PER_PAGE]
            ax = fig.add_axes([0.02, 0.03, 0.96, 0.88])
            ax.axis("off")
            if part.empty:
                ax.text(0.0, 0.95, "No open cases.", fontsize=11)
            else:
                t = ax.table(cellText=part.values.tolist(), colLabels=list(part.columns),
                             loc="upper left", cellLoc="left")
                t.auto_set_font_size(False)
                t.set_fontsize(6.5)
                t.scale(1, 1.35)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()
