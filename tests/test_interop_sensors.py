"""Satellite-IoT sensors: thresholds raise FLASH/IMMEDIATE CAP alerts with a hazard marker,
routine readings are small and rate-limited, bad input is refused with what to fix, and
`emcomm sensor` feeds a running node (loopback only) and writes a replayable recording."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import InteropError
from emcomm.interop import cap
from emcomm.interop.picture import read_picture
from emcomm.interop.sensors import (LEVELS, Reading, SensorMonitor, SensorSpec, decode_reading, encode_reading,
                                    level_of, parse_readings, sensor_specs)
from emcomm.interop.xmlsafe import Schema
from emcomm.node.api import ApiClient
from emcomm.priority import Priority
from emcomm.ui.situation import Situation, apply_event

ROOT = Path(__file__).resolve().parent.parent
CAP_XSD = Schema(ROOT / "tests" / "data" / "cap" / "CAP-v1.2.xsd")
T0 = 1626768000.0       # 2021-07-20T08:00:00Z
GAUGE = SensorSpec("jialu-1", "water_level", 34.80, 113.62, warning=3.0, danger=4.5, radius_m=2000,
                   name="Jialu River gauge", report_every_s=600)


def test_crossing_the_danger_level_raises_a_flash_cap_alert_around_the_sensor() -> None:
    mon = SensorMonitor([GAUGE])
    (m,) = mon.feed(Reading("jialu-1", T0, 4.8))
    assert (m.priority, m.content_type, m.level) == (Priority.FLASH, "alert", "danger")
    alert = cap.decode_compact(m.body)
    assert cap.priority_of(alert) is Priority.FLASH
    (area,) = alert.areas
    assert area.circles == ((34.80, 113.62, 2.0),)
    assert "4.8 m above the danger threshold 4.5 m" in alert.headline
    CAP_XSD.check(cap.to_xml(alert), "sensor alert")
    assert m.overlay is not None and m.overlay["hazard"] == "flood"
    assert m.feed == {"level": "flash", "text": alert.headline, "node": "jialu-1"}


def test_warning_level_is_immediate_and_rising_on_to_danger_alerts_again() -> None:
    mon = SensorMonitor([GAUGE])
    (w,) = mon.feed(Reading("jialu-1", T0, 3.2))
    assert (w.priority, w.level) == (Priority.IMMEDIATE, "warning")
    assert mon.feed(Reading("jialu-1", T0 + 60, 3.4)) == []            # same level, report not due yet
    (d,) = mon.feed(Reading("jialu-1", T0 + 120, 4.6))
    assert d.priority is Priority.FLASH
    assert cap.decode_compact(w.body).identifier != cap.decode_compact(d.body).identifier


def test_falling_back_below_warning_sends_a_routine_all_clear_and_removes_the_marker() -> None:
    mon = SensorMonitor([GAUGE])
    mon.feed(Reading("jialu-1", T0, 4.8))
    assert [o["hazard"] for o in mon.overlays()] == ["flood"]
    (m,) = mon.feed(Reading("jialu-1", T0 + 60, 2.0))
    assert (m.priority, m.level, m.overlay) == (Priority.ROUTINE, "normal", None)
    assert cap.decode_compact(m.body).msg_type == "Update"
    assert mon.overlays() == []


def test_routine_readings_go_at_most_once_per_report_interval() -> None:
    mon = SensorMonitor([GAUGE])
    sent = [t for t in range(0, 1800, 60) if mon.feed(Reading("jialu-1", T0 + t, 1.0))]
    assert sent == [0, 600, 1200]


@settings(max_examples=200)
@given(st.floats(-100, 100), st.floats(0.1, 50), st.floats(0, 5), st.sampled_from(LEVELS))
def test_level_never_falls_as_the_reading_rises(value: float, gap: float, hyst: float, before: str) -> None:
    s = SensorSpec("g", "rain", 0, 0, warning=10, danger=10 + gap, hysteresis=hyst)
    lo, hi = level_of(s, value, before), level_of(s, value + 1.0, before)
    assert LEVELS.index(hi) >= LEVELS.index(lo)
    assert level_of(s, s.danger, before) == "danger" and level_of(s, s.warning - hyst - 1, before) == "normal"


def test_hysteresis_keeps_a_level_until_the_reading_is_clearly_below_it() -> None:
    s = SensorSpec("r", "rain", 0, 0, warning=30, danger=60, hysteresis=5, report_every_s=0)
    mon = SensorMonitor([s])
    levels = [m.level for i, v in enumerate((31, 27, 26, 24.9)) for m in mon.feed(Reading("r", T0 + i, v))]
    assert levels == ["warning", "warning", "warning", "normal"]


def test_every_hazard_marker_fits_the_situation_shape_the_map_draws() -> None:
    specs = [GAUGE, SensorSpec("smoke-7", "smoke", 29.6, 102.0, 2.0, 8.0),
             SensorSpec("quake-3", "seismic", 29.6, 102.1, 40.0, 200.0)]
    mon = SensorMonitor(specs)
    for s in specs:
        mon.feed(Reading(s.id, T0, s.danger * 1.1))
    sit = apply_event(Situation(t_s=0.0), "hazards", {"items": mon.overlays()})
    assert sorted(h.hazard for h in sit.hazards) == ["earthquake", "fire", "flood"]
    assert all(h.shapes[0].radius_m > 0 for h in sit.hazards)


def test_a_routine_reading_fits_one_global_beidou_message_and_reads_back() -> None:
    body = encode_reading(GAUGE, Reading("jialu-1", T0, 2.25), "normal")
    assert len(body) <= 560 // 8          # BDS-3 global short message: 560 bits
    assert decode_reading(body) == {"sensor": "jialu-1", "kind": "water_level", "t_s": T0, "value": 2.25,
                                    "level": "normal"}


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_garbage_is_refused_as_a_reading_with_interop_error_only(data: bytes) -> None:
    try:
        decode_reading(b"\x53" + data)
    except InteropError:
        pass


@pytest.mark.parametrize("kw, expected", [
    ({"kind": "wind"}, "not one of water_level"),
    ({"warning": 5.0, "danger": 4.0}, "must be below the danger"),
    ({"lat_deg": 95.0}, "outside -90..90"),
    ({"id": "bad id"}, "sensor id must be"),
    ({"radius_m": 0}, "radius_m"),
    ({"warning": float("nan")}, "must be a number"),
])
def test_bad_sensor_settings_say_what_is_wrong(kw: dict, expected: str) -> None:
    base = dict(id="g", kind="rain", lat_deg=30.0, lon_deg=100.0, warning=30.0, danger=60.0)
    with pytest.raises(InteropError, match=expected):
        SensorSpec(**{**base, **kw})


def test_bad_sensor_tables_and_readings_are_named_by_place() -> None:
    with pytest.raises(InteropError, match="sensor\\[0\\]: missing danger"):
        sensor_specs([{"id": "g", "kind": "rain", "lat_deg": 1, "lon_deg": 1, "warning": 1}], "s.toml")
    with pytest.raises(InteropError, match="unknown key"):
        sensor_specs([{"id": "g", "kind": "rain", "lat_deg": 1, "lon_deg": 1, "warning": 1, "danger": 2, "x": 1}], "s")
    with pytest.raises(InteropError, match="r.csv:2: value 'high' is not a number"):
        list(parse_readings(["2021-07-20T16:00:00+08:00,g,1", "2021-07-20T16:01:00+08:00,g,high"], "r.csv"))
    with pytest.raises(InteropError, match="needs a UTC offset"):
        list(parse_readings(["2021-07-20T16:00:00,g,1"], "r.csv"))
    with pytest.raises(InteropError, match="unknown sensor 'other'"):
        SensorMonitor([GAUGE]).feed(Reading("other", T0, 1.0))


# ----------------------------------------------------------------------------- the command
def _write_config(tmp: Path, to: str = "") -> Path:
    cfg = tmp / "sensors.toml"
    cfg.write_text((f'to = "{to}"\n' if to else "") + "\n".join([
        "[[sensor]]", 'id = "jialu-1"', 'kind = "water_level"', "lat_deg = 34.80", "lon_deg = 113.62",
        "warning = 3.0", "danger = 4.5", "radius_m = 2000", 'name = "Jialu River gauge"']) + "\n")
    (tmp / "readings.csv").write_text("# time,sensor,value\n2021-07-20T16:00:00+08:00,jialu-1,2.9\n"
                                      "2021-07-20T16:10:00+08:00,jialu-1,3.6\n2021-07-20T16:20:00+08:00,jialu-1,4.7\n")
    return cfg


def test_sensor_command_dry_run_and_recording_show_alerts_on_the_map(tmp_path: Path) -> None:
    cfg = _write_config(tmp_path)
    rec = tmp_path / "sensors.emrec"
    out = subprocess.run([sys.executable, "-m", "emcomm", "sensor", "--config", str(cfg), "--readings",
                          str(tmp_path / "readings.csv"), "--dry-run", "--recording", str(rec)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    sent = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(m["priority"], m["content_type"]) for m in sent] == [("ROUTINE", "status"), ("IMMEDIATE", "alert"),
                                                                  ("FLASH", "alert")]
    pic = read_picture(str(rec))
    assert [a.level for a in pic.alerts] == ["alert", "flash"] and pic.alerts[1].t_s == 1200.0
    assert [(n.id, n.role) for n in pic.nodes] == [("jialu-1", "sensor")]


def test_sensor_command_with_a_broken_config_exits_2_with_a_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sensor]]\nid = "g"\nkind = "wind"\nlat_deg = 1\nlon_deg = 1\nwarning = 1\ndanger = 2\n')
    out = subprocess.run([sys.executable, "-m", "emcomm", "sensor", "--config", str(bad), "--dry-run"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, input="")
    assert out.returncode == 2 and "kind 'wind' is not one of" in out.stderr and "Traceback" not in out.stderr


def test_sensor_readings_through_a_running_node_arrive_as_alert_messages(tmp_path: Path) -> None:
    with socket.socket() as s1, socket.socket() as s2:
        s1.bind(("127.0.0.1", 0))
        s2.bind(("127.0.0.1", 0))
        listen, api = (f"tcp://127.0.0.1:{s.getsockname()[1]}" for s in (s1, s2))
    node = subprocess.Popen([sys.executable, "-m", "emcomm", "node", "--id", "cc", "--listen", listen, "--api", api,
                             "--data-dir", str(tmp_path / "cc-data"), "--status-every", "0", "--quiet"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert node.stdout is not None and "running" in node.stdout.readline()
        cfg = _write_config(tmp_path, to="cc")
        out = subprocess.run([sys.executable, "-m", "emcomm", "sensor", "--config", str(cfg), "--readings", "-",
                              "--node", api], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             input=(tmp_path / "readings.csv").read_text())
        assert out.returncode == 0, out.stderr
        client = ApiClient(api, timeout_s=10.0)
        try:
            end = time.monotonic() + 10
            msgs: list = []
            while len(msgs) < 3 and time.monotonic() < end:
                msgs = client.call("inbox")["messages"]
                time.sleep(0.05)
        finally:
            client.close()
        alerts = [cap.decode_compact(m["payload"]) for m in msgs if m["content_type"] == 3]
        assert [a.severity for a in alerts] == ["Severe", "Extreme"]
        assert sorted(m["priority"] for m in msgs) == [0, 1, 3]
    finally:
        node.terminate()
        node.wait(10)
