"""Browser test fixtures: the system Chromium under Playwright, and `emcomm ui` on a free loopback port.

Every request the page makes is routed: loopback goes through, anything else is aborted
and recorded, and the tests fail if the list is not empty. Playwright's own browser
download is never used; the Debian ``chromium`` binary is.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from emcomm.ui.offline_page import CHROMIUM_ARGS, OfflinePage, chromium_path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    exe = chromium_path()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed but CI is set: .ci/run must install the Debian chromium package")
        pytest.skip("system chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


class GuardedPage(OfflinePage):
    """A page whose every non-loopback request is aborted and remembered."""

    def __init__(self, browser, viewport=(1500, 1100)):
        super().__init__(browser, viewport)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def guarded(browser) -> Iterator[GuardedPage]:
    g = GuardedPage(browser)
    yield g
    g.close()
    assert not g.outside, f"requests left the machine: {g.outside}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UiServer:
    def __init__(self, *ui_args: str, timeout_s: float = 90.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"ui-server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # a file, not a pipe nobody reads (a full pipe blocks the server)
        self.proc = subprocess.Popen([sys.executable, "-m", "emcomm", "ui", *ui_args, "--port", str(self.port)],
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emcomm ui exited: {self.log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(f"{self.url}_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"emcomm ui did not answer on {self.url} within {timeout_s:g} s")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:  # anything of this server's process group still alive
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="module")
def sample_recording(tmp_path_factory) -> Path:
    from emcomm.ui.synthetic import write_sample_recording

    path = tmp_path_factory.mktemp("rec") / "sample.emrec"
    write_sample_recording(path)
    return path
