"""The checker: the mesh's promises, verified over the full history of a chaos run.

Owns the invariants and the figures. It reads a ``History`` and nothing else (no node, no
clock). Invariants (each broken one is a violation; any violation fails the run):

1. every message acknowledged ``accepted`` to its sender is delivered to its destination's
   application exactly once, unless its TTL ran out (then it counts as expired; the expiry
   is *recorded* when the source's receipt says ``expired``); ``lost`` (in no node's store at
   the end, never delivered) and ``duplicates`` must be 0. A message still held by a node
   when the run ends (a retransmission backed off during a fault) is counted ``in_custody``. A message whose submit was refused (disk full) or unanswered may be delivered
   at most once, and is counted apart.
2. no FLASH is delivered more than ``ORDER_TOLERANCE_S`` after a ROUTINE between the same
   two nodes that was accepted after it. FLASH may take a thin satellite path where ROUTINE
   takes fibre, so the tolerance is two GEO hops' worth of latency; pairs whose FLASH was in
   flight while a node process was killed, paused or restarted are *excused* (counted): its
   custody was on a node that was gone, a different path from the ROUTINE's.
3. no message is delivered that no rostered node sent through the harness (unknown sender,
   a message never submitted, or delivered to a node that is not its destination).
4. after each heal, the nodes converge to the same link-state view within the bound.

Example
-------
>>> from emcomm.chaos.history import History
>>> h = History()
>>> h.add("submit", msg_id="aa", src="t1", dst="cc", priority="routine", ttl_s=60.0, t=0.0, t_done=0.1,
...       outcome="accepted", error="")
>>> h.add("deliver", node="cc", msg_id="aa", src="t1", dst="cc", priority=3, created_s=0.0, delivered_s=0.5, t=1.0)
>>> h.add("end", t=10.0)
>>> r = check(h, rostered={"t1", "cc"})
>>> (r.accepted, r.delivered, r.lost, r.duplicates, r.ok)
(1, 1, 0, 0, True)
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

from emcomm.chaos.history import History
from emcomm.priority import Priority

ORDER_TOLERANCE_S = 1.5
# Adverts go out on a link at most every NodeConfig.advert_min_gap_s (2 s), one origin's at a
# time: after a heal a handful of changed adverts cross the mesh's 3-4 hops within this bound.
CONVERGENCE_BOUND_S = 60.0
PROCESS_FAULTS = frozenset({"kill9", "pause", "clock_jump", "torn_write", "storm"})


@dataclasses.dataclass(frozen=True)
class Latency:
    count: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None


@dataclasses.dataclass(frozen=True)
class ChaosReport:
    submitted: int
    accepted: int
    refused: int
    unanswered: int
    delivered: int                  # accepted messages delivered
    delivered_unacked: int          # refused/unanswered messages delivered anyway (at most once)
    expired: int
    expired_recorded: int           # of which the source's receipt says "expired"
    lost: int                       # in no node's store and never delivered, TTL not run out
    in_custody: int                 # not delivered yet, but still held durably by a node at the end
    custody: list[dict[str, Any]]   # those, by (node, priority, dst, why): count
    duplicates: int
    unauthorised: int
    order_pairs_checked: int
    order_pairs_excused: int
    order_violations: int
    faults: dict[str, int]
    latency: dict[str, Latency]     # per priority name
    convergence: list[dict[str, Any]]   # per heal: fault kind, targets, after_s (None: not within bound)
    refusal_errors: list[str]       # distinct refusal texts the senders got
    violations: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["ok"] = self.ok
        return d


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    i = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[i]


class _Clocks:
    """Each node's clock offset over harness time, to bring node times back to one clock.

    A node's clock changes only across a restart: the harness stops the process, records
    ``clock`` (offset, harness time ``t`` and ``inbox_seq``, the highest inbox sequence
    number in the stopped node's store), and starts the next process. So every delivery
    has exactly one process that stamped it, and its inbox ``seq`` says which: the one
    started at the last change whose ``inbox_seq`` is below it. A node-clock reading alone
    is ambiguous (120 s after a jump back, the right clock reads what the clock ahead read
    during the jump), so ``seq`` decides whenever the history has it.

    Without ``seq`` (a history written before it was recorded), the reading must fall
    inside the lifetime of the process that made it and not after the harness read it
    (``read_t``); of several such processes the latest wins.
    """

    def __init__(self, history: History):
        # node -> [(harness t of the change, offset_s, inbox_seq before it or None)]
        self._changes: dict[str, list[tuple[float, float, int | None]]] = collections.defaultdict(
            lambda: [(float("-inf"), 0.0, 0)])
        for r in history.of("clock"):
            seq = r.get("inbox_seq")
            self._changes[r["node"]].append((float(r["t"]), float(r["offset_s"]), None if seq is None else int(seq)))
        for changes in self._changes.values():
            changes.sort(key=lambda c: c[0])

    def real(self, node: str, node_time_s: float, *, seq: int | None = None, read_t: float | None = None) -> float:
        """The harness time of a node-clock reading (a delivery's ``delivered_s``).

        >>> h = History()
        >>> h.add("clock", node="t3", offset_s=120.0, t=5.0, inbox_seq=10)
        >>> h.add("clock", node="t3", offset_s=0.0, t=14.0, inbox_seq=12)
        >>> c = _Clocks(h)
        >>> c.real("t3", 130.0, seq=11), c.real("t3", 130.0, seq=40)
        (10.0, 130.0)
        """
        changes = self._changes[node]
        if seq is not None and all(c[2] is not None for c in changes):
            off = 0.0
            for _, offset, first_after in changes:
                if seq > first_after:  # type: ignore[operator]
                    off = offset
            return node_time_s - off
        latest = None
        for i, (t0, off, _) in enumerate(changes):
            t1 = changes[i + 1][0] if i + 1 < len(changes) else float("inf")
            real = node_time_s - off
            if t0 - 1.0 <= real <= t1 + 1.0 and (read_t is None or real <= read_t + 1.0):
                latest = real
        return node_time_s if latest is None else latest


def check(history: History, *, rostered: set[str] | None, convergence_bound_s: float = CONVERGENCE_BOUND_S,
          order_tolerance_s: float = ORDER_TOLERANCE_S) -> ChaosReport:
    """Check every invariant of the module docstring and gather the figures."""
    violations: list[str] = []
    submits = {r["msg_id"]: r for r in history.of("submit")}
    accepted = {m: r for m, r in submits.items() if r["outcome"] == "accepted"}
    refused = {m: r for m, r in submits.items() if r["outcome"] == "refused"}
    unanswered = {m: r for m, r in submits.items() if r["outcome"] == "unknown"}
    end = history.of("end")
    end_t = end[-1]["t"] if end else max((r.get("t", 0.0) for r in history.records), default=0.0)
    clocks = _Clocks(history)

    deliveries: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    unauthorised = 0
    for d in history.of("deliver"):
        deliveries[d["msg_id"]].append(d)
        s = submits.get(d["msg_id"])
        why = None
        if rostered is not None and d["src"] not in rostered:
            why = f"from {d['src']!r}, who is not on the roster"
        elif s is None:
            why = f"from {d['src']!r}, but never submitted by any sender"
        elif d["node"] != s["dst"] or d["src"] != s["src"]:
            why = f"at {d['node']} from {d['src']}, but it was sent by {s['src']} to {s['dst']}"
        if why:
            unauthorised += 1
            if unauthorised <= 10:
                violations.append(f"unauthorised delivery of {d['msg_id']} {why}")
    if unauthorised > 10:
        violations.append(f"... {unauthorised} unauthorised deliveries in all")

    duplicates = sum(len(ds) - 1 for ds in deliveries.values() if len(ds) > 1)
    if duplicates:
        dup_ids = [m for m, ds in deliveries.items() if len(ds) > 1]
        violations.append(f"{duplicates} duplicate deliveries (e.g. {', '.join(dup_ids[:3])})")

    receipts = {r["msg_id"]: r for r in history.of("receipt")}
    delivered_ids = {m for m in accepted if m in deliveries}
    held = {r["msg_id"]: r for r in history.of("held")}
    custody_groups: collections.Counter[tuple[str, str, str, str]] = collections.Counter()
    expired = expired_recorded = lost = in_custody = 0
    lost_ids = []
    for m, s in accepted.items():
        if m in deliveries:
            continue
        receipt = receipts.get(m, {}).get("status", "")
        if receipt == "expired" or s["t"] + float(s["ttl_s"]) < end_t:
            expired += 1
            expired_recorded += receipt == "expired"
        elif m in held:
            in_custody += 1
            h = held[m]
            custody_groups[(h["node"], h.get("priority", s["priority"]), s["dst"], h.get("why", ""))] += 1
        else:
            lost += 1
            lost_ids.append(f"{m} ({s['priority']} {s['src']}→{s['dst']}, receipt {receipt or 'none'})")
    if lost:
        violations.append(f"{lost} accepted message(s) lost: {'; '.join(lost_ids[:5])}")
    delivered_unacked = sum(1 for m in (*refused, *unanswered) if m in deliveries)

    # latency per priority, on the harness clock
    lat: dict[str, list[float]] = collections.defaultdict(list)
    delivered_real: dict[str, float] = {}
    for m in delivered_ids:
        d, s = deliveries[m][0], accepted[m]
        real = clocks.real(d["node"], float(d["delivered_s"]), seq=d.get("seq"), read_t=d.get("t"))
        delivered_real[m] = real
        lat[s["priority"]].append(max(0.0, real - float(s["t"])))
    latency = {}
    for p in Priority:
        v = sorted(lat.get(p.name.lower(), []))
        latency[p.name.lower()] = Latency(len(v), _percentile(v, 0.5), _percentile(v, 0.95), _percentile(v, 0.99))

    # FLASH before a later ROUTINE on the same path
    windows = _process_fault_windows(history, end_t)
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for m in delivered_ids:
        s = accepted[m]
        if s["priority"] in ("flash", "routine"):
            by_pair[(s["src"], s["dst"])].append(s)
    checked = excused = order_bad = 0
    for (src, dst), msgs in by_pair.items():
        flashes = [s for s in msgs if s["priority"] == "flash"]
        routines = [s for s in msgs if s["priority"] == "routine"]
        for f in flashes:
            f_done = delivered_real[f["msg_id"]]
            later = [r for r in routines if r["t_done"] > f["t_done"] and r["t"] > f["t_done"]]
            if not later:
                continue
            if any(a < f_done and f["t"] < b for a, b in windows):
                excused += len(later)
                continue
            checked += len(later)
            for r in later:
                if f_done > delivered_real[r["msg_id"]] + order_tolerance_s:
                    order_bad += 1
                    if order_bad <= 5:
                        violations.append(
                            f"FLASH {f['msg_id']} {src}→{dst} delivered {f_done - delivered_real[r['msg_id']]:.2f} s "
                            f"after ROUTINE {r['msg_id']} accepted later")

    faults = collections.Counter(r["kind"] for r in history.of("fault") if r["phase"] == "start")
    convergence = []
    for c in history.of("converged"):
        convergence.append({"fault": c["fault"], "targets": c.get("targets", []), "after_s": c["after_s"]})
        if c["after_s"] is None or c["after_s"] > convergence_bound_s:
            violations.append(f"nodes did not converge to one link-state view within {convergence_bound_s:.0f} s "
                              f"after the heal of {c['fault']} {c.get('targets', [])}")
    refusal_errors = sorted({r["error"] for r in refused.values()})
    custody = [{"node": node, "priority": prio, "dst": dst, "why": why, "count": n}
               for (node, prio, dst, why), n in sorted(custody_groups.items())]
    return ChaosReport(len(submits), len(accepted), len(refused), len(unanswered), len(delivered_ids),
                       delivered_unacked, expired, expired_recorded, lost, in_custody, custody, duplicates, unauthorised, checked,
                       excused, order_bad, dict(sorted(faults.items())), latency, convergence, refusal_errors,
                       violations)


def _process_fault_windows(history: History, end_t: float) -> list[tuple[float, float]]:
    """Harness-time windows in which some node process was killed, paused or restarted
    (plus a few seconds after, for its restart and reconnection)."""
    open_: dict[tuple[str, str], float] = {}
    out = []
    for r in history.of("fault"):
        if r["kind"] not in PROCESS_FAULTS:
            continue
        key = (r["kind"], ",".join(r["targets"]))
        if r["phase"] == "start":
            open_[key] = r["t"]
        elif key in open_:
            out.append((open_.pop(key), r["t"] + 5.0))
    out += [(t, end_t) for t in open_.values()]
    return out
