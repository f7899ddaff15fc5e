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
