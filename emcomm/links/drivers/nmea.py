"""NMEA 0183-style sentence framing: checksums, encoding and a byte-stream reader.

Owns the framing only (``$TTSSS,f1,f2,...*HH\\r\\n``). It must not know what any sentence
means (that is ``beidou.py``), touch a serial port or read a clock.

Framing (NMEA 0183 v4.10, section 5.3 "Approved sentences"; the Beidou RDSS terminal
protocol v4.0 uses the same framing for its $CC.../$BD... sentences):
``$`` starts a sentence, then a 2-letter talker ("CC" = the computer, "BD" = the Beidou
terminal) and a 3-letter formatter ("TXA"), comma-separated fields, ``*`` and the checksum:
two upper-case hex digits of the XOR of every byte between ``$`` and ``*`` (exclusive),
then CR LF. NMEA limits a sentence to 82 characters; Beidou sentences carry message
content and are longer, so the limit here is ``MAX_SENTENCE_BYTES``.

Example
-------
>>> raw = encode_sentence("CCICA", ["0", "00"])
>>> raw
b'$CCICA,0,00*7B\\r\\n'
>>> SentenceReader().feed(raw)
[Sentence(address='CCICA', fields=('0', '00'))]
"""

from __future__ import annotations

import dataclasses
from typing import Sequence, Union

from emcomm.errors import UsageError

# A TXA sentence with 14,000 bits of hex content is 3,500 characters; headers add < 64.
MAX_SENTENCE_BYTES = 4096
_FORBIDDEN = set(b"$*\r\n,!")


@dataclasses.dataclass(frozen=True)
class Sentence:
    """One checked sentence: ``address`` such as ``"BDTXR"`` and its fields as text
    (bytes above 0x7F are kept as latin-1 code points so no byte is lost)."""

    address: str
    fields: tuple[str, ...]

    @property
    def talker(self) -> str:
        return self.address[:2]

    @property
    def formatter(self) -> str:
        return self.address[2:]


@dataclasses.dataclass(frozen=True)
class BadSentence:
    """A line that is not a valid sentence; ``reason`` is a stable counter name
    (``bad_checksum``, ``no_checksum``, ``malformed``, ``oversize``)."""

    reason: str
    detail: str
    raw: bytes


ReadResult = Union[Sentence, BadSentence]


def checksum(body: bytes) -> int:
    """XOR of the bytes between ``$`` and ``*``.

    >>> f"{checksum(b'CCICA,0,00'):02X}"
    '7B'
    """
    c = 0
    for b in body:
        c ^= b
    return c


def encode_sentence(address: str, fields: Sequence[str]) -> bytes:
    """``$ADDRESS,f1,...*HH\\r\\n``; UsageError when a field holds a framing character.

    >>> encode_sentence("CCRMO", ["BSI", "2", "1"])
    b'$CCRMO,BSI,2,1*27\\r\\n'
    """
    if len(address) != 5 or not address.isalnum() or not address.isupper():
        raise UsageError(f"sentence address must be 5 upper-case letters/digits such as 'CCTXA', got {address!r}")
    parts = [address.encode("ascii")]
    for i, f in enumerate(fields):
        b = str(f).encode("latin-1")
        if _FORBIDDEN & set(b):
            raise UsageError(f"{address} field {i + 1} contains a framing character ($ * , ! CR LF): {f!r}")
        parts.append(b)
    body = b",".join(parts)
    out = b"$" + body + b"*" + f"{checksum(body):02X}".encode() + b"\r\n"
    if len(out) > MAX_SENTENCE_BYTES:
        raise UsageError(f"{address} sentence of {len(out)} bytes exceeds the {MAX_SENTENCE_BYTES}-byte limit")
    return out


def parse_sentence(line: bytes) -> ReadResult:
    """Check one line (without CR LF) and split it into address and fields.

    >>> parse_sentence(b"$CCICA,0,00*7C").reason
    'bad_checksum'
    """
    if len(line) > MAX_SENTENCE_BYTES:
        return BadSentence("oversize", f"line of {len(line)} bytes exceeds {MAX_SENTENCE_BYTES}", line[:64])
    if not line.startswith(b"$"):
        return BadSentence("malformed", "a sentence starts with '$'", line[:64])
    star = line.rfind(b"*")
    if star < 0:
        return BadSentence("no_checksum", "no '*HH' checksum at the end", line[:64])
    body, given = line[1:star], line[star + 1:]
    try:
        want = int(given.decode("ascii"), 16) if len(given) == 2 else -1
    except (UnicodeDecodeError, ValueError):
        want = -1
    if want < 0:
        return BadSentence("malformed", f"checksum must be two hex digits, got {given[:8]!r}", line[:64])
    got = checksum(body)
    if got != want:
        return BadSentence("bad_checksum", f"checksum {want:02X} given, {got:02X} computed", line[:64])
    parts = body.decode("latin-1").split(",")
    address = parts[0]
    if len(address) != 5 or not address.isalnum() or not address.isascii():
        return BadSentence("malformed", f"address {address[:8]!r} is not 5 letters such as 'BDTXR'", line[:64])
    return Sentence(address, tuple(parts[1:]))


class SentenceReader:
    """Split a byte stream into sentences; partial lines wait for more bytes.

    A line longer than MAX_SENTENCE_BYTES is dropped as ``oversize`` up to its end,
    so a terminal babbling garbage cannot grow memory.

    >>> r = SentenceReader()
    >>> r.feed(b"$CCICA,0,") + r.feed(b"00*7B\\r\\n")
    [Sentence(address='CCICA', fields=('0', '00'))]
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[ReadResult]:
        out: list[ReadResult] = []
        self._buf += data
        while True:
            nl = self._buf.find(b"\n")
            if nl < 0:
                if len(self._buf) > MAX_SENTENCE_BYTES:
                    if not self._skipping:
                        out.append(BadSentence("oversize", f"line longer than {MAX_SENTENCE_BYTES} bytes",
                                               bytes(self._buf[:64])))
                    self._skipping = True
                    self._buf.clear()
                return out
            line = bytes(self._buf[:nl]).rstrip(b"\r")
            del self._buf[:nl + 1]
            if self._skipping:
                self._skipping = False
                continue
            if not line.strip():
                continue
            # Noise before a '$' (line noise after power-up) is skipped, not fatal.
            start = line.find(b"$")
            if start > 0:
                line = line[start:]
            out.append(parse_sentence(line))
