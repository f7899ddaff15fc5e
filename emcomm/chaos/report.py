"""Text tables of a chaos run's report and of a soak: what ``emcomm chaos`` prints.

Owns the layout only; the figures come from ``checker.ChaosReport`` and ``soak.SoakReport``.

Example
-------
>>> from emcomm.chaos.checker import check
>>> from emcomm.chaos.history import History
>>> print(render(check(History(), rostered=None)).splitlines()[0])
messages: accepted 0, delivered 0, expired 0 (0 recorded), lost 0, still in custody 0, duplicates 0, unauthorised 0
"""

from __future__ import annotations

from emcomm.chaos.checker import ChaosReport
from emcomm.chaos.soak import SoakReport


def _s(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def render(r: ChaosReport) -> str:
    """The figures of a checked run, then its verdict."""
    lines = [
        f"messages: accepted {r.accepted}, delivered {r.delivered}, expired {r.expired} ({r.expired_recorded} recorded), "
        f"lost {r.lost}, still in custody {r.in_custody}, duplicates {r.duplicates}, unauthorised {r.unauthorised}",
        f"submits: {r.submitted} ({r.refused} refused with an error to the sender, {r.unanswered} unanswered; "
        f"{r.delivered_unacked} of those delivered once anyway)",
        f"FLASH before later ROUTINE: {r.order_pairs_checked} pairs checked, {r.order_pairs_excused} excused "
        f"(a node process down during the FLASH's flight), {r.order_violations} violations",
        "",
        "faults injected:",
    ]
    lines += [f"  {kind:<14} {n}" for kind, n in r.faults.items()] or ["  none"]
    lines += ["", "latency (s)   count      p50      p95      p99"]
    for prio, l in r.latency.items():
        lines.append(f"  {prio:<10} {l.count:>6} {_s(l.p50_s):>8} {_s(l.p95_s):>8} {_s(l.p99_s):>8}")
    if r.convergence:
        lines += ["", "link-state convergence after each heal:"]
        for c in r.convergence:
            after = "NOT within bound" if c["after_s"] is None else f"{c['after_s']:.1f} s"
            lines.append(f"  {c['fault']:<10} {','.join(c['targets']):<12} {after}")
    if r.custody:
        lines += ["", "still in custody at the end (not lost: held durably), and why:"]
        lines += [f"  {c['count']:>4} {c['priority']:<9} {c['node']}→{c['dst']}: {c['why'] or 'no reason recorded'}"
                  for c in r.custody]
    if r.refusal_errors:
        lines += ["", "what refused senders were told:"] + [f"  {e}" for e in r.refusal_errors]
    lines += ["", "PASS: every invariant holds" if r.ok else "FAIL:"]
    lines += [f"  {v}" for v in r.violations]
    return "\n".join(lines)


def render_soak(s: SoakReport) -> str:
    """The soak table: memory and store size (all nodes) and the accepted rate over time."""
    lines = ["soak:   t (s)   RSS (MB)   store (MB)   accepted/s"]
    lines += [f"  {r.t_s:>10.0f} {r.rss_mb:>10.1f} {r.store_mb:>12.2f} {r.accepted_per_s:>12.1f}" for r in s.rows]
    (r1, r3), (s1, s3) = s.rss_mb_per_min, s.store_mb_per_min
    lines.append(f"growth (MB/min, all nodes): RSS {r1:+.2f} in the first third, {r3:+.2f} in the last; "
                 f"store {s1:+.2f}, {s3:+.2f}")
    if s.node_rss_mb:
        lines.append("RSS per node (MB), first -> last sample: "
                     + ", ".join(f"{n} {a:.1f}->{b:.1f}" for n, (a, b) in s.node_rss_mb.items()))
    lines.append(f"memory {'levels off' if s.rss_flat else 'GROWS'}, store size "
                 f"{'levels off' if s.store_flat else 'GROWS'}, message rate {'held' if s.rate_held else 'NOT held'}")
    return "\n".join(lines)
