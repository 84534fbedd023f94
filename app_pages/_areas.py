"""App layer for named areas: the configured geography, cell labels and the area product.

Cached wrappers only (primitives in, library calls inside): :func:`geography` reads the area
layers and places of :func:`geo.labels.configured_geography` (``GAPMAP_AREAS`` /
``GAPMAP_PLACES``, or the bundled sample's when the incidents are the sample);
:func:`area_table` calls :func:`products.areas.area_table`; :func:`labels` calls
:func:`geo.labels.cell_labels`; :func:`context` gives the offline map-context layers.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import streamlit as st

from app_pages._data import _load_incidents, sample_path, source_key
from app_pages._ui import Filters, policy

__all__ = ["geography", "areas_spec", "area_table", "labels", "context", "context_legend",
           "is_sample", "area_tab"]


def is_sample() -> bool:
    """The incidents in use are the bundled sample (so its geography applies)."""
    from data import DATA_DIR

    kind, path, _ = source_key()
    p = sample_path("incidents")
    return kind == "file" and p is not None and str(p) == path and str(DATA_DIR) in path


@st.cache_resource(max_entries=4, show_spinner=False)
def _geography(areas_spec: str, places_spec: str, sample: bool):
    from geo.labels import configured_geography

    return configured_geography(sample=sample, areas_spec=areas_spec, places_path=places_spec)


def areas_spec() -> str:
    """``GAPMAP_AREAS`` plus the layers added on the Data page this session (``;``-joined)."""
    from geo.labels import AREAS_ENV

    parts = [os.environ.get(AREAS_ENV, "").strip()] + list(st.session_state.get("area_layers",
                                                                               []))
    return ";".join(p for p in parts if p)


def geography():
    """``(area layers, places)`` configured for this deployment (shared, read-only)."""
    from geo.labels import PLACES_ENV

    try:
        return _geography(areas_spec(), os.environ.get(PLACES_ENV, ""), is_sample())
    except (ValueError, FileNotFoundError) as exc:
        st.warning(f"Area layers could not be read: {exc}")
        return [], None


@st.cache_data(max_entries=8, show_spinner=False)
def _labels(cells: bytes, areas_spec: str, places_spec: str, sample: bool) -> list[str]:
    from geo.labels import cell_labels

    layers, places = _geography(areas_spec, places_spec, sample)
    return cell_labels(np.frombuffer(cells, dtype=np.uint64), layers, places).tolist()


def labels(cells) -> list[str]:
    """Human label per cell ("Northgate Downtown · ZIP 00011 (near Northgate)"); "" if none."""
    from geo.labels import PLACES_ENV

    layers, places = geography()
    cells = np.asarray(cells, dtype=np.uint64)
    if not layers and places is None:
        return [""] * cells.size
    # the cells as one bytes key: hashing a tuple of thousands of ints costs more than labelling
    return _labels(np.ascontiguousarray(cells).tobytes(), areas_spec(),
                   os.environ.get(PLACES_ENV, ""), is_sample())


@st.cache_data(max_entries=8, show_spinner="Counting by area…")
def _area_table(kind, path, mtime, areas_spec, places_spec, sample, layer_i, start, end,
                outcomes, sources, tier_name, k, people=(None, None, None)) -> pd.DataFrame:
    from app_pages._analysis import _query
    from geo.privacy import PrivacyPolicy
    from products.areas import area_table as product

    layers, _ = _geography(areas_spec, places_spec, sample)
    q = _query(8, start, end, outcomes, sources, people)
    t = product(_load_incidents(kind, path, mtime), layers[layer_i], q,
                PrivacyPolicy.for_tier(tier_name, k=k))
    t.attrs = {**t.attrs}
    return t


def area_table(f: Filters, layer_i: int) -> pd.DataFrame:
    """products.areas.area_table for the sidebar's window and filters, this session's tier."""
    from app_pages._analysis import _people
    from geo.labels import PLACES_ENV

    pol = policy()
    return _area_table(*source_key(), areas_spec(),
                       os.environ.get(PLACES_ENV, ""), is_sample(), int(layer_i), f.start, f.end,
                       f.outcomes, f.sources, pol.tier, pol.k, people=_people(f))


@st.cache_resource(max_entries=2, show_spinner=False)
def _roads(path: str, mtime: float):
    import geopandas as gpd

    g = gpd.read_file(path)
    return g.to_crs(4326) if g.crs is not None and g.crs.to_epsg() != 4326 else g


def _roads_key() -> tuple[str, float] | None:
    """(path, mtime) of the roads drawn as context (see :func:`roads`), None for none."""
    from pathlib import Path

    from app_pages._planning import ROADS_ENV, roads_path

    if not os.environ.get(ROADS_ENV, "").strip() and not is_sample():
        return None
    p = roads_path()
    if p is None:
        return None
    try:
        return str(p), Path(p).stat().st_mtime
    except OSError:
        return None


def _read_roads(key: tuple[str, float] | None):
    if key is None:
        return None
    try:
        return _roads(*key)
    except Exception:  # noqa: BLE001  (context only: a bad file is reported by the siting page)
        return None


def roads():
    """Road lines drawn as map context: ``GAPMAP_ROADS``, else the bundled sample's roads when
    the sample is shown; None otherwise (or when the file cannot be read)."""
    return _read_roads(_roads_key())


@st.cache_resource(max_entries=16, show_spinner=False)
def _context(areas_spec: str, places_spec: str, sample: bool, names_of: int | None,
             roads_key: tuple[str, float] | None, names_on_zoom: bool = False) -> list:
    from layers.deck_areas import context_layers

    layers, places = _geography(areas_spec, places_spec, sample)
    return context_layers(layers, places, names_of=names_of, roads=_read_roads(roads_key),
                          names_on_zoom=names_on_zoom)


def context(names_of: int | None = 0, *, names_on_zoom: bool = False) -> list:
    """Offline map context: roads, area outlines, names of one layer, named places (and with
    ``names_on_zoom`` the names thinned at the first view, shown when zoomed in).

    Built once per configuration (the layers are shared and never changed: labels are thinned
    on copies), not on every rerun of every map page."""
    from geo.labels import PLACES_ENV
    from layers.deck_areas import context_layers

    layers, places = geography()  # (an unreadable layer: one warning, no outlines)
    if not layers and places is None:
        return context_layers([], None, names_of=names_of, roads=roads(),
                              names_on_zoom=names_on_zoom)
    return list(_context(areas_spec(), os.environ.get(PLACES_ENV, ""), is_sample(), names_of,
                         _roads_key(), names_on_zoom))


def context_legend() -> str:
    """Legend of :func:`context`."""
    from layers.deck_areas import context_legend as legend

    layers, places = geography()
    return legend(layers, places, roads())


def area_tab(folder) -> None:
    """Data page: add an area layer (GeoJSON, GeoPackage or zipped Shapefile) for the session.

    The file is checked with :func:`geo.areas.load_areas` (name column, polygons) and kept in
    ``folder``; the Areas page, cell labels and the briefing then use it.
    """
    from pathlib import Path

    from geo.areas import load_areas

    up = st.file_uploader("Area layer (neighbourhoods, ZIP codes, towns, districts …)",
                          type=["geojson", "json", "gpkg", "zip"], key="area_upload")
    if up is None:
        added = st.session_state.get("area_layers", [])
        if added:
            st.caption("Added this session: " + ", ".join(a.split("|")[2] for a in added))
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in up.name)[-80:]
    path = folder / name
    path.write_bytes(up.getvalue())
    try:
        import geopandas as gpd

        cols = [c for c in gpd.read_file(path, rows=1).columns if c != "geometry"]
    except Exception as exc:  # noqa: BLE001  (pyogrio raises its own types)
        st.error(f"{up.name} could not be read as GeoJSON, GeoPackage or zipped Shapefile: "
                 f"{exc}")
        return
    c = st.columns(3)
    col = c[0].selectbox("Column with the area name", cols, key="area_name_col")
    kind = c[1].text_input("What the areas are", value=Path(name).stem, key="area_kind")
    if st.button("Use this area layer", key="area_use"):
        try:
            layer = load_areas(path, col, kind=kind)
        except (ValueError, FileNotFoundError) as exc:
            st.error(str(exc))
            return
        spec = f"{path}|{col}|{kind.strip() or Path(name).stem}"
        st.session_state["area_layers"] = [*st.session_state.get("area_layers", []), spec]
        st.success(f"{layer.n} {kind} areas added: see the Areas page.")
