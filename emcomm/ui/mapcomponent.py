"""The map on the Streamlit page: one Leaflet map kept in the browser, fed only the layers that changed.

Owns the Streamlit side of the ``emcomm_map`` component (``emcomm/ui/component/``):
declaring it, remembering per browser session which layer hashes the browser holds, and
honouring the browser's request for layers it lacks (after its frame was reloaded). It
draws nothing itself (looks come from ``mapview`` through ``layers``) and sends nothing
into the mesh: the component's only message back is the list of layers it lacks.

Example (inside a Streamlit script)::

    show_map(base_spec(center=(34.75, 113.65)), situation_payloads(s), key="map")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, MutableMapping

import streamlit as st
import streamlit.components.v1 as components

from emcomm.ui import mapview
from emcomm.ui.assets import BASEMAP_ATTRIBUTION, STREAMLIT_STATIC_URL, basemap_url
from emcomm.ui.layers import LayerPayload, layers_to_send

COMPONENT_DIR = Path(__file__).resolve().parent / "component"
LAYER_LABELS = {"Routes": "FLASH/IMMEDIATE routes"}
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

_component = components.declare_component("emcomm_map", path=str(COMPONENT_DIR))


def base_spec(center: tuple[float, float] = (34.75, 113.65), zoom: int = 8,
              bounds: list[list[float]] | None = None, kinds: Iterable[str] | None = None,
              online_tiles: bool = False, height_px: int = 620,
              assets: str = STREAMLIT_STATIC_URL, with_basemap: bool = True) -> dict[str, Any]:
    """What the browser needs to build the map once: view, basemap URL, legend, tiles option.

    >>> b = base_spec(kinds=["beidou"])
    >>> b["basemap_url"], "Beidou RDSS" in b["legend_html"], b["online_tiles"]
    ('/app/static/basemap/countries.geojson', True, None)
    """
    return {"center": list(center), "zoom": zoom, "bounds": bounds, "height_px": height_px,
            "assets": assets.rstrip("/"), "basemap_url": basemap_url(assets) if with_basemap else None,
            "basemap_label": "Basemap (offline, Natural Earth)", "attribution": BASEMAP_ATTRIBUTION,
            "online_tiles": OSM_TILES if online_tiles else None,
            "legend_html": mapview.legend_html(list(kinds) if kinds is not None else None)}


def plan_update(layers: list[LayerPayload], state: MutableMapping[str, Any], key: str,
                browser_value: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The layer list to send now, updating ``state`` (a session's memory of what its
    browser holds). A new request from the browser (``{"need": [...], "n": ...}``) makes
    the named layers be sent again even if unchanged.

    >>> from emcomm.ui.situation import Situation
    >>> from emcomm.ui.layers import situation_payloads
    >>> ls, state = situation_payloads(Situation(t_s=0.0)), {}
    >>> [x["d"] is None for x in plan_update(ls, state, "map", None)][:2]
    [False, False]
    >>> [x["d"] is None for x in plan_update(ls, state, "map", None)][:2]
    [True, True]
    >>> [x["d"] is None for x in plan_update(ls, state, "map", {"need": ["Routes"], "n": 1})][:2]
    [True, False]
    """
    have: dict[str, str] = dict(state.get(f"_emc_have_{key}", {}))
    if isinstance(browser_value, Mapping) and isinstance(browser_value.get("need"), list):
        if browser_value.get("n") != state.get(f"_emc_need_{key}"):
            state[f"_emc_need_{key}"] = browser_value.get("n")
            have = {k: h for k, h in have.items() if k not in browser_value["need"]}
    sent, after = layers_to_send(layers, have)
    state[f"_emc_have_{key}"] = after
    for x in sent:
        x["label"] = LAYER_LABELS.get(x["name"], x["name"])
    return sent


def show_map(base: Mapping[str, Any], layers: list[LayerPayload] | None = None, key: str = "map") -> None:
    """Draw (first call) or update (later calls) the map with this ``key`` on the page."""
    ss = st.session_state
    value = ss.get(key) if key in ss else None
    sent = plan_update(layers or [], ss, key, value)
    _component(base=dict(base), layers=sent, key=key, default=None)
