"""``emcomm route``: the path a message would take at a moment of a scenario, with its
hops, expected delivery, money and backups; every bad input is a message, not a traceback.

tests/data/tiny.toml: t1 reaches the command centre over cellular (bs-a) then fibre, or
over its own Tiantong phone; the flood takes bs-b off air at 5760 s, cutting t2 off."""

from __future__ import annotations

import json
import math

import pytest

from emcomm.cli import main
from emcomm.cli.route_cmd import parse_at, routes_at
from emcomm.drill.scenario import load_scenario
from emcomm.drill.timeline import graph_at
from emcomm.priority import Priority
from emcomm.router.router import Router

TINY = "tests/data/tiny.toml"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["route", TINY, *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_route_prints_hops_kinds_delivery_and_a_disjoint_backup(capsys) -> None:
    status, out, _ = _run(capsys, "--from", "t1", "--to", "cc", "--size", "2000", "--priority", "flash")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("tiny at T+0 s") and "FLASH message of 2000 bytes" in lines[0]
    assert lines[1].startswith("route: 2 hop(s)") and "t1 → bs-a  cellular" in lines[2] and "bs-a → cc  fibre" in lines[3]
    assert any(x.startswith("backup 1: 1 hop(s)") for x in lines) and "tiantong" in out


def test_json_route_equals_the_router_on_the_scenario_graph_at_that_time(capsys) -> None:
    status, out, _ = _run(capsys, "--from", "t1", "--to", "cc", "--priority", "immediate", "--at", "1.5h",
                          "--size", "900", "--json")
    assert status == 0
    got = json.loads(out)
    sc = load_scenario(TINY)
    ref = Router.from_graph(graph_at(sc, sc.impact_model(), 5400.0)).route("t1", "cc", 900, "immediate", now=5400.0)
    assert got["at_s"] == 5400.0 and got["route"]["nodes"] == list(ref.nodes)
    assert math.isclose(got["route"]["delivery_s"], ref.time_s) and math.isclose(got["route"]["cost"], ref.cost)
    assert [h["kind"] for h in got["route"]["hops"]] == [h.kind.value for h in ref.hops]
    backup_links = {h["link"] for b in got["backups"] for h in b["hops"]}
    assert not backup_links & set(ref.links)


def test_the_flood_cuts_t2_off_later_in_the_scenario(capsys) -> None:
    sc = load_scenario(TINY)
    best, _ = routes_at(sc, "t2", "cc", 500, Priority.FLASH, 0.0, 0)
    assert best.nodes[0] == "t2" and best.nodes[-1] == "cc"
    status, _, err = _run(capsys, "--from", "t2", "--to", "cc", "--at", "3h")
    assert status == 2 and "no path from 't2' to 'cc'" in err and "cut off" in err and "Traceback" not in err


def test_last_resort_hops_are_explained(capsys) -> None:
    status, out, _ = _run(capsys, "--from", "t1", "--to", "cc", "--priority", "routine", "--backups", "1")
    assert status == 0 and "last resort: the policy keeps tiantong for higher classes" in out


@pytest.mark.parametrize("argv, expected", [
    (["--from", "t9", "--to", "cc"], "unknown node 't9'"),
    (["--from", "t1", "--to", "cc", "--at", "9h"], "outside the scenario, which runs from 0 to 14400 s"),
    (["--from", "t1", "--to", "cc", "--at", "soon"], "--at 'soon': give seconds"),
    (["--from", "t1", "--to", "cc", "--priority", "urgent"], "unknown priority 'urgent'"),
    (["--from", "t1", "--to", "cc", "--size", "0"], "size_bytes must be a whole number of bytes ≥ 1"),
    (["--from", "t1", "--to", "cc", "--backups", "-1"], "--backups must be a whole number ≥ 0"),
])
def test_bad_input_is_a_clear_message(capsys, argv, expected) -> None:
    status, _, err = _run(capsys, *argv)
    assert status == 2 and expected in err and "Traceback" not in err


def test_a_missing_scenario_file_is_named(capsys) -> None:
    assert main(["route", "no-such.toml", "--from", "a", "--to", "b"]) == 2
    assert "no-such.toml" in capsys.readouterr().err


def test_at_accepts_seconds_and_units() -> None:
    assert (parse_at("5400"), parse_at("90m"), parse_at("1.5h"), parse_at("1d")) == (5400.0, 5400.0, 5400.0, 86400.0)
