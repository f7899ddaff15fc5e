"""The Beidou ↔ public network gateway: mesh messages to SMS and e-mail and back.

Owns the gateway's rules (``GatewayRules``, sans-I/O) and ``Gateway``, the process part
that drives them: the node's local API (messages in the gateway node's inbox go out;
messages from the public come in), an SMS modem on a serial port (the AT driver of
``emcomm.links.drivers.tiantong`` in text mode: any TS 27.005 modem or a Tiantong
terminal), SMTP out to one relay server, a small SMTP server in (aiosmtpd), and a log of
every message that crosses, one JSON object a line. It must not decide routes in the
mesh (the node does).

Rules:
- Only people in the address book are reached, and only they can write in: a mesh
  message reaches the public when its text starts with ``@name`` of a contact (by SMS
  when the contact has a number, else by e-mail); an SMS from a contact's number or a
  mail from a contact's address goes to the contact's ``node`` (for mail also to the node
  named in the recipient, ``team1@<domain>``, when that node is in the contact's
  ``nodes``). Everything else is refused and logged with the reason: the gateway is
  never an open relay.
- Public messages enter the mesh at ``inbound_priority`` (ROUTINE by default): the
  public cannot send FLASH. The mesh signs them at the gateway node (security on).
- An SMS carries at most 160 characters of printable ASCII; longer text goes as
  numbered parts (``(1/3) ...``) of at most ``MAX_PARTS``.

Address book (gateway.toml)::

    node = "gw-data"               # the gateway node: data directory or API endpoint
    modem = "/dev/ttyUSB1"         # optional: SMS modem
    smtp_relay = "127.0.0.1:25"    # optional: where mail goes out
    smtp_listen = "127.0.0.1:2525" # optional: where mail comes in
    mail_domain = "gw.example.org"
    log = "gateway.log"
    [[contact]]
    name = "zhang.wei"
    sms = "+8613800000001"
    email = "zhang.wei@example.org"
    node = "team1"                 # where their messages go in the mesh

Example
-------
>>> book = AddressBook.from_tables([{"name": "li", "sms": "+8613800000002", "node": "team1"}])
>>> rules = GatewayRules(book, mail_domain="gw.example.org")
>>> [type(a).__name__ for a in rules.from_mesh("team1", "@li water rising, we are on the roof")]
['SendSms']
>>> rules.from_sms("+8613800000002", "stay there, boats coming")[0].to
'team1'
"""

from __future__ import annotations

import dataclasses
import email.message
import email.policy
import email.utils
import json
import logging
import queue
import re
import smtplib
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, Union

from emcomm.errors import TerminalError, UsageError
from emcomm.priority import Priority

log = logging.getLogger("emcomm.gateway")

SMS_CHARS = 160                 # TS 23.038: 160 GSM 7-bit characters per SMS
MAX_PARTS = 6
MAX_INBOUND_CHARS = 2000        # text taken from one public message into the mesh
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
_PHONE = re.compile(r"^\+?\d{3,20}$")
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[A-Za-z0-9.\-]{1,253}$")
_CONTACT_KEYS = {"name", "sms", "email", "node", "nodes"}


@dataclasses.dataclass(frozen=True)
class Contact:
    name: str
    node: str                        # the mesh node their messages go to
    sms: str = ""
    email: str = ""
    nodes: tuple[str, ...] = ()      # other nodes they may write to (mail recipient local part)


class AddressBook:
    """Contacts by name, number and mail address."""

    def __init__(self, contacts: Sequence[Contact]):
        self.by_name: dict[str, Contact] = {}
        self.by_sms: dict[str, Contact] = {}
        self.by_email: dict[str, Contact] = {}
        for c in contacts:
            for table, key in ((self.by_name, c.name.lower()), (self.by_sms, _norm_phone(c.sms)),
                               (self.by_email, c.email.lower())):
                if key and key in table:
                    raise UsageError(f"address book: {key!r} appears twice (contacts {table[key].name} and {c.name})")
                if key:
                    table[key] = c

    @classmethod
    def from_tables(cls, raw: Any, source: str = "address book") -> "AddressBook":
        """``[[contact]]`` tables → a checked address book."""
        if not isinstance(raw, list) or not raw:
            raise UsageError(f"{source}: give at least one [[contact]] with name, node and sms or email")
        out = []
        for i, t in enumerate(raw):
            where = f"{source}: contact[{i}]"
            if not isinstance(t, Mapping):
                raise UsageError(f"{where} must be a table")
            unknown = set(t) - _CONTACT_KEYS
            if unknown:
                raise UsageError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected "
                                 f"{', '.join(sorted(_CONTACT_KEYS))}")
            name, node, sms, mail = t.get("name"), t.get("node"), t.get("sms", ""), t.get("email", "")
            nodes = t.get("nodes", [])
            if not isinstance(name, str) or not _NAME.match(name):
                raise UsageError(f"{where}.name must be 1-64 letters, digits, '_', '-' or '.', got {name!r}")
            if not isinstance(node, str) or not _NAME.match(node):
                raise UsageError(f"{where}.node must be the mesh node id their messages go to, got {node!r}")
            if not isinstance(sms, str) or (sms and not _PHONE.match(sms)):
                raise UsageError(f"{where}.sms must be a phone number like +8613800000001, got {sms!r}")
            if not isinstance(mail, str) or (mail and not _EMAIL.match(mail)):
                raise UsageError(f"{where}.email must be an address like name@example.org, got {mail!r}")
            if not sms and not mail:
                raise UsageError(f"{where}: give sms or email (or both)")
            if not isinstance(nodes, list) or not all(isinstance(n, str) and _NAME.match(n) for n in nodes):
                raise UsageError(f"{where}.nodes must be a list of mesh node ids")
            out.append(Contact(name, node, sms, mail, tuple(nodes)))
        return cls(out)


def _norm_phone(number: str) -> str:
    return number.replace(" ", "").lstrip("+")


# ----------------------------------------------------------------------------- the rules
@dataclasses.dataclass(frozen=True)
class SendSms:
    number: str
    text: str
    contact: str


@dataclasses.dataclass(frozen=True)
class SendMail:
    to: str
    subject: str
    text: str
    contact: str


@dataclasses.dataclass(frozen=True)
class SendMesh:
    to: str
    priority: Priority
    text: str
    contact: str


@dataclasses.dataclass(frozen=True)
class Refused:
    reason: str
    detail: str


Out = Union[SendSms, SendMail, SendMesh, Refused]


def sms_parts(text: str) -> list[str]:
    """Text as SMS parts of at most 160 printable ASCII characters (others become '?'),
    numbered when there is more than one; at most MAX_PARTS.

    >>> [len(p) for p in sms_parts("x" * 300)]
    [160, 152]
    """
    clean = "".join(c if 32 <= ord(c) < 127 else ("?" if not c.isspace() else " ") for c in text).strip()
    if len(clean) <= SMS_CHARS:
        return [clean]
    body = SMS_CHARS - len("(9/9) ")
    chunks = [clean[i:i + body] for i in range(0, len(clean), body)][:MAX_PARTS]
    return [f"({i}/{len(chunks)}) {c}" for i, c in enumerate(chunks, 1)]


class GatewayRules:
    """Who may reach whom (see the module rules); no I/O."""

    def __init__(self, book: AddressBook, *, mail_domain: str = "", inbound_priority: Priority = Priority.ROUTINE,
                 sms: bool = True, mail: bool = True):
        self.book = book
        self.mail_domain = mail_domain.lower()
        self.inbound_priority = inbound_priority
        self.sms, self.mail = sms, mail

    def from_mesh(self, src: str, text: str) -> list[Out]:
        """A message from mesh node ``src`` in the gateway's inbox."""
        m = re.match(r"^@([A-Za-z0-9][A-Za-z0-9_.\-]{0,63})[\s:,]+(.+)$", text.strip(), re.S)
        if m is None:
            return [Refused("not_addressed", f"message from {src} does not start with @name of a contact")]
        contact = self.book.by_name.get(m.group(1).lower())
        if contact is None:
            return [Refused("unknown_contact", f"{src} wrote to @{m.group(1)}, who is not in the address book")]
        body = f"[{src}] {m.group(2).strip()}"
        if contact.sms and self.sms:
            return [SendSms(contact.sms, part, contact.name) for part in sms_parts(body)]
        if contact.email and self.mail:
            return [SendMail(contact.email, f"emcomm message from {src}", body, contact.name)]
        return [Refused("no_channel", f"@{contact.name} has no channel this gateway offers (sms/e-mail)")]

    def from_sms(self, number: str, text: str) -> list[Out]:
        contact = self.book.by_sms.get(_norm_phone(number))
        if contact is None:
            return [Refused("unknown_sender", f"SMS from {number}, which is not in the address book")]
        return [SendMesh(contact.node, self.inbound_priority,
                         f"[sms {contact.name}] {text.strip()[:MAX_INBOUND_CHARS]}", contact.name)]

    def from_mail(self, mail_from: str, rcpt: str, subject: str, text: str) -> list[Out]:
        contact = self.book.by_email.get(mail_from.lower())
        if contact is None:
            return [Refused("unknown_sender", f"mail from {mail_from}, which is not in the address book")]
        local, _, domain = rcpt.lower().partition("@")
        if self.mail_domain and domain != self.mail_domain:
            return [Refused("wrong_domain", f"mail to {rcpt}: this gateway takes mail for @{self.mail_domain}")]
        allowed = {contact.node.lower(): contact.node, **{n.lower(): n for n in contact.nodes}}
        node = allowed.get(local)
        if node is None:
            return [Refused("not_allowed", f"{contact.name} may write to {', '.join(sorted(allowed.values()))}, "
                            f"not {local}")]
        body = f"[mail {contact.name}] {subject.strip()}: {text.strip()}"[:MAX_INBOUND_CHARS]
        return [SendMesh(node, self.inbound_priority, body, contact.name)]


# ----------------------------------------------------------------------------- the process
class TrafficLog:
    """Every message that crosses the gateway (or is refused), one JSON object a line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._f = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot open the gateway log {self.path}: {exc.strerror}") from None

    def write(self, t_s: float, direction: str, **fields: Any) -> None:
        self._f.write(json.dumps({"t_s": round(t_s, 3), "dir": direction, **fields}, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class _MailHandler:
    """aiosmtpd handler: checks sender and recipients at SMTP time, queues accepted mail."""

    def __init__(self, rules: GatewayRules, inbox: "queue.Queue[tuple[str, str, str, str]]",
                 refuse: Callable[[Refused, str], None]):
        self.rules, self.inbox, self.refuse = rules, inbox, refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        verdict = self.rules.from_mail(envelope.mail_from or "", address, "", "")
        if isinstance(verdict[0], Refused):
            self.refuse(verdict[0], "mail")
            return f"550 {verdict[0].detail}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
        text = part.get_content() if part is not None else ""
        for rcpt in envelope.rcpt_tos:
            self.inbox.put((envelope.mail_from, rcpt, str(msg.get("Subject", "")), str(text)))
        return "250 Message accepted for the mesh"


class Gateway:
    """The gateway process: node API, SMS modem, SMTP out and in, traffic log."""

    def __init__(self, rules: GatewayRules, api: Any, traffic: TrafficLog, *, modem: Any = None,
                 smtp_relay: tuple[str, int] | None = None, smtp_listen: tuple[str, int] | None = None,
                 mail_from: str = "", clock: Callable[[], float] = time.time):
        self.rules, self.api, self.traffic, self.modem = rules, api, traffic, modem
        self.smtp_relay, self.mail_from, self.clock = smtp_relay, mail_from or "gateway@emcomm", clock
        self.counters: dict[str, int] = {}
        self._after_seq = 0
        self._mail_in: "queue.Queue[tuple[str, str, str, str]]" = queue.Queue()
        self._smtpd = None
        if smtp_listen is not None:
            from aiosmtpd.controller import Controller   # only when inbound mail is configured

            self._smtpd = Controller(_MailHandler(rules, self._mail_in, self._refused), hostname=smtp_listen[0],
                                     port=smtp_listen[1])
            self._smtpd.start()

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def _refused(self, r: Refused, channel: str) -> None:
        self._count(f"refused.{r.reason}")
        self.traffic.write(self.clock(), "refused", channel=channel, reason=r.reason, detail=r.detail)
        log.warning("refused (%s): %s", r.reason, r.detail)

    def skip_existing_inbox(self) -> None:
        """Start after what is already in the node's inbox (messages handled by an earlier run)."""
        msgs = self.api.call("inbox", after_seq=0, limit=10_000)["messages"]
        self._after_seq = max((m["seq"] for m in msgs), default=0)

    def step(self) -> int:
        """One round: mesh inbox out, modem in and out, mail in. Returns items handled."""
        n = 0
        for m in self.api.call("inbox", after_seq=self._after_seq)["messages"]:
            self._after_seq = max(self._after_seq, m["seq"])
            n += 1
            text = m["payload"].decode("utf-8", "replace") if m["content_type"] == 0 else ""
            if not text:
                continue                               # alerts, positions...: not for the public network
            self._do(self.rules.from_mesh(m["src"], text), "mesh", msg_id=m["msg_id"].hex())
        if self.modem is not None:
            from emcomm.links.drivers.events import Received

            try:
                events = self.modem.pump(0.0)
            except TerminalError as exc:
                self._count("modem_errors")
                log.error("SMS modem: %s", exc)
                events = []
            for ev in events:
                if isinstance(ev, Received):
                    n += 1
                    self._do(self.rules.from_sms(ev.sender, ev.payload.decode("utf-8", "replace")), "sms",
                             sender=ev.sender)
        while True:
            try:
                mail_from, rcpt, subject, text = self._mail_in.get_nowait()
            except queue.Empty:
                break
            n += 1
            self._do(self.rules.from_mail(mail_from, rcpt, subject, text), "mail", sender=mail_from)
        return n

    def _do(self, outs: Iterable[Out], channel: str, **origin: Any) -> None:
        now = self.clock()
        for o in outs:
            if isinstance(o, Refused):
                self._refused(o, channel)
                continue
            try:
                if isinstance(o, SendSms):
                    if self.modem is None:
                        raise UsageError("no SMS modem is configured")
                    ref = self.modem.driver.send(o.number, o.text.encode("ascii"), int(Priority.PRIORITY), now)
                    self.traffic.write(now, "mesh->sms", to=o.number, contact=o.contact, text=o.text, ref=ref, **origin)
                elif isinstance(o, SendMail):
                    self._mail(o)
                    self.traffic.write(now, "mesh->mail", to=o.to, contact=o.contact, text=o.text, **origin)
                else:
                    reply = self.api.call("send", to=o.to, priority=o.priority.name.lower(), content_type="text",
                                          body=o.text.encode("utf-8"))
                    self.traffic.write(now, f"{channel}->mesh", to=o.to, contact=o.contact, text=o.text,
                                       msg_id=reply["msg_id"].hex(), **origin)
                self._count(f"out.{type(o).__name__}")
            except (UsageError, TerminalError, OSError, smtplib.SMTPException, KeyError, TypeError) as exc:
                self._count("failed")
                self.traffic.write(now, "failed", channel=channel, what=type(o).__name__, error=str(exc), **origin)
                log.error("gateway could not pass on a %s message: %s", channel, exc)

    def _mail(self, o: SendMail) -> None:
        if self.smtp_relay is None:
            raise UsageError("no smtp_relay is configured for outgoing mail")
        msg = email.message.EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.mail_from, o.to, o.subject
        msg["Date"] = email.utils.formatdate(self.clock(), localtime=False)
        msg.set_content(o.text)
        with smtplib.SMTP(self.smtp_relay[0], self.smtp_relay[1], timeout=10) as s:
            s.send_message(msg)

    def close(self) -> None:
        if self._smtpd is not None:
            self._smtpd.stop()
            self._smtpd = None
        if self.modem is not None:
            self.modem.close()
        self.traffic.close()


def host_port(text: Any, what: str) -> tuple[str, int]:
    """``"127.0.0.1:2525"`` → ``("127.0.0.1", 2525)``.

    >>> host_port("127.0.0.1:25", "smtp_relay")
    ('127.0.0.1', 25)
    """
    if isinstance(text, str) and ":" in text:
        host, _, port = text.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return host, int(port)
    raise UsageError(f"{what} must be HOST:PORT like 127.0.0.1:2525, got {text!r}")
