"""What a drill run produced, as plain data: message fates, link usage, outage samples.

This module owns the ``DrillResult`` record the engine fills in and the summary, report
and sweep read. It holds no logic beyond small derived figures and never runs anything.

Example
-------
>>> m = MessageFate("00", 0, "t1", "cc", created_s=10.0, delivered_s=12.5)
>>> m.latency_s
2.5
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class MessageFate:
    """One application message submitted to a running node core."""

    msg_id: str                     # hex
    priority: int
    src: str
    dst: str
    created_s: float
    accepted: bool = False          # the source's store confirmed it (Receipt "accepted")
    delivered_s: float | None = None
    drop_reason: str | None = None  # last reason a node gave up on it (e.g. "expired")
    pending: bool = False           # still in some node's custody when the run ended

    @property
    def latency_s(self) -> float | None:
        return None if self.delivered_s is None else self.delivered_s - self.created_s


@dataclasses.dataclass
class TeamCutOff:
    """How long the command centre had no usable path to one team."""

    first_s: float | None = None
    total_s: float = 0.0


@dataclasses.dataclass
class DrillResult:
    """Everything the engine measured in one run (times in seconds from scenario start)."""

    scenario: str
    scenario_path: str
    seed: int
    policy: str
    duration_s: float
    end_s: float = 0.0
    interrupted: bool = False
    messages: list[MessageFate] = dataclasses.field(default_factory=list)
    not_submitted: dict[str, int] = dataclasses.field(default_factory=dict)   # reason → count
    kind_bytes: dict[str, int] = dataclasses.field(default_factory=dict)
    kind_cost_cny: dict[str, float] = dataclasses.field(default_factory=dict)
    sample_times_s: list[float] = dataclasses.field(default_factory=list)    # hazard steps
    kind_up_fraction: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # per sample
    base_stations_out_fraction: list[float] = dataclasses.field(default_factory=list)
    published_outage_fraction: float | None = None
    teams: dict[str, TeamCutOff] = dataclasses.field(default_factory=dict)
    frames: dict[str, int] = dataclasses.field(default_factory=dict)         # engine counters
    link_drops: dict[str, int] = dataclasses.field(default_factory=dict)     # emulation reason → frames
