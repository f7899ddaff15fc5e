"""What the node core asks its runtime to do: the actions returned by every NodeCore call.

This module owns the plain data that crosses the boundary between the sans-I/O core
(``emcomm.node.core``) and whatever drives it (the ZeroMQ runtime, the drill engine, a
test harness). It must not do anything: no I/O, no clock, no logic beyond validation.

The runtime executes the actions of one call *in list order*. The contract per action:

- ``Transmit(link_id, data, priority)``: send these bytes as one frame on that link.
- ``Persist(records, seen, kv)``: make these durable in one group commit (records are
  upserted by msg_id; ``seen`` ids are remembered until their expiry; ``kv`` entries are
  node state such as the link-state database). When the commit has returned, call
  ``NodeCore.stored([record msg_ids...], now)``. Nothing a Persist carries may be acted on
  by the core before ``stored`` says so (custody).
- ``Forget(msg_ids)``: the records are no longer needed (handed on, delivered, expired).
  Losing a Forget is harmless (the core re-forgets or ignores stale records on restart).
- ``Deliver(envelope)``: hand a message addressed to this node to the application. After a
  restart a message whose delivery was not yet marked done is delivered again with the same
  ``msg_id``: the application must treat ``msg_id`` as the key (exactly once).
- ``Receipt(msg_id, status, detail)``: tell the application what became of a message it
  submitted: ``accepted`` (durably queued here), ``delivered`` (end-to-end receipt came
  back), ``expired`` / ``undeliverable`` (with detail).
- ``Dropped(reason, detail)``: a frame or message was dropped; ``reason`` is a stable token
  (the same tokens as ``RemoteInputError.reason`` for bad input).
- ``Telemetry(event)``: an event for the command centre / drill recording.

Example
-------
>>> Transmit("a-b/beidou", b"\\x93\\x01", 0)
Transmit(link_id='a-b/beidou', data=b'\\x93\\x01', priority=0)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar, Union

from emcomm.node.store import MessageRecord, StoredState
from emcomm.node.telemetry import TelemetryEvent

# What the store gives back at start-up is exactly what the core resumes from:
# records (queued messages, inbox, done markers), seen ids with expiry, kv node state.
RestoredState = StoredState

# record.state values the core writes (the store treats them as opaque strings)
STATE_QUEUED = "queued"     # in custody here, to be forwarded
STATE_INBOX = "inbox"       # addressed to this node, delivery to the application pending

__all__ = [
    "Action", "Deliver", "Dropped", "Forget", "MessageRecord", "Persist", "Receipt",
    "RestoredState", "STATE_INBOX", "STATE_QUEUED", "Telemetry", "Transmit",
]


@dataclasses.dataclass(frozen=True)
class Transmit:
    """Send ``data`` as one frame on ``link_id`` (already paced by the core)."""

    link_id: str
    data: bytes
    priority: int


@dataclasses.dataclass(frozen=True)
class Persist:
    """Make records, seen ids and node state durable together; then call ``stored``."""

    records: tuple[MessageRecord, ...] = ()
    seen: tuple[tuple[bytes, float, int], ...] = ()   # (msg_id, expires_s, hop count it arrived with; -1: originated)
    kv: tuple[tuple[str, bytes], ...] = ()


@dataclasses.dataclass(frozen=True)
class Forget:
    """Remove message records that are no longer needed."""

    msg_ids: tuple[bytes, ...]


@dataclasses.dataclass(frozen=True)
class Deliver:
    """A message for this node's application (``envelope`` is a ``wire.Envelope``)."""

    envelope: Any


@dataclasses.dataclass(frozen=True)
class Receipt:
    """News about a message the application submitted here."""

    msg_id: bytes
    status: str          # "accepted" | "delivered" | "expired" | "undeliverable"
    detail: str = ""


@dataclasses.dataclass(frozen=True)
class Dropped:
    """Something was dropped; ``reason`` is a stable counter token."""

    reason: str
    detail: str = ""
    msg_id: bytes | None = None


@dataclasses.dataclass(frozen=True)
class Telemetry:
    """An event for telemetry / recording (see ``emcomm.node.telemetry``)."""

    event: TelemetryEvent


Action = Union[Transmit, Persist, Forget, Deliver, Receipt, Dropped, Telemetry]
_T = TypeVar("_T")


def built(cls: type[_T], **fields: Any) -> _T:
    """An instance of the frozen dataclass ``cls`` from *all* its fields, without the per-field
    ``object.__setattr__`` of a frozen ``__init__`` (≈ 0.3 µs a field, several actions per relayed
    frame). For the core's per-frame paths; equal to ``cls(**fields)``.

    >>> built(Transmit, link_id="ab", data=b"x", priority=3) == Transmit("ab", b"x", 3)
    True
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


def persisted_ids(action: Persist) -> list[bytes]:
    """The msg_ids to pass to ``NodeCore.stored`` once ``action`` is committed.

    >>> persisted_ids(Persist())
    []
    """
    return [r.msg_id for r in action.records]


def as_kv(items: Mapping[str, bytes]) -> tuple[tuple[str, bytes], ...]:
    """Helper: a mapping as the ``kv`` tuple of a Persist.

    >>> as_kv({"lsa_seq": b"\\x05"})
    (('lsa_seq', b'\\x05'),)
    """
    return tuple((str(k), bytes(v)) for k, v in items.items())
