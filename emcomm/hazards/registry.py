"""Hazard registry: build a hazard model from a scenario's ``[[hazards]]`` table.

Owns the mapping from a kind name to its model's constructor and the checks common
to all kinds. Each model documents its own parameters in its ``from_params``; this
module adds nothing to them and never fills in a parameter that was given wrongly.

Every problem raises ``HazardError`` whose ``key`` names the parameter
(``track[2].lat_deg``) and whose message says what is expected.

Example
-------
>>> h = build_hazard("flood", {"zones": [{"lat_deg": 34.75, "lon_deg": 113.62,
...     "radius_km": 5, "depth_m": [[0, 0], [3600, 2.0]]}]})
>>> round(h.conditions(34.75, 113.62, 3600).water_depth_m, 2)
2.0
>>> build_hazard("volcano", {})
Traceback (most recent call last):
...
emcomm.errors.HazardError: kind: unknown hazard kind 'volcano'; expected one of: flood, fire, earthquake, typhoon
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

from emcomm.errors import HazardError
from emcomm.hazards.base import Hazard
from emcomm.hazards.earthquake import Earthquake
from emcomm.hazards.fire import Fire
from emcomm.hazards.flood import Flood
from emcomm.hazards.typhoon import Typhoon

# kind → constructor(params, prefix, start_epoch) ; filled below, one line per model
_BUILDERS: dict[str, Callable[[Mapping[str, Any], str, float | None], Hazard]] = {
    "flood": lambda params, prefix, start_epoch: Flood.from_params(params, prefix),
    "fire": lambda params, prefix, start_epoch: Fire.from_params(params, prefix),
    "earthquake": lambda params, prefix, start_epoch: Earthquake.from_params(params, prefix),
    "typhoon": lambda params, prefix, start_epoch: Typhoon.from_params(params, prefix, start_epoch),
}

HAZARD_KINDS: tuple[str, ...] = ("flood", "fire", "earthquake", "typhoon")


def build_hazard(kind: str, params: Mapping[str, Any], *, start_epoch: float | None = None,
                 key_prefix: str = "") -> Hazard:
    """Build one hazard model from its kind name and parameter table.

    ``params`` times are seconds from scenario start (``t_s``). ``start_epoch`` (Unix seconds
    of the scenario start) lets a typhoon track give absolute ISO 8601 ``time`` stamps.
    ``key_prefix`` is prepended to error keys (e.g. ``"params"``).

    >>> build_hazard("flood", {"rain_cells": []})
    Traceback (most recent call last):
    ...
    emcomm.errors.HazardError: a flood needs at least one of rain_cells or zones
    """
    if not isinstance(kind, str):
        raise HazardError(f"expected a hazard kind name, got {kind!r}", "kind")
    name = kind.strip().lower()
    builder = _BUILDERS.get(name)
    if builder is None:
        known = ", ".join(k for k in HAZARD_KINDS if k in _BUILDERS)
        raise HazardError(f"unknown hazard kind {kind!r}; expected one of: {known}", "kind")
    if start_epoch is not None and (isinstance(start_epoch, bool) or not isinstance(start_epoch, (int, float))
                                    or not math.isfinite(start_epoch)):
        raise HazardError(f"start_epoch must be a finite number of Unix seconds, got {start_epoch!r}",
                          "start_epoch")
    return builder(params, key_prefix, None if start_epoch is None else float(start_epoch))


def hazard_kinds() -> tuple[str, ...]:
    """The kinds ``build_hazard`` accepts."""
    return tuple(k for k in HAZARD_KINDS if k in _BUILDERS)
