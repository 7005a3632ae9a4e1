"""Headless Chromium driven over the DevTools protocol: just enough to test the console.

:class:`Browser` starts Debian's ``chromium`` on a free DevTools port (``--remote-debugging-port=0``,
read back from its ``DevTools listening on`` line), opens one page and offers ``navigate``,
``evaluate`` (JavaScript, the value returned) and ``screenshot``. It stops the browser it started,
by its process id.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CANDIDATES = ("chromium", "chromium-browser")
LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def find_chromium() -> str | None:
    """The path of an installed Chromium, or ``None``."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser did not start, or a DevTools command failed."""


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, executable: str, profile: Path, width: int = 1280, height: int = 900) -> None:
        self._process = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._ids = itertools.count(1)
        self._connections = contextlib.ExitStack()
        browser_url = self._wait_for_devtools()
        port = browser_url.split(":")[2].split("/")[0]
        self._page = self._connect_page(int(port))

    def _wait_for_devtools(self) -> str:
        assert self._process.stderr is not None
        seen = []
        for line in self._process.stderr:
            seen.append(line)
            match = LISTENING.search(line)
            if match:
                return match.group(1)
        raise BrowserError("chromium exited before DevTools listened:\n" + "".join(seen[-20:]))

    def _connect_page(self, port: int) -> ClientConnection:
        for _ in range(50):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                targets = json.load(answer)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return self._connections.enter_context(
                    connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
                )
            time.sleep(0.1)
        raise BrowserError("chromium has no page target")

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command; its result (events in between are dropped)."""
        ident = next(self._ids)
        self._page.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._page.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def navigate(self, url: str) -> None:
        """Open ``url`` in the page."""
        self.command("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.command(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll ``expression`` until it is truthy; its value. Raises after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BrowserError:
                value = None  # the page is still loading
            if value:
                return value
            time.sleep(0.25)
        raise BrowserError(f"still false after {timeout} s: {expression} (last {value!r})")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the page as shown."""
        data = self.command("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Stop the browser this object started."""
        try:
            self._connections.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
