"""``emcomm scenario check|timeline``: validate a scenario file and show what survives over time."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scenario", help="check a scenario file, show its link and node timeline")
    ssub = p.add_subparsers(dest="scenario_command", metavar="SUBCOMMAND", required=True)
    c = ssub.add_parser("check", help="validate a scenario file and print its summary")
    c.add_argument("file")
    c.set_defaults(func=_not_yet)
    t = ssub.add_parser("timeline", help="print links up by kind, node power and connectivity over time")
    t.add_argument("file")
    t.set_defaults(func=_not_yet)


def _not_yet(args: argparse.Namespace) -> int:  # replaced by the scenario module
    raise NotImplementedError
