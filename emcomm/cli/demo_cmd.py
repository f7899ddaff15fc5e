"""``emcomm demo``: a live mesh on this machine through a disaster, with the map."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run a live mesh of nodes through a scripted disaster, with the map")
    p.add_argument("--headless", action="store_true", help="no browser; exit non-zero if anything accepted was lost")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(
        "emcomm demo: not built yet. Meanwhile try:\n"
        "  emcomm scenario check drills/zhengzhou_2021.toml\n"
        "  emcomm scenario timeline drills/zhengzhou_2021.toml",
        file=sys.stderr,
    )
    return 1
