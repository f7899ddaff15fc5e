"""Loading scenario files: the schema, node groups, link rules, traffic expansion and broken files."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.drill.generate import distance_km, nearest_pairs, scatter_box, scatter_circle
from emcomm.drill.scenario import leo_footprint_deg, load_scenario, parse_scenario
from emcomm.drill.tomllines import line_of
from emcomm.errors import ScenarioError
from emcomm.links.profiles import LinkKind, default_profile
from emcomm.priority import Priority

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.toml"
BROKEN = DATA / "broken"

HEAD = """
[scenario]
name = "t"
sources = ["test"]
start = "2021-07-20T00:00:00+08:00"
duration_s = 7200
seed = 3
[[nodes]]
id = "cc"
lat_deg = 34.75
lon_deg = 113.62
role = "command"
"""


def problems(path_or_text: str | Path) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        if isinstance(path_or_text, Path):
            load_scenario(path_or_text)
        else:
            parse_scenario(path_or_text, "x.toml")
    return info.value.problems


# ---------------------------------------------------------------- a good file


def test_tiny_scenario_loads_into_plain_dataclasses() -> None:
    sc = load_scenario(TINY)
    assert sc.info.name == "tiny" and sc.info.seed == 7 and sc.info.duration_s == 14400
    assert sc.info.start.utcoffset().total_seconds() == 8 * 3600
    assert [n.id for n in sc.nodes] == ["cc", "bs-a", "bs-b", "t1", "t2", "t3"]
    assert sc.geo_longitudes_deg == (101.4,)
    cc = sc.nodes[0]
    assert cc.name == "Command centre" and cc.power.generator and cc.site.elevation_m == 50.0
    assert sc.nodes[2].power.battery_hold_up_s == 3600.0
    assert sc.hazards[0].kind == "flood"


def test_link_overrides_replace_profile_figures() -> None:
    sc = load_scenario(TINY)
    tt = next(link for link in sc.links if link.id == "t1-tt")
    assert tt.kind is LinkKind.TIANTONG
    assert tt.profile.rate_up_bps == 9600 and tt.profile.latency_s == default_profile("tiantong").latency_s


def test_link_rule_links_each_team_to_its_nearest_base_station_within_range() -> None:
    sc = load_scenario(TINY)
    cell = {(link.a, link.b) for link in sc.links if link.rule == 0}
    assert cell == {("t1", "bs-a"), ("t2", "bs-b"), ("t3", "bs-b")}


def test_traffic_expands_every_s_until_the_end_and_at_s_as_given() -> None:
    sc = load_scenario(TINY)
    alert, status = sc.traffic
    assert alert.priority is Priority.FLASH and alert.times_s == (600.0,)
    assert status.priority is Priority.ROUTINE and status.times_s == (0.0, 3600.0, 7200.0, 10800.0, 14400.0)


def test_traffic_count_limits_repeats() -> None:
    sc = parse_scenario(HEAD + """
[[nodes]]
id = "t"
lat_deg = 34.7
lon_deg = 113.6
role = "team"
[[traffic]]
from = "t"
to = "cc"
priority = 1
content = "position"
size_bytes = 40
start_s = 100
every_s = 60
count = 3
""")
    assert sc.traffic[0].times_s == (100.0, 160.0, 220.0)
    assert sc.traffic[0].priority is Priority.IMMEDIATE


def test_node_group_is_reproducible_and_inside_its_circle() -> None:
    text = HEAD + """
[[node_groups]]
id_prefix = "bs"
count = 120
role = "base_station"
center_lat_deg = 34.75
center_lon_deg = 113.62
radius_km = 20
elevation_m = [0, 2]
power = { battery_h = [2, 4] }
"""
    a, b = parse_scenario(text), parse_scenario(text)
    assert a.nodes == b.nodes
    bs = [n for n in a.nodes if n.role == "base_station"]
    assert len(bs) == 120 and bs[0].id == "bs-001" and bs[-1].id == "bs-120"
    assert all(distance_km(34.75, 113.62, n.site.lat_deg, n.site.lon_deg) <= 20.0 for n in bs)
    hold = [n.power.battery_hold_up_s / 3600 for n in bs]
    assert 2 <= min(hold) < 2.5 and 3.5 < max(hold) <= 4
    assert len(set(hold)) == 120
    other = parse_scenario(text.replace("seed = 3", "seed = 4"))
    assert other.nodes != a.nodes


def test_generator_fuel_hours_become_seconds() -> None:
    sc = parse_scenario(HEAD.replace('role = "command"', 'role = "command"\npower = { generator = true, generator_fuel_h = 12 }'))
    assert sc.nodes[0].power.generator_fuel_s == 12 * 3600


def test_node_group_in_a_box_stays_in_the_box() -> None:
    sc = parse_scenario(HEAD + """
[[node_groups]]
id_prefix = "s"
count = 50
role = "sensor"
box = [34.0, 113.0, 34.5, 113.5]
seed = 11
""")
    s = [n for n in sc.nodes if n.role == "sensor"]
    assert all(34.0 <= n.site.lat_deg <= 34.5 and 113.0 <= n.site.lon_deg <= 113.5 for n in s)


def test_scatter_circle_fills_the_disc_evenly() -> None:
    lat, lon = scatter_circle(4000, 5, 30.0, 110.0, 10.0)
    d = [distance_km(30.0, 110.0, la, lo) for la, lo in zip(lat, lon)]
    inner = sum(1 for x in d if x <= 10.0 / math.sqrt(2))  # half the area
    assert 0.45 < inner / 4000 < 0.55
    assert max(d) <= 10.0


def test_nearest_pairs_agree_with_brute_force() -> None:
    fl, fo = scatter_box(20, 1, 34, 113, 35, 114)
    tl, to = scatter_box(30, 2, 34, 113, 35, 114)
    got = nearest_pairs(fl, fo, tl, to, k=3)
    for i in range(20):
        brute = sorted(range(30), key=lambda j: (distance_km(fl[i], fo[i], tl[j], to[j]), j))[:3]
        assert [j for ii, j, _ in got if ii == i] == brute


def test_leo_pass_plan_limits_service_to_its_windows() -> None:
    sc = parse_scenario(HEAD + """
[[satellites]]
name = "leo"
orbit = "leo"
passes = [[0, 600], [1200, 1800]]
""")
    assert sc.leo_in_view(34.0, 300) and not sc.leo_in_view(34.0, 900) and sc.leo_in_view(34.0, 1500)


def test_leo_shell_serves_up_to_inclination_plus_footprint() -> None:
    sc = parse_scenario(HEAD + """
[[satellites]]
name = "shell"
orbit = "leo"
altitude_km = 550
inclination_deg = 53
""")
    edge = 53 + leo_footprint_deg(550)
    assert sc.leo_in_view(edge - 0.1, 0) and not sc.leo_in_view(edge + 0.1, 0)


def test_line_of_finds_nested_keys() -> None:
    text = TINY.read_text()
    line = line_of(text, ("links", 2, "overrides"))
    assert line is not None and text.splitlines()[line - 1].startswith("overrides")


def test_schema_example_loads_and_its_team_stays_reached() -> None:
    doc = (Path(__file__).resolve().parent.parent / "drills" / "SCHEMA.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    sc = parse_scenario(example, "SCHEMA.md")
    assert len([n for n in sc.nodes if n.role == "base_station"]) == 20
    from emcomm.drill.timeline import timeline
    rows = timeline(sc)
    assert rows[-1].base_station_outage > 0 and all(r.teams_reached == 1 for r in rows)


# ---------------------------------------------------------------- broken files


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200) | st.sampled_from([TINY.read_text()[:n] for n in range(0, 3000, 97)]))
def test_any_text_loads_or_raises_scenario_error_only(text: str) -> None:
    try:
        parse_scenario(text, "fuzz.toml")
    except ScenarioError as exc:
        assert exc.problems and all(loc and msg for loc, msg in exc.problems)


def _one(path: Path) -> tuple[str, str]:
    found = problems(path)
    assert len(found) == 1, found
    return found[0]


def test_missing_file_names_the_path() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(BROKEN / "nope.toml")
    assert "nope.toml" in str(info.value) and "no such file" in str(info.value)


def test_directory_is_refused() -> None:
    loc, msg = _one(BROKEN)
    assert "is a directory" in msg


def test_empty_file_says_what_a_scenario_starts_with() -> None:
    loc, msg = _one(BROKEN / "empty.toml")
    assert "empty" in msg and "[scenario]" in msg


def test_binary_file_is_not_utf8_text() -> None:
    loc, msg = _one(BROKEN / "binary.toml")
    assert "not UTF-8" in msg


def test_toml_syntax_error_names_line_and_column() -> None:
    loc, msg = _one(BROKEN / "not_toml.toml")
    assert loc.startswith("line 3, column") and "not valid TOML" in msg


def test_missing_scenario_table_is_named() -> None:
    loc, msg = _one(BROKEN / "missing_scenario.toml")
    assert loc == "scenario" and "[scenario] table is missing" in msg and "duration_s" in msg


@pytest.mark.parametrize("name, where, words", [
    ("unknown_link_kind", "links[0].kind (line 22)", ["'tiantog'", "tiantong, hts"]),
    ("link_to_unknown_node", "links[0].b (line 24)", ["'team-2'", "did you mean 'team-1'"]),
    ("duplicate_node_id", "nodes[2].id (line 33)", ["duplicate node id 'cc'", "nodes[0]"]),
    ("lat_out_of_range", "nodes[1].lat_deg (line 16)", ["less than or equal to 90", "134.7"]),
    ("negative_duration", "scenario.duration_s (line 6)", ["greater than 0", "-3600"]),
    ("bad_priority", "traffic[0].priority (line 29)", ["'urgent'", "flash, immediate, priority, routine"]),
    ("typo_key", "nodes[0].elevation (line 13)", ["unknown key 'elevation'", "did you mean 'elevation_m'"]),
    ("typo_table", "node (line 32)", ["unknown top-level table 'node'", "did you mean 'nodes'"]),
    ("traffic_unknown_node", "traffic[0].from (line 27)", ["sender 'team-9'", "did you mean 'team-1'"]),
    ("hazard_bad_params", "hazards[0].params.zones[0].radius_km (line 35)", ["above 0", "-5"]),
    ("hazard_unknown_kind", "hazards[0].kind (line 33)", ["unknown hazard kind 'volcano'", "flood"]),
    ("string_for_number", "scenario.duration_s (line 6)", ["valid number", "'3600'"]),
    ("bad_override", "links[0].overrides (line 25)", ["rate_up_bps", "negative"]),
    ("table_not_array", "traffic (line 26)", ["[[traffic]]", "[[key]] instead of [key]"]),
    ("group_without_area", "node_groups[0] (line 32)", ["box = [lat_min", "radius_km"]),
    ("send_after_end", "traffic[0].count (line 32)", ["5400 s", "duration_s = 3600"]),
])
def test_broken_file_names_key_line_problem_and_expectation(name: str, where: str, words: list[str]) -> None:
    path = BROKEN / f"{name}.toml"
    loc, msg = _one(path)
    assert loc == where
    for w in words:
        assert w in msg, (w, msg)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: 1 problem(s):")


def test_several_problems_are_reported_at_once() -> None:
    found = problems(BROKEN / "many_problems.toml")
    assert [loc.split(" ")[0] for loc, _ in found] == ["nodes[1].lat_deg", "links[0].kind", "traffic[0].priority"]


def test_a_broken_node_does_not_also_make_its_links_unknown() -> None:
    found = problems(BROKEN / "lat_out_of_range.toml")
    assert not any("not a node" in msg for _, msg in found)


def test_unknown_key_in_an_inline_table_suggests_the_field() -> None:
    found = problems(HEAD.replace('role = "command"', 'role = "command"\npower = { battry_h = 2 }'))
    assert found[0][0].startswith("nodes[0].power.battry_h")
    assert "did you mean 'battery_h'" in found[0][1]


def test_link_rule_that_matches_no_role_is_reported() -> None:
    found = problems(HEAD + '[[link_rules]]\nkind = "cellular"\nfrom_role = "team"\nto_role = "base_station"\n')
    assert {loc.split(" ")[0] for loc, _ in found} == {"link_rules[0].from_role", "link_rules[0].to_role"}
    assert all("no node has role" in msg for _, msg in found)


def test_geo_satellite_without_longitude_is_reported() -> None:
    found = problems(HEAD + '[[satellites]]\nname = "x"\norbit = "geo"\n')
    assert found[0][0].startswith("satellites[0]") and "longitude_deg" in found[0][1]


def test_step_longer_than_duration_is_reported() -> None:
    found = problems(HEAD.replace("seed = 3", "seed = 3\nstep_s = 9000"))
    assert found[0][0].startswith("scenario.step_s") and "longer than duration_s" in found[0][1]
