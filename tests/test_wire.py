"""The wire format: round trips, explicit handling of the unknown, and a fuzzed strict decoder."""

from __future__ import annotations

import struct

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emcomm.errors import RemoteInputError
from emcomm.node import wire

FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=20)
envelopes = st.builds(
    wire.Envelope,
    msg_id=st.binary(min_size=16, max_size=16), src=ids, dst=ids | st.just("*") | ids.map(lambda s: "@" + s),
    priority=st.integers(0, 3), content_type=st.sampled_from([c for c in wire.ContentType if c != wire.ContentType.ACK]),
    created_s=st.floats(-1e9, 1e9, allow_nan=False), ttl_s=st.floats(0, wire.MAX_TTL_S, allow_nan=False),
    body=st.binary(max_size=3000), hop_count=st.integers(0, 10), hop_limit=st.integers(10, 255),
    flags=st.just(0),
)
adverts = st.builds(
    wire.LinkStateAdvert, origin=ids, seq=st.integers(0, 2**40), age_s=st.floats(0, 3000, allow_nan=False),
    links=st.lists(st.builds(
        wire.LinkAdvert, link_id=ids, neighbour=ids, kind=st.sampled_from(["beidou", "tiantong", "fibre", "hts"]),
        up=st.booleans(), rate_bps=st.floats(0, 1e9, allow_nan=False), latency_s=st.floats(0, 10, allow_nan=False),
        loss=st.floats(0, 1, allow_nan=False), mtu_bytes=st.integers(1, 65535),
        min_interval_s=st.floats(0, 600, allow_nan=False), cost_per_mb=st.floats(0, 100, allow_nan=False)),
        max_size=8).map(tuple),
)
frames = st.one_of(
    envelopes,
    st.builds(wire.HopAck, st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=20).map(tuple)),
    adverts,
    st.builds(wire.Heartbeat, ids, st.integers(0, 2**40)),
    st.builds(wire.Fragment, st.binary(min_size=16, max_size=16), st.just(0), st.integers(2, 100),
              st.binary(min_size=1, max_size=200)),
)


def _reason(data: bytes) -> str:
    with pytest.raises(RemoteInputError) as info:
        wire.decode(data)
    assert info.value.reason in wire.REASONS
    return info.value.reason


@FUZZ
@given(frames)
def test_every_frame_round_trips(frame: wire.Frame) -> None:
    """decode(encode(f)) == f for every frame type (numbers survive the compact int encoding)."""
    assert wire.decode(wire.encode(frame)) == frame


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise_anything_but_remote_input_error(data: bytes) -> None:
    """Arbitrary bytes either decode to a frame or raise RemoteInputError with a known reason."""
    try:
        wire.decode(data)
    except RemoteInputError as exc:
        assert exc.reason in wire.REASONS


@FUZZ
@given(frames, st.data())
def test_mutated_valid_frames_never_raise_anything_but_remote_input_error(frame: wire.Frame, data: st.DataObject) -> None:
    """Flipping, cutting and inserting bytes in a valid frame never breaks the decoder."""
    raw = bytearray(wire.encode(frame))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[i] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[i:]
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        wire.decode(bytes(raw))
    except RemoteInputError as exc:
        assert exc.reason in wire.REASONS


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.binary(max_size=20) | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.integers() | st.text(max_size=5), kids, max_size=5),
                    max_leaves=40))
def test_arbitrary_msgpack_structures_are_refused_cleanly(obj: object) -> None:
    """Any well-formed msgpack value that is not a valid frame gives RemoteInputError."""
    for candidate in (obj, [1, 1, obj], [1, 4, "n", 1, 0, obj], [1, 1, bytes(16), "a", "b", 0, 0, 0, 0, 60, 0, 5, b"", obj]):
        try:
            data = msgpack.packb(candidate, use_bin_type=True)
        except (OverflowError, ValueError, TypeError):
            continue
        try:
            wire.decode(data)
        except RemoteInputError as exc:
            assert exc.reason in wire.REASONS


def test_deep_nesting_is_refused() -> None:
    """A frame nested thousands of levels deep is refused as too deep, not a crash."""
    deep = b"\x94\x01\x01" + b"\x91" * 5000 + b"\xc0"
    assert _reason(deep) in ("too_deep", "malformed")
    shallow_but_too_deep = msgpack.packb([1, 4, "n", 1, 0, [[[[[1]]]]]])
    assert _reason(shallow_but_too_deep) == "too_deep"


@pytest.mark.parametrize("header", [
    b"\xc6" + struct.pack(">I", 0xFFFFFFFF),          # bin32 declaring 4 GiB
    b"\xdb" + struct.pack(">I", 0xFFFFFFFF),          # str32 declaring 4 GiB
    b"\xdd" + struct.pack(">I", 0xFFFFFFFF),          # array32 with 4 billion elements
    b"\xdf" + struct.pack(">I", 0xFFFFFFFF),          # map32 with 4 billion entries
    b"\x9e\x01\x01" + b"\xc6" + struct.pack(">I", 0x7FFFFFFF),   # a DATA frame whose body claims 2 GiB
])
def test_huge_declared_lengths_are_refused_without_allocating(header: bytes) -> None:
    """A length field promising gigabytes is refused as malformed (the data is not there)."""
    assert _reason(header + b"\x00" * 16) == "malformed"


def test_oversize_frames_are_refused_before_parsing() -> None:
    """A frame above MAX_FRAME_BYTES is refused as oversize."""
    assert _reason(b"\x00" * (wire.MAX_FRAME_BYTES + 1)) == "oversize"


def test_unknown_version_is_an_explicit_error() -> None:
    """Version 2 frames are refused with bad_version, naming both versions."""
    with pytest.raises(RemoteInputError, match="version 2 is not supported") as info:
        wire.decode(msgpack.packb([2, 5, "n", 1]))
    assert info.value.reason == "bad_version"


def _env(**kw: object) -> wire.Envelope:
    base = dict(msg_id=b"\x05" * 16, src="a", dst="b", priority=1, content_type=0, created_s=0.0,
                ttl_s=60.0, body=b"hi")
    base.update(kw)
    return wire.Envelope(**base)  # type: ignore[arg-type]


def test_unknown_fields_are_handled_explicitly() -> None:
    """Unknown even ext keys are ignored and counted; odd ones and extra positions are refused."""
    got = wire.decode(wire.encode_envelope(_env(ext={40: 7})))
    assert isinstance(got, wire.Envelope) and got.ignored_ext == 1 and got.ext == {}
    assert _reason(wire.encode_envelope(_env(ext={41: 7}))) == "unknown_critical_field"
    fields = msgpack.unpackb(wire.encode_envelope(_env()))
    assert _reason(msgpack.packb(fields + [{}, "extra"], use_bin_type=True)) == "unknown_field"
    assert _reason(msgpack.packb([1, 5, "n", 1, 0, "extra"])) == "unknown_field"
    assert _reason(msgpack.packb([1, 9, "n"])) == "unknown_type"
    receipt_in_data = fields[:6] + [int(wire.ContentType.ACK)] + fields[7:]
    assert _reason(msgpack.packb(receipt_in_data, use_bin_type=True)) == "bad_field"


@pytest.mark.parametrize("bad, reason", [
    ({"priority": 4}, "bad_field"), ({"hop_count": 40, "hop_limit": 32}, "bad_field"),
    ({"ttl_s": -1.0}, "bad_field"), ({"ttl_s": float("nan")}, "bad_field"),
    ({"src": ""}, "bad_field"), ({"dst": "x" * 65}, "bad_field"), ({"msg_id": b"short"}, "bad_field"),
    ({"content_type": 99}, "unknown_content_type"), ({"flags": 128}, "bad_field"),
    ({"content_type": wire.ContentType.ACK}, "bad_field"),
])
def test_out_of_range_fields_are_refused_with_stable_reasons(bad: dict, reason: str) -> None:
    """Each field is checked for type and range; the reason token is stable."""
    assert _reason(wire.encode_envelope(_env(**bad))) == reason


def test_a_zip_bomb_body_is_refused_on_payload() -> None:
    """A compressed body that inflates beyond MAX_BODY_BYTES is refused as oversize."""
    import zlib
    bomb = _env(body=zlib.compress(b"\x00" * (wire.MAX_BODY_BYTES + 10)), flags=int(wire.Flags.COMPRESSED))
    env = wire.decode(wire.encode_envelope(bomb))
    assert isinstance(env, wire.Envelope)
    with pytest.raises(RemoteInputError) as info:
        env.payload()
    assert info.value.reason == "oversize"


# -- the fast path for common DATA frames accepts exactly what the field-by-field path accepts --
_field_values = st.one_of(
    st.integers(min_value=-2, max_value=300), st.booleans(), st.none(),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 3600.0, wire.MAX_TTL_S, 1e12, -1e12, 2e12]),
    st.binary(max_size=20), st.sampled_from([b"\x01" * 16, b"", b"\x02" * 17]),
    st.text(max_size=8), st.sampled_from(["a", "team-1", " a", "a\nb", "x" * 65, "*", "@g"]),
)


_GOOD_DATA_FIELDS = [b"\x01" * 16, "src", "sink", 3, 0, 2, 1.7e9, 3600.0, 0, 32, b"body"]


def _fast_equals_checked(fields: list) -> None:
    """Without ext, and with a signature block as a signed message carries it."""
    for ext in ([], [{wire.EXT_SIGNATURE: b"s" * 80}]):
        frame = [wire.WIRE_VERSION, int(wire.FrameType.DATA), *fields, *ext]
        try:
            expected = wire._decode_envelope(frame, wire.FrameType.DATA)
        except RemoteInputError:
            expected = None
        assert wire._flat_data(frame) == expected


@pytest.mark.parametrize("index", range(len(_GOOD_DATA_FIELDS)))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_field_values)
def test_fast_data_path_agrees_with_the_checked_path_on_each_field(index, value):
    fields = list(_GOOD_DATA_FIELDS)
    fields[index] = value
    _fast_equals_checked(fields)


@settings(max_examples=300, deadline=None)
@given(st.lists(_field_values, min_size=11, max_size=11))
def test_fast_data_path_agrees_with_the_checked_path_on_random_frames(fields):
    _fast_equals_checked(fields)
