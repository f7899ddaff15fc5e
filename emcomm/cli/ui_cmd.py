"""``emcomm ui``: the command-centre map in a browser (Streamlit), from a recording or live telemetry.

Checks the arguments, then runs Streamlit on the page ``emcomm/ui/app.py`` bound to
loopback by default, with static serving on (the offline Leaflet, jQuery and basemap)
and usage statistics off, so the page needs no internet.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emcomm.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="the command-centre map: replay a drill recording or watch live node telemetry")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--replay", metavar="RECORDING", help="a drill recording (.emrec) to replay with a time slider")
    src.add_argument("--live", metavar="ENDPOINT", nargs="+",
                     help="node telemetry PUB endpoints, e.g. tcp://127.0.0.1:5601")
    src.add_argument("--write-sample", metavar="PATH",
                     help="write a small synthetic sample recording to PATH and exit (to try --replay)")
    p.add_argument("--base", metavar="RECORDING", help="live mode: take node positions and links from this recording")
    p.add_argument("--port", type=int, default=8501, help="port of the page (default 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1, this machine only)")
    p.add_argument("--stale-after", type=float, default=30.0, metavar="S", help="live: a node not heard for S seconds is stale")
    p.add_argument("--refresh", type=float, default=3.0, metavar="S", help="live: seconds between updates")
    p.add_argument("--online-tiles", action="store_true", help="offer online map tiles as an optional layer")
    p.add_argument("--roster", metavar="ROSTER", help="the signed roster: node popups name each operator from it")
    p.set_defaults(func=run)


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The Streamlit command line for these arguments (exposed for tests)."""
    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    page_args: list[str] = []
    if args.replay:
        page_args += ["--replay", str(Path(args.replay).resolve())]
    if args.live:
        page_args += ["--live", *args.live]
        if args.base:
            page_args += ["--base", str(Path(args.base).resolve())]
    page_args += ["--stale-after", str(args.stale_after), "--refresh", str(args.refresh)]
    if args.online_tiles:
        page_args.append("--online-tiles")
    if args.roster:
        page_args += ["--roster", str(Path(args.roster).resolve())]
    return [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.address", args.host, "--server.port", str(args.port),
            "--server.headless", "true", "--server.enableStaticServing", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--", *page_args]


def run(args: argparse.Namespace) -> int:
    if args.write_sample:
        from emcomm.ui.synthetic import write_sample_recording

        write_sample_recording(args.write_sample)
        print(f"wrote sample recording {args.write_sample}; replay it with: emcomm ui --replay {args.write_sample}")
        return 0
    if not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port; expected 1..65535")
    if args.live:
        from emcomm.ui.live import check_endpoint

        for ep in args.live:
            check_endpoint(ep)
    if args.roster:
        from emcomm.node.roster import load_roster

        load_roster(args.roster)  # a missing or unreadable roster is a message now, not on the page
    if args.refresh <= 0 or args.stale_after <= 0:
        raise UsageError("--refresh and --stale-after must be positive numbers of seconds")
    cmd = streamlit_command(args)
    print(f"emcomm ui: serving on http://{args.host}:{args.port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    # become Streamlit (no parent left behind): signals and Ctrl-C reach the server directly
    os.execve(cmd[0], cmd, env)
    return 1  # pragma: no cover - execve does not return
