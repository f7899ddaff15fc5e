"""Exports of a recording: every CAP document validates against CAP 1.2, every CoT event
against the CoT 2.0 event schema, GeoJSON follows RFC 7946 ([lon, lat]); CoT position
reports are read back; the CLI commands give clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emcomm.cli import main
from emcomm.drill.recording import RecordingWriter
from emcomm.errors import InteropError
from emcomm.interop import cap, cot
from emcomm.interop.export import export
from emcomm.interop.picture import read_picture
from emcomm.interop.xmlsafe import Schema

DATA = Path(__file__).parent / "data"
CAP_XSD = Schema(DATA / "cap" / "CAP-v1.2.xsd")
COT_XSD = Schema(DATA / "cot" / "CoT-event-2.0.xsd")


@pytest.fixture
def rec(tmp_path: Path) -> Path:
    """A small recording: two nodes, one moving; one flash alert at a node, one alert
    without a node, one info item (not an alert)."""
    path = tmp_path / "r.emrec"
    with RecordingWriter(path, scenario="zz test", start="2021-07-20T16:00:00+08:00") as w:
        w.keyframe(0.0, {"t_s": 0.0, "nodes": [
            {"id": "cc", "name": "Command", "lat_deg": 34.75, "lon_deg": 113.65, "role": "command"},
            {"id": "t1", "name": "Team 1", "lat_deg": 34.70, "lon_deg": 113.60}]})
        w.event(60.0, "node", {"id": "t1", "lat_deg": 34.71, "lon_deg": 113.61})
        w.event(90.0, "feed", {"t_s": 90.0, "level": "flash", "text": "Levee breach: 40 people on roofs", "node": "t1"})
        w.event(95.0, "feed", {"t_s": 95.0, "level": "info", "text": "relay rebooted"})
        w.event(100.0, "feed", {"t_s": 100.0, "level": "alert", "text": "Rain above 100 mm/h"})
        w.keyframe(120.0, {"t_s": 120.0, "nodes": [
            {"id": "cc", "name": "Command", "lat_deg": 34.75, "lon_deg": 113.65, "role": "command"},
            {"id": "t1", "name": "Team 1", "lat_deg": 34.72, "lon_deg": 113.62}],
            "feed": [{"t_s": 90.0, "level": "flash", "text": "Levee breach: 40 people on roofs", "node": "t1"}]})
    return path


def test_picture_holds_nodes_tracks_and_alerts_once(rec: Path) -> None:
    pic = read_picture(str(rec))
    assert [n.id for n in pic.nodes] == ["cc", "t1"]
    t1 = next(t for t in pic.tracks if t.node_id == "t1")
    assert [p[1:] for p in t1.points] == [(34.70, 113.60), (34.71, 113.61), (34.72, 113.62)]
    assert [(a.level, a.node) for a in pic.alerts] == [("flash", "t1"), ("alert", "")]   # keyframe repeat not doubled
    assert (pic.alerts[0].lat_deg, pic.alerts[0].lon_deg) == (34.71, 113.61)


def test_every_exported_cap_document_validates(rec: Path, tmp_path: Path) -> None:
    paths = export("cap", read_picture(str(rec)), tmp_path / "cap")
    assert len(paths) == 2
    for p in paths:
        CAP_XSD.check(p.read_bytes(), p.name)
    flash = cap.from_xml(paths[0].read_bytes())
    assert flash.sent == "2021-07-20T16:01:30+08:00" and flash.status == "Exercise"
    assert cap.priority_of(flash).name == "FLASH" and flash.areas[0].circles[0][:2] == (34.71, 113.61)


def test_every_exported_cot_event_validates_and_reads_back(rec: Path, tmp_path: Path) -> None:
    paths = export("cot", read_picture(str(rec)), tmp_path / "cot")
    # 2 nodes + 4 track points (cc 1, t1 3) + 1 alert with a position
    assert len(paths) == 7
    for p in paths:
        COT_XSD.check(p.read_bytes(), p.name)
    pos = cot.parse_position((tmp_path / "cot" / "node-t1.cot.xml").read_bytes())
    assert (pos.uid, pos.lat_deg, pos.lon_deg, pos.callsign) == ("emcomm-t1", 34.72, 113.62, "Team 1")


def test_cot_schema_catches_a_point_outside_the_globe() -> None:
    xml = cot.event_xml("x", "a-f-G-U-C", "2021-07-20T16:00:00+08:00", 10.0, 20.0).replace(b'lat="10.000000"', b'lat="91"')
    assert any("lat" in e for e in COT_XSD.errors(xml))


def test_geojson_is_lon_lat_with_nodes_tracks_and_alerts(rec: Path, tmp_path: Path) -> None:
    (p,) = export("geojson", read_picture(str(rec)), tmp_path / "gj")
    fc = json.loads(p.read_text())
    assert fc["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in fc["features"]]
    assert kinds.count("node") == 2 and kinds.count("track") == 2 and kinds.count("alert") == 2
    t1 = next(f for f in fc["features"] if f["properties"]["kind"] == "track" and f["properties"]["id"] == "t1")
    assert t1["geometry"] == {"type": "LineString", "coordinates": [[113.60, 34.70], [113.61, 34.71], [113.62, 34.72]]}


@pytest.mark.parametrize("doc,message", [
    (b"<event version='2.0' uid='a' type='a-f-G' time='2021-07-20T16:00:00Z' start='x' stale='x' how='m-g'/>",
     "has no <point>"),
    (b"<event version='1.0' uid='a' time='t'><point lat='1' lon='2'/></event>", "version '1.0' is not supported"),
    (b"<event version='2.0' uid='a' time='t'><point lat='95' lon='2'/></event>", "outside -90..90"),
    (b"<event version='2.0' uid='a' time='t'><point lat='x' lon='2'/></event>", "must be numbers"),
    (b"<!DOCTYPE e [<!ENTITY a 'b'>]><event/>", "declares a DTD"),
    (b"<e:event xmlns:e='urn:other'/>", "expected <event> in no namespace"),
    (b"<event>" + b"x" * 70_000 + b"</event>", "exceeds the limit"),
])
def test_bad_cot_is_refused_with_a_clear_error(doc: bytes, message: str) -> None:
    with pytest.raises(InteropError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        cot.parse_position(doc)


def test_export_command_writes_files(rec: Path, tmp_path: Path, capsys) -> None:
    assert main(["export", "geojson", "--recording", str(rec), "--out", str(tmp_path / "o")]) == 0
    assert "wrote 1 geojson file(s)" in capsys.readouterr().out


def test_export_command_names_a_missing_recording(tmp_path: Path, capsys) -> None:
    assert main(["export", "cap", "--recording", str(tmp_path / "nope.emrec"), "--out", str(tmp_path)]) == 2
    assert "nope.emrec does not exist" in capsys.readouterr().err


def test_import_dry_run_checks_against_the_schema(tmp_path: Path, capsys) -> None:
    a = cap.CapAlert("i-1", "s@x", "2021-07-20T17:30:00+08:00", "Fire", "Immediate", "Severe", "Observed")
    f = tmp_path / "a.xml"
    f.write_bytes(cap.to_xml(a))
    assert main(["import", "cap", str(f), "--dry-run", "--schema", str(DATA / "cap" / "CAP-v1.2.xsd")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["priority"] == "FLASH" and out["compact_bytes"] < out["xml_bytes"]


def test_import_of_a_hostile_file_fails_cleanly(tmp_path: Path, capsys) -> None:
    f = tmp_path / "evil.xml"
    f.write_bytes(b"<!DOCTYPE a [<!ENTITY a 'aaaa'>]><alert>&a;</alert>")
    assert main(["import", "cap", str(f), "--dry-run"]) == 2
    assert "declares a DTD" in capsys.readouterr().err


def test_import_without_a_running_node_says_so(tmp_path: Path, capsys) -> None:
    a = cap.CapAlert("i-1", "s@x", "2021-07-20T17:30:00+08:00", "Fire", "Immediate", "Severe", "Observed")
    f = tmp_path / "a.xml"
    f.write_bytes(cap.to_xml(a))
    assert main(["import", "cap", str(f), "--node", str(tmp_path)]) == 2
    assert "no node is running" in capsys.readouterr().err
