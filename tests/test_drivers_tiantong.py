"""Tiantong AT-command SMS driver end to end through the pty handset emulator."""

from __future__ import annotations

import pytest

from emcomm.errors import TerminalError, UsageError
from emcomm.links.drivers.events import Deferred, LinkChanged, Received, Sent
from emcomm.links.drivers.tiantong import MAX_SMS_PAYLOAD_BYTES, TiantongConfig, TiantongLink
from emcomm.links.drivers.transport import TerminalPort
from emcomm.links.emulators.tiantong import TiantongEmulator
from emcomm.node import wire
from emcomm.priority import Priority

A, B = "+8617400000001", "+8617400000002"
FAST = TiantongConfig(status_poll_s=0.3, answer_timeout_s=0.5)


@pytest.fixture
def pair():
    with TiantongEmulator(latency_s=0.02) as emu:
        pa, pb = emu.add_handset(A), emu.add_handset(B)
        with TerminalPort(TiantongLink(FAST), pa) as ta, TerminalPort(TiantongLink(FAST), pb) as tb:
            for t in (ta, tb):
                t.start()
                t.run_until(lambda ev, t=t: t.driver.status().up, 5.0)
            yield emu, ta, tb


def _pump(ta, tb, want, timeout_s=5.0):
    ea, eb = [], []
    end = ta.now() + timeout_s
    while ta.now() < end:
        ea += ta.pump(0.02)
        eb += tb.pump(0.02)
        if want(ea, eb):
            return ea, eb
    raise AssertionError(f"timed out: a={ea[-5:]}, b={eb[-5:]}")


def test_flash_position_report_crosses_emulated_tiantong_handsets(pair) -> None:
    emu, ta, tb = pair
    env = wire.make_envelope(b"\x22" * 16, "t1", "cc", Priority.FLASH, wire.ContentType.POSITION, 0.0, 600.0,
                             b"34.7728,113.6320")
    frame = wire.encode(env)
    assert len(frame) <= MAX_SMS_PAYLOAD_BYTES
    ref = ta.driver.send(B, frame, Priority.FLASH, ta.now())
    ea, eb = _pump(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb)
                   and any(isinstance(e, Sent) for e in ea))
    got = next(e for e in eb if isinstance(e, Received))
    assert got.sender == A and wire.decode(got.payload) == env
    assert any(isinstance(e, Sent) and e.ref == ref for e in ea)
    assert len(emu.sent[0][3]) <= 160
    tb.run_until(lambda ev: emu.handsets[B].stored == {}, 3.0)          # read, then deleted from the SIM


def test_flash_overtakes_routine(pair) -> None:
    emu, ta, tb = pair
    now = ta.now()
    ta.driver.send(B, b"routine", Priority.ROUTINE, now)
    ta.driver.send(B, b"flash", Priority.FLASH, now)
    _, eb = _pump(ta, tb, lambda ea, eb: sum(isinstance(e, Received) for e in eb) == 2)
    assert [e.payload for e in eb if isinstance(e, Received)] == [b"flash", b"routine"]


def test_text_typed_on_a_handset_arrives_as_text(pair) -> None:
    emu, ta, tb = pair
    with emu._lock:
        emu._pending.append((0.0, -1, "+8613800000000", B, b"Need boat at Shakoulu!"))
    _, eb = _pump(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb))
    got = next(e for e in eb if isinstance(e, Received))
    assert (got.sender, got.payload) == ("+8613800000000", b"Need boat at Shakoulu!")


def test_lost_registration_takes_link_down_and_refused_sms_stays_queued(pair) -> None:
    emu, ta, tb = pair
    emu.set_signal(A, 20, registered=False)
    ea = ta.run_until(lambda ev: any(isinstance(e, LinkChanged) for e in ev), 5.0)
    assert "not registered" in next(e for e in ea if isinstance(e, LinkChanged)).reason
    ta.driver.send(B, b"waits", Priority.IMMEDIATE, ta.now())
    ta.pump(0.3)
    assert ta.driver.status().queued == (0, 1, 0, 0)
    emu.set_signal(A, 20, registered=True)
    _, eb = _pump(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb))
    assert [e.payload for e in eb if isinstance(e, Received)] == [b"waits"]


def test_silent_handset_keeps_the_message_queued(pair) -> None:
    emu, ta, tb = pair
    emu.set_answering(A, False)
    ta.driver.send(B, b"kept", Priority.FLASH, ta.now())
    ea, _ = _pump(ta, tb, lambda ea, eb: any(isinstance(e, LinkChanged) and not e.up for e in ea))
    assert "not answering" in next(e for e in ea if isinstance(e, LinkChanged)).reason
    assert ta.driver.status().queued == (1, 0, 0, 0) or any(isinstance(e, Deferred) for e in ea)
    emu.set_answering(A, True)
    _, eb = _pump(ta, tb, lambda ea, eb: any(isinstance(e, Received) for e in eb))
    assert [e.payload for e in eb if isinstance(e, Received)] == [b"kept"]


def test_too_long_message_and_bad_number_are_refused() -> None:
    link = TiantongLink()
    with pytest.raises(TerminalError, match="exceeds one Tiantong SMS"):
        link.send(B, b"x" * (MAX_SMS_PAYLOAD_BYTES + 1), 0, 0.0)
    with pytest.raises(UsageError, match="phone number"):
        link.send("cc", b"x", 0, 0.0)
