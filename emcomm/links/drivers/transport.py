"""The thin serial transport: moves bytes between a real port and a sans-I/O driver.

Owns opening the port (pyserial), reading and writing it, and the clock the driver is
given. It must not interpret a byte: every protocol decision is the driver's
(``BeidouLink``, ``TiantongLink``). Serial errors become TerminalError naming the port.

A driver is anything with ``start(now) -> bytes``, ``receive_data(data, now) -> events``,
``poll(now) -> (bytes, events)`` and ``next_deadline() -> float | None``.

Example (a real terminal; the tests use the pty emulators)::

    port = TerminalPort(BeidouLink(), "/dev/ttyUSB0", baudrate=115200)
    port.start()
    port.driver.send("0412345", frame_bytes, priority=0, now=port.now())
    while True:
        for event in port.pump(0.5):
            print(event)
"""

from __future__ import annotations

import time
from typing import Any, Callable, Protocol

import serial

from emcomm.errors import TerminalError
from emcomm.links.drivers.events import Event


class Driver(Protocol):
    def start(self, now: float) -> bytes: ...
    def receive_data(self, data: bytes, now: float) -> list[Event]: ...
    def poll(self, now: float) -> tuple[bytes, list[Event]]: ...
    def next_deadline(self) -> float | None: ...


class TerminalPort:
    """A driver bound to a serial port (a device path or any pyserial URL)."""

    def __init__(self, driver: Any, port: str, baudrate: int = 115200,
                 clock: Callable[[], float] = time.monotonic):
        self.driver = driver
        self.port_name = port
        self.now = clock
        try:
            self._ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0, write_timeout=2.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TerminalError(f"cannot open serial port {port!r}: {exc}. Check the device path "
                                f"(ls /dev/ttyUSB* /dev/ttyACM*), that the terminal is connected and "
                                f"that you may use it (group 'dialout')") from None

    def start(self) -> list[Event]:
        """Send the driver's start-up commands; returns events read meanwhile."""
        self._write(self.driver.start(self.now()))
        return self.pump(0.0)

    def pump(self, max_wait_s: float = 0.1) -> list[Event]:
        """Wait up to ``max_wait_s`` (less when a driver timer is due) for bytes, feed them
        to the driver, run its timers and write what it wants written."""
        now = self.now()
        deadline = self.driver.next_deadline()
        wait = max_wait_s if deadline is None else max(0.0, min(max_wait_s, deadline - now))
        events: list[Event] = []
        try:
            if self._ser.timeout != wait:      # each change is a termios call: skip it in a busy loop
                self._ser.timeout = wait
            data = self._ser.read(1)
            if data:
                if self._ser.timeout != 0:
                    self._ser.timeout = 0
                data += self._ser.read(65536)
        except (serial.SerialException, OSError) as exc:
            raise TerminalError(f"serial port {self.port_name!r} failed while reading: {exc}") from None
        now = self.now()
        if data:
            events += self.driver.receive_data(data, now)
        out, timer_events = self.driver.poll(now)
        events += timer_events
        self._write(out)
        return events

    def run_until(self, done: Callable[[list[Event]], bool], timeout_s: float) -> list[Event]:
        """Pump until ``done(all events so far)`` is true; TerminalError after ``timeout_s``."""
        seen: list[Event] = []
        end = self.now() + timeout_s
        while True:
            seen += self.pump(min(0.05, max(0.0, end - self.now())))
            if done(seen):
                return seen
            if self.now() >= end:
                raise TerminalError(f"terminal on {self.port_name!r}: what was waited for did not happen "
                                    f"within {timeout_s:g} s (events: {[type(e).__name__ for e in seen][-8:]})")

    def _write(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._ser.write(data)
            self._ser.flush()
        except (serial.SerialException, OSError) as exc:
            raise TerminalError(f"serial port {self.port_name!r} failed while writing: {exc}") from None

    def fileno(self) -> int:
        """The port's file descriptor, to wait on in a poll loop (OSError when the port
        has none, e.g. a pyserial ``loop://`` URL)."""
        try:
            return self._ser.fileno()
        except (AttributeError, NotImplementedError) as exc:
            raise OSError(f"serial port {self.port_name!r} has no file descriptor") from exc

    def close(self) -> None:
        self._ser.close()

    def __enter__(self) -> "TerminalPort":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
