"""An in-memory LifecycleService for the IPC tests (real behaviour, no mocks): the runner launches
processes, which these protocol tests do not need."""

from __future__ import annotations

import threading
from collections.abc import Callable

from localcore.contracts import ComponentInfo


class FakeLifecycle:
    """The runner's view for IPC: components with states; restart/stop/report calls recorded."""

    def __init__(self, components: list[ComponentInfo]) -> None:
        self._lock = threading.Lock()
        self._components = {c.name: c for c in components}
        self.calls: list[tuple[str, str]] = []
        self.refuse_restart: Callable[[str], bool] = lambda name: False

    def list_components(self) -> list[ComponentInfo]:
        with self._lock:
            return list(self._components.values())

    def get_component(self, name: str) -> ComponentInfo | None:
        with self._lock:
            return self._components.get(name)

    def restart_component(self, name: str) -> tuple[bool, str]:
        with self._lock:
            self.calls.append(("restart", name))
        if self.refuse_restart(name):
            return False, f"{name} cannot restart now"
        return True, f"{name} restart requested"

    def stop_component(self, name: str) -> tuple[bool, str]:
        with self._lock:
            self.calls.append(("stop", name))
            info = self._components[name]
            self._components[name] = ComponentInfo(info.name, info.version, "FINISHED", info.configuration)
        return True, f"{name} stopped"

    def report_state(self, name: str, state: str) -> None:
        with self._lock:
            self.calls.append(("report", f"{name}={state}"))
            info = self._components[name]
            self._components[name] = ComponentInfo(info.name, info.version, state, info.configuration)
