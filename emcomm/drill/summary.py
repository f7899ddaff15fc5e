"""summary.json: the stable, documented figures of one drill run, computed from a DrillResult.

This module owns the summary schema (below) and the arithmetic behind it. It is a pure
function of the ``DrillResult``: no clock, no files (``write_summary`` only serialises),
and the same result always gives the same bytes (sorted keys, fixed rounding).

Schema ``emcomm-drill-summary/1`` (times in seconds from the scenario start; a figure
that cannot be computed, e.g. a latency with nothing delivered, is ``null``)::

    {"schema": "emcomm-drill-summary/1",
     "scenario": name, "scenario_file": file name, "seed": int, "policy": name,
     "duration_s": float, "end_s": float, "interrupted": bool,
     "messages": {"sent", "delivered", "pending_at_end", "not_submitted": {reason: n}},
     "priorities": {"flash"|"immediate"|"priority"|"routine":
         {"sent", "delivered", "delivery_ratio", "latency_p50_s", "latency_p95_s", "latency_max_s"}},
     "lost": {reason: n},
     "link_kinds": {kind: {"bytes", "cost_cny", "availability"}},
     "outage": {"base_stations_out_peak_fraction", "base_stations_out_peak_s",
                "published_fraction", "ratio_to_published"},
     "teams": {team: {"cut_off_first_s", "cut_off_total_s"}},
     "frames": {"sent", "arrived", "lost_node_off"}, "link_drops": {reason: frames}}

Definitions:

- *sent*: messages submitted to a running source node core (a file is several
  ``file_chunk`` messages of ≤ 64 KiB). Sends from a node without power are counted in
  ``messages.not_submitted`` instead.
- *delivered*: reached the destination's application; *latency* = delivery time − send
  time; percentiles by linear interpolation between order statistics (numpy's default).
- *lost*: sent, not delivered, and no longer held by any node at the end, by the last
  reason a node gave (``expired`` = TTL ran out). A message still in some node's custody
  at the end is ``pending_at_end``, not lost. Custody means anything else in ``lost`` is
  a defect.
- *link_kinds*: ``bytes`` put on links of the kind (frames lost at random included; a
  composite cellular link through a base station counts as ``cellular``), ``cost_cny`` at
  the profile's price per MB, ``availability`` = mean over hazard steps of the share of
  the scenario's links of that kind that were up.
- *outage*: the largest share of base stations off air at any hazard step, beside the
  scenario's ``published_outage_fraction``.
- *teams*: when the command centre first had no path (over up links of kinds the policy
  lets FLASH use) to each team, and for how long in total.

Example
-------
>>> from emcomm.drill.result import DrillResult, MessageFate
>>> r = DrillResult("s", "s.toml", 1, "satellite-aware", 60.0, end_s=60.0,
...                 messages=[MessageFate("aa", 0, "t", "cc", 0.0, True, 2.0)])
>>> summarise(r)["priorities"]["flash"]["latency_p50_s"]
2.0
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from emcomm.drill.result import DrillResult
from emcomm.priority import Priority

SCHEMA = "emcomm-drill-summary/1"
ROUND = 6


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), ROUND)


def _pct(values: list[float], q: float) -> float | None:
    return _r(float(np.percentile(values, q))) if values else None


def summarise(res: DrillResult) -> dict[str, Any]:
    """The summary dict of one run (see the module docstring for every key)."""
    prios: dict[str, Any] = {}
    lost: dict[str, int] = {}
    pending = 0
    for p in Priority:
        fates = [m for m in res.messages if m.priority == int(p)]
        lat = sorted(m.latency_s for m in fates if m.latency_s is not None)  # type: ignore[misc]
        prios[p.name.lower()] = {
            "sent": len(fates),
            "delivered": len(lat),
            "delivery_ratio": _r(len(lat) / len(fates)) if fates else None,
            "latency_p50_s": _pct(lat, 50),
            "latency_p95_s": _pct(lat, 95),
            "latency_max_s": _r(lat[-1]) if lat else None,
        }
    for m in res.messages:
        if m.delivered_s is not None:
            continue
        if m.pending:
            pending += 1
            continue
        reason = m.drop_reason or ("not_accepted" if not m.accepted else "unaccounted")
        lost[reason] = lost.get(reason, 0) + 1
    kinds = {}
    for k in sorted(set(res.kind_bytes) | set(res.kind_up_fraction)):
        ups = res.kind_up_fraction.get(k, [])
        kinds[k] = {"bytes": int(res.kind_bytes.get(k, 0)), "cost_cny": _r(res.kind_cost_cny.get(k, 0.0)),
                    "availability": _r(sum(ups) / len(ups)) if ups else None}
    bs = res.base_stations_out_fraction
    peak = max(bs) if bs else 0.0
    peak_s = res.sample_times_s[bs.index(peak)] if bs else None
    pub = res.published_outage_fraction
    return {
        "schema": SCHEMA,
        "scenario": res.scenario,
        "scenario_file": os.path.basename(res.scenario_path),
        "seed": res.seed,
        "policy": res.policy,
        "duration_s": _r(res.duration_s),
        "end_s": _r(res.end_s),
        "interrupted": res.interrupted,
        "messages": {"sent": len(res.messages), "delivered": sum(1 for m in res.messages if m.delivered_s is not None),
                     "pending_at_end": pending, "not_submitted": dict(sorted(res.not_submitted.items()))},
        "priorities": prios,
        "lost": dict(sorted(lost.items())),
        "link_kinds": kinds,
        "outage": {"base_stations_out_peak_fraction": _r(peak), "base_stations_out_peak_s": _r(peak_s),
                   "published_fraction": _r(pub), "ratio_to_published": _r(peak / pub) if pub else None},
        "teams": {t: {"cut_off_first_s": _r(c.first_s), "cut_off_total_s": _r(c.total_s)} for t, c in sorted(res.teams.items())},
        "frames": dict(sorted(res.frames.items())),
        "link_drops": dict(sorted(res.link_drops.items())),
    }


def dumps(summary: dict[str, Any]) -> str:
    """The canonical text of a summary (sorted keys, two-space indent, final newline)."""
    return json.dumps(summary, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_summary(res: DrillResult, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``summary.json`` for ``res``; returns the dict written."""
    s = summarise(res)
    with open(path, "w", encoding="utf-8") as f:
        f.write(dumps(s))
    return s
