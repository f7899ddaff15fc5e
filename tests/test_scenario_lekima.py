"""The Typhoon Lekima (2019) drill: it loads, follows its sourced track, its wind field matches
the published wind circles, its peak base-station outage agrees with MIIT's 4.6 % within ±25 %,
and it tells its story — coastal sites lose mains and Ka-band fades or stows as the storm passes,
while Tiantong and Beidou stay up and carry the landfall team once its base stations are dark."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest

from emcomm.drill.scenario import Scenario
from emcomm.drill.timeline import TimelineRow, impact_at
from emcomm.drill.tracks import read_track
from emcomm.hazards._geo import distance_km
from emcomm.hazards.typhoon import Typhoon
from emcomm.priority import Priority

from scenario_support import scenario_fixtures, seconds_into as _t

DRILLS = Path(__file__).resolve().parent.parent / "drills"
SCENARIO = DRILLS / "typhoon_lekima_2019.toml"
TRACK = DRILLS / "tracks" / "lekima_2019_bulletins.csv"
CST = dt.timezone(dt.timedelta(hours=8))
LANDFALL = dt.datetime(2019, 8, 10, 1, 45, tzinfo=CST)          # Chengnan, Wenling (CMA)
SECOND_LANDFALL = dt.datetime(2019, 8, 11, 20, 50, tzinfo=CST)  # Huangdao, Qingdao (Xinhua)
MIIT_SNAPSHOT = dt.datetime(2019, 8, 11, 6, 0, tzinfo=CST)      # time of MIIT's 10,387 / 4.6 % figure
WENLING = (28.367, 121.367)                                     # GEOnet Names Server
LANDFALL_TEAM = "t-chengnan"


sc, rows = scenario_fixtures(SCENARIO)


def _typhoon(sc: Scenario) -> Typhoon:
    (entry,) = sc.hazards
    assert isinstance(entry.model, Typhoon)
    return entry.model


def _row_at(rows: list[TimelineRow], t_s: float) -> TimelineRow:
    return min(rows, key=lambda r: abs(r.t_s - t_s))


def test_scenario_has_command_teams_mixed_terminals_and_all_priorities(sc: Scenario) -> None:
    roles = [n.role for n in sc.nodes]
    assert roles.count("command") == 1 and roles.count("team") >= 5 and roles.count("base_station") >= 200
    kinds = {link.kind.value for link in sc.links}
    assert {"tiantong", "beidou", "hts", "leo", "radio", "cellular", "fibre"} <= kinds
    assert {t.priority for t in sc.traffic} == set(Priority)
    assert any(n.site.coastal for n in sc.nodes if n.role == "base_station")
    assert len(sc.info.sources) >= 5


def test_track_in_the_scenario_is_the_sourced_track_file(sc: Scenario) -> None:
    """Every hazard track point is a row of the CSV (same time, position, pressure; wind back from knots)."""
    model = _typhoon(sc).track
    rows = read_track(TRACK).points
    assert len(model) == len(rows)
    for p, q in zip(model, rows):
        assert p.t_s == pytest.approx(_t(sc, q.time))
        assert (p.lat_deg, p.lon_deg, p.pressure_hpa) == (q.lat_deg, q.lon_deg, q.pressure_hpa)
        assert p.max_wind_m_s == pytest.approx(q.max_wind_m_s, abs=0.05)


def test_storm_comes_ashore_at_wenling_then_at_qingdao_with_the_published_intensity(sc: Scenario) -> None:
    ty = _typhoon(sc)
    first = ty.state(_t(sc, LANDFALL))
    assert first is not None
    assert (first.max_wind_m_s, first.pressure_hpa) == (52, 930)
    assert distance_km(first.lat_deg, first.lon_deg, *WENLING) < 15
    second = ty.state(_t(sc, SECOND_LANDFALL))
    assert second is not None and second.max_wind_m_s == 23
    assert 35.5 < second.lat_deg < 36.2            # the Huangdao coast, south-west of Qingdao
    assert 0 < _t(sc, SECOND_LANDFALL) < sc.info.duration_s


def _radius_km(ty: Typhoon, t_s: float, wind_m_s: float) -> float:
    """Outermost distance east of the centre where the modelled wind still reaches ``wind_m_s``."""
    s = ty.state(t_s)
    assert s is not None
    km_per_deg_lon = 111.195 * math.cos(math.radians(s.lat_deg))
    reach = 0.0
    for i in range(1, 4001):
        r = i * 0.1
        if ty.wind_m_s(s.lat_deg, s.lon_deg + r / km_per_deg_lon, t_s) >= wind_m_s:
            reach = r
    return reach


def test_modelled_wind_circles_match_the_published_ones_at_the_same_intensity(sc: Scenario) -> None:
    """First point (58 m/s, 920 hPa): NMC gave force 12 (32.7 m/s) to 60 km, force 10 (24.5 m/s)
    to 130–140 km at that intensity on 8 Aug 17:00; the default radius of maximum wind would
    put them at more than twice those distances."""
    ty = _typhoon(sc)
    t0 = ty.track[0].t_s
    assert (ty.track[0].max_wind_m_s, ty.track[0].pressure_hpa) == (58, 920)
    assert 0.75 * 60 <= _radius_km(ty, t0, 32.7) <= 1.25 * 60
    assert 0.75 * 135 <= _radius_km(ty, t0, 24.5) <= 1.25 * 135


def test_peak_base_station_outage_is_within_25_percent_of_the_published_share(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    published = sc.info.published_outage_fraction
    assert published is not None
    assert any("10,387" in s and "4.6 %" in s for s in sc.info.sources)
    peak = max(r.base_station_outage for r in rows)
    assert published * 0.75 <= peak <= published * 1.25, (peak, published)
    assert rows[0].base_station_outage == 0.0


def test_outage_at_the_time_of_the_miit_count_is_within_25_percent_of_it(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    published = sc.info.published_outage_fraction
    assert published is not None
    at = _row_at(rows, _t(sc, MIIT_SNAPSHOT)).base_station_outage
    assert published * 0.75 <= at <= published * 1.25, at


def test_base_stations_go_dark_hours_after_landfall_and_recover_only_in_part(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    landfall_s = _t(sc, LANDFALL)
    peak = max(rows, key=lambda r: r.base_station_outage)
    assert peak.t_s >= landfall_s + 2 * 3600          # batteries hold 2–4 h after mains loss
    assert all(r.base_station_outage == 0.0 for r in rows if r.t_s < landfall_s - 3 * 3600)
    end = rows[-1].base_station_outage
    assert 0.0 < end < peak.base_station_outage       # MIIT: 6,607 still out on 12 Aug 08:00


def test_coastal_sites_lose_mains_and_ka_band_fades_as_the_track_passes(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    landfall_s = _t(sc, LANDFALL)
    quiet, passing = rows[0], _row_at(rows, landfall_s)
    assert quiet.links["hts"].up == quiet.links["hts"].total and quiet.links["hts"].capacity == 1.0
    assert passing.links["hts"].capacity < 0.5 * quiet.links["hts"].capacity   # faded or stowed
    after = [r for r in rows if r.t_s >= _t(sc, MIIT_SNAPSHOT) + 6 * 3600]
    assert after and all(r.links["hts"].up == r.links["hts"].total for r in after)   # the storm has gone

    model = sc.impact_model()
    coastal = [n for n in sc.nodes if n.role == "base_station" and n.site.coastal]
    inland = [n for n in sc.nodes if n.role == "base_station" and not n.site.coastal]
    before, hit = impact_at(sc, model, 0.0), impact_at(sc, model, landfall_s + 4 * 3600)
    assert all(before.nodes[n.id].power.value == "mains" for n in coastal + inland)

    def off_mains(ns: list) -> float:
        return sum(hit.nodes[n.id].power.value != "mains" for n in ns) / len(ns)

    assert off_mains(coastal) > 0.5 and off_mains(coastal) > 5 * off_mains(inland)


def test_tiantong_and_beidou_stay_up_and_every_team_stays_reachable(rows: list[TimelineRow]) -> None:
    assert all(r.links["tiantong"].up == r.links["tiantong"].total for r in rows)
    assert all(r.links["beidou"].up == r.links["beidou"].total for r in rows)
    assert all(r.teams_reached == r.teams and not r.cut_off for r in rows)


def test_landfall_team_reaches_command_over_satellite_once_its_base_stations_are_dark(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    model = sc.impact_model()
    cellular = [link.id for link in sc.links if link.kind.value == "cellular" and LANDFALL_TEAM in (link.a, link.b)]
    assert cellular
    dark = [r for r in rows if not any(impact_at(sc, model, r.t_s).links[c].up for c in cellular)]
    assert dark, "the landfall team's base stations never went off air"
    assert dark[0].t_s > _t(sc, LANDFALL)
    for r in dark:
        assert LANDFALL_TEAM not in r.cut_off
        assert r.via.get("tiantong", 0) + r.via.get("beidou", 0) >= 1
    # a FLASH alert from the team falls in that dark spell
    sends = [t for tr in sc.traffic if tr.from_id == LANDFALL_TEAM and tr.priority is Priority.FLASH
             for t in tr.times_s]
    assert any(dark[0].t_s <= t <= dark[-1].t_s for t in sends)
