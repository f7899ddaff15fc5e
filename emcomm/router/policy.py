"""Which priority classes may use which link kinds, and what money is worth to each.

This module owns the routing *policy table* (data, not ``if``s): for every priority and
link kind, whether the kind is allowed, allowed only as a last resort, or never used;
how many seconds of delay one CNY is worth to each class (money is the second
criterion); and the largest number of fragments a kind will carry for one message.
It computes no paths and holds no topology.

Example
-------
>>> from emcomm.priority import Priority
>>> from emcomm.links.profiles import LinkKind
>>> p = RoutingPolicy.default()
>>> p.use_of(Priority.ROUTINE, LinkKind.BEIDOU_RDSS)
<Use.NEVER: 2>
>>> p.use_of(Priority.FLASH, LinkKind.BEIDOU_RDSS)
<Use.ALLOW: 0>
>>> p.with_use(Priority.ROUTINE, LinkKind.BEIDOU_RDSS, Use.ALLOW).use_of(Priority.ROUTINE, "beidou")
<Use.ALLOW: 0>
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Mapping

import numpy as np

from emcomm.errors import UsageError
from emcomm.links.profiles import LinkKind
from emcomm.priority import PRIORITY_COUNT, Priority

KINDS: tuple[LinkKind, ...] = tuple(LinkKind)
"""Link kinds in the order of their integer codes in the compiled arrays."""
KIND_CODE: Mapping[str, int] = {k.value: i for i, k in enumerate(KINDS)}


class Use(enum.IntEnum):
    ALLOW = 0         # an ordinary link for this class
    LAST_RESORT = 1   # used only when no path without such links exists
    NEVER = 2         # never used by this class


# Exceptions to ALLOW. Scarce links are kept for the classes that need them (DESIGN.md,
# "Priorities"): Beidou short messages give one send slot per card per minute, so
# ROUTINE never takes it and PRIORITY only when nothing else reaches; Tiantong data is
# billed per MB, so PRIORITY and ROUTINE use it only when there is no other way.
_DEFAULT_EXCEPTIONS: Mapping[Priority, Mapping[LinkKind, Use]] = {
    Priority.FLASH: {},
    Priority.IMMEDIATE: {},
    Priority.PRIORITY: {
        LinkKind.TIANTONG: Use.LAST_RESORT,
        LinkKind.BEIDOU_RDSS: Use.LAST_RESORT,
        LinkKind.BEIDOU_GLOBAL: Use.LAST_RESORT,
    },
    Priority.ROUTINE: {
        LinkKind.TIANTONG: Use.LAST_RESORT,
        LinkKind.BEIDOU_RDSS: Use.NEVER,
        LinkKind.BEIDOU_GLOBAL: Use.NEVER,
    },
}

# Seconds of expected delay one CNY is worth. FLASH: money is only a tie-break; ROUTINE
# waits a second to save a yuan.
_DEFAULT_SECONDS_PER_CNY: Mapping[Priority, float] = {
    Priority.FLASH: 1e-6,
    Priority.IMMEDIATE: 0.01,
    Priority.PRIORITY: 0.1,
    Priority.ROUTINE: 1.0,
}

# Largest number of link frames one message may be cut into on a kind (0 = no limit).
# Beidou: 16 RDSS messages at one per 60 s is a quarter of an hour of the only send slot;
# anything bigger must go another way.
_DEFAULT_MAX_FRAGMENTS: Mapping[LinkKind, int] = {
    LinkKind.BEIDOU_RDSS: 16,
    LinkKind.BEIDOU_GLOBAL: 16,
}

LAST_RESORT_PENALTY_S = 1.0e6
"""Added to a path's cost per last-resort hop: larger than any real delivery time, so a
path with fewer last-resort hops always wins, yet finite so one is found when needed."""


def _kind(kind: LinkKind | str) -> LinkKind:
    return kind if isinstance(kind, LinkKind) else LinkKind.parse(kind)


@dataclasses.dataclass(frozen=True)
class RoutingPolicy:
    """The routing policy table.

    ``use[p][k]`` is the :class:`Use` of kind code ``k`` for priority value ``p``;
    ``seconds_per_cny[p]`` converts money into delay for class ``p``;
    ``max_fragments[k]`` limits how many frames one message may need on kind ``k``.
    """

    use: tuple[tuple[Use, ...], ...]
    seconds_per_cny: tuple[float, ...]
    max_fragments: tuple[int, ...]
    last_resort_penalty_s: float = LAST_RESORT_PENALTY_S

    def __post_init__(self) -> None:
        if len(self.use) != PRIORITY_COUNT or any(len(r) != len(KINDS) for r in self.use):
            raise UsageError(f"policy use table must be {PRIORITY_COUNT} priorities × {len(KINDS)} link kinds")
        if len(self.seconds_per_cny) != PRIORITY_COUNT or any(
            not math.isfinite(s) or s < 0 for s in self.seconds_per_cny
        ):
            raise UsageError("seconds_per_cny needs one finite, non-negative value per priority")
        if len(self.max_fragments) != len(KINDS) or any(m < 0 for m in self.max_fragments):
            raise UsageError("max_fragments needs one non-negative integer per link kind (0 = no limit)")

    @classmethod
    def default(cls) -> "RoutingPolicy":
        """The default table (see the comments in this module for the reasons)."""
        use = tuple(
            tuple(_DEFAULT_EXCEPTIONS[p].get(k, Use.ALLOW) for k in KINDS) for p in Priority
        )
        return cls(
            use=use,
            seconds_per_cny=tuple(_DEFAULT_SECONDS_PER_CNY[p] for p in Priority),
            max_fragments=tuple(_DEFAULT_MAX_FRAGMENTS.get(k, 0) for k in KINDS),
        )

    def use_of(self, priority: Priority | int | str, kind: LinkKind | str) -> Use:
        """How class ``priority`` may use links of ``kind``."""
        return self.use[Priority.parse(priority)][KIND_CODE[_kind(kind).value]]

    def with_use(self, priority: Priority | int | str, kind: LinkKind | str, use: Use) -> "RoutingPolicy":
        """A copy with one cell of the table changed."""
        p, k = Priority.parse(priority), KIND_CODE[_kind(kind).value]
        rows = [list(r) for r in self.use]
        rows[p][k] = Use(use)
        return dataclasses.replace(self, use=tuple(tuple(r) for r in rows))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(use int8[P, K], seconds_per_cny float64[P], max_fragments int64[K])`` for the kernels."""
        return (
            np.array(self.use, dtype=np.int8),
            np.array(self.seconds_per_cny, dtype=np.float64),
            np.array(self.max_fragments, dtype=np.int64),
        )
