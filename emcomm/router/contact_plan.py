"""A contact plan: the time windows in which links exist (LEO passes, Beidou send slots,
scheduled UAV flights), as plain data.

Owns the ``Contact``/``ContactPlan`` records and their validation. It does no routing
(``Router.earliest_arrival`` does) and reads no clock.

Example
-------
>>> plan = ContactPlan.of([
...     Contact("team-3", "uav-1", start_s=0.0, end_s=600.0, kind="uav", rate_bps=5e6, latency_s=0.3),
...     Contact("uav-1", "command", start_s=900.0, end_s=1500.0, kind="leo", rate_bps=1e7, latency_s=0.05),
... ])
>>> len(plan.contacts), plan.contacts[1].kind.value
(2, 'leo')
"""

from __future__ import annotations

import dataclasses
import math
from typing import Hashable, Iterable

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind


@dataclasses.dataclass(frozen=True)
class Contact:
    """One directed window ``frm → to`` during ``[start_s, end_s)``; add the reverse
    contact too when the link works both ways (``ContactPlan.of(..., both_ways=True)``)."""

    frm: Hashable
    to: Hashable
    start_s: float
    end_s: float
    kind: LinkKind | str
    rate_bps: float
    latency_s: float = 0.0
    cost_per_mb: float = 0.0
    link_id: Hashable | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, LinkKind):
            object.__setattr__(self, "kind", LinkKind.parse(str(self.kind)))
        for name in ("start_s", "end_s", "rate_bps", "latency_s", "cost_per_mb"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UsageError(f"contact {self.frm!r}→{self.to!r}: {name} must be a finite number, got {value!r}")
        if self.end_s <= self.start_s:
            raise UsageError(f"contact {self.frm!r}→{self.to!r}: end_s {self.end_s} must be after start_s {self.start_s}")
        if self.rate_bps <= 0 or self.latency_s < 0 or self.cost_per_mb < 0:
            raise UsageError(f"contact {self.frm!r}→{self.to!r}: need rate_bps > 0, latency_s ≥ 0, cost_per_mb ≥ 0")

    def reversed(self) -> "Contact":
        return dataclasses.replace(self, frm=self.to, to=self.frm)


@dataclasses.dataclass(frozen=True)
class ContactPlan:
    """An immutable list of contacts."""

    contacts: tuple[Contact, ...]

    @classmethod
    def of(cls, contacts: Iterable[Contact], *, both_ways: bool = False) -> "ContactPlan":
        """A plan from contacts; ``both_ways`` adds each contact's reverse."""
        items = list(contacts)
        if both_ways:
            items += [c.reversed() for c in items]
        return cls(tuple(items))
