"""Runs the console beside the core: uvicorn on 127.0.0.1, a free port, in a daemon thread.

:class:`ConsoleServer` binds its socket before it returns, so :attr:`ConsoleServer.url` is
reachable at once; :meth:`ConsoleServer.stop` ends open streams and the server within a second
or two (it also stops with the process: the thread is a daemon).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
from typing import Any

from bundledev.console.app import create_app
from bundledev.console.core_access import CoreAccess
from bundledev.console.data import ConsoleData

HOST = "127.0.0.1"
SWITCH_VARIABLE = "BUNDLE_CONSOLE"
OFF_VALUES = ("0", "off", "no", "false")


def console_enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``BUNDLE_CONSOLE`` leaves the console on (unset: on)."""
    value = (os.environ if environ is None else environ).get(SWITCH_VARIABLE, "on").strip().lower()
    if value in OFF_VALUES:
        return False
    if value not in ("1", "on", "yes", "true", ""):
        raise ValueError(f"{SWITCH_VARIABLE}={value!r}: expected on or off")
    return True


class ConsoleServer:
    """The console for one core, serving ``data``; ``port=0`` picks a free port."""

    def __init__(self, core: Any, data: ConsoleData, port: int = 0, token: str | None = None) -> None:
        import uvicorn

        self.token = token or secrets.token_urlsafe(24)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((HOST, port))
        self._socket.listen(64)  # connections queue from now on, before uvicorn serves them
        self.port: int = self._socket.getsockname()[1]
        self._stopping = asyncio.Event()
        app = create_app(data, CoreAccess(core), self.token, self._stopping)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._serve, name="bundle-console", daemon=True)

    @property
    def url(self) -> str:
        """The console's address, token included: what a person opens."""
        return f"http://{HOST}:{self.port}/?token={self.token}"

    def start(self) -> ConsoleServer:
        """Serve in the background; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """End open streams and the server; waits a few seconds at most."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._socket.close()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        loop.close()
