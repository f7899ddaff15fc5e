"""``emcomm ui``: the command-centre map in a browser (Streamlit), from a recording or live telemetry.

Checks the arguments, then runs Streamlit on the page ``emcomm/ui/app.py`` bound to
loopback by default, with static serving on (the offline Leaflet, jQuery and basemap),
usage statistics off (so the page needs no internet) and the toolbar in its minimal form
(no "Deploy" button on a command-centre screen). The port is checked before Streamlit
starts: a ``--port`` in use is a clear message; without ``--port``, 8501 or else a free
port is taken, and the address is printed.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from emcomm.errors import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="the command-centre map: replay a drill recording or watch live node telemetry")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--replay", metavar="RECORDING", help="a drill recording (.emrec) to replay with a time slider")
    src.add_argument("--live", metavar="SOURCE", nargs="+",
                     help="node telemetry: PUB endpoints (tcp://127.0.0.1:5601), NODE@tcp://HOST:PORT, "
                          "or a running node's data directory")
    src.add_argument("--write-sample", metavar="PATH",
                     help="write a small synthetic sample recording to PATH and exit (to try --replay)")
    p.add_argument("--base", metavar="RECORDING", help="live mode: take node positions and links from this recording")
    add_port_argument(p)
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1, this machine only)")
    p.add_argument("--stale-after", type=float, default=30.0, metavar="S", help="live: a node not heard for S seconds is stale")
    p.add_argument("--refresh", type=float, default=3.0, metavar="S", help="live: seconds between updates")
    p.add_argument("--online-tiles", action="store_true", help="offer online map tiles as an optional layer")
    p.add_argument("--roster", metavar="ROSTER", help="the signed roster: node popups name each operator from it")
    p.add_argument("--identity", metavar="DIR",
                   help="live: the command centre's rostered key, to subscribe to secure nodes' tcp:// telemetry "
                        "(give each as NODE@tcp://HOST:PORT with --roster, or as the node's data directory)")
    p.set_defaults(func=run)


DEFAULT_PORT = 8501


def add_port_argument(p: argparse.ArgumentParser) -> None:
    """``--port`` as ``emcomm ui`` and ``emcomm drill replay`` take it."""
    p.add_argument("--port", type=int, default=None,
                   help=f"port of the page (default {DEFAULT_PORT}, or a free one when {DEFAULT_PORT} is taken)")


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as Streamlit binds: address reuse on).

    >>> s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); taken = s.getsockname()[1]
    >>> port_free("127.0.0.1", taken)
    False
    >>> s.close()
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r} is not an address of this machine ({exc.strerror}); "
                         "expected e.g. 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
            s.listen(1)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}; check --host") from None
    return True


def pick_port(host: str, wanted: int | None) -> tuple[int, str]:
    """The port to serve on and a note for the user: ``wanted`` if free (else UsageError with
    a suggestion); without ``wanted``, 8501 if free, else a free port chosen by the system."""
    if wanted is not None:
        if not 0 < wanted < 65536:
            raise UsageError(f"--port {wanted} is not a TCP port; expected 1..65535")
        if not port_free(host, wanted):
            other = pick_port(host, None)[0]
            raise UsageError(f"port {wanted} on {host} is already in use (another `emcomm ui` or demo map?); "
                             f"choose another with --port, e.g. --port {other} (free now), or leave --port out "
                             "to have a free one picked")
        return wanted, ""
    if port_free(host, DEFAULT_PORT):
        return DEFAULT_PORT, ""
    with socket.socket() as s:
        s.bind((host if host not in ("0.0.0.0", "") else "127.0.0.1", 0))
        port = s.getsockname()[1]
    return port, f"port {DEFAULT_PORT} is in use, so the page is on port {port} instead"


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The Streamlit command line for these arguments (exposed for tests)."""
    app = Path(__file__).resolve().parent.parent / "ui" / "app.py"
    page_args: list[str] = []
    if args.replay:
        page_args += ["--replay", str(Path(args.replay).resolve())]
    if args.live:
        page_args += ["--live", *(_absolute_source(x) for x in args.live)]
        if getattr(args, "identity", None):
            page_args += ["--identity", str(Path(args.identity).resolve())]
        if args.base:
            page_args += ["--base", str(Path(args.base).resolve())]
    page_args += ["--stale-after", str(args.stale_after), "--refresh", str(args.refresh)]
    if args.online_tiles:
        page_args.append("--online-tiles")
    if args.roster:
        page_args += ["--roster", str(Path(args.roster).resolve())]
    return [sys.executable, "-m", "streamlit", "run", str(app),
            "--server.address", args.host, "--server.port", str(args.port or DEFAULT_PORT),
            "--server.headless", "true", "--server.enableStaticServing", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--client.toolbarMode", "minimal", "--", *page_args]


def _absolute_source(item: str) -> str:
    # a node's data directory or node.json, given relative to where `emcomm ui` was typed
    from emcomm.ui.live import source_endpoint

    return item if source_endpoint(item) is not None else str(Path(item).resolve())


def run(args: argparse.Namespace) -> int:
    if args.write_sample:
        from emcomm.ui.synthetic import write_sample_recording

        write_sample_recording(args.write_sample)
        print(f"wrote sample recording {args.write_sample}; replay it with: emcomm ui --replay {args.write_sample}")
        return 0
    if args.live:
        from emcomm.ui.live import live_sources

        live_sources(args.live, identity=args.identity, roster=args.roster)   # every source and key checked now
    elif args.identity:
        raise UsageError("--identity is for --live (subscribing to secure nodes); leave it out with --replay")
    if args.roster:
        from emcomm.node.roster import load_roster

        load_roster(args.roster)  # a missing or unreadable roster is a message now, not on the page
    if args.refresh <= 0 or args.stale_after <= 0:
        raise UsageError("--refresh and --stale-after must be positive numbers of seconds")
    args.port, note = pick_port(args.host, args.port)
    if note:
        print(f"emcomm ui: {note}", file=sys.stderr, flush=True)
    cmd = streamlit_command(args)
    print(f"emcomm ui: serving on http://{args.host}:{args.port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    # become Streamlit (no parent left behind): signals and Ctrl-C reach the server directly
    os.execve(cmd[0], cmd, env)
    return 1  # pragma: no cover - execve does not return
