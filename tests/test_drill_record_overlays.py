"""The drill recording carries what the map needs across keyframes: the flood's extent as a
hazard overlay, and the feed of FLASH deliveries (a keyframe replaces the whole picture, so
what it leaves out vanishes from the replay until the next event)."""

from __future__ import annotations

import pytest

from emcomm.cli import main
from emcomm.drill.recording import read_recording
from emcomm.drill.scenario import load_scenario
from emcomm.ui.replay import situation_at

TINY = "tests/data/tiny.toml"


@pytest.fixture(scope="module")
def tiny_recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("zz")
    assert main(["drill", "run", TINY, "--out", str(out), "--duration", "7200", "--no-report"]) == 0
    return read_recording(out / "recording.emrec")


def _zone():
    flood = next(h for h in load_scenario(TINY).hazards if h.kind == "flood")
    return flood.model.zones[0]


def test_flood_zone_appears_on_the_map_once_under_water_with_its_radius_and_depth(tiny_recording):
    """Before the water rises the replay shows no flood; once the zone's centre is under water,
    it is a circle at the zone's centre with the zone's radius, labelled with the depth there."""
    zone = _zone()
    dry = [t for t, d in zone.depth_m if d == 0.0]
    wet_t = next(t for t, d in zone.depth_m if d > 0.0)
    assert not situation_at(tiny_recording, dry[0]).hazards
    wet = situation_at(tiny_recording, wet_t + 60.0)
    [overlay] = [h for h in wet.hazards if h.hazard == "flood"]
    [circle] = overlay.shapes
    assert circle.shape == "circle"
    assert circle.coords[0] == pytest.approx((zone.lat_deg, zone.lon_deg))
    assert circle.radius_m == pytest.approx(1000.0 * zone.radius_km)
    assert circle.value == pytest.approx(zone.depth_at(zone.lat_deg, zone.lon_deg, wet_t + 60.0), abs=0.05)
    assert f"{circle.value:.1f} m" in circle.label


def test_flash_delivery_stays_in_the_feed_after_later_keyframes(tiny_recording):
    """A FLASH delivered before a keyframe is still in the replay's feed after it."""
    flash = [r for r in tiny_recording.records if r.kind == "feed" and r.data.get("level") == "flash"]
    assert flash, "the tiny drill delivers a FLASH message"
    later_keys = [t for t in tiny_recording.keyframe_times if t > flash[0].t_s]
    assert later_keys, "the run goes on past a keyframe after the FLASH"
    s = situation_at(tiny_recording, later_keys[-1])
    assert flash[0].data["text"] in [f.text for f in s.feed]


# ---------------------------------------------------------------- fire and earthquake overlays

_FLOOD_BLOCK = """[[hazards]]
kind = "flood"
[hazards.params]
zones = [{ lat_deg = 34.60, lon_deg = 113.50, radius_km = 3, depth_m = [[0, 0], [3600, 0.5], [14400, 0.5]] }]
"""
FIRE_AND_QUAKE = """[[hazards]]
kind = "fire"
name = "test fire"
[hazards.params]
lat_deg = 34.62
lon_deg = 113.52
head_rate_m_s = 0.5
wind_speed_m_s = 5.0
spread_toward_deg = 45
ignition_s = 1800

[[hazards]]
kind = "earthquake"
name = "test quake"
[hazards.params]
lat_deg = 34.70
lon_deg = 113.40
magnitude = 6.5
depth_km = 12
t_s = 5400
aftershocks = [{ t_s = 9000, lat_deg = 34.72, lon_deg = 113.45, magnitude = 5.0, depth_km = 10 }]
"""


@pytest.fixture(scope="module")
def fire_quake(tmp_path_factory):
    """The tiny drill with its flood swapped for a fire (ignites at 30 min) and a quake (1.5 h,
    aftershock at 2.5 h); returns the scenario and its recording."""
    from pathlib import Path
    d = tmp_path_factory.mktemp("fq")
    text = Path(TINY).read_text(encoding="utf-8")
    assert _FLOOD_BLOCK in text
    path = d / "fire_quake.toml"
    path.write_text(text.replace(_FLOOD_BLOCK, FIRE_AND_QUAKE), encoding="utf-8")
    assert main(["drill", "run", str(path), "--out", str(d / "run"), "--duration", "14400", "--no-report"]) == 0
    return load_scenario(path), read_recording(d / "run" / "recording.emrec")


def _overlay(situation, kind):
    return [h for h in situation.hazards if h.hazard == kind]


def test_fire_perimeter_appears_after_ignition_and_grows_with_the_burnt_area(fire_quake):
    """No fire before ignition; then one polygon on the model's perimeter, labelled with the
    model's burnt area at the time it was drawn, larger at each later hazard step."""
    sc, rec = fire_quake
    fire = next(h.model for h in sc.hazards if h.kind == "fire")
    assert not _overlay(situation_at(rec, fire.ignition_s - 60.0), "fire")
    areas = []
    for t in (fire.ignition_s + 1800.0 + 60.0, 7200.0 + 60.0, 10800.0 + 60.0):
        [ov] = _overlay(situation_at(rec, t), "fire")
        [poly] = ov.shapes
        assert poly.shape == "polygon" and len(poly.coords) >= 12
        drawn_at = max(s for s in (0.0, 3600.0, 7200.0, 10800.0) if s <= t)
        assert poly.value == pytest.approx(fire.area_km2(drawn_at), rel=0.01)
        assert f"{fire.area_km2(drawn_at):.1f} km²" in poly.label
        inside = [fire.conditions(la, lo, drawn_at).in_fire for la, lo in poly.coords]
        assert not all(inside)                     # the ring is the edge, not the interior
        areas.append(poly.value)
    assert areas[0] < areas[1] < areas[2]


def test_quake_shows_epicentres_and_intensity_rings_once_each_shock_has_happened(fire_quake):
    """Before the mainshock nothing; after it the epicentre and rings where the model's own
    intensity equals VI and VIII; the aftershock's epicentre joins at its time."""
    sc, rec = fire_quake
    quake = next(h.model for h in sc.hazards if h.kind == "earthquake")
    main_shock, after = quake.shocks
    assert not _overlay(situation_at(rec, main_shock.t_s - 60.0), "earthquake")
    [ov] = _overlay(situation_at(rec, main_shock.t_s + 60.0), "earthquake")
    points = [s for s in ov.shapes if s.shape == "point"]
    assert [p.coords[0] for p in points] == [pytest.approx((main_shock.lat_deg, main_shock.lon_deg))]
    rings = {s.value: s for s in ov.shapes if s.shape == "polygon"}
    assert 6 in rings and 8 in rings
    for level, ring in rings.items():
        for la, lo in ring.coords:                  # each ring point sits on its intensity level
            assert quake.shock_intensity(main_shock, la, lo) == pytest.approx(level, abs=0.02)
    from emcomm.hazards._geo import distance_km
    r6 = [distance_km(main_shock.lat_deg, main_shock.lon_deg, *p) for p in rings[6].coords]
    r8 = [distance_km(main_shock.lat_deg, main_shock.lon_deg, *p) for p in rings[8].coords]
    assert all(a > b for a, b in zip(r6, r8))       # the stronger shaking is nearer, on every bearing
    [later] = _overlay(situation_at(rec, after.t_s + 60.0), "earthquake")
    assert len([s for s in later.shapes if s.shape == "point"]) == 2
