"""Soak figures: memory (RSS) and store size of every node over a long run, and whether they
level off, plus the message rate held per window.

Owns the level-off rule and the soak table. It reads ``sample`` and ``submit`` records of a
``History``; it samples nothing and reads no clock.

Level-off rule: split the run into thirds; the last third's mean may exceed the middle
third's by at most ``GROWTH_LIMIT`` (fraction) plus ``SLACK_BYTES`` — memory that keeps
growing at a steady rate fails, memory that grew while caches filled and then stayed flat
passes. Summed over the nodes (one process may shift work to another). The report also
gives the growth rate (least-squares slope, MB per minute) in the first and the last third, and
each node's RSS at the first and last sample, so a slow climb and the process behind it show.

Example
-------
>>> levels_off([100, 150, 180, 181, 182, 181], slack=0)
True
>>> levels_off([100, 200, 300, 400, 500, 600], slack=0)
False
>>> thirds_growth_per_min([0, 60, 120, 180, 240, 300], [10, 12, 14, 15, 15, 15])
(2.0, 0.0)
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Sequence

from emcomm.chaos.history import History

GROWTH_LIMIT = 0.10
RSS_SLACK_BYTES = 8 << 20       # allocator noise of 8 processes
STORE_SLACK_BYTES = 4 << 20     # a WAL that has not been checkpointed yet


def levels_off(values: Sequence[float], *, growth: float = GROWTH_LIMIT, slack: float = 0.0) -> bool:
    """True when the last third's mean is within ``growth`` (+ ``slack``) of the middle third's."""
    n = len(values)
    if n < 3:
        return True
    third = n // 3
    middle = values[third:2 * third]
    last = values[2 * third:]
    m, l = sum(middle) / len(middle), sum(last) / len(last)
    return l <= m * (1.0 + growth) + slack


def _slope_per_min(ts: Sequence[float], values: Sequence[float]) -> float:
    n = len(ts)
    if n < 2:
        return 0.0
    mt, mv = sum(ts) / n, sum(values) / n
    den = sum((t - mt) ** 2 for t in ts)
    return 0.0 if den == 0 else 60.0 * sum((t - mt) * (v - mv) for t, v in zip(ts, values)) / den


def thirds_growth_per_min(ts: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """Growth per minute (least-squares slope; ``values`` per second of ``ts``) in the first
    and the last third of the samples (each third at least two samples)."""
    n = len(ts)
    k = max(2, n // 3)
    return _slope_per_min(ts[:k], values[:k]), _slope_per_min(ts[n - k:], values[n - k:])


@dataclasses.dataclass(frozen=True)
class SoakRow:
    t_s: float                 # since the start
    rss_mb: float              # all nodes
    store_mb: float            # all nodes
    accepted_per_s: float      # in the window ending here


@dataclasses.dataclass(frozen=True)
class SoakReport:
    rows: list[SoakRow]
    rss_flat: bool
    store_flat: bool
    rate_held: bool
    rss_mb_per_min: tuple[float, float] = (0.0, 0.0)     # all nodes: first third, last third
    store_mb_per_min: tuple[float, float] = (0.0, 0.0)
    node_rss_mb: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # first, last sample

    @property
    def ok(self) -> bool:
        return self.rss_flat and self.store_flat and self.rate_held


def soak_report(history: History, t0: float, target_rate_per_s: float) -> SoakReport:
    """Rows per sampling round (summed over nodes) and the level-off verdicts."""
    rounds: dict[int, list[dict]] = collections.defaultdict(list)
    for s in history.of("sample"):
        rounds[s["round"]].append(s)
    accepted_t = sorted(r["t"] for r in history.of("submit") if r["outcome"] == "accepted")
    rows = []
    prev_t = t0
    for k in sorted(rounds):
        samples = rounds[k]
        t = max(s["t"] for s in samples)
        n_acc = sum(1 for a in accepted_t if prev_t <= a < t)
        rows.append(SoakRow(round(t - t0, 1), sum(s["rss_bytes"] or 0 for s in samples) / 1e6,
                            sum(s["store_bytes"] for s in samples) / 1e6, n_acc / max(1e-9, t - prev_t)))
        prev_t = t
    rss = [r.rss_mb * 1e6 for r in rows]
    store = [r.store_mb * 1e6 for r in rows]
    rates = [r.accepted_per_s for r in rows[1:]]
    rate_held = bool(rates) and min(rates) >= 0.8 * target_rate_per_s
    ts = [r.t_s for r in rows]
    per_node: dict[str, tuple[float, float]] = {}
    if rounds:
        first, last = rounds[min(rounds)], rounds[max(rounds)]
        end = {s["node"]: (s["rss_bytes"] or 0) / 1e6 for s in last}
        per_node = {s["node"]: (round((s["rss_bytes"] or 0) / 1e6, 1), round(end.get(s["node"], 0.0), 1))
                    for s in first}
    return SoakReport(rows, levels_off(rss, slack=RSS_SLACK_BYTES), levels_off(store, slack=STORE_SLACK_BYTES),
                      rate_held, thirds_growth_per_min(ts, [r.rss_mb for r in rows]),
                      thirds_growth_per_min(ts, [r.store_mb for r in rows]), per_node)
