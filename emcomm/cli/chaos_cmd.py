"""``emcomm chaos``: run a real mesh on loopback under faults (or a soak) and check its promises.

Parses arguments, runs ``emcomm.chaos.runner`` and prints the tables; exit status 1 when an
invariant is broken (or a soak's memory or store size keeps growing), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from emcomm.errors import UsageError


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``1h`` → seconds.

    >>> parse_duration("5m"), parse_duration("90")
    (300.0, 90.0)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise UsageError(f"--duration {text!r}: give seconds or a number with s, m or h, e.g. 5m or 90s")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chaos", help="run a mesh of real nodes under crashes, partitions, flaps, disk-full... and check it",
                       description="Start N node processes on loopback (rostered, signed), drive traffic of every "
                                   "priority, inject a seeded schedule of faults, then check the full history: "
                                   "nothing accepted lost or duplicated, no unauthorised delivery, FLASH first, "
                                   "link-state convergence after each heal. --soak: steady load, no faults, "
                                   "memory and store size over time.")
    p.add_argument("--nodes", type=int, default=8, help="node processes (default 8: cc, 3 relays, 3 teams, a sensor)")
    p.add_argument("--duration", default="5m", help="length of the traffic and fault phase (e.g. 90s, 5m, 30m)")
    p.add_argument("--seed", type=int, default=1, help="seed of the fault schedule and the traffic (default 1)")
    p.add_argument("--rate", type=float, default=None, help="messages per second (default 6; soak 15)")
    p.add_argument("--out", default=None, help="output directory (default chaos-<time>): configs, logs, history, report")
    p.add_argument("--soak", action="store_true", help="steady load without faults; sample RSS and store size")
    p.add_argument("--sample-every", type=float, default=60.0, metavar="S", help="soak sampling period (default 60 s)")
    p.add_argument("--insecure", action="store_true", help="run the mesh without a roster (no signatures)")
    p.set_defaults(func=run_chaos)


def run_chaos(args: argparse.Namespace) -> int:
    from emcomm.chaos.report import render, render_soak      # the harness only when this command runs
    from emcomm.chaos.runner import RunSettings, run
    duration = parse_duration(args.duration)
    rate = args.rate if args.rate is not None else (15.0 if args.soak else 6.0)
    if not rate > 0:
        raise UsageError(f"--rate must be positive, got {rate}")
    if not args.sample_every > 0:
        raise UsageError(f"--sample-every must be positive, got {args.sample_every}")
    out = Path(args.out or f"chaos-{time.strftime('%Y%m%d-%H%M%S')}")
    settings = RunSettings(out_dir=out, duration_s=duration, seed=args.seed, n_nodes=args.nodes, rate_per_s=rate,
                           soak=args.soak, secure=not args.insecure, sample_every_s=args.sample_every)
    result = run(settings, progress=lambda s: print(s, flush=True))
    print()
    print(render(result.report))
    for t in result.torn:
        print(f"torn write on {t['node']}: {t['bytes_appended']} bytes appended to its log, "
              f"{'detected and discarded at start' if t['detected'] else 'NOT reported at start'}")
    ok = result.report.ok and all(t["detected"] for t in result.torn)
    if result.soak is not None:
        print()
        print(render_soak(result.soak))
        ok = ok and result.soak.ok
    print(f"\nhistory and report in {result.out_dir}")
    return 0 if ok else 1
