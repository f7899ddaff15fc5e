"""Situation → tables for the side panels: pure functions returning pandas DataFrames.

Owns what the duty officer reads beside the map: delivery and latency per priority,
queue depths, link usage and money cost by kind, the FLASH/alert feed, cut-off nodes
and headline counts. No drawing, no Streamlit, no clock (``now_s`` is given).

Example
-------
>>> from emcomm.ui.situation import Situation
>>> s = Situation.from_dict({"t_s": 0, "stats": [{"priority": "flash", "sent": 4, "delivered": 3}]})
>>> float(priority_table(s).loc[0, "delivered %"])
75.0
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from emcomm.priority import Priority
from emcomm.ui.mapview import KIND_LABELS, _fmt_t, node_state
from emcomm.ui.situation import Situation, merge_feed


def _round(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def _sig(x: float | None, digits: int = 3) -> float | None:
    """``x`` to ``digits`` significant digits (a 0.0351 s latency stays 0.0351, not 0.0)."""
    if x is None or x == 0 or not math.isfinite(x):
        return x
    return round(x, max(0, digits - 1 - math.floor(math.log10(abs(x)))))


def fmt_seconds(x: float | None) -> str:
    """A duration in seconds (or any amount) with 3 significant digits, whole from 100 on.

    >>> [fmt_seconds(x) for x in (0.0351, 2.0, 12.345, 4321.6, 0.0, None)]
    ['0.0351', '2', '12.3', '4,322', '0', '—']
    """
    if x is None or x != x:
        return "—"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if x != 0 and abs(x) < 0.001:
        return "< 0.001"
    return f"{x:.3g}"


def _fmt_num(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "—"
    return format(x, spec)


# how each panel column reads on the page (numbers stay numbers in the tables themselves)
DISPLAY_FORMATS: dict[str, Any] = {
    "delivered %": lambda x: _fmt_num(x, ".1f"),
    "p50 s": fmt_seconds, "p95 s": fmt_seconds,
    "MB carried": fmt_seconds, "cost CNY": fmt_seconds,     # same rule: 3 significant digits
    "minutes": lambda x: _fmt_num(x, ",.1f"),
}


def for_display(df: pd.DataFrame) -> pd.DataFrame:
    """The table as text the way a duty officer reads it: percent with 1 decimal, seconds
    with 3 significant digits, "—" where there is no figure; other columns unchanged.

    >>> row = for_display(pd.DataFrame([{"delivered %": 100.0, "p50 s": 0.0351, "sent": 4}])).iloc[0]
    >>> row["delivered %"], row["p50 s"], int(row["sent"])
    ('100.0', '0.0351', 4)
    """
    out = df.copy()
    for col, fmt in DISPLAY_FORMATS.items():
        if col in out.columns:
            out[col] = [fmt(None if v is None or (isinstance(v, float) and v != v) else v) for v in df[col]]
    return out


def priority_table(s: Situation) -> pd.DataFrame:
    """One row per priority (FLASH first): sent, delivered, delivered %, latency p50/p95, queued now."""
    by_p = {st.priority: st for st in s.stats}
    rows = []
    for p in Priority:
        st = by_p.get(int(p))
        queued = sum(n.queue_depths[int(p)] for n in s.nodes)
        rows.append({
            "priority": p.name, "sent": st.sent if st else 0, "delivered": st.delivered if st else 0,
            "delivered %": _round(100.0 * st.ratio) if st and st.ratio is not None else None,
            "p50 s": _sig(st.latency_p50_s) if st else None, "p95 s": _sig(st.latency_p95_s) if st else None,
            "queued": queued,
        })
    return pd.DataFrame(rows)


def queue_table(s: Situation, limit: int = 15) -> pd.DataFrame:
    """Nodes with the deepest queues (FLASH depth first, then total), at most ``limit`` rows."""
    rows = [{"node": n.label, "FLASH": n.queue_depths[0], "IMMEDIATE": n.queue_depths[1],
             "PRIORITY": n.queue_depths[2], "ROUTINE": n.queue_depths[3], "total": sum(n.queue_depths)}
            for n in s.nodes if sum(n.queue_depths)]
    rows.sort(key=lambda r: (-r["FLASH"], -r["total"], r["node"]))
    return pd.DataFrame(rows[:limit], columns=["node", "FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE", "total"])


def usage_table(s: Situation) -> pd.DataFrame:
    """Per link kind: links up / degraded / down, MB carried and money cost (CNY)."""
    kinds: dict[str, dict[str, Any]] = {}
    for l in s.links:
        r = kinds.setdefault(l.kind, {"up": 0, "degraded": 0, "down": 0})
        r[l.state] += 1
    usage = {u.kind: u for u in s.usage}
    rows = []
    for k in sorted(set(kinds) | set(usage)):
        c = kinds.get(k, {"up": 0, "degraded": 0, "down": 0})
        u = usage.get(k)
        rows.append({"kind": KIND_LABELS.get(k, k), "up": c["up"], "degraded": c["degraded"], "down": c["down"],
                     "MB carried": _sig(u.bytes / 1e6, 4) if u else 0.0, "cost CNY": _sig(u.cost_cny, 4) if u else 0.0})
    return pd.DataFrame(rows, columns=["kind", "up", "degraded", "down", "MB carried", "cost CNY"])


def feed_table(s: Situation, limit: int = 10) -> pd.DataFrame:
    """The most recent FLASH messages and alerts, newest first."""
    items = merge_feed((f for f in s.feed if f.level in ("flash", "alert")), limit)
    return pd.DataFrame([{"time": _fmt_t(f.t_s), "level": f.level.upper(), "node": f.node, "text": f.text} for f in items],
                        columns=["time", "level", "node", "text"])


def cut_off_table(s: Situation) -> pd.DataFrame:
    """Nodes that are up but cut off from the command centre, longest first, with minutes."""
    return pd.DataFrame([{"node": n.label, "since": _fmt_t(n.cut_off_since_s), "minutes": round(d / 60.0, 1),
                          "operator": n.operator} for n, d in s.cut_off()],
                        columns=["node", "since", "minutes", "operator"])


def headline(s: Situation, now_s: float | None = None, stale_after_s: float | None = None) -> dict[str, int]:
    """Counts for the top of the page: nodes up / off air / cut off / stale, links up / degraded / down.

    >>> headline(Situation(t_s=0.0))["nodes"]
    0
    """
    states = [node_state(n, now_s, stale_after_s) for n in s.nodes]
    return {
        "nodes": len(s.nodes), "nodes off air": states.count("offair"),
        "nodes cut off": len(s.cut_off()), "nodes stale": states.count("stale"),
        "links up": sum(l.state == "up" for l in s.links),
        "links degraded": sum(l.state == "degraded" for l in s.links),
        "links down": sum(l.state == "down" for l in s.links),
    }
