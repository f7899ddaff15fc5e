"""The drill recording format: round trip, seeking, and clear errors for every broken file."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.drill.recording import FORMAT, VERSION, RecordingWriter, read_recording
from emcomm.errors import RecordingError


def _write(path, n_events: int = 20, key_every: int = 5) -> list[tuple[float, str, dict]]:
    written = []
    with RecordingWriter(path, scenario="t", start="2021-07-20T08:00:00+08:00") as w:
        for i in range(n_events):
            t = 10.0 * i
            if i % key_every == 0:
                w.keyframe(t, {"t_s": t, "i": i})
                written.append((t, "keyframe", {"t_s": t, "i": i}))
            w.event(t, "feed", {"t_s": t, "text": f"e{i}"})
            written.append((t, "feed", {"t_s": t, "text": f"e{i}"}))
    return written


def test_round_trip_keeps_every_record_in_order(tmp_path):
    path = tmp_path / "r.emrec"
    written = _write(path)
    rec = read_recording(path)
    assert [(r.t_s, r.kind, r.data) for r in rec.records] == written
    assert rec.header.scenario == "t" and rec.header.version == VERSION and not rec.truncated


@pytest.mark.parametrize("t", [0.0, 25.0, 49.0, 50.0, 95.0, 1e9, -5.0])
def test_state_at_is_latest_keyframe_plus_events_up_to_t(tmp_path, t):
    path = tmp_path / "r.emrec"
    written = _write(path)
    key, events = read_recording(path).state_at(t)
    keys = [w for w in written if w[1] == "keyframe" and w[0] <= t] or [written[0]]
    assert key.data == keys[-1][2]
    after = written.index(keys[-1]) + 1
    expected = [w for w in written[after:] if w[0] <= t and w[1] != "keyframe"]
    assert [(e.t_s, e.kind, e.data) for e in events] == expected


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_a_file_cut_anywhere_reads_up_to_its_last_complete_record_or_says_why(tmp_path_factory, cut):
    path = tmp_path_factory.mktemp("cut") / "r.emrec"
    written = _write(path)
    raw = path.read_bytes()
    cut = cut % (len(raw) + 1)
    path.write_bytes(raw[:cut])
    try:
        rec = read_recording(path)
    except RecordingError as exc:
        # only an empty file, a cut header or a cut before the first keyframe may refuse
        assert any(w in str(exc) for w in ("empty", "header", "no keyframe"))
        return
    got = [(r.t_s, r.kind, r.data) for r in rec.records]
    assert got == written[: len(got)]
    unp = msgpack.Unpacker(raw=False)
    unp.feed(raw)
    boundaries = set()
    for _ in unp:
        boundaries.add(unp.tell())
    assert rec.truncated == (cut not in boundaries)


def test_writer_killed_mid_record_leaves_a_readable_file(tmp_path):
    path = tmp_path / "r.emrec"
    w = RecordingWriter(path, scenario="t", start="x")
    w.keyframe(0.0, {"t_s": 0.0})
    w.event(1.0, "feed", {"t_s": 1.0, "text": "a"})
    # what a kill during the next write leaves: half a record, file never closed
    w._f.write(msgpack.packb([2.0, "feed", {"t_s": 2.0, "text": "b" * 100}])[:30])
    w._f.flush()
    rec = read_recording(path)
    assert [r.t_s for r in rec.records] == [0.0, 1.0] and rec.truncated
    w.close()


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(RecordingError, match="does not exist"):
        read_recording(tmp_path / "nope.emrec")


def test_empty_file_is_refused(tmp_path):
    (tmp_path / "e.emrec").write_bytes(b"")
    with pytest.raises(RecordingError, match="empty"):
        read_recording(tmp_path / "e.emrec")


def test_newer_version_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "n.emrec"
    path.write_bytes(msgpack.packb({"format": FORMAT, "version": VERSION + 1, "scenario": "x", "start": "y", "meta": {}})
                     + msgpack.packb([0.0, "keyframe", {"t_s": 0.0}]))
    with pytest.raises(RecordingError, match=f"version {VERSION + 1}, newer.*upgrade"):
        read_recording(path)


def test_not_a_recording_is_refused(tmp_path):
    path = tmp_path / "x.emrec"
    path.write_bytes(msgpack.packb({"hello": 1}))
    with pytest.raises(RecordingError, match="not an emcomm recording"):
        read_recording(path)


def test_corrupt_bytes_in_the_middle_name_the_offset(tmp_path):
    path = tmp_path / "c.emrec"
    _write(path)
    raw = bytearray(path.read_bytes())
    # find the first record and replace its type byte with the reserved msgpack byte 0xc1
    unp = msgpack.Unpacker(raw=False)
    unp.feed(bytes(raw))
    next(unp)
    first_record_at = unp.tell()
    raw[first_record_at] = 0xC1
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match=f"corrupt at byte {first_record_at}"):
        read_recording(path)


def test_record_of_the_wrong_shape_is_corrupt(tmp_path):
    path = tmp_path / "w.emrec"
    path.write_bytes(msgpack.packb({"format": FORMAT, "version": 1, "scenario": "x", "start": "y", "meta": {}})
                     + msgpack.packb([0.0, "keyframe", {"t_s": 0.0}]) + msgpack.packb({"not": "a record"}))
    with pytest.raises(RecordingError, match=r"expected a \[t_s, kind, data\] record"):
        read_recording(path)


def test_writer_refuses_time_going_backwards(tmp_path):
    with RecordingWriter(tmp_path / "b.emrec", scenario="x", start="y") as w:
        w.keyframe(10.0, {"t_s": 10.0})
        with pytest.raises(RecordingError, match="not before the previous record"):
            w.event(5.0, "feed", {})
