"""`emcomm scenario from-track`: CMA best-track text and IBTrACS CSV become a typhoon scenario that passes
`scenario check`; broken files are refused with the file and line named."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.cli import main
from emcomm.drill.fromtrack import scenario_from_track
from emcomm.drill.scenario import load_scenario
from emcomm.drill.tomlwriter import dumps
from emcomm.drill.tracks import M_S_PER_KT, parse_track, read_track
from emcomm.errors import DataFileError

DRILLS = Path(__file__).resolve().parent.parent / "drills"
CMA = """66666 2106 3 0009 2106 0 6 IN-FA 20220101
2021072500 3 296 1226 965 38
2021072506 2 300 1218 970 33
2021072512 2 305 1210 978 28
"""
CMA_TWO = CMA + """66666 2109 2 0012 2109 0 6 LUPIT 20220101
2021080500 1 220 1160 992 20
2021080506 1 225 1165 990 23
"""
IBTRACS = """SID,SEASON,NAME,ISO_TIME,LAT,LON,WMO_WIND,WMO_PRES,USA_WIND,USA_PRES,USA_RMW,CMA_WIND,CMA_PRES
 ,Year, , ,degrees_north,degrees_east,kts,mb,kts,mb,nmile,kts,mb
2021192N18144,2021,IN-FA,2021-07-25 00:00:00,29.6,122.6,60,965,70,960,20,74,965
2021192N18144,2021,IN-FA,2021-07-25 03:00:00,29.8,122.3,,,68,962,25,,
2021192N18144,2021,IN-FA,2021-07-25 06:00:00,30.0,121.8,55,970,60,968,,64,970
"""


def _write(tmp_path: Path, text: str, name: str = "track.txt") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_cma_rows_are_utc_tenths_of_a_degree_and_metres_per_second() -> None:
    t = parse_track(CMA, "infa.txt")
    assert (t.name, t.storm_id, t.source_format) == ("IN-FA", "2106", "cma")
    p = t.points[1]
    assert p.time == dt.datetime(2021, 7, 25, 6, tzinfo=dt.timezone.utc)
    assert (p.lat_deg, p.lon_deg, p.pressure_hpa, p.max_wind_m_s, p.line) == (30.0, 121.8, 970.0, 33.0, 3)


def test_ibtracs_prefers_cma_wind_converts_knots_and_skips_the_units_row() -> None:
    t = parse_track(IBTRACS, "ibtracs.csv")
    assert t.source_format == "ibtracs" and t.storm_id == "2021192N18144"
    first, mid, last = t.points
    assert first.max_wind_m_s == pytest.approx(74 * M_S_PER_KT)       # CMA_WIND, not WMO/USA
    assert first.rmw_km == pytest.approx(20 * 1.852)
    assert mid.max_wind_m_s == pytest.approx(68 * M_S_PER_KT) and mid.pressure_hpa == 962   # falls back to USA
    assert last.line == 5 and last.rmw_km is None


def test_a_file_with_several_storms_needs_one_chosen() -> None:
    with pytest.raises(DataFileError, match="holds 2 storms; choose one with --storm.*IN-FA.*LUPIT"):
        parse_track(CMA_TWO, "ch2021.txt")
    assert parse_track(CMA_TWO, "ch2021.txt", storm="lupit").points[0].lat_deg == 22.0
    assert parse_track(CMA_TWO, "ch2021.txt", storm="2106").name == "IN-FA"
    with pytest.raises(DataFileError, match="no storm named 'Maria'"):
        parse_track(CMA_TWO, "ch2021.txt", storm="Maria")


@pytest.mark.parametrize("text, line, words", [
    (CMA.replace("2021072506 2 300 1218 970 33", "2021072506 2 300 1218 970"), 3, "expected 6 or 7 columns"),
    (CMA.replace("2021072506", "20210725T6"), 3, "bad time"),
    (CMA.replace("300 1218", "950 1218"), 3, "latitude 95"),
    (CMA.replace("1218 970", "1218 9x0"), 3, "bad pressure"),
    (CMA.replace("2021072512", "2021072506"), 4, "not after the previous row"),
    ("2021072500 3 296 1226 965 38\n", 1, "data row before any '66666'"),
    ("hello,world\n1,2\n", 1, "neither a CMA best track"),
    ("SID,ISO_TIME,LAT\nx,2021-07-25 00:00:00,30\n", 1, "lacks column"),
    (IBTRACS.replace("2021-07-25 06:00:00", "25/07/2021 06:00"), 5, "bad ISO_TIME"),
    (IBTRACS.replace(",29.8,", ",north,"), 4, "bad LAT"),
])
def test_broken_track_rows_name_the_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataFileError, match=words) as err:
        read_track(path)
    assert err.value.line == line and str(err.value).startswith(f"{path}:{line}:")


def test_missing_empty_and_binary_files_are_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no such file"):
        read_track(tmp_path / "none.txt")
    with pytest.raises(DataFileError, match="is empty"):
        read_track(_write(tmp_path, "\n\n"))
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataFileError, match="not UTF-8"):
        read_track(bad)


def test_points_too_weak_for_the_model_are_left_out_and_noted() -> None:
    weak = CMA.replace("2021072512 2 305 1210 978 28", "2021072512 0 305 1210 1012 3")
    doc, notes = scenario_from_track(parse_track(weak, "w.txt"), "w.txt")
    assert len(doc["hazards"][0]["params"]["track"]) == 2
    assert any("left out 2021-07-25 12:00Z (line 4)" in n for n in notes)
    all_weak = "66666 0001 1 0001 0001 0 6 TD 20220101\n2021072500 0 296 1226 1012 3\n"
    with pytest.raises(DataFileError, match="no point strong enough"):
        scenario_from_track(parse_track(all_weak, "td.txt"), "td.txt")


def test_scenario_spans_the_track_plus_time_for_batteries_and_centres_on_the_last_typhoon_point() -> None:
    doc, _ = scenario_from_track(parse_track(CMA, "infa.txt"), "infa.txt", extra_hours=6)
    info = doc["scenario"]
    assert info["start"] == dt.datetime(2021, 7, 25, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert info["duration_s"] == (12 + 6) * 3600
    cc = next(n for n in doc["nodes"] if n["role"] == "command")
    assert abs(cc["lat_deg"] - 30.0) < 0.1 and abs(cc["lon_deg"] - 121.8) < 0.01   # 33 m/s point: last ≥ 32.7


def test_cli_writes_a_scenario_that_passes_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "infa.toml"
    assert main(["scenario", "from-track", str(_write(tmp_path, IBTRACS, "in.csv")), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["scenario", "check", str(out)]) == 0
    sc = load_scenario(out)
    assert sc.hazards[0].kind == "typhoon" and len(sc.hazards[0].model.track) == 3
    assert sc.hazards[0].model.track[0].t_s == 0.0
    assert {t.priority.name for t in sc.traffic} == {"FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"}
    # refuses to overwrite without --force
    capsys.readouterr()
    assert main(["scenario", "from-track", str(tmp_path / "in.csv"), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_cli_borrows_an_existing_node_set_and_trims_what_falls_after_the_end(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "zz.toml"
    code = main(["scenario", "from-track", str(_write(tmp_path, CMA)), "--nodes", str(DRILLS / "zhengzhou_2021.toml"),
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "dropped link 'uav-mihe'" in text and "passes within" in text
    sc, zz = load_scenario(out), load_scenario(DRILLS / "zhengzhou_2021.toml")
    assert {n.id for n in sc.nodes} == {n.id for n in zz.nodes}
    assert sc.info.seed == zz.info.seed and any("node set of" in s for s in sc.info.sources)


def test_cli_names_the_file_and_line_of_a_broken_track(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, CMA.replace("300 1218", "300 12x8"))
    assert main(["scenario", "from-track", str(bad), "--out", str(tmp_path / "x.toml")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3: bad longitude" in err and "Traceback" not in err
    assert not (tmp_path / "x.toml").exists()


def test_the_bundled_infa_track_file_reads_as_the_scenario_writes_it() -> None:
    t = read_track(DRILLS / "tracks" / "infa_2021_landfalls.csv")
    sc = load_scenario(DRILLS / "typhoon_infa_2021.toml")
    for p, q in zip(t.points, sc.hazards[0].model.track):
        assert (p.lat_deg, p.lon_deg, p.pressure_hpa) == (q.lat_deg, q.lon_deg, q.pressure_hpa)
        assert p.max_wind_m_s == pytest.approx(q.max_wind_m_s, abs=0.1)
        assert (p.time - t.points[0].time).total_seconds() == pytest.approx(q.t_s - sc.hazards[0].model.track[0].t_s)


_keys = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, blacklist_categories=("Cs",)),
                min_size=1, max_size=8)
_scalars = st.one_of(st.booleans(), st.integers(-10**9, 10**9), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=12))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys, st.one_of(_scalars, st.lists(_scalars, max_size=3),
                                        st.dictionaries(_keys, _scalars, max_size=5)), max_size=6))
def test_toml_writer_round_trips_through_tomllib(table: dict) -> None:
    doc = {"scenario": table, "nodes": [table, {"id": "x"}]}
    assert tomllib.loads(dumps(doc, "header\nline")) == doc
