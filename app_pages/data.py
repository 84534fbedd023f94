"""Data: upload incident and resource files, map columns, validation report, the store."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import _app

st.title("Data")
kind, path, _ = _app.source_key()
st.caption(
    "In use: "
    + {
        "store": f"incident store {path}",
        "file": f"incident file {Path(path).name}",
        "none": "no incident data",
    }[kind]
)

presets_mod = _app.optional("geo.presets")
ingest = _app.optional("geo.ingest")
store_mod = _app.optional("geo.store")


def _save_upload(upload) -> Path:
    """Write an uploaded file to this session's temp folder (keeping its suffix)."""
    folder = st.session_state.get("_upload_dir")
    if not folder or not Path(folder).exists():
        folder = tempfile.mkdtemp(prefix="gapmap_upload_")
        st.session_state["_upload_dir"] = folder
    out = Path(folder) / Path(upload.name).name
    out.write_bytes(upload.getvalue())
    return out


def _columns_of(p: Path) -> list[str]:
    if p.suffix.lower() == ".csv":
        return list(pd.read_csv(p, nrows=0).columns)
    if p.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(p).names)
    import geopandas as gpd

    return [c for c in gpd.read_file(p, rows=1).columns if c != "geometry"]


tab_inc, tab_res, tab_store = st.tabs(["Incident file", "Resource file", "Incident store"])

# ------------------------------------------------------------------ incidents
with tab_inc:
    if ingest is None:
        _app.missing_library("Incident upload", "geo.ingest")
    else:
        up = st.file_uploader(
            "Incident export (CSV, GeoJSON or Parquet)",
            type=["csv", "geojson", "json", "parquet"],
            key="inc_upload",
        )
        if up is not None:
            p = _save_upload(up)
            cols = _columns_of(p)
            names = ["(auto-detect)"] + (list(presets_mod.PRESETS) if presets_mod else [])
            detected = presets_mod.detect_preset(cols) if presets_mod else None
            c = st.columns(2)
            preset = c[0].selectbox(
                "Column preset", names, key="inc_preset", help=f"Detected: {detected or 'none'}"
            )
            source = c[1].selectbox(
                "Source of rows without a source column",
                ["(from file)", "ems", "police", "hospital", "odmap", "other"],
                key="inc_source",
            )
            with st.expander("Map columns by hand (overrides the preset)"):
                mapping = {}
                for canon in (
                    "occurred_at",
                    "lat",
                    "lon",
                    "outcome",
                    "naloxone",
                    "source",
                    "incident_id",
                ):
                    choice = st.selectbox(canon, ["(preset)"] + cols, key=f"map_{canon}")
                    if choice != "(preset)":
                        mapping[canon] = choice
            try:
                result = ingest.read_incidents(
                    p,
                    preset=None if preset == "(auto-detect)" else preset,
                    mapping=mapping or None,
                    source=None if source == "(from file)" else source,
                )
            except ValueError as exc:
                st.error(f"Cannot read {up.name}: {exc}")
            else:
                s = result.summary
                m = st.columns(4)
                for i, key in enumerate(("read", "accepted", "rejected", "merged")):
                    m[i].metric(f"Rows {key}", f"{int(s.get(key, 0)):,}")
                st.session_state["_last_ingest_file"] = str(p)
                st.session_state["_last_ingest_opts"] = {
                    "preset": None if preset == "(auto-detect)" else preset,
                    "mapping": mapping or None,
                    "source": None if source == "(from file)" else source,
                }
                if len(result.rejects):
                    st.subheader("Rejected rows")
                    st.dataframe(result.rejects.head(500), hide_index=True)
                    st.download_button(
                        "Download rejects (CSV)",
                        result.rejects.to_csv(index=False).encode(),
                        file_name=f"{p.stem}_rejects.csv",
                        mime="text/csv",
                        key="rejects_csv",
                    )
                else:
                    st.success("Every row passed validation.")
                st.caption(
                    "To analyse this file, ingest it into an incident store on the "
                    "'Incident store' tab and use that store in the dashboard."
                )

# ------------------------------------------------------------------ resources
with tab_res:
    sites_mod = _app.optional("layers.sites")
    if sites_mod is None:
        _app.missing_library("Resource upload", "layers.sites")
    else:
        up = st.file_uploader(
            "Resource sites (canonical CSV or GeoJSON)", type=["csv", "geojson"], key="res_upload"
        )
        if up is not None:
            p = _save_upload(up)
            try:
                lr = sites_mod.load_resources(p)
            except ValueError as exc:
                st.error(f"Cannot read {up.name}: {exc}")
            else:
                m = st.columns(3)
                m[0].metric("Rows read", f"{lr.summary['read']:,}")
                m[1].metric("Sites loaded", f"{lr.summary['loaded']:,}")
                m[2].metric("Rows rejected", f"{lr.summary['rejected']:,}")
                if len(lr.rejects):
                    st.dataframe(lr.rejects, hide_index=True)
                    st.download_button(
                        "Download rejects (CSV)",
                        lr.rejects.to_csv(index=False).encode(),
                        file_name=f"{p.stem}_rejects.csv",
                        key="res_rejects_csv",
                    )
                if st.button("Use these resources in the dashboard", key="use_resources"):
                    st.session_state["resources_path"] = str(p)
                    st.success("Resource sites replaced for this session.")

# ------------------------------------------------------------------ store
with tab_store:
    if store_mod is None:
        _app.missing_library("The incident store", "geo.store")
    else:
        default = (
            st.session_state.get("store_path")
            or os.environ.get("GAPMAP_STORE")
            or "data/store/gapmap.duckdb"
        )
        sp = st.text_input("Store file (DuckDB)", value=default, key="store_input")
        store = store_mod.IncidentStore(sp) if Path(sp).exists() else None
        if store is not None:
            status = store.status()
            m = st.columns(3)
            m[0].metric("Rows stored", f"{int(status.get('rows', 0)):,}")
            m[1].metric("Events (de-duplicated)", f"{int(status.get('events', 0)):,}")
            m[2].metric("Files ingested", f"{int(status.get('files_ingested', 0)):,}")
            st.write(
                f"Dates: {status.get('first') or '–'} to {status.get('last') or '–'}; "
                f"last ingest: {status.get('last_ingest') or 'never'}; records by source: "
                + ", ".join(f"{k} {v:,}" for k, v in (status.get("sources") or {}).items())
            )
            if status.get("files"):
                st.dataframe(pd.DataFrame(status["files"]), hide_index=True, key="store_files")
        else:
            st.caption("No store at this path yet; ingesting creates it.")
        last = st.session_state.get("_last_ingest_file")
        if last and st.button(f"Ingest {Path(last).name} into the store", key="ingest_btn"):
            bar = st.progress(0.0, text="Ingesting…")

            stages = {"read": 0.5}

            def _progress(stage, done, total) -> None:
                frac = stages.get(stage, 0.75) * (done / total if total else 1.0)
                bar.progress(min(max(frac, 0.0), 0.99), text=f"Ingesting: {stage} ({done:,} rows)")

            Path(sp).parent.mkdir(parents=True, exist_ok=True)
            opts = st.session_state.get("_last_ingest_opts", {})
            summary = store_mod.IncidentStore(sp).ingest(last, progress=_progress, **opts)
            bar.progress(1.0, text="Done")
            st.success(f"Ingested: {summary}")
        if store is not None and st.button("Use this store in the dashboard", key="use_store"):
            st.session_state["store_path"] = sp
            st.rerun()
        if st.session_state.get("store_path") and st.button(
            "Back to the bundled sample", key="use_sample"
        ):
            st.session_state.pop("store_path", None)
            st.rerun()
