"""The ``emcomm`` command: one sub-command module per concept, registered below.

Rule of this package: commands parse arguments, call the library, print results.
Every EmcommError becomes a one-paragraph message and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from emcomm import __version__
from emcomm.errors import EmcommError

# Each module has ``register(subparsers)`` adding its commands; a command's handler is
# stored as ``func`` on the parsed namespace and returns the exit status.
COMMAND_MODULES: tuple[str, ...] = (
    "emcomm.cli.scenario_cmd",
    "emcomm.cli.demo_cmd",
    "emcomm.cli.node_cmd",
    "emcomm.cli.ui_cmd",
    "emcomm.cli.interop_cmd",
    "emcomm.cli.drill_cmd",
    "emcomm.cli.security_cmd",
    "emcomm.cli.chaos_cmd",
    "emcomm.cli.route_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emcomm",
        description="Emergency-communications coordination mesh: relay nodes, router, drills and the command-centre map.",
    )
    parser.add_argument("--version", action="version", version=f"emcomm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EmcommError as exc:
        print(f"emcomm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emcomm: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`emcomm scenario timeline … | head`): stop quietly, as other
        # command-line tools do; stdout goes to /dev/null so the exit-time flush cannot fail too
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141      # 128 + SIGPIPE, what a shell reports for a writer killed by the signal


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
