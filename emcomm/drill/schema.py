"""The scenario file schema: pydantic models of the raw TOML tables, field by field.

This module owns *what keys a scenario file may have and what values they take*,
one model per TOML table (documented for people in drills/SCHEMA.md). It checks each
table on its own; cross-references (a link to an unknown node, duplicate ids), hazard
parameters and generation of node groups and links are done by ``emcomm.drill.scenario``.
Nothing outside ``emcomm.drill`` sees these models: the loader turns them into plain
frozen dataclasses.

Example
-------
>>> SatelliteModel.model_validate({"name": "Tiantong-1", "orbit": "geo", "longitude_deg": 101.4}).orbit
'geo'
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from emcomm.links.profiles import LinkKind
from emcomm.priority import Priority

Role = Literal["command", "team", "relay", "sensor", "base_station", "hub", "uav"]
Content = Literal["text", "position", "status", "alert", "file"]


class _Table(BaseModel):
    # strict: "12" is not silently turned into 12, a typo'd key is an error
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ScenarioInfoModel(_Table):
    name: str = Field(min_length=1)
    description: str = ""
    sources: list[str] = Field(min_length=1)
    start: dt.datetime | str
    duration_s: float = Field(gt=0)
    step_s: float = Field(default=3600.0, gt=0)
    seed: int = 0
    # published share of base stations out at the peak (the yardstick a drill report sets beside its own)
    published_outage_fraction: float | None = Field(default=None, gt=0, le=1)

    @field_validator("start")
    @classmethod
    def _iso_start(cls, v: dt.datetime | str) -> dt.datetime:
        if isinstance(v, str):
            try:
                v = dt.datetime.fromisoformat(v)
            except ValueError:
                raise ValueError(f"expected an ISO 8601 time such as 2021-07-20T00:00:00+08:00, got {v!r}") from None
        return v

    @field_validator("sources")
    @classmethod
    def _non_empty_sources(cls, v: list[str]) -> list[str]:
        for s in v:
            if not s.strip():
                raise ValueError("every source must name where a fact comes from; found an empty string")
        return v


class SatelliteModel(_Table):
    name: str = Field(min_length=1)
    orbit: Literal["geo", "leo"]
    longitude_deg: float | None = Field(default=None, ge=-180, le=180)
    # LEO: visibility windows [start_s, end_s] (seconds from the scenario start) ...
    passes: list[tuple[float, float]] = []
    # ... or a shell description
    altitude_km: float | None = Field(default=None, gt=0)
    inclination_deg: float | None = Field(default=None, ge=0, le=180)

    @field_validator("passes", mode="before")
    @classmethod
    def _windows_to_tuples(cls, v: Any) -> Any:
        return [tuple(w) if isinstance(w, list) else w for w in v] if isinstance(v, list) else v

    @model_validator(mode="after")
    def _orbit_fields(self) -> "SatelliteModel":
        if self.orbit == "geo":
            if self.longitude_deg is None:
                raise ValueError("a geo satellite needs longitude_deg (its orbital slot, e.g. 110.5)")
            if self.passes or self.altitude_km is not None or self.inclination_deg is not None:
                raise ValueError("passes, altitude_km and inclination_deg describe leo satellites only")
        else:
            if self.longitude_deg is not None:
                raise ValueError("longitude_deg describes geo satellites only; a leo entry has passes or a shell")
            if not self.passes and (self.altitude_km is None or self.inclination_deg is None):
                raise ValueError("a leo entry needs passes = [[start_s, end_s], ...] or a shell "
                                 "(altitude_km and inclination_deg)")
            for i, (a, b) in enumerate(self.passes):
                if not 0 <= a < b:
                    raise ValueError(f"passes[{i}] = [{a}, {b}]: expected 0 <= start_s < end_s")
        return self


class PowerModel(_Table):
    mains: bool = True
    battery_h: float = Field(default=0.0, ge=0)
    generator: bool = False
    generator_start_s: float = Field(default=0.0, ge=0)
    generator_fuel_h: float | None = Field(default=None, gt=0)   # None: fuel assumed
    restore_at_s: float | None = Field(default=None, ge=0)


class GroupPowerModel(_Table):
    """Power of generated nodes: ``battery_h`` may be a range [low, high] drawn per node."""

    mains: bool = True
    battery_h: tuple[float, float] = (0.0, 0.0)
    generator: bool = False
    generator_start_s: float = Field(default=0.0, ge=0)
    generator_fuel_h: float | None = Field(default=None, gt=0)   # None: fuel assumed
    restore_at_s: float | None = Field(default=None, ge=0)

    @field_validator("battery_h", mode="before")
    @classmethod
    def _number_or_range(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (float(v), float(v))
        if isinstance(v, list):
            return tuple(v)
        return v

    @field_validator("battery_h")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] <= v[1]:
            raise ValueError(f"expected hours or a range [low, high] with 0 <= low <= high, got {list(v)}")
        return v


class NodeModel(_Table):
    id: str = Field(min_length=1)
    name: str = ""
    lat_deg: float = Field(ge=-90, le=90)
    lon_deg: float = Field(ge=-180, le=180)
    role: Role
    power: PowerModel = PowerModel()
    coastal: bool = False
    elevation_m: float = 0.0


class NodeGroupModel(_Table):
    """Many similar nodes scattered with a seed in a circle or a box."""

    id_prefix: str = Field(min_length=1)
    name: str = ""
    count: int = Field(ge=1, le=100_000)
    role: Role
    center_lat_deg: float | None = Field(default=None, ge=-90, le=90)
    center_lon_deg: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0)
    box: tuple[float, float, float, float] | None = None   # lat_min, lon_min, lat_max, lon_max
    elevation_m: tuple[float, float] = (0.0, 0.0)
    coastal: bool = False
    power: GroupPowerModel = GroupPowerModel()
    seed: int | None = None

    @field_validator("elevation_m", "box", mode="before")
    @classmethod
    def _list_to_tuple(cls, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (float(v), float(v))
        return tuple(v) if isinstance(v, list) else v

    @model_validator(mode="after")
    def _one_area(self) -> "NodeGroupModel":
        circle = (self.center_lat_deg, self.center_lon_deg, self.radius_km)
        if self.box is not None:
            if any(x is not None for x in circle):
                raise ValueError("give either box or center_lat_deg/center_lon_deg/radius_km, not both")
            la0, lo0, la1, lo1 = self.box
            if not (-90 <= la0 < la1 <= 90 and -180 <= lo0 < lo1 <= 180):
                raise ValueError(f"box must be [lat_min, lon_min, lat_max, lon_max] with min < max, got {list(self.box)}")
        elif any(x is None for x in circle):
            raise ValueError("a node group needs an area: box = [lat_min, lon_min, lat_max, lon_max] "
                             "or center_lat_deg, center_lon_deg and radius_km")
        if self.elevation_m[0] > self.elevation_m[1]:
            raise ValueError(f"elevation_m range must be [low, high] with low <= high, got {list(self.elevation_m)}")
        return self


def _kind(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"expected a link kind name (string), got {v!r}")
    try:
        return LinkKind(v.lower()).value
    except ValueError:
        raise ValueError(f"unknown link kind {v!r}; expected one of: {', '.join(k.value for k in LinkKind)}") from None


class LinkModel(_Table):
    id: str = Field(min_length=1)
    kind: str
    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    overrides: dict[str, Any] = {}
    active_from_s: float = Field(default=0.0, ge=0)
    active_until_s: float | None = Field(default=None, gt=0)

    @field_validator("kind", mode="before")
    @classmethod
    def _check_kind(cls, v: Any) -> str:
        return _kind(v)

    @model_validator(mode="after")
    def _ends(self) -> "LinkModel":
        if self.a == self.b:
            raise ValueError(f"a link joins two different nodes; both ends are {self.a!r}")
        if self.active_until_s is not None and self.active_until_s <= self.active_from_s:
            raise ValueError(f"active_until_s ({self.active_until_s}) must be after active_from_s ({self.active_from_s})")
        return self


class LinkRuleModel(_Table):
    """Generate links: each node of ``from_role`` to its ``nearest`` nodes of ``to_role``."""

    kind: str
    from_role: Role
    to_role: Role
    nearest: int = Field(default=1, ge=1, le=100)
    max_km: float | None = Field(default=None, gt=0)
    overrides: dict[str, Any] = {}
    active_from_s: float = Field(default=0.0, ge=0)
    active_until_s: float | None = Field(default=None, gt=0)

    @field_validator("kind", mode="before")
    @classmethod
    def _check_kind(cls, v: Any) -> str:
        return _kind(v)


class HazardModel(_Table):
    kind: str = Field(min_length=1)
    name: str = ""
    params: dict[str, Any] = {}


class TrafficModel(_Table):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    priority: str | int
    content: Content = "text"
    size_bytes: int = Field(gt=0, le=100_000_000)
    start_s: float = Field(default=0.0, ge=0)
    every_s: float | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, ge=1, le=1_000_000)
    at_s: list[float] | None = None

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: str | int) -> str:
        try:
            return Priority.parse(v).name.lower()
        except Exception:
            names = ", ".join(p.name.lower() for p in Priority)
            raise ValueError(f"unknown priority {v!r}; expected one of: {names}") from None

    @model_validator(mode="after")
    def _when(self) -> "TrafficModel":
        if self.at_s is not None:
            if self.every_s is not None or self.count is not None or self.start_s != 0.0:
                raise ValueError("give either at_s = [times] or start_s with every_s/count, not both")
            if not self.at_s:
                raise ValueError("at_s is empty; list at least one send time in seconds")
            if any(t < 0 for t in self.at_s):
                raise ValueError("at_s times must be >= 0 (seconds from the scenario start)")
        elif self.count is not None and self.count > 1 and self.every_s is None:
            raise ValueError("count > 1 needs every_s (seconds between sends)")
        return self

