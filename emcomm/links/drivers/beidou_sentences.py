"""The Beidou RDSS terminal sentences: typed values and their encoding and parsing.

Owns the meaning of each sentence of the terminal's text protocol that emcomm uses. It
must not keep link state, touch a port or read a clock (``beidou.py`` drives the link).

Source: the Beidou civil RDSS user-terminal interface protocol v4.0 ("北斗民用数据协议
4.0"), the text sentence set spoken by civil Beidou short-message modules over a serial
port at 115200 8N1 by default (field layouts below; framing in ``nmea.py``). Real
terminals differ in details (optional fields, time formats): ``parse_*`` accepts
the fields below and ignores extra trailing fields, so a newer terminal still works.

computer → terminal (talker ``CC``)::

    $CCTXA,<to address>,<category 0=express 1=normal>,<form 0=Chinese 1=code 2=mixed>,<content>*hh
    $CCICA,<0=this card 1=subordinates>,<frame number>*hh
    $CCRMO,<sentence>,<mode 1=off 2=on 3=all off 4=all on>,<interval s>*hh

terminal → computer (talker ``BD``)::

    $BDTXR,<type 1=normal 2=express 3=broadcast 4=by-code 5=query>,<from address>,
           <form>,<send time hhmm>,<content>*hh
    $BDICI,<card address>,<serial number>,<broadcast address>,<user type>,
           <service interval s>,<communication level 1-4>,<E=encrypted|N>,<subordinates>*hh
    $BDBSI,<response beam>,<timing beam>,<power beam 1>,...,<power beam 10>*hh  (power 0-4)
    $BDFKI,<command>,<done Y/N>,<interval respected Y/N>,<transmit inhibit 0-3>,<wait s>*hh

In code form (1) the content is the message bytes as upper-case hex, two characters
per byte; that is the form emcomm uses for its binary wire frames.

Example
-------
>>> from emcomm.links.drivers.nmea import SentenceReader
>>> raw = encode_txa(Txa("0200002", b"\\x93\\x01", express=True))
>>> raw
b'$CCTXA,0200002,0,1,9301*77\\r\\n'
>>> parse(SentenceReader().feed(raw)[0])
Txa(to_address='0200002', content=b'\\x93\\x01', express=True, form=1)
"""

from __future__ import annotations

import binascii
import dataclasses
from typing import Union

from emcomm.errors import RemoteInputError, UsageError
from emcomm.links.drivers.nmea import Sentence, encode_sentence

FORM_CHINESE, FORM_CODE, FORM_MIXED = 0, 1, 2
BEAMS = 10                   # BSI reports the power of 10 beams (protocol v4.0)
MAX_BEAM_POWER = 4           # beam power is reported on a 0..4 scale (protocol v4.0)
DEFAULT_BAUD = 115200        # the usual default of civil RDSS modules (their manuals)


@dataclasses.dataclass(frozen=True)
class Txa:
    """Send ``content`` to card ``to_address`` (TXA)."""

    to_address: str
    content: bytes
    express: bool = False
    form: int = FORM_CODE


@dataclasses.dataclass(frozen=True)
class Txr:
    """A message received from card ``from_address`` (TXR); ``content`` is bytes in code
    form, the GB18030 text encoded as UTF-8 in Chinese/mixed form."""

    from_address: str
    content: bytes
    info_type: int = 1
    form: int = FORM_CODE
    send_time_hhmm: str = ""


@dataclasses.dataclass(frozen=True)
class Ica:
    """Card information query (ICA)."""

    subordinates: bool = False
    frame: int = 0


@dataclasses.dataclass(frozen=True)
class Ici:
    """Card information (ICI): the card's address and its service interval."""

    address: str
    serial: str
    broadcast_address: str
    user_type: int
    interval_s: float
    comm_level: int
    encrypted: bool
    subordinates: int


@dataclasses.dataclass(frozen=True)
class Rmo:
    """Ask the terminal to output ``sentence`` every ``interval_s`` seconds (mode 2 = on)."""

    sentence: str
    mode: int = 2
    interval_s: int = 1


@dataclasses.dataclass(frozen=True)
class Bsi:
    """Signal status (BSI): beam powers 0..4."""

    response_beam: int
    timing_beam: int
    powers: tuple[int, ...]

    @property
    def best_power(self) -> int:
        return max(self.powers, default=0)


@dataclasses.dataclass(frozen=True)
class Fki:
    """Feedback on a command (FKI): done or not, and how long to wait before sending."""

    command: str
    done: bool
    interval_ok: bool = True
    inhibit: int = 0
    wait_s: float = 0.0


Message = Union[Txa, Txr, Ica, Ici, Rmo, Bsi, Fki]


def _addr(v: str, name: str) -> str:
    if not (v.isascii() and v.isdigit() and 1 <= len(v) <= 10):
        raise RemoteInputError("bad_field", f"{name} must be 1..10 digits, got {v[:16]!r}")
    return v


def _int(v: str, name: str, lo: int, hi: int) -> int:
    try:
        n = int(v)
    except ValueError:
        raise RemoteInputError("bad_field", f"{name} must be an integer, got {v[:16]!r}") from None
    if not lo <= n <= hi:
        raise RemoteInputError("bad_field", f"{name} must be in [{lo}, {hi}], got {n}")
    return n


def _seconds(v: str, name: str) -> float:
    # cards report whole seconds; a decimal is accepted (emulators run faster than real cards)
    try:
        x = float(v)
    except ValueError:
        raise RemoteInputError("bad_field", f"{name} must be seconds, got {v[:16]!r}") from None
    if not 0 <= x <= 86400:
        raise RemoteInputError("bad_field", f"{name} must be in [0, 86400] s, got {v[:16]!r}")
    return x


def _yn(v: str, name: str) -> bool:
    if v not in ("Y", "N"):
        raise RemoteInputError("bad_field", f"{name} must be Y or N, got {v[:8]!r}")
    return v == "Y"


def _need(s: Sentence, n: int) -> None:
    if len(s.fields) < n:
        raise RemoteInputError("malformed", f"{s.address} has {len(s.fields)} fields, expected at least {n}")


def _content_out(content: bytes, form: int) -> str:
    if form == FORM_CODE:
        return content.hex().upper()
    return content.decode("utf-8").encode("gb18030").decode("latin-1")


def _content_in(text: str, form: int, where: str) -> bytes:
    if form == FORM_CODE:
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError):
            raise RemoteInputError("bad_field", f"{where} content in code form must be hex pairs, got {text[:16]!r}") from None
    try:
        return text.encode("latin-1").decode("gb18030").encode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise RemoteInputError("bad_field", f"{where} content in Chinese form is not GB18030 text") from None


def encode_txa(m: Txa) -> bytes:
    """``$CCTXA`` bytes for ``m`` (UsageError for a bad address or form)."""
    if not (m.to_address.isascii() and m.to_address.isdigit() and 1 <= len(m.to_address) <= 10):
        raise UsageError(f"a Beidou card address is 1..10 digits (e.g. '0412345'), got {m.to_address!r}")
    if m.form not in (FORM_CHINESE, FORM_CODE, FORM_MIXED):
        raise UsageError(f"TXA form must be 0 (Chinese), 1 (code) or 2 (mixed), got {m.form!r}")
    return encode_sentence("CCTXA", [m.to_address, "0" if m.express else "1", str(m.form),
                                     _content_out(m.content, m.form)])


def encode(m: Message, talker: str | None = None) -> bytes:
    """Bytes of any message; the talker is ``CC`` for commands and ``BD`` for replies.

    >>> encode(Ica())
    b'$CCICA,0,00*7B\\r\\n'
    """
    if isinstance(m, Txa):
        return encode_txa(m)
    if isinstance(m, Ica):
        return encode_sentence("CCICA", ["1" if m.subordinates else "0", f"{m.frame:02d}"])
    if isinstance(m, Rmo):
        return encode_sentence("CCRMO", [m.sentence, str(m.mode), str(m.interval_s)])
    if isinstance(m, Txr):
        return encode_sentence("BDTXR", [str(m.info_type), m.from_address, str(m.form), m.send_time_hhmm,
                                         _content_out(m.content, m.form)])
    if isinstance(m, Ici):
        return encode_sentence("BDICI", [m.address, m.serial, m.broadcast_address, str(m.user_type),
                                         f"{m.interval_s:g}", str(m.comm_level), "E" if m.encrypted else "N",
                                         str(m.subordinates)])
    if isinstance(m, Bsi):
        powers = list(m.powers) + [0] * (BEAMS - len(m.powers))
        return encode_sentence("BDBSI", [f"{m.response_beam:02d}", f"{m.timing_beam:02d}"] + [str(p) for p in powers[:BEAMS]])
    if isinstance(m, Fki):
        return encode_sentence("BDFKI", [m.command, "Y" if m.done else "N", "Y" if m.interval_ok else "N",
                                         str(m.inhibit), f"{m.wait_s:g}"])
    raise TypeError(f"not a Beidou message: {m!r}")


def parse(s: Sentence) -> Message:
    """The typed message of a checked sentence; RemoteInputError(reason, detail) when a
    field is wrong, ``unknown_sentence`` for a formatter emcomm does not use.

    >>> from emcomm.links.drivers.nmea import Sentence
    >>> parse(Sentence("BDBSI", ("01", "02", "0", "3", "4", "0", "0", "0", "0", "0", "0", "0"))).best_power
    4
    """
    f = s.fields
    fmt = s.formatter
    if fmt == "TXA":
        _need(s, 4)
        form = _int(f[2], "TXA form", 0, 2)
        return Txa(_addr(f[0], "TXA address"), _content_in(",".join(f[3:]), form, "TXA"), f[1] == "0", form)
    if fmt == "TXR":
        _need(s, 5)
        form = _int(f[2], "TXR form", 0, 2)
        return Txr(_addr(f[1], "TXR sender address"), _content_in(",".join(f[4:]), form, "TXR"),
                   _int(f[0], "TXR type", 1, 5), form, f[3])
    if fmt == "ICA":
        _need(s, 1)
        return Ica(_int(f[0], "ICA command", 0, 1) == 1, _int(f[1], "ICA frame", 0, 99) if len(f) > 1 and f[1] else 0)
    if fmt == "ICI":
        _need(s, 8)
        if f[6] not in ("E", "N"):
            raise RemoteInputError("bad_field", f"ICI encryption flag must be E or N, got {f[6][:8]!r}")
        return Ici(_addr(f[0], "ICI card address"), f[1], f[2], _int(f[3], "ICI user type", 0, 9),
                   _seconds(f[4], "ICI service interval"), _int(f[5], "ICI communication level", 1, 4),
                   f[6] == "E", _int(f[7], "ICI subordinates", 0, 10**6))
    if fmt == "RMO":
        _need(s, 3)
        return Rmo(f[0], _int(f[1], "RMO mode", 1, 4), _int(f[2] or "0", "RMO interval", 0, 3600))
    if fmt == "BSI":
        _need(s, 2 + BEAMS)
        return Bsi(_int(f[0], "BSI response beam", 0, BEAMS), _int(f[1], "BSI timing beam", 0, BEAMS),
                   tuple(_int(p, f"BSI beam {i + 1} power", 0, MAX_BEAM_POWER) for i, p in enumerate(f[2:2 + BEAMS])))
    if fmt == "FKI":
        _need(s, 5)
        try:
            wait = float(f[4] or 0)
        except ValueError:
            raise RemoteInputError("bad_field", f"FKI wait time must be seconds, got {f[4][:16]!r}") from None
        return Fki(f[0], _yn(f[1], "FKI done"), _yn(f[2], "FKI interval flag"), _int(f[3], "FKI inhibit", 0, 9),
                   max(0.0, min(wait, 86400.0)))
    raise RemoteInputError("unknown_sentence", f"{s.address} is not a sentence emcomm uses")
