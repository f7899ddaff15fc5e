"""`emcomm demo`: the pieces (plan, script, ledger, lock, output directory) and a shortened
headless run of the real thing, a second instance refused, Ctrl-C leaving no process behind."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from emcomm.demo.ledger import Ledger
from emcomm.demo.plan import DESK, compressed_interval_s, make_plan, node_toml, write_keys
from emcomm.demo.procs import DemoAlreadyRunning, DemoLock
from emcomm.demo.runner import DEFAULT_SCENARIO, prepare_out_dir
from emcomm.demo.script import build_script
from emcomm.drill.recording import read_recording
from emcomm.drill.scenario import load_scenario
from emcomm.errors import UsageError
from emcomm.links.profiles import make_profile
from emcomm.node.config import config_from_mapping
from emcomm.priority import Priority
from emcomm.ui.replay import situation_at

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(DEFAULT_SCENARIO)


def test_both_ends_of_every_demo_link_get_the_same_link_id_and_kind(scenario, tmp_path: Path) -> None:
    plan = make_plan(scenario, speed=1000.0)
    assert len(plan.nodes) >= 8
    kinds = {l.kind for l in plan.links}
    assert {"tiantong", "hts", "beidou", "leo", "cellular", "radio", "uav"} <= kinds
    ends: dict[str, list[tuple[str, str]]] = {}
    for n in plan.nodes:
        cfg = config_from_mapping(tomllib.loads(node_toml(plan, n.id, tmp_path / n.id, 1)), base_dir=tmp_path)
        for nb in cfg.neighbours:
            ends.setdefault(nb.link_id, []).append((cfg.node_id, nb.profile.kind.value))
    assert set(ends) == {l.id for l in plan.links}
    for l in plan.links:
        assert sorted(ends[l.id]) == sorted([(l.a, l.kind), (l.b, l.kind)])


def test_secure_demo_enrols_every_site_and_the_desk_with_roles_for_the_script(scenario, tmp_path: Path) -> None:
    from emcomm.node.roster import load_roster

    plan = make_plan(scenario, speed=1000.0)
    keys = tmp_path / "keys"
    write_keys(plan, keys)
    roster = load_roster(keys / "roster.json")
    assert roster.verified(roster.authority_key)
    assert {e.node_id for e in roster.entries} == {n.id for n in plan.nodes} | {DESK}
    role = {n.id: n.role for n in plan.nodes}
    for n in plan.nodes:     # teams and the gauge raise FLASH in the script; relays only carry
        assert roster.may_send(n.id, Priority.FLASH) == (role[n.id] in ("command", "team", "sensor")), n.id
        assert roster.may_send(n.id, Priority.ROUTINE)
    # every message the scenario sends is allowed by the roster
    assert all(roster.may_send(t.from_id, t.priority) for t in scenario.traffic)
    cfg = config_from_mapping(tomllib.loads(node_toml(plan, "cc", tmp_path / "cc", 1, keys)), base_dir=tmp_path)
    assert cfg.identity == keys / "cc" and cfg.roster == keys / "roster.json"
    with pytest.raises(UsageError, match="already holds a roster"):
        write_keys(plan, keys)


def test_send_intervals_shrink_with_the_clock_but_not_below_the_floor() -> None:
    beidou = make_profile("beidou")
    assert compressed_interval_s(beidou, 6.0) == pytest.approx(10.0)
    assert compressed_interval_s(beidou, 6000.0) == 1.0
    assert compressed_interval_s(make_profile("cellular"), 6000.0) == 0.0


def test_ports_are_distinct_across_the_mesh(scenario) -> None:
    plan = make_plan(scenario, speed=1000.0)
    ports = [p for n in plan.nodes for p in (n.listen_port, n.api_port, n.telemetry_port)]
    assert len(ports) == len(set(ports))


def test_script_takes_base_stations_to_battery_before_off_air_and_brings_the_uav_up_late(scenario) -> None:
    changes = build_script(scenario, step_s=600)
    at_start = {c.id for c in changes if c.t_s == 0 and c.kind == "link"}
    assert at_start == {l.id for l in scenario.links}, "t = 0 gives every link's starting state"
    for bs in ("bs-wenling", "bs-linhai"):
        power = [(c.t_s, c.power) for c in changes if c.kind == "node" and c.id == bs]
        t_batt = next(t for t, p in power if p == "battery")
        t_off = next(t for t, p in power if p == "off")
        assert t_batt < t_off
    uav_up = [c.t_s for c in changes if c.id == "uav-yongjia" and c.link and c.link.up]
    yongjia_down = [c.t_s for c in changes if c.id == "pdt-yongjia" and c.link and not c.link.up]
    assert uav_up and yongjia_down and uav_up[0] > yongjia_down[0]
    hts = [c for c in changes if c.id == "hts-wenling" and c.t_s > 0]
    assert any(not c.link.up and "stowed" in c.link.reason for c in hts)
    assert any(c.link.up and 0 < c.link.capacity_factor < 1 and "rain fade" in c.link.reason for c in hts)
    assert [c.t_s for c in changes] == sorted(c.t_s for c in changes)


def test_ledger_fails_on_a_lost_message_or_an_undelivered_flash() -> None:
    led = Ledger()
    led.accepted(b"a" * 16, "t1", "cc", Priority.FLASH, t_s=0.0, wall_s=0.0)
    led.accepted(b"b" * 16, "t1", "cc", Priority.ROUTINE, t_s=0.0, wall_s=0.0)
    led.delivered(b"b" * 16, created_s=1.0, delivered_s=3.0)
    ok, reasons = led.verdict()
    assert not ok and "FLASH delivery 0/1" in reasons[0]
    led.delivered(b"a" * 16, created_s=1.0, delivered_s=1.5)
    assert led.verdict() == (True, [])
    led.accepted(b"c" * 16, "t1", "cc", Priority.ROUTINE, t_s=0.0, wall_s=0.0)
    led.settle(b"c" * 16, "held", "")
    assert led.verdict()[0], "a message still in custody is not lost"
    led.settle(b"c" * 16, "expired", "ttl")
    ok, reasons = led.verdict()
    assert not ok and reasons == ["1 accepted message(s) lost"]
    assert led.stats()[Priority.ROUTINE].latency_p50_s == 2.0


def test_a_held_lock_refuses_a_second_holder_and_a_stale_one_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "demo.lock"
    path.write_text(json.dumps({"pid": 999_999_999, "out_dir": "old"}))   # a demo that died
    first = DemoLock(path)
    first.acquire(out_dir="a")
    assert first.stale_pid == 999_999_999
    # a second lock object in this process: flock is per open file, so it is refused too
    with pytest.raises(DemoAlreadyRunning, match=rf"already running \(pid {os.getpid()}, output in a\)"):
        DemoLock(path).acquire(out_dir="b")
    first.release()
    assert not path.exists()


def test_out_dir_with_foreign_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("x")
    with pytest.raises(UsageError, match="not made by `emcomm demo`"):
        prepare_out_dir(tmp_path)
    fresh = tmp_path / "new"
    prepare_out_dir(fresh)
    prepare_out_dir(fresh)   # its own output is replaced
    assert (fresh / "nodes").is_dir()


def _procs_mentioning(text: str) -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            found.append(f"{d.name}: {cmd[:200]}")
    return found


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, EMCOMM_DEMO_LOCK=str(tmp_path / "demo.lock"), PYTHONUNBUFFERED="1")


@pytest.mark.timeout(150)
def test_shortened_headless_demo_delivers_every_flash_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "run"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "emcomm", "demo", "--headless", "--duration", "25", "--drain", "15",
                        "--out", str(out)], cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=140)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "RESULT: PASS" in r.stdout and "Traceback" not in r.stderr
    up = float(r.stdout.split("mesh up: ")[1].split(" nodes answered in ")[1].split(" s")[0])
    assert up < 30.0, f"the mesh took {up} s to start"
    summary = json.loads((out / "summary.json").read_text())
    prios = summary["priorities"]
    assert all(prios[p]["accepted"] > 0 for p in ("flash", "immediate", "priority", "routine"))
    assert prios["flash"]["delivered"] == prios["flash"]["accepted"]
    assert summary["lost"] == [] and summary["passed"]
    # FLASH went over the satellite links when the ground failed
    assert "(beidou)" in r.stdout and "(tiantong)" in r.stdout
    # the cut-off team's messages came through once the UAV relay was up
    assert "via uav-yongjia" in r.stdout or "out on uav-yongjia" in r.stdout
    rec = read_recording(summary["recording"])
    end = situation_at(rec, rec.t_range[1])
    assert {n.id for n in end.nodes} >= {"cc", "t-yongjia", "uav"}
    assert end.stats[0].sent == prios["flash"]["accepted"]
    assert _procs_mentioning(str(out)) == []
    assert not (tmp_path / "demo.lock").exists()
    assert took < 120
    # security was on: no node ran without its roster, and each kept a verifiable audit log
    logs = "".join(p.read_text(errors="replace") for p in (out / "logs").glob("*.log"))
    assert "INSECURE" not in logs
    audit = subprocess.run([sys.executable, "-m", "emcomm", "audit", "--data-dir", str(out / "nodes" / "cc"), "--verify"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "hash chain intact" in audit.stdout and " 0 record(s)" not in audit.stdout


@pytest.mark.timeout(120)
def test_second_demo_is_refused_and_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = subprocess.Popen([sys.executable, "-m", "emcomm", "demo", "--headless", "--duration", "300",
                              "--out", str(out)], cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        assert first.stdout is not None
        while "the storm begins" not in seen and time.monotonic() < deadline:
            if select.select([first.stdout], [], [], 0.5)[0]:
                line = first.stdout.readline()
                if not line:
                    break
                seen += line
        assert "the storm begins" in seen, seen + (first.stderr.read() if first.poll() is not None else "")
        assert len(_procs_mentioning(str(out / "config"))) >= 8
        second = subprocess.run([sys.executable, "-m", "emcomm", "demo", "--headless", "--out", str(tmp_path / "b")],
                                cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert f"an emcomm demo is already running (pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        first.send_signal(signal.SIGINT)
        rc = first.wait(40)
        rest = first.stdout.read()
        assert rc == 130, rest
        assert "stopped 9 process(es)" in rest
        assert _procs_mentioning(str(out)) == []
        assert not (tmp_path / "demo.lock").exists()
        locks = list((out / "nodes").glob("*/node.json"))
        assert locks == [], f"nodes did not close cleanly: {locks}"
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
