"""The basemap under the maps: a tokenless public style by default, configurable, switchable off.

The viewer's browser fetches the basemap (style, tiles, fonts) itself; the server never does.
``GAPMAP_BASEMAP`` unset or blank → CARTO Positron (:data:`DEFAULT_BASEMAP`); a style URL →
that style; ``off`` / ``none`` → no basemap at all (air-gapped deployments: nothing outside the
deployment is requested). The deck.gl layers never depend on it: offline context (area outlines
and names, roads, places) comes from local files (:mod:`layers.deck_areas`).
"""

from __future__ import annotations

import os

__all__ = ["BASEMAP_ENV", "DEFAULT_BASEMAP", "basemap_style"]

#: Environment variable naming the basemap: a style URL, or ``off`` / ``none`` for no basemap.
BASEMAP_ENV = "GAPMAP_BASEMAP"
#: The default basemap: CARTO Positron, a public MapLibre GL style that needs no token (light,
#: so the cells' colours and the offline labels stay readable on top of it).
DEFAULT_BASEMAP = "https://basemaps.cartocdn.com/gl/positron-gl-style/style.json"
_OFF = frozenset({"off", "none", "no", "false", "0"})


def basemap_style(value: str | None = None) -> str | None:
    """The basemap style URL to request, or None for no basemap.

    ``value`` defaults to ``$GAPMAP_BASEMAP``: unset or blank → :data:`DEFAULT_BASEMAP`;
    ``off`` / ``none`` / ``no`` / ``false`` / ``0`` (any case) → None; otherwise an
    ``http(s)://`` style URL (anything else is a ValueError naming the variable).
    """
    raw = os.environ.get(BASEMAP_ENV, "") if value is None else value
    v = raw.strip()
    if not v:
        return DEFAULT_BASEMAP
    if v.lower() in _OFF:
        return None
    if not v.lower().startswith(("https://", "http://")):
        raise ValueError(f"{BASEMAP_ENV}={v!r} is neither a style URL (https://…/style.json) "
                         "nor 'off'.")
    return v

