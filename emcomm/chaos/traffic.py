"""The chaos load: a seeded schedule of messages of all four priorities, as plain data.

Owns who sends what to whom and when (seconds from the start). It sends nothing and reads
no clock. Only nodes whose roster role allows a class send it (FLASH from commanders), and
only classes the routing policy lets reach the destination (``ChaosPlan.policy_path``).
A share of ROUTINE messages carries a short TTL so some messages expire during faults
(the checker then expects an expiry, not a delivery).

Example
-------
>>> from emcomm.chaos.plan import make_plan
>>> msgs = schedule(make_plan(8), duration_s=20.0, rate_per_s=4.0, seed=3)
>>> {m.priority for m in msgs} == {"flash", "immediate", "priority", "routine"}
True
>>> msgs == schedule(make_plan(8), duration_s=20.0, rate_per_s=4.0, seed=3)
True
"""

from __future__ import annotations

import dataclasses
import random

from emcomm.chaos.plan import ChaosPlan
from emcomm.errors import UsageError

LONG_TTL_S = 3600.0
# a soak's messages: a node keeps every id it saw until TTL + SEEN_MARGIN_S (600 s) and a
# receipt's TTL is at least RECEIPT_MIN_TTL_S (300 s), so its tables reach their steady size
# 15 minutes into a soak (with LONG_TTL_S only after 70: a 30-minute soak could not tell that
# from a leak)
SOAK_TTL_S = 300.0
SHORT_TTL_S = 4.0
SHORT_TTL_SHARE = 0.05          # of ROUTINE messages
SENSOR_RATE_PER_S = 0.2         # a reading every 5 s on average
SENSOR_SIZE_BYTES = (30, 60)    # compact status reports (emcomm.interop.sensors: <= 70 bytes)
FLASH_BURST = 12                # messages in the burst at the worst moment


@dataclasses.dataclass(frozen=True)
class Planned:
    t_s: float
    src: str
    dst: str
    priority: str
    ttl_s: float
    size_bytes: int


def _classes(plan: ChaosPlan, src: str, dst: str) -> list[tuple[str, float]]:
    # (class, weight) a node of this role sends, of the classes the routing policy lets
    # reach dst at all: the Beidou-only sensor's ROUTINE could never leave it (held until
    # its TTL, never a delivery to check), so the sensor reports as PRIORITY
    if plan.may_send_flash(src):
        classes = [("flash", 0.15), ("immediate", 0.2), ("priority", 0.25), ("routine", 0.4)]
    elif plan.node(src).kind == "sensor":
        classes = [("priority", 0.4), ("routine", 0.6)]
    else:
        classes = [("immediate", 0.2), ("priority", 0.3), ("routine", 0.5)]
    allowed = [(c, w) for c, w in classes if plan.policy_path(src, dst, c) is not None]
    if not allowed:
        raise UsageError(f"no class {src} sends may reach {dst} under the routing policy; give it another link")
    return allowed


def schedule(plan: ChaosPlan, duration_s: float, rate_per_s: float, seed: int,
             start_s: float = 1.0, long_ttl_s: float = LONG_TTL_S) -> list[Planned]:
    """Poisson-spaced messages at ``rate_per_s`` from the command centre and teams (orders
    from cc to teams, reports from teams to cc), plus the sensor's small reports to cc at
    ``SENSOR_RATE_PER_S``. A share of ROUTINE gets ``SHORT_TTL_S``, the rest ``long_ttl_s``."""
    if not rate_per_s > 0:
        raise UsageError(f"the traffic rate must be positive, got {rate_per_s!r}")
    rnd = random.Random(seed ^ 0x7A11)
    teams = plan.ids("team")
    out = []
    streams = [(["cc"] + teams, rate_per_s, (40, 600))]
    # the sensor's reports are small and sparse: its Beidou card sends one frame per slot
    streams += [([s], SENSOR_RATE_PER_S, SENSOR_SIZE_BYTES) for s in plan.ids("sensor")]
    for sources, rate, (lo, hi) in streams:
        t = start_s
        while True:
            t += rnd.expovariate(rate)
            if t >= duration_s:
                break
            src = rnd.choice(sources)
            dst = rnd.choice(teams) if src == "cc" else "cc"
            names, weights = zip(*_classes(plan, src, dst))
            prio = rnd.choices(names, weights)[0]
            ttl = SHORT_TTL_S if prio == "routine" and rnd.random() < SHORT_TTL_SHARE else long_ttl_s
            out.append(Planned(round(t, 3), src, dst, prio, ttl, rnd.randint(lo, hi)))
    return sorted(out, key=lambda m: m.t_s)


def flash_burst(plan: ChaosPlan, t_s: float, seed: int) -> list[Planned]:
    """FLASH from every commander to the others at once (the worst moment), each followed a
    little later by a ROUTINE on the same path, so the checker can test the ordering."""
    rnd = random.Random(seed ^ 0xF1A5)
    commanders = [n.id for n in plan.nodes if plan.may_send_flash(n.id)]
    out = []
    for i in range(FLASH_BURST):
        src = commanders[i % len(commanders)]
        dst = rnd.choice(plan.ids("team")) if src == "cc" else "cc"
        if dst == src:
            dst = "cc"
        out.append(Planned(round(t_s + 0.05 * i, 3), src, dst, "flash", LONG_TTL_S, rnd.randint(40, 300)))
        out.append(Planned(round(t_s + 0.05 * i + 0.02, 3), src, dst, "routine", LONG_TTL_S, rnd.randint(40, 300)))
    return out
