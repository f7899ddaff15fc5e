"""One pseudo-terminal: the device side an emulator speaks on, the path a driver opens.

Owns creating the pty pair in raw mode (no echo, no CR/LF translation) and non-blocking
reads and writes on the device (master) side. It must not know any protocol. The slave
end stays open here so the device side never sees end-of-file when a driver closes and
reopens the port (as a real USB serial adapter would allow).

Example
-------
>>> dev = PtyDevice()
>>> dev.path.startswith("/dev/")
True
>>> dev.close()
"""

from __future__ import annotations

import errno
import os
import tty

from emcomm.errors import TerminalError


class PtyDevice:
    """The emulated device's end of a pty; ``path`` is what the driver opens."""

    def __init__(self) -> None:
        try:
            self.master, self._slave = os.openpty()
        except OSError as exc:
            raise TerminalError(f"cannot create a pseudo-terminal for the emulator: {exc}") from None
        tty.setraw(self._slave)
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.closed = False

    def fileno(self) -> int:
        return self.master

    def read(self) -> bytes:
        """Bytes the driver wrote, or b"" when none are waiting."""
        try:
            return os.read(self.master, 65536)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:       # nobody has the slave open: nothing to read
                return b""
            raise

    def write(self, data: bytes) -> None:
        """Write to the driver, waiting out a full pty buffer."""
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                import select
                select.select([], [self.master], [], 0.05)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in (self.master, self._slave):
                try:
                    os.close(fd)
                except OSError:
                    pass
