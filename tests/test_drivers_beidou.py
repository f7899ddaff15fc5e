"""Beidou RDSS driver: sentences, the sans-I/O link, and the real driver end to end
through the pty emulator (loopback ptys only, each wait bounded)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emcomm.errors import TerminalError, UsageError
from emcomm.links.drivers import beidou_sentences as bs
from emcomm.links.drivers.beidou import BeidouConfig, BeidouLink
from emcomm.links.drivers.events import Deferred, LinkChanged, Problem, Received, Sent
from emcomm.links.drivers.nmea import BadSentence, Sentence, SentenceReader, checksum, encode_sentence
from emcomm.links.drivers.transport import TerminalPort
from emcomm.links.emulators.beidou import BeidouEmulator
from emcomm.node import wire
from emcomm.priority import Priority

A, B = "0100001", "0100002"
FAST = BeidouConfig(interval_s=0.3, answer_timeout_s=0.4, signal_stale_s=3.0)


# ----------------------------------------------------------------------------- framing
def test_checksum_is_xor_of_bytes_between_dollar_and_star() -> None:
    raw = encode_sentence("CCTXA", ["0100002", "1", "1", "A1B2"])
    body = raw[1:raw.index(b"*")]
    x = 0
    for b in body:
        x ^= b
    assert raw[raw.index(b"*") + 1:].strip() == f"{x:02X}".encode()
    assert checksum(body) == x


@given(st.lists(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126,
                                               blacklist_characters="$*,!"), max_size=20), max_size=8))
def test_any_encoded_sentence_reads_back_unchanged(fields: list[str]) -> None:
    assert SentenceReader().feed(encode_sentence("BDXYZ", fields)) == [Sentence("BDXYZ", tuple(fields))]


@settings(max_examples=200)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_reader(data: bytes) -> None:
    for item in SentenceReader().feed(data + b"\r\n"):
        assert isinstance(item, (Sentence, BadSentence))


def test_every_flipped_byte_is_caught_by_the_checksum() -> None:
    raw = encode_sentence("BDTXR", ["1", A, "1", "1200", "DEADBEEF"]).rstrip()
    for i in range(1, raw.index(b"*")):
        bad = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1:]
        (item,) = SentenceReader().feed(bad + b"\r\n")
        assert isinstance(item, BadSentence), bad


def test_oversized_line_is_dropped_and_reading_goes_on() -> None:
    r = SentenceReader()
    out = r.feed(b"$" + b"A" * 5000) + r.feed(b"\r\n" + encode_sentence("CCICA", ["0", "00"]))
    assert [type(x).__name__ for x in out] == ["BadSentence", "Sentence"]
    assert out[0].reason == "oversize"


def test_framing_characters_in_a_field_are_refused() -> None:
    with pytest.raises(UsageError, match="framing character"):
        encode_sentence("CCTXA", ["a*b"])


@pytest.mark.parametrize("msg", [
    bs.Txa(B, b"\x00\xff\x10", express=True), bs.Txr(A, b"\x93\x01", 2, 1, "0830"), bs.Ica(),
    bs.Ici(A, "00001", "0", 0, 60.0, 3, False, 0), bs.Rmo("BSI", 2, 1), bs.Bsi(1, 2, (0, 1, 2, 3, 4, 0, 0, 0, 0, 0)),
    bs.Fki("TXA", False, False, 0, 42.0),
])
def test_every_sentence_round_trips(msg: bs.Message) -> None:
    (s,) = SentenceReader().feed(bs.encode(msg))
    assert bs.parse(s) == msg


def test_chinese_form_text_is_carried_as_gb18030() -> None:
    raw = bs.encode(bs.Txr(A, "大坝溃口".encode(), 1, bs.FORM_CHINESE, "0830"))
    assert "大坝溃口".encode("gb18030") in raw
    (s,) = SentenceReader().feed(raw)
    assert bs.parse(s).content.decode() == "大坝溃口"


@pytest.mark.parametrize("fields,reason", [
    (("1", "01x0001", "1", "0830", "AB"), "bad_field"),       # address not digits
    (("1", A, "1", "0830", "ABC"), "bad_field"),              # odd hex
    (("1", A), "malformed"),                                   # too few fields
])
def test_bad_txr_fields_are_named(fields: tuple[str, ...], reason: str) -> None:
    from emcomm.errors import RemoteInputError
    with pytest.raises(RemoteInputError) as exc:
        bs.parse(Sentence("BDTXR", fields))
    assert exc.value.reason == reason


# ----------------------------------------------------------------------------- sans-I/O link
def _up_link(cfg: BeidouConfig = FAST) -> BeidouLink:
    link = BeidouLink(cfg)
    link.start(0.0)
    link.receive_data(bs.encode(bs.Ici(A, "1", "0", 0, 0, 3, False, 0)) + bs.encode(bs.Bsi(1, 1, (3,) + (0,) * 9)), 0.1)
    assert link.status().up
    return link


def test_refusal_puts_the_message_back_and_waits_the_given_time() -> None:
    link = _up_link()
    ref = link.send(B, b"x", Priority.IMMEDIATE, now=0.2)
    out, _ = link.poll(0.2)
    assert out.startswith(b"$CCTXA")
    ev = link.receive_data(bs.encode(bs.Fki("TXA", False, False, 0, 7)), 0.3)
    assert [type(e) for e in ev] == [Deferred] and ev[0].ref == ref and ev[0].retry_at_s == pytest.approx(7.3)
    assert link.status().queued == (0, 1, 0, 0)
    link.receive_data(bs.encode(bs.Bsi(1, 1, (3,) + (0,) * 9)), 5.0)   # signal stays fresh
    assert link.poll(5.0)[0] == b""                          # still inside the wait
    assert link.poll(7.3)[0].startswith(b"$CCTXA")


def test_card_interval_longer_than_configured_wins() -> None:
    link = BeidouLink(BeidouConfig(interval_s=10.0))
    link.start(0.0)
    link.receive_data(bs.encode(bs.Ici(A, "1", "0", 0, 60, 3, False, 0)), 0.0)
    assert link.status().min_interval_s == 60.0


def test_card_limit_is_enforced_at_send() -> None:
    link = BeidouLink(BeidouConfig(max_message_bytes=78))
    with pytest.raises(TerminalError, match="exceeds the Beidou card's limit of 78 bytes"):
        link.send(B, b"x" * 79, 0, now=0.0)
    with pytest.raises(UsageError, match="1..10 digits"):
        link.send("team-2", b"x", 0, now=0.0)


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(UsageError, match="min_beam_power"):
        BeidouConfig(min_beam_power=7)


# ----------------------------------------------------------------------------- end to end on ptys
@pytest.fixture
def pair():
    emu = BeidouEmulator(latency_s=0.02)
    pa, pb = emu.add_terminal(A, interval_s=0.3), emu.add_terminal(B, interval_s=0.3)
    with emu:
        with TerminalPort(BeidouLink(FAST), pa) as ta, TerminalPort(BeidouLink(FAST), pb) as tb:
            for t in (ta, tb):
                t.start()
                t.run_until(lambda ev, t=t: t.driver.status().up, 5.0)
            yield emu, ta, tb


def _pump_both(ta: TerminalPort, tb: TerminalPort, want, timeout_s: float = 5.0):
    """Pump both ends until ``want(events_a, events_b)``; bounded by timeout_s."""
    ea, eb = [], []
    end = ta.now() + timeout_s
    while ta.now() < end:
        ea += ta.pump(0.02)
        eb += tb.pump(0.02)
        if want(ea, eb):
            return ea, eb
    raise AssertionError(f"timed out: a={ea[-5:]}, b={eb[-5:]}")


def test_flash_message_crosses_emulated_beidou_terminals_end_to_end(pair) -> None:
    emu, ta, tb = pair
    env = wire.make_envelope(b"\x11" * 16, "team-a", "cc", Priority.FLASH, wire.ContentType.ALERT, 0.0, 3600.0,
                             "堤坝溃口 levee breach at 34.75N 113.65E, 40 people on roofs".encode())
    frame = wire.encode(env)
    assert len(frame) <= ta.driver.max_message_bytes
    ref = ta.driver.send(B, frame, Priority.FLASH, now=ta.now())
    ea, eb = _pump_both(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb)
                        and any(isinstance(e, Sent) for e in ea))
    got = next(e for e in eb if isinstance(e, Received))
    assert got.sender == A
    decoded = wire.decode(got.payload)
    assert decoded == env and decoded.priority == Priority.FLASH
    assert any(isinstance(e, Sent) and e.ref == ref for e in ea)
    assert emu.transmissions[0].express                      # FLASH goes as an express message


def test_flash_overtakes_routine_queued_before_it(pair) -> None:
    emu, ta, tb = pair
    now = ta.now()
    routine = [ta.driver.send(B, b"routine-%d" % i, Priority.ROUTINE, now) for i in range(2)]
    flash = ta.driver.send(B, b"flash", Priority.FLASH, now)
    _, eb = _pump_both(ta, tb, lambda ea, eb: sum(isinstance(e, Received) for e in eb) == 3)
    assert [e.payload for e in eb if isinstance(e, Received)] == [b"flash", b"routine-0", b"routine-1"]
    assert flash > max(routine)


def test_send_interval_of_the_card_is_respected(pair) -> None:
    emu, ta, tb = pair
    for i in range(3):
        ta.driver.send(B, bytes([i]), Priority.PRIORITY, ta.now())
    _pump_both(ta, tb, lambda ea, eb: sum(isinstance(e, Received) for e in eb) == 3)
    times = [t.t_s for t in emu.transmissions]
    assert len(times) == 3
    assert all(b - a >= 0.3 for a, b in zip(times, times[1:]))


def test_garbage_from_the_terminal_is_counted_and_the_link_carries_on(pair) -> None:
    emu, ta, tb = pair
    emu.inject(B, b"$BDTXR,1,0100001,1,0830,ABCD*00\r\n")     # bad checksum
    emu.inject(B, b"\x00\xffnoise\r\n$BDBSI,1*" + b"%02X" % checksum(b"BDBSI,1") + b"\r\n")  # too few fields
    ta.driver.send(B, b"after the noise", Priority.FLASH, ta.now())
    _, eb = _pump_both(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb))
    problems = {e.reason for e in eb if isinstance(e, Problem)}
    assert {"bad_checksum", "malformed"} <= problems
    assert [e.payload for e in eb if isinstance(e, Received)] == [b"after the noise"]
    assert tb.driver.status().problems["bad_checksum"] == 1


def test_silent_terminal_takes_the_link_down_and_keeps_the_message_queued(pair) -> None:
    emu, ta, tb = pair
    emu.set_answering(A, False)
    ta.driver.send(B, b"must not be lost", Priority.FLASH, ta.now())
    ea, _ = _pump_both(ta, tb, lambda ea, eb: any(isinstance(e, LinkChanged) and not e.up for e in ea))
    down = next(e for e in ea if isinstance(e, LinkChanged))
    assert "not answering" in down.reason
    assert any(isinstance(e, Deferred) for e in ea)
    assert ta.driver.status().queued == (1, 0, 0, 0) and emu.transmissions == []
    emu.set_answering(A, True)
    _, eb = _pump_both(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb))
    assert [e.payload for e in eb if isinstance(e, Received)] == [b"must not be lost"]


def test_no_signal_reports_link_down_with_the_reason(pair) -> None:
    emu, ta, tb = pair
    emu.set_signal(A, (0,) * 10)
    ea = ta.run_until(lambda ev: any(isinstance(e, LinkChanged) for e in ev), 5.0)
    change = next(e for e in ea if isinstance(e, LinkChanged))
    assert not change.up and "no Beidou signal" in change.reason
    assert ta.driver.status().signal == 0


def test_missing_serial_port_gives_a_clear_error() -> None:
    with pytest.raises(TerminalError, match="cannot open serial port '/dev/ttyNOPE9'"):
        TerminalPort(BeidouLink(), "/dev/ttyNOPE9")
