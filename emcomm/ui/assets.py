"""Where the map's browser assets come from: the vendored Leaflet/jQuery and the offline basemap.

Owns the static folder (``emcomm/ui/static``) and the one switch that points folium at it.
It must not fetch anything from the network; online tiles are only ever an optional
layer that the user turns on (see ``emcomm.ui.mapview``).
"""

from __future__ import annotations

from pathlib import Path

import folium

STATIC_DIR = Path(__file__).resolve().parent / "static"
BASEMAP_PATH = STATIC_DIR / "basemap" / "countries.geojson"
BASEMAP_ATTRIBUTION = "Made with Natural Earth (public domain)"

# Streamlit serves <app folder>/static at this path when server.enableStaticServing is on.
STREAMLIT_STATIC_URL = "/app/static"


def use_local_assets(base_url: str = STREAMLIT_STATIC_URL) -> None:
    """Point folium's class-level asset lists at the vendored Leaflet and jQuery under ``base_url``.

    Bootstrap, Font Awesome and awesome-markers are dropped: this map draws circle
    markers and SVG paths only. Call once before building any map.

    >>> use_local_assets("/static")
    >>> folium.Map.default_js[0]
    ('leaflet', '/static/vendor/leaflet/leaflet.js')
    """
    base = base_url.rstrip("/")
    folium.Map.default_js = [
        ("leaflet", f"{base}/vendor/leaflet/leaflet.js"),
        ("jquery", f"{base}/vendor/jquery/jquery.min.js"),
    ]
    folium.Map.default_css = [("leaflet_css", f"{base}/vendor/leaflet/leaflet.css")]


def basemap_url(base_url: str = STREAMLIT_STATIC_URL) -> str:
    """URL of the offline basemap GeoJSON under ``base_url``."""
    return f"{base_url.rstrip('/')}/basemap/countries.geojson"
