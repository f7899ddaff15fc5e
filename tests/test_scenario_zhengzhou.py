"""The Zhengzhou 2021 scenario tells the published story: the rain, the base-station outage share,
terrestrial links collapsing, Ka-band HTS fading in the heaviest rain, Tiantong and Beidou staying up."""

from __future__ import annotations

from pathlib import Path

import pytest

from emcomm.drill.scenario import Scenario
from emcomm.drill.timeline import TimelineRow
from emcomm.priority import Priority

from scenario_support import scenario_fixtures

FILE = Path(__file__).resolve().parent.parent / "drills" / "zhengzhou_2021.toml"

# CMA: Zhengzhou national station, 20 July 2021
STATION_LAT_DEG, STATION_LON_DEG = 34.72, 113.65
PEAK_HOUR_MM = 201.9          # 16:00-17:00
DAY_MM = 552.5
# MIIT: ≈ 61,900 of ≈ 454,000 Henan base stations out of service
PUBLISHED_OUTAGE = 61_900 / 454_000


sc, rows = scenario_fixtures(FILE)


def _rain_mm(sc: Scenario, t0_s: float, t1_s: float) -> float:
    flood = sc.hazards[0].model
    step = 60.0
    n = int((t1_s - t0_s) / step)
    rates = [flood.conditions(STATION_LAT_DEG, STATION_LON_DEG, t0_s + i * step).rain_rate_mm_h for i in range(n + 1)]
    # trapezoid rule, mm/h × h
    return sum((a + b) / 2 for a, b in zip(rates, rates[1:])) * step / 3600


def test_scenario_has_the_required_cast(sc: Scenario) -> None:
    roles = [n.role for n in sc.nodes]
    assert roles.count("command") == 1 and roles.count("team") >= 8 and roles.count("hub") == 1
    assert roles.count("base_station") >= 150
    assert {n.group for n in sc.nodes if n.role == "base_station"} == {"bs-zz", "bs-gy"}
    kinds = {link.kind.value for link in sc.links}
    assert {"tiantong", "beidou", "hts", "leo", "radio", "cellular", "fibre", "uav"} <= kinds
    assert {t.priority for t in sc.traffic} == set(Priority)
    assert len(sc.info.sources) >= 5 and any("MIIT" in s for s in sc.info.sources)
    battery_h = [n.power.battery_hold_up_s / 3600 for n in sc.nodes if n.role == "base_station"]
    assert 2 <= min(battery_h) and max(battery_h) <= 4


def test_rain_at_the_station_matches_the_published_peak_hour_and_day(sc: Scenario) -> None:
    assert _rain_mm(sc, 16 * 3600, 17 * 3600) == pytest.approx(PEAK_HOUR_MM, rel=0.01)
    assert _rain_mm(sc, 0, 24 * 3600) == pytest.approx(DAY_MM, rel=0.03)


def test_peak_base_station_outage_is_near_the_published_share(rows: list[TimelineRow]) -> None:
    peak = max(r.base_station_outage for r in rows)
    assert PUBLISHED_OUTAGE * 0.75 <= peak <= PUBLISHED_OUTAGE * 1.25, peak
    assert rows[0].base_station_outage == 0.0


def test_terrestrial_links_collapse_after_the_rain(rows: list[TimelineRow]) -> None:
    before, worst = rows[0], min(rows, key=lambda r: r.links["cellular"].up)
    assert before.links["cellular"].up == before.links["cellular"].total
    assert worst.links["cellular"].up <= 0.6 * worst.links["cellular"].total
    assert worst.links["fibre"].up < before.links["fibre"].up
    assert worst.t_s > 16 * 3600          # after the peak hour, as batteries run out


def test_ka_band_hts_fades_in_the_heaviest_rain(rows: list[TimelineRow]) -> None:
    by_t = {r.t_s: r for r in rows}
    peak = by_t[16 * 3600].links["hts"]
    assert peak.capacity < 0.2 * by_t[0].links["hts"].capacity
    assert by_t[60 * 3600].links["hts"].capacity > 0.9   # clear skies two days later


def test_tiantong_and_beidou_stay_up_throughout(rows: list[TimelineRow]) -> None:
    for r in rows:
        for kind in ("tiantong", "beidou"):
            assert r.links[kind].up == r.links[kind].total, (r.t_s, kind)


def test_tiantong_carries_more_teams_once_the_ground_network_fails(rows: list[TimelineRow]) -> None:
    assert rows[0].via.get("tiantong", 0) < max(r.via.get("tiantong", 0) for r in rows)
    assert all(r.teams_reached == r.teams for r in rows)


def test_uav_relay_serves_only_in_its_five_hours(rows: list[TimelineRow]) -> None:
    up_hours = [r.t_s / 3600 for r in rows if r.links["uav"].up]
    assert up_hours and min(up_hours) >= 42 and max(up_hours) < 47 + 1e-9
    assert len(up_hours) == 5
