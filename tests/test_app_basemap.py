# ruff: noqa: F811  (pytest fixtures imported from app_helpers are re-bound as arguments)
"""AppTest: the dashboard's maps follow GAPMAP_BASEMAP (default CARTO Positron, a style URL,
off), and a misconfigured value is one warning sentence with the map still drawn."""

from __future__ import annotations

from app_helpers import app_env, app_inputs, deck_spec, layer, run_page  # noqa: F401

from layers.basemap import DEFAULT_BASEMAP


def test_default_basemap_is_positron(monkeypatch):
    monkeypatch.delenv("GAPMAP_BASEMAP")  # app_env sets it off for the other app tests
    spec = deck_spec(run_page("hotspots"))
    assert spec["mapProvider"] == "carto" and spec["mapStyle"] == DEFAULT_BASEMAP
    assert layer(spec, "cells")["data"]  # the layers are the same as without a basemap


def test_misconfigured_basemap_is_one_sentence_and_the_map_still_draws(monkeypatch):
    monkeypatch.setenv("GAPMAP_BASEMAP", "positron")
    at = run_page("hotspots")
    assert not at.exception
    warnings = [w.value for w in at.warning if "GAPMAP_BASEMAP" in w.value]
    assert warnings == ["GAPMAP_BASEMAP='positron' is neither a style URL "
                        "(https://…/style.json) nor 'off'. The maps are drawn without a basemap."]
    spec = deck_spec(at)
    assert "mapProvider" not in spec and layer(spec, "cells")["data"]


def test_basemap_off_and_custom_style(monkeypatch):
    spec = deck_spec(run_page("hotspots"))  # app_env: GAPMAP_BASEMAP=off
    assert "mapProvider" not in spec
    monkeypatch.setenv("GAPMAP_BASEMAP", "https://tiles.example.org/style.json")
    spec = deck_spec(run_page("hotspots"))
    assert spec["mapProvider"] == "carto"
    assert spec["mapStyle"] == "https://tiles.example.org/style.json"
