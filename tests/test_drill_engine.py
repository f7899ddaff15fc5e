"""Drill engine rules, each stated in its test's docstring, asserted on (time, event) logs
and on summary figures computed by hand from tests/data/tiny.toml."""

from __future__ import annotations

import json

import pytest

from emcomm.drill.engine import Engine, EngineConfig
from emcomm.drill.scenario import load_scenario, parse_scenario
from emcomm.drill.summary import dumps, summarise
from emcomm.drill.topology import drill_links
from emcomm.errors import UsageError

TINY = "tests/data/tiny.toml"


@pytest.fixture(scope="module")
def tiny():
    return load_scenario(TINY)


@pytest.fixture(scope="module")
def tiny_run(tiny):
    eng = Engine(tiny, EngineConfig(), keep_log=True)
    return eng, eng.run()


def test_same_seed_gives_byte_identical_summary(tiny):
    """Two runs with the same seed give the same summary.json bytes; another seed may differ
    only in figures that depend on random draws, never in what was sent."""
    a = dumps(summarise(Engine(tiny, EngineConfig(duration_s=3600, seed=3)).run()))
    b = dumps(summarise(Engine(tiny, EngineConfig(duration_s=3600, seed=3)).run()))
    c = json.loads(dumps(summarise(Engine(tiny, EngineConfig(duration_s=3600, seed=4)).run())))
    assert a == b
    assert c["messages"]["sent"] == json.loads(a)["messages"]["sent"]


def test_base_station_path_is_one_composite_cellular_link(tiny):
    """A team's cellular link to a base station plus the station's fibre to the command centre
    is one cellular link between the two node cores; base stations run no core."""
    links = {l.id: l for l in drill_links(tiny)}
    comp = links["t1~cc/cellular"]
    assert (comp.a, comp.b, comp.kind.value) == ("t1", "cc", "cellular")
    assert [pair[1] for pair in comp.via] == ["cc-bs-a"]
    assert not any("bs-" in (l.a + l.b) for l in links.values())
    assert "t2~t3/cellular" not in links          # two phones on one cell need its backhaul


def test_flash_is_submitted_then_delivered_at_the_command_centre_within_a_second(tiny_run):
    """The scenario's FLASH at t=600 s from t1 is submitted at 600 s and delivered at cc
    well within one second (t1 has cellular through bs-a at that time)."""
    eng, _ = tiny_run
    log = [(t, e) for t, e in eng.log if e.startswith(("submit t1", "delivered cc"))]
    assert log[0] == (600.0, "submit t1 cc flash 200")
    t_deliv = next(t for t, e in log if e.startswith("delivered cc #"))
    assert 600.0 < t_deliv < 601.0


def test_cut_off_and_outage_figures_match_the_hand_computed_answers(tiny_run):
    """bs-b runs on its 1 h battery from 2160 s and goes off air at 5760 s; with 300 s hazard
    steps the engine sees it at 6000 s: half the base stations out, t2 and t3 cut off from
    6000 s to the 14400 s end (8400 s), t1 never. Fibre availability: 20 steps with 2/2 up and
    29 with 1/2 up → 34.5 / 49."""
    _, res = tiny_run
    s = summarise(res)
    assert s["outage"]["base_stations_out_peak_fraction"] == 0.5
    assert s["outage"]["base_stations_out_peak_s"] == 6000.0
    assert s["teams"]["t2"] == {"cut_off_first_s": 6000.0, "cut_off_total_s": 8400.0}
    assert s["teams"]["t3"] == {"cut_off_first_s": 6000.0, "cut_off_total_s": 8400.0}
    assert s["teams"]["t1"] == {"cut_off_first_s": None, "cut_off_total_s": 0.0}
    assert s["link_kinds"]["fibre"]["availability"] == round(34.5 / 49, 6)
    assert s["link_kinds"]["tiantong"]["availability"] == 1.0


def test_messages_to_a_cut_off_team_are_held_not_lost(tiny_run):
    """cc sends ROUTINE to t2 every hour: the 0 h and 1 h ones arrive, the 2 h, 3 h ones find
    t2 cut off and stay in custody (pending), none is lost."""
    _, res = tiny_run
    s = summarise(res)
    assert s["priorities"]["routine"]["sent"] == 4
    assert s["priorities"]["routine"]["delivered"] == 2
    assert s["messages"]["pending_at_end"] == 2
    assert s["lost"] == {}


def test_node_without_power_crashes_and_misses_its_sends():
    """A team on a 0.5 h battery with no mains goes off at the first hazard step after 1800 s;
    its later sends are counted as not submitted (source off), the earlier one is delivered."""
    text = open(TINY, encoding="utf-8").read().replace(
        'id = "t1"\nlat_deg = 34.81\nlon_deg = 113.71\nrole = "team"\npower = { mains = false, battery_h = 24 }',
        'id = "t1"\nlat_deg = 34.81\nlon_deg = 113.71\nrole = "team"\npower = { mains = false, battery_h = 0.5 }')
    text = text.replace("at_s = [600]", "at_s = [600, 2400, 3000]")
    sc = parse_scenario(text, "tiny-battery.toml")
    eng = Engine(sc, EngineConfig(duration_s=3600), keep_log=True)
    res = eng.run()
    off = [(t, e) for t, e in eng.log if e == "power_off t1"]
    assert off == [(1800.0, "power_off t1")]
    assert [e for t, e in eng.log if e.startswith("not_submitted")] == ["not_submitted t1 source_off"] * 2
    assert res.not_submitted == {"source_off": 2}
    assert summarise(res)["priorities"]["flash"]["delivered"] == 1


def test_equal_times_run_hazards_before_traffic(tiny):
    """At equal times the hazard step runs before traffic: a send scheduled at the very step a
    node goes off is not submitted."""
    text = open(TINY, encoding="utf-8").read().replace(
        'power = { mains = false, battery_h = 24 }\n\n[[nodes]]\nid = "t2"',
        'power = { mains = false, battery_h = 0.5 }\n\n[[nodes]]\nid = "t2"', 1).replace("at_s = [600]", "at_s = [1800]")
    eng = Engine(parse_scenario(text, "tiny-eq.toml"), EngineConfig(duration_s=2400), keep_log=True)
    eng.run()
    at = [e for t, e in eng.log if t == 1800.0 and e.split()[0] in ("power_off", "not_submitted", "submit")]
    assert at == ["power_off t1", "not_submitted t1 source_off"]


def test_terrestrial_only_installs_no_satellite_links(tiny):
    """Under terrestrial-only the Tiantong terminal is not there at all: no bytes on it."""
    s = summarise(Engine(tiny, EngineConfig(duration_s=1800, policy="terrestrial-only")).run())
    assert s["link_kinds"]["tiantong"]["bytes"] == 0
    assert s["policy"] == "terrestrial-only"


def test_wall_clock_pacing_sleeps_simulated_time_over_speed(tiny):
    """With speed X the engine sleeps so that simulated time advances X times faster than the
    (injected) wall clock: 600 simulated seconds at speed 100 take 6 clock seconds."""
    now = [0.0]

    def clock() -> float:
        return now[0]

    def sleep(s: float) -> None:
        now[0] += s

    Engine(tiny, EngineConfig(duration_s=600, speed=100.0), clock=clock, sleep=sleep).run()
    assert now[0] == pytest.approx(6.0, abs=0.01)


@pytest.mark.parametrize("kw, match", [
    ({"policy": "nope"}, "unknown drill policy 'nope'"),
    ({"traffic_scale": 0}, "traffic_scale"),
    ({"duration_s": -1.0}, "duration_s"),
    ({"impact_step_s": 0.1}, "impact_step_s"),
    ({"speed": 0.0}, "speed"),
])
def test_bad_engine_settings_are_refused_with_the_setting_named(kw, match):
    """Each bad setting gets a UsageError that names it."""
    with pytest.raises(UsageError, match=match):
        EngineConfig(**kw)
