"""`emcomm scenario from-quake`: an epicentre or a USGS event file becomes an earthquake scenario that
passes `scenario check` and shakes the sites near the epicentre; broken input gets a plain message."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from emcomm.cli import main
from emcomm.drill.fromquake import read_usgs_event, region_of
from emcomm.drill.scenario import load_scenario
from emcomm.drill.timeline import impact_at
from emcomm.errors import DataFileError

DRILLS = Path(__file__).resolve().parent.parent / "drills"


def _feature(eid: str = "us7000i9bw", mag: float = 6.6, lon: float = 102.19, lat: float = 29.68,
             depth: float = 10.0) -> dict:
    return {"type": "Feature", "id": eid,
            "properties": {"mag": mag, "time": 1662353538000, "title": f"M {mag} - Sichuan, China"},
            "geometry": {"type": "Point", "coordinates": [lon, lat, depth]}}


def _write(tmp_path: Path, obj: object, name: str = "event.geojson") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(obj) if not isinstance(obj, str) else obj, encoding="utf-8")
    return p


def test_usgs_feature_gives_time_position_depth_and_magnitude(tmp_path: Path) -> None:
    ev = read_usgs_event(_write(tmp_path, _feature()))
    assert ev.time == dt.datetime(2022, 9, 5, 4, 52, 18, tzinfo=dt.timezone.utc)
    assert (ev.lat_deg, ev.lon_deg, ev.depth_km, ev.magnitude, ev.event_id) == (29.68, 102.19, 10.0, 6.6, "us7000i9bw")


def test_a_feed_with_several_events_needs_one_chosen(tmp_path: Path) -> None:
    feed = _write(tmp_path, {"type": "FeatureCollection", "features": [_feature("a"), _feature("b", mag=5.1)]})
    with pytest.raises(DataFileError, match="holds 2 events; choose one with --event ID"):
        read_usgs_event(feed)
    assert read_usgs_event(feed, "b").magnitude == 5.1
    with pytest.raises(DataFileError, match="no event with id 'c'"):
        read_usgs_event(feed, "c")


@pytest.mark.parametrize("obj, words, line", [
    ('{"type": "Feature",\n "properties": {', "not valid JSON", 2),
    ({"type": "Polygon"}, "not GeoJSON", None),
    ({"type": "FeatureCollection", "features": []}, "no features", None),
    ({**_feature(), "geometry": {"type": "Point", "coordinates": [102.2, 29.7]}}, "coordinates must be", None),
    ({**_feature(), "properties": {"mag": "big", "time": 0}}, r"properties.mag must be a number", None),
    (_feature(mag=11.0), "magnitude 11 is outside", None),
])
def test_broken_event_files_are_refused_naming_what_is_wrong(tmp_path: Path, obj: object, words: str,
                                                             line: int | None) -> None:
    path = _write(tmp_path, obj)
    with pytest.raises(DataFileError, match=words) as err:
        read_usgs_event(path)
    assert err.value.line == line and str(err.value).startswith(str(path))


def test_region_follows_the_105_degree_split() -> None:
    assert region_of(103.3) == "west" and region_of(105.0) == "east"


def test_cli_from_arguments_writes_a_checkable_scenario_that_shakes_the_epicentre(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "q.toml"
    assert main(["scenario", "from-quake", "--lat", "29.59", "--lon", "102.08", "--depth-km", "16",
                 "--magnitude", "6.8", "--time", "2022-09-05T12:52:18+08:00", "--strike-deg", "160",
                 "--out", str(out)]) == 0
    assert main(["scenario", "check", str(out)]) == 0
    sc = load_scenario(out)
    quake = sc.hazards[0].model
    assert quake.shocks[0].t_s == 3600.0 and quake.strike_deg == 160.0 and quake.region == "west"
    assert sc.info.start == dt.datetime(2022, 9, 5, 11, 52, 18, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    model = sc.impact_model()
    bs = [n for n in sc.nodes if n.role == "base_station" and n.group == "bs-near"]
    before, after = impact_at(sc, model, 3599.0), impact_at(sc, model, 3600.0)
    assert all(before.nodes[n.id].up for n in bs)
    assert sum(after.nodes[n.id].power.value != "mains" for n in bs) > len(bs) // 2


def test_cli_from_usgs_file_with_a_borrowed_node_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "w.toml"
    ev = _write(tmp_path, _feature(mag=7.9, lon=103.32, lat=31.0, depth=19))
    assert main(["scenario", "from-quake", "--usgs", str(ev), "--nodes", str(DRILLS / "wenchuan_2008.toml"),
                 "--hours", "24", "--out", str(out)]) == 0
    sc = load_scenario(out)
    assert sc.info.duration_s == 24 * 3600 and len(sc.nodes) == len(load_scenario(DRILLS / "wenchuan_2008.toml").nodes)
    assert "us7000i9bw" in sc.info.sources[0]


@pytest.mark.parametrize("argv, words", [
    (["--lat", "29.6"], "missing --lon, --depth-km, --magnitude"),
    (["--lat", "29.6", "--lon", "102", "--depth-km", "16", "--magnitude", "12"], "magnitude 12 is outside"),
    (["--lat", "29.6", "--lon", "102", "--depth-km", "16", "--magnitude", "6", "--time", "yesterday"],
     "not an ISO 8601 time"),
    (["--lat", "29.6", "--lon", "102", "--depth-km", "16", "--magnitude", "6", "--time", "2022-09-05T12:52:00"],
     "has no time zone"),
    (["--usgs", "e.geojson", "--lat", "29.6"], "not both"),
])
def test_cli_bad_arguments_exit_2_with_a_plain_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       argv: list[str], words: str) -> None:
    assert main(["scenario", "from-quake", *argv, "--out", str(tmp_path / "x.toml")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "x.toml").exists()
