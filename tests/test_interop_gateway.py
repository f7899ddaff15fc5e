"""The Beidou/mesh <-> public network gateway: only address-book contacts reach and are
reached, SMS through a modem on a pty emulator, e-mail out to and in from SMTP servers on
127.0.0.1, every crossing logged (loopback and local ptys only, every wait bounded)."""

from __future__ import annotations

import json
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable

import pytest

from emcomm.cli.interop_cmd import build_gateway
from emcomm.errors import UsageError
from emcomm.interop.gateway import (AddressBook, GatewayRules, Refused, SendMail, SendMesh, SendSms, sms_parts)
from emcomm.links.drivers.events import Received
from emcomm.links.drivers.tiantong import TiantongConfig, TiantongLink
from emcomm.links.drivers.transport import TerminalPort
from emcomm.links.emulators.tiantong import TiantongEmulator
from emcomm.node.api import ApiClient
from emcomm.priority import Priority

ROOT = Path(__file__).resolve().parent.parent
ZHANG, LI = "+8613800000001", "li.na@example.org"
BOOK = [{"name": "zhang", "sms": ZHANG, "node": "team1"},
        {"name": "li", "email": LI, "node": "team1", "nodes": ["cc"]}]


def rules() -> GatewayRules:
    return GatewayRules(AddressBook.from_tables(BOOK), mail_domain="gw.example.org")


# ----------------------------------------------------------------------------- rules
def test_a_mesh_message_to_a_contact_with_a_number_goes_by_sms_else_by_mail() -> None:
    (sms,) = rules().from_mesh("team1", "@zhang water at the first floor")
    assert sms == SendSms(ZHANG, "[team1] water at the first floor", "zhang")
    (mail,) = rules().from_mesh("team1", "@LI: need insulin at the school")
    assert isinstance(mail, SendMail) and mail.to == LI and "need insulin" in mail.text


@pytest.mark.parametrize("text, reason", [("water rising", "not_addressed"), ("@wang hello", "unknown_contact")])
def test_mesh_messages_not_for_a_contact_are_refused(text: str, reason: str) -> None:
    (r,) = rules().from_mesh("team1", text)
    assert isinstance(r, Refused) and r.reason == reason


def test_only_contacts_write_in_and_only_to_their_nodes_and_never_at_flash() -> None:
    (m,) = rules().from_sms("8613800000001", "stay on the roof")        # same number without '+'
    assert m == SendMesh("team1", Priority.ROUTINE, "[sms zhang] stay on the roof", "zhang")
    assert rules().from_sms("+8613900000000", "hi")[0].reason == "unknown_sender"         # type: ignore[union-attr]
    assert rules().from_mail(LI, "cc@gw.example.org", "s", "t")[0].to == "cc"             # type: ignore[union-attr]
    assert rules().from_mail(LI, "team9@gw.example.org", "s", "t")[0].reason == "not_allowed"   # type: ignore[union-attr]
    assert rules().from_mail(LI, "cc@elsewhere.org", "s", "t")[0].reason == "wrong_domain"      # type: ignore[union-attr]
    assert rules().from_mail("x@evil.org", "cc@gw.example.org", "s", "t")[0].reason == "unknown_sender"  # type: ignore[union-attr]


def test_long_text_is_cut_into_numbered_sms_parts_of_160_characters() -> None:
    parts = sms_parts("flood " * 100 + "水位")
    assert len(parts) == 4 and all(len(p) <= 160 for p in parts) and parts[0].startswith("(1/4) ")
    assert all(32 <= ord(c) < 127 for p in parts for c in p)
    assert len(sms_parts("x" * 5000)) == 6


@pytest.mark.parametrize("table, expected", [
    ({"name": "a b", "sms": ZHANG, "node": "t"}, "name must be"),
    ({"name": "a", "node": "t"}, "give sms or email"),
    ({"name": "a", "sms": "12", "node": "t"}, "phone number"),
    ({"name": "a", "email": "nobody", "node": "t"}, "email must be"),
    ({"name": "a", "sms": ZHANG}, "node must be"),
    ({"name": "a", "sms": ZHANG, "node": "t", "fax": "1"}, "unknown key"),
])
def test_bad_address_book_entries_say_what_to_fix(table: dict, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        AddressBook.from_tables([table])


def test_a_number_in_two_contacts_is_refused() -> None:
    with pytest.raises(UsageError, match="appears twice"):
        AddressBook.from_tables([{"name": "a", "sms": ZHANG, "node": "t"}, {"name": "b", "sms": ZHANG, "node": "t"}])


# ----------------------------------------------------------------------------- end to end
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Capture:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(envelope)
        return "250 OK"


def _until(step: Callable[[], Any], done: Callable[[], bool], timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < end, "the gateway did not pass the message on in time"
        step()
        time.sleep(0.02)


def test_gateway_bridges_the_mesh_to_sms_and_mail_both_ways_and_logs_everything(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    api = f"tcp://127.0.0.1:{_free_port()}"
    node = subprocess.Popen([sys.executable, "-m", "emcomm", "node", "--id", "gw", "--listen",
                             f"tcp://127.0.0.1:{_free_port()}", "--api", api, "--data-dir", str(tmp_path / "gw-data"),
                             "--status-every", "0", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    relay = Controller(_Capture(), hostname="127.0.0.1", port=_free_port())
    relay.start()
    listen_port = _free_port()
    emu = TiantongEmulator(latency_s=0.02).start()
    gw = phone = None
    try:
        modem_dev, phone_dev = emu.add_handset("+8610000000000"), emu.add_handset(ZHANG)
        book = [{"name": "zhang", "sms": ZHANG, "node": "gw"}, {"name": "li", "email": LI, "node": "gw"}]
        lines = [f'node = "{api}"', f'modem = "{modem_dev}"', f'smtp_relay = "127.0.0.1:{relay.port}"',
                 f'smtp_listen = "127.0.0.1:{listen_port}"', 'mail_domain = "gw.example.org"', 'log = "traffic.log"']
        for c in book:
            lines += ["[[contact]]"] + [f'{k} = "{v}"' for k, v in c.items()]
        (tmp_path / "gateway.toml").write_text("\n".join(lines) + "\n")
        assert node.stdout is not None and "running" in node.stdout.readline()
        gw = build_gateway(str(tmp_path / "gateway.toml"))
        phone = TerminalPort(TiantongLink(TiantongConfig(text_mode=True)), phone_dev)
        phone.start()
        client = ApiClient(api, timeout_s=10.0)
        try:
            # mesh -> SMS
            client.call("send", to="gw", priority="flash", content_type="text", body=b"@zhang we are on the roof")
            got: list[Received] = []
            _until(lambda: (gw.step(), got.extend(e for e in phone.pump(0.0) if isinstance(e, Received))),
                   lambda: bool(got))
            assert (got[0].sender, got[0].payload) == ("+8610000000000", b"[gw] we are on the roof")
            # mesh -> mail
            client.call("send", to="gw", priority="routine", content_type="text", body=b"@li need insulin")
            _until(gw.step, lambda: bool(relay.handler.mails))
            mail = relay.handler.mails[0]
            assert mail.rcpt_tos == [LI] and b"[gw] need insulin" in mail.content
            # SMS -> mesh
            phone.driver.send("+8610000000000", b"stay there, boats coming", 3, phone.now())
            _until(lambda: (gw.step(), phone.pump(0.0)),
                   lambda: any(b"[sms zhang] stay there" in m["payload"] for m in client.call("inbox")["messages"]))
            # mail -> mesh; a stranger is refused at SMTP time
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = LI, "gw@gw.example.org", "insulin"
            msg.set_content("found some at the clinic")
            with smtplib.SMTP("127.0.0.1", listen_port, timeout=10) as s:
                s.send_message(msg)
                with pytest.raises(smtplib.SMTPRecipientsRefused):
                    s.sendmail("stranger@evil.org", ["gw@gw.example.org"], "Subject: hi\n\nlet me in")
            _until(gw.step, lambda: any(b"[mail li] insulin: found some at the clinic" in m["payload"]
                                        for m in client.call("inbox")["messages"]))
            inbound = [m for m in client.call("inbox")["messages"] if m["payload"].startswith(b"[")]
            assert {m["priority"] for m in inbound} == {int(Priority.ROUTINE)}
        finally:
            client.close()
        entries = [json.loads(line) for line in (tmp_path / "traffic.log").read_text().splitlines()]
        dirs = [e["dir"] for e in entries]
        for d in ("mesh->sms", "mesh->mail", "sms->mesh", "mail->mesh", "refused"):
            assert d in dirs, dirs
        assert any(e.get("reason") == "unknown_sender" for e in entries)
    finally:
        if phone is not None:
            phone.close()
        if gw is not None:
            gw.api.close()
            gw.close()
        emu.stop()
        relay.stop()
        node.terminate()
        node.wait(10)
