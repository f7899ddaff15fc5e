"""The serving thread of a pty emulator: start, stop, and the loop between.

Owns the thread that calls an emulator's ``step`` and waits on its devices, and closing the
devices at stop. It must not know any protocol: a subclass says which devices it serves
(``_devices``), what one turn does (``step``) and how long the loop may sleep
(``_poll_s``).

Example
-------
>>> from emcomm.links.emulators.tiantong import TiantongEmulator
>>> with TiantongEmulator() as emu:
...     emu._thread is not None
True
"""

from __future__ import annotations

import select
import threading
import time
from typing import Callable, Iterable, Self

from emcomm.links.emulators.pty import PtyDevice


class PtyService:
    """Base of the emulators: runs ``step`` on its own daemon thread until ``stop``."""

    thread_name = "pty-emulator"

    def __init__(self, clock: Callable[[], float]):
        self.clock = clock
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _devices(self) -> Iterable[PtyDevice]:
        raise NotImplementedError

    def step(self, now: float) -> float | None:
        raise NotImplementedError

    def _poll_s(self, wait_s: float | None) -> float:
        # how long the loop may sleep on the devices, given what step returned
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.step(self.clock())
            fds = [d.fileno() for d in self._devices()]
            try:
                select.select(fds, [], [], self._poll_s(wait))
            except (OSError, ValueError):
                time.sleep(0.01)

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for d in self._devices():
            d.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
