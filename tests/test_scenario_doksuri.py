"""The Doksuri (2023) drills: the Zhuozhou flood scenario loads, its rain matches the two published
daily totals, its base-station outage agrees within ±25 % with the Hebei centre's figures at both
published snapshots (and its peak with the share derived from them), sites go dark only after the
water arrives and part of them come back; the sourced Doksuri track file builds a Fujian landfall
scenario with `emcomm scenario from-track`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from emcomm.cli import main
from emcomm.drill.scenario import Scenario, load_scenario
from emcomm.drill.timeline import TimelineRow
from emcomm.drill.tracks import read_track
from emcomm.hazards._geo import distance_km
from emcomm.hazards.flood import Flood
from emcomm.priority import Priority

from scenario_support import scenario_fixtures, seconds_into as _t

DRILLS = Path(__file__).resolve().parent.parent / "drills"
SCENARIO = DRILLS / "doksuri_zhuozhou_2023.toml"
TRACK = DRILLS / "tracks" / "doksuri_2023_bulletins.csv"
CST = dt.timezone(dt.timedelta(hours=8))
# Hebei Provincial Emergency Communication Support Centre, situation at 4 Aug 2023 08:00:
# 211 still out = 21 % of Zhuozhou's base stations; 150 restored in the previous 24 h.
STILL_OUT, RESTORED_24H, STILL_OUT_SHARE = 211, 150, 0.21
SNAPSHOT = dt.datetime(2023, 8, 4, 8, 0, tzinfo=CST)
DAY_BEFORE = SNAPSHOT - dt.timedelta(days=1)
WATER_IN_MATOU = dt.datetime(2023, 7, 31, 5, 44, tzinfo=CST)       # Caixin, 4 Aug 2023
RAIN_DAYS_MM = ((dt.datetime(2023, 7, 29, 20, tzinfo=CST), 204.0),  # China Weather, 1 Aug 2023
                (dt.datetime(2023, 7, 30, 20, tzinfo=CST), 119.1))
JINJIANG = (24.78, 118.58)                                         # GeoNames, Jinjiang city


sc, rows = scenario_fixtures(SCENARIO)


def _row_at(rows: list[TimelineRow], t_s: float) -> TimelineRow:
    return min(rows, key=lambda r: abs(r.t_s - t_s))


def _flood(sc: Scenario) -> Flood:
    (entry,) = sc.hazards
    assert isinstance(entry.model, Flood)
    return entry.model


def test_scenario_has_command_teams_mixed_terminals_and_all_priorities(sc: Scenario) -> None:
    roles = [n.role for n in sc.nodes]
    assert roles.count("command") == 1 and roles.count("team") >= 5 and roles.count("base_station") >= 200
    assert {link.kind.value for link in sc.links} >= {"tiantong", "beidou", "hts", "leo", "radio", "cellular", "fibre"}
    assert {t.priority for t in sc.traffic} == set(Priority)
    assert len(sc.info.sources) >= 5


def test_rain_at_the_cell_centre_matches_the_two_published_daily_totals(sc: Scenario) -> None:
    """Integrate the modelled rain rate over each published 24-hour window, minute by minute."""
    flood = _flood(sc)
    (cell,) = flood.rain_cells
    for start, published_mm in RAIN_DAYS_MM:
        t0 = _t(sc, start)
        total = sum(flood.conditions(cell.lat_deg, cell.lon_deg, t0 + 60 * i + 30).rain_rate_mm_h / 60
                    for i in range(24 * 60))
        assert total == pytest.approx(published_mm, rel=0.01), (start, total)


def test_published_fraction_is_derived_from_the_published_counts(sc: Scenario) -> None:
    published = sc.info.published_outage_fraction
    assert published is not None
    stations = STILL_OUT / STILL_OUT_SHARE
    assert published == pytest.approx((STILL_OUT + RESTORED_24H) / stations, abs=0.0005)
    assert any(f"{RESTORED_24H} base stations" in s and f"{STILL_OUT} out of service" in s and "21 %" in s
               for s in sc.info.sources)


def test_peak_base_station_outage_is_within_25_percent_of_the_published_share(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    published = sc.info.published_outage_fraction
    assert published is not None
    peak = max(r.base_station_outage for r in rows)
    assert published * 0.75 <= peak <= published * 1.25, (peak, published)


def test_outage_at_each_published_snapshot_is_within_25_percent_of_it(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    """4 Aug 08:00: 21 % (published); 3 Aug 08:00: 211 + 150 of the same stations (derived)."""
    day_before = _row_at(rows, _t(sc, DAY_BEFORE)).base_station_outage
    snapshot = _row_at(rows, _t(sc, SNAPSHOT)).base_station_outage
    derived = (STILL_OUT + RESTORED_24H) * STILL_OUT_SHARE / STILL_OUT
    assert derived * 0.75 <= day_before <= derived * 1.25, day_before
    assert STILL_OUT_SHARE * 0.75 <= snapshot <= STILL_OUT_SHARE * 1.25, snapshot
    assert snapshot < day_before                       # the 150 restored stations show as a drop


def test_sites_go_dark_only_after_the_water_arrives_and_batteries_run_down(
        sc: Scenario, rows: list[TimelineRow]) -> None:
    rising_s = min(z.depth_m[0][0] for z in _flood(sc).zones)
    assert abs(rising_s - _t(sc, WATER_IN_MATOU)) <= 2 * 3600     # the zones rise when Matou floods
    first_dark = min(r.t_s for r in rows if r.base_station_outage > 0)
    assert first_dark >= rising_s + 2 * 3600                      # batteries hold at least 2 h
    peak = max(rows, key=lambda r: r.base_station_outage)
    assert 0.0 < rows[-1].base_station_outage < peak.base_station_outage


def test_floodplain_sites_are_the_ones_that_go_dark(sc: Scenario, rows: list[TimelineRow]) -> None:
    """At the peak the dark sites are under the inundation zones; the city centre stays up."""
    from emcomm.drill.timeline import impact_at
    flood = _flood(sc)
    peak = max(rows, key=lambda r: r.base_station_outage)
    imp = impact_at(sc, sc.impact_model(), peak.t_s)
    dark = [n for n in sc.nodes if n.role == "base_station" and not imp.nodes[n.id].up]
    assert dark
    for n in dark:
        assert any(distance_km(z.lat_deg, z.lon_deg, n.site.lat_deg, n.site.lon_deg) < z.radius_km
                   for z in flood.zones), n.id


def test_satellite_links_stay_up_while_cellular_fails(rows: list[TimelineRow]) -> None:
    assert all(r.links["tiantong"].up == r.links["tiantong"].total for r in rows)
    assert all(r.links["beidou"].up == r.links["beidou"].total for r in rows)
    assert rows[0].links["cellular"].up == rows[0].links["cellular"].total
    assert min(r.links["cellular"].up for r in rows) < rows[0].links["cellular"].total
    assert all(r.teams_reached == r.teams for r in rows)


def test_doksuri_track_file_holds_the_published_landfall_intensity() -> None:
    t = read_track(TRACK)
    assert t.name.upper() == "DOKSURI" and len(t.points) == 3
    last = t.points[-1]
    assert last.time == dt.datetime(2023, 7, 28, 2, 0, tzinfo=dt.timezone.utc)    # 10:00 CST
    assert (last.pressure_hpa, round(last.max_wind_m_s)) == (945, 50)
    assert distance_km(last.lat_deg, last.lon_deg, *JINJIANG) < 15
    assert max(p.max_wind_m_s for p in t.points) == pytest.approx(55, abs=0.05)


def test_from_track_builds_a_checked_fujian_scenario_from_the_doksuri_track(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "doksuri_fujian.toml"
    assert main(["scenario", "from-track", str(TRACK), "--out", str(out)]) == 0
    assert main(["scenario", "check", str(out)]) == 0
    built = load_scenario(out)
    track = built.hazards[0].model.track
    assert len(track) == 3 and track[-1].pressure_hpa == 945
    assert "Traceback" not in capsys.readouterr().err
