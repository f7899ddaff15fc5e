"""The nemesis: a seeded schedule of faults for a chaos run, as plain data.

Owns *which* fault happens *when*, to *whom*, for how long. It executes nothing (the runner
does) and reads no clock: times are seconds from the start of the run. The same seed and
mesh give the same schedule.

Faults (``KINDS``):

- ``kill9``: SIGKILL a relay, restart it after the fault's duration.
- ``pause``: SIGSTOP a relay, SIGCONT after the duration.
- ``partition``: take down every link between a group of nodes and the rest (both ends,
  through the link API), heal after the duration; the checker times link-state convergence.
- ``flap``: toggle one link down/up every ``FLAP_PERIOD_S`` (faster than the link-state
  exchange), end with it up.
- ``beidou_denied``: the sensor's Beidou send slots are refused (``DENIED_LOSS`` of the
  frames on the Beidou link are lost) for the duration.
- ``clock_jump``: a team's node is restarted with its clock ``CLOCK_JUMP_S`` ahead, and
  restarted with the right clock after the duration (a jump forward, then back).
- ``disk_full``: a team's store refuses every write (injected) for the duration.
- ``torn_write``: a node is killed mid-run, its write-ahead log gets half a frame of garbage
  appended (a write cut short), and it is restarted.
- ``storm`` ("the worst moment"): a partition and a relay kill at once, with a FLASH burst.

Example
-------
>>> from emcomm.chaos.plan import make_plan
>>> s = schedule(make_plan(8), duration_s=80.0, seed=1)
>>> sorted({f.kind for f in s}) == sorted(KINDS)
True
>>> s == schedule(make_plan(8), duration_s=80.0, seed=1)
True
"""

from __future__ import annotations

import dataclasses
import random

from emcomm.chaos.plan import ChaosPlan
from emcomm.errors import UsageError

KINDS = ("kill9", "pause", "partition", "flap", "beidou_denied", "clock_jump", "disk_full", "torn_write", "storm")
FLAP_PERIOD_S = 0.3
DENIED_LOSS = 0.99       # the emulation takes a loss below 1: 99 of 100 send slots denied
CLOCK_JUMP_S = 120.0
WARMUP_S = 6.0           # traffic flows before the first fault
MIN_SLOT_S = 6.0         # one fault per slot; a slot is the fault plus quiet time to recover
MIN_DURATION_S = WARMUP_S + MIN_SLOT_S * len(KINDS)


@dataclasses.dataclass(frozen=True)
class Fault:
    start_s: float
    kind: str
    targets: tuple[str, ...]       # node ids (partition: the cut-off group; flap: the link's ends)
    duration_s: float
    link_id: str = ""              # flap, beidou_denied


def schedule(plan: ChaosPlan, duration_s: float, seed: int) -> list[Fault]:
    """Faults for a run of ``duration_s``: every kind at least once (in a seeded order), then
    more of them, seeded, until the run's fault time is used; each slot leaves a third of its
    time quiet so the mesh can recover before the next."""
    if not duration_s >= MIN_DURATION_S:
        raise UsageError(f"a chaos run needs at least {MIN_DURATION_S:.0f} s for one fault of each kind, "
                         f"got {duration_s!r} s")
    rnd = random.Random(seed)
    kinds = list(KINDS)
    rnd.shuffle(kinds)
    n_slots = max(len(KINDS), int((duration_s - WARMUP_S) // 15.0))
    while len(kinds) < n_slots:
        kinds.append(rnd.choice(KINDS))
    slot_s = (duration_s - WARMUP_S) / len(kinds)
    out = []
    for i, kind in enumerate(kinds):
        start = WARMUP_S + i * slot_s
        length = round(min(20.0, slot_s * 0.6), 2)
        out.append(_fault(plan, kind, round(start, 2), length, rnd))
    return out


def _fault(plan: ChaosPlan, kind: str, start: float, length: float, rnd: random.Random) -> Fault:
    relays, teams = plan.ids("relay"), plan.ids("team")
    if kind in ("kill9", "pause"):
        return Fault(start, kind, (rnd.choice(relays),), length)
    if kind in ("partition", "storm"):
        team = rnd.choice(teams)
        targets = (team,) if kind == "partition" else (team, rnd.choice(relays))
        return Fault(start, kind, targets, length)
    if kind == "flap":
        link = rnd.choice([l for l in plan.links if "s1" not in (l.a, l.b)])
        return Fault(start, kind, (link.a, link.b), length, link.id)
    if kind == "beidou_denied":
        link = next(l for l in plan.links if l.kind == "beidou")
        return Fault(start, kind, (link.a, link.b), length, link.id)
    if kind in ("clock_jump", "disk_full"):
        return Fault(start, kind, (rnd.choice(teams),), length)
    if kind == "torn_write":
        return Fault(start, kind, (rnd.choice(relays + teams),), length)
    raise UsageError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
