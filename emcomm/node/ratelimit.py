"""Per-sender, per-class token buckets: one misbehaving terminal cannot starve the others.

This module owns the bucket arithmetic and the table of limits per priority class. It must
not read a clock (``now`` is an argument) and it does not decide what a refused message
becomes (the caller drops and counts it).

Example
-------
>>> lim = RateLimiter({0: Limit(rate_per_s=1.0, burst=2)})
>>> [lim.allow("t1", 0, now=0.0) for _ in range(3)], lim.allow("t2", 0, now=0.0), lim.allow("t1", 0, now=1.0)
([True, True, False], True, True)
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from emcomm.errors import UsageError
from emcomm.priority import Priority


@dataclasses.dataclass(frozen=True)
class Limit:
    """Sustained messages per second and the burst a quiet sender may spend at once."""

    rate_per_s: float
    burst: float

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0 and self.burst >= 1):
            raise UsageError(f"a rate limit needs rate_per_s > 0 and burst >= 1, got {self}")


# Defaults per class. A responder's terminal sends a handful of FLASH messages in an
# emergency, position reports every few seconds and, at ROUTINE, file chunks in bulk.
DEFAULT_LIMITS: Mapping[int, Limit] = {
    int(Priority.FLASH): Limit(5.0, 50),
    int(Priority.IMMEDIATE): Limit(20.0, 200),
    int(Priority.PRIORITY): Limit(100.0, 1000),
    int(Priority.ROUTINE): Limit(1000.0, 10000),
}
MAX_SENDERS = 100_000          # buckets kept; the fullest (idle longest) are forgotten first


class RateLimiter:
    """Token buckets keyed by (sender, class)."""

    def __init__(self, limits: Mapping[int, Limit] | None = None):
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self._buckets: dict[tuple[str, int], list[float]] = {}   # key -> [tokens, last_s]

    def allow(self, sender: str, priority: int, now: float) -> bool:
        """Take one token from ``sender``'s bucket for ``priority``; False when empty."""
        limit = self.limits.get(int(priority))
        if limit is None:
            return True
        key = (sender, int(priority))
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= MAX_SENDERS:
                self._buckets.pop(next(iter(self._buckets)))
            b = self._buckets[key] = [float(limit.burst), now]
        tokens = min(float(limit.burst), b[0] + max(0.0, now - b[1]) * limit.rate_per_s)
        b[1] = now
        if tokens < 1.0:
            b[0] = tokens
            return False
        b[0] = tokens - 1.0
        return True


def limits_from_mapping(raw: Mapping[str, object], where: str = "rate_limits") -> dict[int, Limit]:
    """``{"flash": [rate_per_s, burst], ...}`` → limits (other classes keep their defaults).

    >>> limits_from_mapping({"routine": [10, 20]})[3]
    Limit(rate_per_s=10.0, burst=20.0)
    """
    out = dict(DEFAULT_LIMITS)
    for name, value in raw.items():
        prio = Priority.parse(name)
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise UsageError(f"{where}.{name} must be [messages_per_s, burst], got {value!r}")
        out[int(prio)] = Limit(float(value[0]), float(value[1]))
    return out
