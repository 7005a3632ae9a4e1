"""In-memory fakes of ConfigService and LifecycleService for the IPC tests (real behaviour, no mocks)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from localcore.contracts import ComponentInfo, ConfigListener, Unsubscribe


class StaleTimestampError(Exception):
    """The proposed timestamp is older than the node's modification time."""


def _find(tree: dict[str, Any], key: str) -> str | None:
    for name in tree:
        if name.lower() == key.lower():
            return name
    return None


class FakeConfigService:
    """Configuration trees per component: case-insensitive keys, a modtime per key path, listeners."""

    def __init__(self, configs: dict[str, dict[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._trees: dict[str, dict[str, Any]] = copy.deepcopy(configs or {})
        self._modtimes: dict[tuple[str, tuple[str, ...]], float] = {}
        self._listeners: list[tuple[str, list[str], ConfigListener]] = []

    def get(self, component: str, key_path: list[str]) -> Any:
        with self._lock:
            node: Any = self._trees.get(component)
            if node is None:
                raise KeyError(component)
            for key in key_path:
                name = _find(node, key) if isinstance(node, dict) else None
                if name is None:
                    raise KeyError("/".join(key_path))
                node = node[name]
            return copy.deepcopy(node)

    def update(self, component: str, key_path: list[str], value_to_merge: Any, timestamp: float) -> None:
        lowered = tuple(k.lower() for k in key_path)
        with self._lock:
            for (comp, path), modtime in self._modtimes.items():
                related = path[: len(lowered)] == lowered or lowered[: len(path)] == path
                if comp == component and related and modtime > timestamp:
                    raise StaleTimestampError(f"{component}/{'/'.join(key_path)} is newer than {timestamp}")
            tree = self._trees.setdefault(component, {})
            node = tree
            for key in key_path[:-1]:
                name = _find(node, key) or key
                node = node.setdefault(name, {})
            changed: list[list[str]] = []
            if key_path:
                last = _find(node, key_path[-1]) or key_path[-1]
                if isinstance(value_to_merge, dict) and isinstance(node.get(last), dict):
                    self._merge(node[last], value_to_merge, list(key_path), changed)
                else:
                    node[last] = copy.deepcopy(value_to_merge)
                    changed.append(list(key_path))
            else:
                self._merge(tree, value_to_merge, [], changed)
            self._modtimes[(component, lowered)] = timestamp
            listeners = list(self._listeners)
        for path in changed:
            for comp, prefix, callback in listeners:
                low = [k.lower() for k in path]
                if comp == component and low[: len(prefix)] == [k.lower() for k in prefix]:
                    callback(component, path)

    def _merge(
        self, node: dict[str, Any], value: dict[str, Any], base: list[str], changed: list[list[str]]
    ) -> None:
        for key, item in value.items():
            name = _find(node, key) or key
            if isinstance(item, dict) and isinstance(node.get(name), dict):
                self._merge(node[name], item, [*base, name], changed)
            else:
                node[name] = copy.deepcopy(item)
                changed.append([*base, name])

    def subscribe(self, component: str, key_path: list[str], callback: ConfigListener) -> Unsubscribe:
        entry = (component, list(key_path), callback)
        with self._lock:
            self._listeners.append(entry)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return unsubscribe

    def listener_count(self) -> int:
        with self._lock:
            return len(self._listeners)


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
