"""``emcomm route SCENARIO --from A --to B``: the best path for one message at a moment of a scenario.

Rule of this module: parse arguments, build the scenario's topology at ``--at`` (hazards
applied, ``emcomm.drill.timeline.graph_at``), ask the router, format text or JSON. No
routing or hazard modelling here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re

from typing import TYPE_CHECKING

from emcomm.errors import UsageError
from emcomm.priority import Priority

if TYPE_CHECKING:  # the router and scenario modules (Numba, pydantic) load only when routing
    from emcomm.drill.scenario import Scenario
    from emcomm.router.router import Route

_UNITS_S = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_at(text: str) -> float:
    """Seconds from the scenario start: ``5400``, ``90m``, ``24.5h``, ``1d``.

    >>> parse_at("24.5h"), parse_at("90m"), parse_at("600")
    (88200.0, 5400.0, 600.0)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|min|m|h|d)?\s*", text)
    if not m:
        raise UsageError(f"--at {text!r}: give seconds from the scenario start, or a number with s, m, h or d "
                         f"(e.g. 5400, 90m, 24.5h)")
    return float(m.group(1)) * _UNITS_S[m.group(2) or ""]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("route", help="best path for one message at a moment of a scenario, with backups")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario .toml file (see drills/SCHEMA.md)")
    p.add_argument("--from", dest="src", required=True, metavar="NODE", help="sending node id")
    p.add_argument("--to", dest="dst", required=True, metavar="NODE", help="receiving node id")
    p.add_argument("--size", type=int, default=2000, metavar="BYTES", help="message size in bytes (default 2000)")
    p.add_argument("--priority", default="routine", help="flash, immediate, priority or routine (default routine)")
    p.add_argument("--at", default="0", metavar="T",
                   help="time from the scenario start: seconds or with s/m/h/d, e.g. 24.5h (default 0)")
    p.add_argument("--backups", type=int, default=2, metavar="K",
                   help="link-disjoint backup routes to show (default 2, 0 for none)")
    p.add_argument("--json", action="store_true", help="print the routes as one JSON object")
    p.set_defaults(func=run_route)


def _route_json(r: Route, names: dict[str, str]) -> dict[str, object]:
    return {
        "nodes": list(r.nodes), "names": [names.get(n, n) for n in r.nodes],
        "delivery_s": r.time_s, "arrive_s": r.arrive_s, "money_cny": r.money_cny, "cost": r.cost,
        "hops": [{"from": h.src, "to": h.dst, "link": h.link_id, "kind": h.kind.value,
                  "depart_s": h.depart_s, "arrive_s": h.arrive_s, "money_cny": h.money_cny} for h in r.hops],
    }


def _format_route(title: str, r: Route, at_s: float) -> list[str]:
    from emcomm.router.policy import RoutingPolicy, Use

    policy = RoutingPolicy.default()   # the policy Router.from_graph uses
    scarce = sorted({h.kind.value for h in r.hops if policy.use_of(r.priority, h.kind) == Use.LAST_RESORT})
    note = (f" (last resort: the policy keeps {', '.join(scarce)} for higher classes and adds "
            f"{policy.last_resort_penalty_s:g} per such hop)") if scarce else ""
    lines = [f"{title}: {len(r.hops)} hop(s), expected delivery {r.time_s:.3f} s, {r.money_cny:.4f} CNY, "
             f"cost {r.cost:.6g}{note}"]
    width = max(len(f"{h.src} → {h.dst}") for h in r.hops) if r.hops else 0
    for h in r.hops:
        lines.append(f"  {h.src + ' → ' + h.dst:<{width}}  {h.kind.value:<13} {str(h.link_id):<20} "
                     f"+{h.depart_s - at_s:9.3f} s → +{h.arrive_s - at_s:9.3f} s  {h.money_cny:.4f} CNY")
    return lines


def routes_at(sc: Scenario, src: str, dst: str, size_bytes: int, priority: Priority, at_s: float,
              backups: int) -> tuple[Route, list[Route]]:
    """The best route and up to ``backups`` link-disjoint backups at ``at_s`` (hazards applied)."""
    if not 0.0 <= at_s <= sc.info.duration_s:
        raise UsageError(f"--at {at_s:g} s is outside the scenario, which runs from 0 to {sc.info.duration_s:g} s")
    if isinstance(backups, bool) or backups < 0:
        raise UsageError(f"--backups must be a whole number ≥ 0, got {backups!r}")
    from emcomm.drill.timeline import graph_at
    from emcomm.router.router import Router

    router = Router.from_graph(graph_at(sc, sc.impact_model(), at_s))
    best = router.route(src, dst, size_bytes, priority, now=at_s)
    rest = router.backups(src, dst, size_bytes, priority, now=at_s, k=backups + 1)[1:] if backups else []
    return best, rest


def run_route(args: argparse.Namespace) -> int:
    from emcomm.drill.scenario import load_scenario

    sc = load_scenario(args.scenario)
    at_s = parse_at(args.at)
    priority = Priority.parse(args.priority)
    best, rest = routes_at(sc, args.src, args.dst, args.size, priority, at_s, args.backups)
    names = sc.names()
    if args.json:
        print(json.dumps({"scenario": sc.info.name, "at_s": at_s, "from": args.src, "to": args.dst,
                          "size_bytes": args.size, "priority": priority.name.lower(),
                          "route": _route_json(best, names), "backups": [_route_json(r, names) for r in rest]},
                         ensure_ascii=False))
        return 0
    when = (sc.info.start + dt.timedelta(seconds=at_s)).strftime("%Y-%m-%d %H:%M")
    lines = [f"{sc.info.name} at T+{at_s:g} s ({when}): {priority.name} message of {args.size} bytes, "
             f"{names.get(args.src, args.src)} → {names.get(args.dst, args.dst)}"]
    lines += _format_route("route", best, at_s)
    for i, r in enumerate(rest, 1):
        lines += _format_route(f"backup {i}", r, at_s)
    if args.backups and len(rest) < args.backups:
        lines.append(f"no further backup: every other path shares a link with the routes above "
                     f"({len(rest)} of {args.backups} found)")
    print("\n".join(lines))
    return 0

