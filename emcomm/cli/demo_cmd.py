"""``emcomm demo``: a live mesh of real relay nodes on this machine through a scripted disaster, with the map."""

from __future__ import annotations

import argparse
from pathlib import Path

from emcomm.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a live mesh of nodes through a scripted disaster, with the map",
                       description="Start a relay node per site of a compact scenario on 127.0.0.1, open the map, "
                                   "play the storm in accelerated time, then print what was delivered. "
                                   "Ctrl-C stops everything it started.")
    p.add_argument("--headless", action="store_true",
                   help="no map or browser; exit 1 if anything accepted was lost or a FLASH was not delivered")
    p.add_argument("--duration", type=float, default=150.0, metavar="S",
                   help="real seconds the scripted disaster takes (default 150)")
    p.add_argument("--speed", type=float, default=None, metavar="X",
                   help="scenario seconds per real second (default: the whole scenario in --duration)")
    p.add_argument("--out", default="emcomm-demo", metavar="DIR",
                   help="where node data, logs, the recording and summary.json go (default ./emcomm-demo)")
    p.add_argument("--scenario", default=None, metavar="TOML",
                   help="a compact scenario (default drills/demo_lekima_2019.toml)")
    p.add_argument("--drain", type=float, default=60.0, metavar="S",
                   help="real seconds to wait for the last deliveries after the script (default 60)")
    p.add_argument("--port", type=int, default=None, help="port of the map (default: a free one)")
    p.add_argument("--insecure", action="store_true",
                   help="run the nodes without identities or roster (no signatures, no CURVE)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from emcomm.demo.runner import DEFAULT_SCENARIO, DemoOptions, run_demo

    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port; expected 1..65535")
    if args.drain < 0:
        raise UsageError(f"--drain must be ≥ 0 seconds, got {args.drain}")
    opts = DemoOptions(out_dir=Path(args.out), scenario=Path(args.scenario) if args.scenario else DEFAULT_SCENARIO,
                       headless=args.headless, duration_s=args.duration, speed=args.speed, drain_s=args.drain,
                       port=args.port, secure=not args.insecure)
    return run_demo(opts)
