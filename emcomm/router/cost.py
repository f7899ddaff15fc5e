"""The expected time and money of sending one message over one link.

This module owns the cost *formula* in plain Python: it is the reference the Numba
weight kernel (``kernels/weights.py``) must match, and it prices each hop of a route
for reports. It knows nothing of graphs or paths.

For a message of ``size_bytes`` over a link (MB = 10^6 bytes):

- ``fragments = ceil(size / mtu)``; refused if above the policy's ``max_fragments``;
- ``time_s = latency + size·8/rate + (fragments − 1)·min_interval
  + fragments · r · (size·8/rate/fragments + max(min_interval, 2·latency))``
  where ``r = loss / (1 − loss)`` is the expected number of resends per frame, each
  noticed after a round trip (or the next send slot) and sent again;
- ``money_cny = cost_per_mb · size/10^6 · (1 + r)`` (resent frames are paid too);
- ``weight = time_s + seconds_per_cny[priority] · money_cny``
  (+ the last-resort penalty when the policy says so).

Example
-------
>>> from emcomm.priority import Priority
>>> from emcomm.router.policy import RoutingPolicy, KIND_CODE
>>> c = link_cost(3000, Priority.FLASH, KIND_CODE["beidou"], latency_s=1.0,
...               rate_bps=14000 / 60, mtu_bytes=1750, min_interval_s=60.0, loss=0.0,
...               cost_per_mb=0.0, up=True, policy=RoutingPolicy.default())
>>> round(c.time_s, 1)   # 1 s latency + 102.9 s on air + one 60 s wait for the 2nd slot
163.9
"""

from __future__ import annotations

import dataclasses

from emcomm.router.policy import RoutingPolicy, Use

BITS_PER_BYTE = 8
BYTES_PER_MB = 1_000_000


@dataclasses.dataclass(frozen=True)
class LinkCost:
    """Expected cost of one message over one link."""

    time_s: float        # expected time from handing the message to the link to its arrival
    money_cny: float     # expected money paid
    weight: float        # what the router minimises: time + money in seconds + policy penalty
    fragments: int


def link_cost(
    size_bytes: int, priority: int, kind_code: int, *, latency_s: float, rate_bps: float,
    mtu_bytes: int, min_interval_s: float, loss: float, cost_per_mb: float, up: bool,
    policy: RoutingPolicy,
) -> LinkCost | None:
    """Cost of one message over one link, or ``None`` when the link cannot carry it.

    A link cannot carry the message when it is down, has no rate left, the policy never
    lets this priority use it, or the message needs more fragments than the kind allows.
    """
    use = policy.use[priority][kind_code]
    if not up or rate_bps <= 0.0 or use == Use.NEVER:
        return None
    fragments = max(1, -(-size_bytes // mtu_bytes))
    max_frag = policy.max_fragments[kind_code]
    if max_frag > 0 and fragments > max_frag:
        return None
    tx_s = size_bytes * BITS_PER_BYTE / rate_bps
    resends = loss / (1.0 - loss)
    time_s = (latency_s + tx_s + (fragments - 1) * min_interval_s
              + fragments * resends * (tx_s / fragments + max(min_interval_s, 2.0 * latency_s)))
    money = cost_per_mb * (size_bytes / BYTES_PER_MB) * (1.0 + resends)
    weight = time_s + policy.seconds_per_cny[priority] * money
    if use == Use.LAST_RESORT:
        weight += policy.last_resort_penalty_s
    return LinkCost(time_s=time_s, money_cny=money, weight=weight, fragments=fragments)
