"""Data: what data is in use; upload, validate and ingest files (restricted tier only).

Public tier: the data source, the dates covered and the total through the privacy gate — no
uploads, no stores, no paths. Restricted tier: choose an incident store from the configured
folder (``GAPMAP_STORE_DIR``), upload incident exports (validated exactly as ``gapmap ingest``
does, with the study-area check when a boundary is configured; rejects shown and downloadable),
ingest them, upload resource files, and switch the dashboard's data. Uploads live in a
temporary folder only while a run uses them. Every error is one sentence on the page; details
go to the server log.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages import _app
from geo import ingest, presets
from geo.store import IncidentStore
from layers.sites import load_resources

log = logging.getLogger("gapmap.app.data")

NEW_STORE = "(new store…)"
SOURCE_CHOICES = ["(from file)", "ems", "police", "hospital", "odmap", "other"]
MAPPABLE = ("occurred_at", "lat", "lon", "outcome", "naloxone", "source", "incident_id")


# ------------------------------------------------------------------ helpers
def _source_label(kind: str, path: str) -> str:
    """The data in use, by name only (never a server path)."""
    if kind == "store":
        return f"incident store {Path(path).stem}"
    if kind == "file":
        if os.environ.get(_app.SAMPLE_ENV["incidents"], "").strip():
            return f"incident file {Path(path).name}"
        return "bundled synthetic sample"
    return "no incident data"


def _safe_name(name: str) -> str:
    """An uploaded file's name reduced to a harmless file name (suffix kept)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", Path(str(name)).name).lstrip(".")
    return base or "upload"


@contextmanager
def _upload_file(upload) -> Iterator[Path]:
    """The upload written to a fresh temporary folder, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="gapmap_upload_") as folder:
        out = Path(folder) / _safe_name(upload.name)
        out.write_bytes(upload.getvalue())
        yield out


def _sentence(exc: Exception, hide: Path | None = None, name: str = "the file") -> str:
    """One sentence for the user from a library error (no temp path, no traceback)."""
    msg = str(exc)
    if hide is not None:
        msg = msg.replace(str(hide), name).replace(str(hide.parent), "")
    msg = re.sub(r"(/[^\s/'\"]+)+/([^\s/'\"]+)", r"\2", msg)  # any other path → its name
    msg = " ".join(msg.split())
    msg = re.split(r"(?<=[.!?])\s", msg, maxsplit=1)[0].rstrip(".")
    if len(msg) > 240:
        msg = msg[:237] + "…"
    return (msg[:1].upper() + msg[1:] + ".") if msg else "Unknown error."


def _error(what: str, exc: Exception, hide: Path | None = None, name: str = "the file") -> None:
    """Log ``exc`` with its traceback server-side; show one sentence on the page."""
    log.error("%s failed", what, exc_info=exc)
    if isinstance(exc, ValueError):
        st.error(f"{what} failed: {_sentence(exc, hide, name)}")
    else:
        st.error(f"{what} failed; the details are in the server log.")


def _columns_of(p: Path) -> list[str]:
    """Column names as ingest will see them (encoding, delimiter and Excel handled by
    :func:`geo.readers.read_columns`, the reader ``gapmap ingest`` uses)."""
    if p.suffix.lower() in (".geojson", ".json"):
        import geopandas as gpd

        return [c for c in gpd.read_file(p, rows=1).columns if c != "geometry"]
    from geo.readers import read_columns

    return read_columns(p)


def _total(df: pd.DataFrame, start, end) -> str:
    """Events in ``[start, end)`` (None = open) through the privacy gate of the current tier."""
    from geo.privacy import KEY_SUFFIX, key_sum, publish, with_record_keys

    t = pd.to_datetime(df["occurred_at"])
    keep = pd.Series(True, index=df.index)
    if start is not None:
        keep &= t >= start
    if end is not None:
        keep &= t < end
    rkey = with_record_keys(df)["rkey"].to_numpy()[keep.to_numpy()]
    table = pd.DataFrame({"count": [int(keep.sum())], "count" + KEY_SUFFIX: [key_sum(rkey)]})
    v = publish(table, _app.policy(), count_columns=["count"])["count"].iloc[0]
    return f"<{_app.policy().k}" if pd.isna(v) else f"{int(v):,}"


# ------------------------------------------------------------------ every tier
def _overview(kind: str) -> None:
    """Source, dates covered and the event total: public — the default release window (the
    last 52 whole weeks) through the gate; restricted — every date, unsuppressed."""
    from geo.privacy import check_window

    if kind == "none":
        st.info("No incident data is loaded.")
        return
    try:
        first, last = _app.data_range()
        start, end = check_window(_app.policy(), None, None, last)
        total = _total(_app.incidents(), start, end)
    except Exception as exc:  # noqa: BLE001 - one sentence on the page, details in the log
        _error("Reading the incident data", exc)
        return
    shown_last = pd.Timestamp(last) if end is None else end - pd.Timedelta(days=1)
    if start is None:
        label = "Overdose events (all dates)"
    else:
        label = f"Overdose events ({start:%Y-%m-%d} to {shown_last:%Y-%m-%d})"
    c = st.columns(2)
    c[0].metric(label, total)
    c[1].metric("Dates covered", f"{pd.Timestamp(first):%Y-%m-%d} to {shown_last:%Y-%m-%d}")


# ------------------------------------------------------------------ restricted tier
def _choose_store() -> Path | None:
    """The target store: a ``*.duckdb`` of the store folder or a new, validated name."""
    nxt = st.session_state.pop("_store_choice_next", None)
    if nxt is not None:
        st.session_state["store_choice"] = nxt
    try:
        names = _app.store_names()
    except OSError as exc:
        _error("Opening the store folder", exc)
        return None
    options = names + [NEW_STORE]
    current = Path(_app.store_path() or "").stem
    if st.session_state.get("store_choice") not in options:
        st.session_state["store_choice"] = current if current in names else options[0]
    choice = st.selectbox(
        "Incident store",
        options,
        key="store_choice",
        help="Stores in the configured store folder (GAPMAP_STORE_DIR); pick "
        f"'{NEW_STORE}' to create one by ingesting a file.",
    )
    if choice != NEW_STORE:
        return _app.store_file(choice)
    name = st.text_input("New store name (letters, digits, - and _)", key="store_new_name")
    if not name.strip():
        st.caption("Type a name for the new store, then ingest a file into it.")
        return None
    try:
        return _app.store_file(name)
    except ValueError as exc:
        st.error(str(exc))
        return None


def _store_status(target: Path | None) -> None:
    if target is None:
        return
    if not target.exists():
        st.caption(f"Store {target.stem} does not exist yet; ingesting a file creates it.")
    else:
        try:
            status = IncidentStore(target).status()
        except Exception as exc:  # noqa: BLE001
            _error(f"Reading store {target.stem}", exc)
            return
        m = st.columns(3)
        m[0].metric("Rows stored", f"{int(status.get('rows', 0)):,}")
        m[1].metric("Events (de-duplicated)", f"{int(status.get('events', 0)):,}")
        m[2].metric("Files ingested", f"{int(status.get('files_ingested', 0)):,}")
        first, last = status.get("first"), status.get("last")
        dates = (
            f"{pd.Timestamp(first):%Y-%m-%d} to {pd.Timestamp(last):%Y-%m-%d}"
            if first and last
            else "–"
        )
        st.write(
            f"Dates: {dates}; last ingest: {status.get('last_ingest') or 'never'}; "
            "records by source: "
            + (", ".join(f"{k} {v:,}" for k, v in (status.get("sources") or {}).items()) or "–")
        )
        if status.get("files"):
            files = pd.DataFrame(status["files"])
            files["path"] = files["path"].map(lambda p: Path(str(p)).name)
            st.dataframe(
                files.rename(columns={"path": "file"}).drop(columns=["sha256"], errors="ignore"),
                hide_index=True,
                key="store_files",
            )
        if st.button("Use this store in the dashboard", key="use_store"):
            st.session_state["store_path"] = str(target)
            st.rerun()
    if st.session_state.get("store_path") and st.button(
        "Back to the bundled sample", key="use_sample"
    ):
        st.session_state.pop("store_path", None)
        st.rerun()


def _ingest_options(p: Path) -> dict:
    """Preset, source and hand mapping widgets for an uploaded export's columns."""
    cols = _columns_of(p)
    names = ["(auto-detect)"] + list(presets.PRESETS)
    detected = presets.detect_preset(cols)
    c = st.columns(3)
    preset = c[0].selectbox(
        "Column preset", names, key="inc_preset", help=f"Detected: {detected or 'none'}"
    )
    source = c[1].selectbox(
        "Source of rows without a source column", SOURCE_CHOICES, key="inc_source"
    )
    drop = c[2].checkbox(
        "Reject rows outside the study area",
        key="inc_drop_outside",
        disabled=_app.boundary() is None,
        help="Otherwise they are kept and flagged (as gapmap ingest does without "
        "--drop-outside). Swapped coordinates are always rejected.",
    )
    mapping = {}
    with st.expander("Map columns by hand (overrides the preset)"):
        for canon in MAPPABLE:
            choice = st.selectbox(canon, ["(preset)"] + cols, key=f"map_{canon}")
            if choice != "(preset)":
                mapping[canon] = choice
    return {
        "preset": None if preset == "(auto-detect)" else preset,
        "mapping": mapping or None,
        "source": None if source == "(from file)" else source,
        "boundary": _app.boundary(),
        "drop_outside": bool(drop) and _app.boundary() is not None,
    }


def _show_rejects(rejects: pd.DataFrame, stem: str, key: str) -> None:
    if not len(rejects):
        st.success("Every row passed validation.")
        return
    st.subheader("Rejected rows")
    st.dataframe(rejects.head(500), hide_index=True, key=f"{key}_table")
    st.download_button(
        "Download rejects (CSV)",
        rejects.to_csv(index=False).encode(),
        file_name=f"{stem}_rejects.csv",
        mime="text/csv",
        key=key,
    )


def _ingest_into(target: Path, p: Path, opts: dict, name: str) -> None:
    bar = st.progress(0.0, text="Ingesting…")
    stages = {"read": 0.5}

    def _progress(stage, done, total) -> None:
        frac = stages.get(stage, 0.75) * (done / total if total else 1.0)
        bar.progress(min(max(frac, 0.0), 0.99), text=f"Ingesting: {stage} ({done:,} rows)")

    try:
        summary = IncidentStore(target).ingest(p, progress=_progress, **opts)
    except Exception as exc:  # noqa: BLE001
        bar.empty()
        _error(f"Ingesting {name}", exc, hide=p, name=name)
        return
    bar.progress(1.0, text="Done")
    if summary.get("skipped"):
        msg = f"{name} was already in store {target.stem}; nothing added."
    else:
        msg = (
            f"Ingested {name} into store {target.stem}: {summary['added']:,} new record(s), "
            f"{summary['rejected']:,} rejected; the store now holds {summary['records']:,} "
            f"records, {summary['events']:,} events."
        )
    log.info("ingested %s into %s: %s", name, target, summary)
    st.session_state["_ingest_message"] = msg
    st.session_state["_store_choice_next"] = target.stem
    st.rerun()


def _incident_tab(target: Path | None) -> None:
    up = st.file_uploader(
        "Incident export (CSV/TSV/TXT in any common encoding, Excel .xlsx, GeoJSON or Parquet)",
        type=["csv", "tsv", "txt", "xlsx", "geojson", "json", "parquet"],
        key="inc_upload",
    )
    if up is None:
        return
    with _upload_file(up) as p:
        try:
            opts = _ingest_options(p)
            result = ingest.read_incidents(p, **opts)
        except Exception as exc:  # noqa: BLE001
            _error(f"Reading {up.name}", exc, hide=p, name=up.name)
            return
        s = result.summary
        m = st.columns(5)
        for i, key in enumerate(("read", "accepted", "rejected", "merged", "outside_area")):
            label = "Outside the study area" if key == "outside_area" else f"Rows {key}"
            m[i].metric(label, f"{int(s.get(key, 0)):,}")
        if opts["boundary"] is None:
            st.caption("No study-area boundary is configured: rows are not checked against one.")
        for w in s.get("warnings", []):  # e.g. a coordinate shared by many records
            st.warning(w)
        _show_rejects(result.rejects, Path(up.name).stem, "rejects_csv")
        if target is None:
            st.caption("Choose or name an incident store above to ingest this file.")
            return
        if st.button(f"Ingest {up.name} into store {target.stem}", key="ingest_btn"):
            _ingest_into(target, p, opts, up.name)


def _resource_tab() -> None:
    up = st.file_uploader(
        "Resource sites (CSV/TSV, Excel .xlsx or GeoJSON)",
        type=["csv", "tsv", "txt", "xlsx", "geojson"], key="res_upload"
    )
    if up is None:
        return
    with _upload_file(up) as p:
        try:
            lr = load_resources(p)
        except Exception as exc:  # noqa: BLE001
            _error(f"Reading {up.name}", exc, hide=p, name=up.name)
            return
    m = st.columns(3)
    m[0].metric("Rows read", f"{lr.summary['read']:,}")
    m[1].metric("Sites loaded", f"{lr.summary['loaded']:,}")
    m[2].metric("Rows rejected", f"{lr.summary['rejected']:,}")
    _show_rejects(lr.rejects, Path(up.name).stem, "res_rejects_csv")
    if st.button("Use these resources in the dashboard", key="use_resources"):
        # resource sites are public places: keep their canonical table beside the stores
        try:
            folder = _app.store_dir() / "resources"
            folder.mkdir(exist_ok=True)
            out = folder / f"{Path(_safe_name(up.name)).stem}.csv"
            lr.sites.to_csv(out, index=False)
        except OSError as exc:
            _error("Saving the resource sites", exc)
            return
        st.session_state["resources_path"] = str(out)
        st.success("Resource sites replaced for this session.")


def _restricted_page() -> None:
    msg = st.session_state.pop("_ingest_message", None)
    if msg:
        st.success(msg)
    target = _choose_store()
    tab_inc, tab_res, tab_area, tab_store = st.tabs(
        ["Incident file", "Resource file", "Area layers", "Incident store"])
    with tab_inc:
        _incident_tab(target)
    with tab_res:
        _resource_tab()
    with tab_area:  # named areas: Areas page, cell labels, briefing
        from app_pages._areas import area_tab

        area_tab(_app.store_dir() / "areas")
    with tab_store:
        _store_status(target)


# ------------------------------------------------------------------ page
st.title("Data")
kind, path, _ = _app.source_key()
st.caption("In use: " + _source_label(kind, path))
_overview(kind)
if _app.tier() == "restricted":
    _restricted_page()
else:
    st.info("Log in to upload or ingest data.")
