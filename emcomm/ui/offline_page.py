"""A browser page that may only reach this machine: the check that the map works offline.

This module owns the set-up the browser tests and the screenshot script share: the flags
the system Chromium runs headless with, and a Playwright page whose every request to
anywhere but loopback is aborted and recorded (with the page's script errors), so a caller
can assert that nothing tried to leave. It does not start a browser's process or decide what
to look at (the callers do). Playwright is a test dependency: pass in a launched browser.
"""

from __future__ import annotations

import shutil
from typing import Any
from urllib.parse import urlparse

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str | None:
    """The system Chromium (Debian: package ``chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class OfflinePage:
    """A fresh browser context and page on ``browser`` (a Playwright Browser) whose requests
    to anywhere but loopback (or data:/blob:/about:) are aborted and listed in ``outside``;
    script errors are listed in ``errors``. Pass lists of your own to gather them over
    several pages."""

    def __init__(self, browser: Any, viewport: tuple[int, int], *, outside: list[str] | None = None,
                 errors: list[str] | None = None):
        self.outside: list[str] = [] if outside is None else outside
        self.errors: list[str] = [] if errors is None else errors
        self.ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        self.ctx.route("**/*", self._route)
        self.page = self.ctx.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or urlparse(url).hostname in LOOPBACK:
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def close(self) -> None:
        self.ctx.close()
