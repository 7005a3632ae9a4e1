"""ConfigStore: every component's configuration (implements ``contracts.ConfigService``).

For IPC: :meth:`ConfigStore.get` / :meth:`ConfigStore.get_answer` (GetConfiguration),
:meth:`ConfigStore.update` (UpdateConfiguration, with the nucleus' timestamp rule) and
:meth:`ConfigStore.subscribe` (SubscribeToConfigurationUpdate). For the runner: DefaultConfiguration
through :meth:`ConfigStore.set_defaults` and a deployment's ``configurationUpdate`` through
:meth:`ConfigStore.apply_deployment_update` (reset before merge).

Example::

    store = ConfigStore(root=Path(".localcore"))
    store.set_defaults("com.example.Sensing", {"Interval": 5, "mqtt": {"port": 8883}})
    store.get("com.example.Sensing", ["interval"])          # 5: keys are case-insensitive
    store.get_answer("com.example.Sensing", ["interval"])   # {"Interval": 5}: a leaf answers as a map
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from localcore.config.errors import (
    ConfigError,
    ConfigInvalidUpdateError,
    ConfigKeyNotFoundError,
    ConfigStaleUpdateError,
)
from localcore.config.persistence import ConfigFile
from localcore.config.pointer import parse_pointer
from localcore.config.tree import (
    ConfigNode,
    FoldedPath,
    LeafIndex,
    changed_paths,
    check_json_value,
    fold,
    fold_path,
    leaf_index,
    merge_map,
)
from localcore.contracts import ConfigListener, Unsubscribe
from localcore.logfmt import kv
from localcore.outbox import OrderedOutbox

log = logging.getLogger("localcore.config")

# Top-level keys UpdateConfiguration may not touch (nucleus ConfigStoreIPCEventStreamAgent).
RESTRICTED_KEYS = ("accessControl",)

Event = tuple[str, list[str]]


class _Subscription:
    def __init__(self, component: str, key_path: FoldedPath, callback: ConfigListener) -> None:
        self.component = component
        self.key_path = key_path
        self.callback = callback

    def wants(self, component: str, changed: FoldedPath) -> bool:
        # A change at or below the subscribed node; or above it, when an ancestor was replaced.
        if component != self.component:
            return False
        shorter = min(len(changed), len(self.key_path))
        return changed[:shorter] == self.key_path[:shorter]


class ConfigStore:
    """Thread-safe configuration trees, one per component, optionally persisted under ``root``."""

    def __init__(self, clock: Callable[[], float] = time.time, root: Path | None = None) -> None:
        self._clock = clock
        self._file = ConfigFile(root) if root is not None else None
        self._lock = threading.Lock()
        self._trees: dict[str, ConfigNode] = {}
        self._defaults: dict[str, dict[str, Any]] = {}
        self._subscriptions: list[_Subscription] = []
        # Change events wait here in commit order; one thread at a time delivers them, outside the
        # lock, so a callback may read the store (or update it) without deadlocking.
        self._outbox: OrderedOutbox[Event] = OrderedOutbox(self._lock)
        if self._file is not None:
            self._trees, self._defaults = self._file.load()

    # --- ConfigService (IPC) -------------------------------------------------------------------------------
    def get(self, component: str, key_path: list[str]) -> Any:
        """The value at ``key_path`` (``[]``: the whole map); raises :class:`ConfigKeyNotFoundError`."""
        with self._lock:
            return self._find(component, key_path).to_value()

    def get_answer(self, component: str, key_path: list[str]) -> Any:
        """GetConfiguration's ``value``: a map for an interior node, ``{leafName: value}`` for a leaf.

        The leaf's name is the one it was created with, whatever case the request used; map
        answers leave out keys starting with ``_`` (nucleus ``Topics.toPOJO``).
        """
        with self._lock:
            node = self._find(component, key_path)
            return {node.name: node.to_value()} if node.is_leaf else node.to_value(hide_private=True)

    def update(self, component: str, key_path: list[str], value_to_merge: Any, timestamp: float) -> None:
        """UpdateConfiguration: merge ``value_to_merge`` at ``key_path`` as of ``timestamp`` (epoch s).

        Leaves modified after ``timestamp`` keep their values; if the node at ``key_path`` ends
        up newer than ``timestamp``, raises :class:`ConfigStaleUpdateError` (after applying the
        rest, as the nucleus does). A missing path is created, stamped now.
        """
        if timestamp is None or isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
            raise ConfigInvalidUpdateError("Timestamp is required")
        if value_to_merge is None:
            raise ConfigInvalidUpdateError("ValueToMerge is required")
        _check_key_path(key_path)
        if (key_path and fold(key_path[0]) in _RESTRICTED) or (
            not key_path
            and isinstance(value_to_merge, dict)
            and any(fold(k) in _RESTRICTED for k in value_to_merge)
        ):
            raise ConfigInvalidUpdateError(
                f"Config update is not allowed for following fields {list(RESTRICTED_KEYS)}"
            )
        with self._lock:
            root = self._trees.get(component)
            before = leaf_index(root)
            if root is None:
                root = self._trees[component] = ConfigNode(name="configuration", modtime=self._clock())
            node = root.find(key_path)
            stamp = float(timestamp)
            if node is None:
                if not isinstance(value_to_merge, dict):
                    raise ConfigInvalidUpdateError(
                        f"valueToMerge must be a map to create the missing key path {'/'.join(key_path)}"
                    )
                # The nucleus stamps a newly created node with the current time.
                stamp = self._clock()
                merge_map(self._ensure_path(root, key_path, stamp), value_to_merge, stamp, force=False)
            elif node.is_leaf:
                parent = root.find(key_path[:-1])
                assert parent is not None
                merge_map(parent, {node.name: value_to_merge}, stamp, force=False, path=tuple(key_path[:-1]))
            else:
                if not isinstance(value_to_merge, dict):
                    raise ConfigInvalidUpdateError(
                        f"valueToMerge must be a map to merge into the configuration map at "
                        f"{'/'.join(key_path) or 'the root'}, got {type(value_to_merge).__name__}"
                    )
                merge_map(node, value_to_merge, stamp, force=False, path=tuple(key_path))
            self._commit(component, before)
            updated = root.find(key_path)
            stale = updated is not None and stamp < updated.latest_modtime()
        self._drain()
        if stale:
            raise ConfigStaleUpdateError()

    def subscribe(self, component: str, key_path: list[str], callback: ConfigListener) -> Unsubscribe:
        """``callback(component, changed_key_path)`` for each change at, below (or replacing) ``key_path``.

        Raises :class:`ConfigKeyNotFoundError` if the component or the path does not exist, as
        SubscribeToConfigurationUpdate does. The subscription follows the path, so it survives
        the node being replaced.
        """
        _check_key_path(key_path)
        with self._lock:
            self._find(component, key_path)
            subscription = _Subscription(component, fold_path(key_path), callback)
            self._subscriptions.append(subscription)

        def unsubscribe() -> None:
            with self._lock:
                if subscription in self._subscriptions:
                    self._subscriptions.remove(subscription)

        return unsubscribe

    # --- the runner -------------------------------------------------------------------------------------------
    def set_defaults(self, component: str, defaults: dict[str, Any]) -> None:
        """Record a recipe's DefaultConfiguration; keys the component lacks are added, others kept.

        A component seen for the first time gets exactly its defaults.
        """
        if not isinstance(defaults, dict):
            raise ConfigInvalidUpdateError(
                f"DefaultConfiguration of {component} must be a map, got {type(defaults).__name__}"
            )
        check_json_value(defaults, (component,))
        with self._lock:
            self._defaults[component] = copy.deepcopy(defaults)
            root = self._trees.get(component)
            before = leaf_index(root)
            if root is None:
                self._trees[component] = ConfigNode.from_value("configuration", defaults, self._clock())
            else:
                _add_missing(root, defaults, self._clock())
            self._commit(component, before)
        self._drain()

    def merge(self, component: str, value: dict[str, Any]) -> None:
        """A deployment's MERGE: set every value given, now; a changed type replaces the old node."""
        if not isinstance(value, dict):
            raise ConfigInvalidUpdateError(
                f"configurationUpdate.merge for {component} must be a map, got {type(value).__name__}"
            )
        with self._lock:
            root = self._trees.get(component)
            before = leaf_index(root)
            if root is None:
                root = self._trees[component] = ConfigNode(name="configuration", modtime=self._clock())
            merge_map(root, value, self._clock(), force=True)
            self._commit(component, before)
        self._drain()

    def reset(self, component: str, paths: list[str]) -> None:
        """A deployment's RESET: each JSON pointer goes back to its default, or away if it has none.

        ``""`` resets the whole configuration. A pointer into a list is refused (the Greengrass
        docs: only a whole list can be reset). All pointers are checked before anything changes.
        """
        if not isinstance(paths, list):
            raise ConfigInvalidUpdateError(
                f"configurationUpdate.reset for {component} must be a list of JSON pointers, got {paths!r:.80}"
            )
        parsed = [(pointer, parse_pointer(pointer)) for pointer in paths]
        with self._lock:
            defaults = self._defaults.get(component, {})
            root = self._trees.get(component)
            for pointer, keys in parsed:
                _refuse_list_steps(pointer, keys, defaults, root)
            before = leaf_index(root)
            now = self._clock()
            if root is None:
                root = self._trees[component] = ConfigNode(name="configuration", modtime=now)
            for _pointer, keys in parsed:
                root = self._reset_one(component, root, keys, defaults, now)
            self._commit(component, before)
        self._drain()

    def apply_deployment_update(
        self, component: str, *, merge: dict[str, Any] | None = None, reset: list[str] | None = None
    ) -> None:
        """A deployment's ``configurationUpdate``: reset first, then merge (Greengrass docs)."""
        if reset:
            self.reset(component, reset)
        if merge is not None:
            self.merge(component, merge)

    def remove_component(self, component: str) -> None:
        """Forget a component's configuration and defaults (it left the deployment)."""
        with self._lock:
            before = self._trees.pop(component, None)
            self._defaults.pop(component, None)
            if before is not None:
                self._queue_changes(component, changed_paths(leaf_index(before), None))
                self._save()
        self._drain()

    def snapshot(self, component: str) -> dict[str, Any]:
        """The whole configuration of ``component``; raises :class:`ConfigKeyNotFoundError` if unknown."""
        value = self.get(component, [])
        assert isinstance(value, dict)
        return value

    def components(self) -> list[str]:
        """Every component with a configuration, sorted."""
        with self._lock:
            return sorted(self._trees)

    # --- internals -----------------------------------------------------------------------------------------------
    def _find(self, component: str, key_path: Sequence[str]) -> ConfigNode:
        root = self._trees.get(component)
        node = root.find(key_path) if root is not None else None
        if node is None:
            raise ConfigKeyNotFoundError(component, key_path)
        return node

    def _ensure_path(self, root: ConfigNode, key_path: Sequence[str], stamp: float) -> ConfigNode:
        node = root
        for key in key_path:
            child = node.child(key)
            if child is None or child.is_leaf:
                child = ConfigNode(name=child.name if child else key, modtime=stamp)
                node.put(child)
            node = child
        return node

    def _reset_one(
        self, component: str, root: ConfigNode, keys: list[str], defaults: dict[str, Any], now: float
    ) -> ConfigNode:
        found, default, name = _lookup_default(defaults, keys)
        if not keys:
            replacement = ConfigNode.from_value("configuration", defaults, now)
            self._trees[component] = replacement
            return replacement
        if not found:
            parent = root.find(keys[:-1])
            if parent is not None:
                parent.remove(keys[-1])
            return root
        parent = self._ensure_path(root, keys[:-1], now)
        parent.put(ConfigNode.from_value(name, default, now, tuple(keys)))
        return root

    def _commit(self, component: str, before: LeafIndex) -> None:
        self._queue_changes(component, changed_paths(before, self._trees.get(component)))
        self._save()

    def _queue_changes(self, component: str, changes: list[list[str]]) -> None:
        for path in changes:
            self._outbox.append((component, path))

    def _save(self) -> None:
        if self._file is None:
            return
        try:
            self._file.save(self._trees, self._defaults)
        except (OSError, ValueError) as err:
            # The change stands in memory; the next save retries. Losing it on a crash is logged.
            log.error(kv(event="config_persist_failed", path=str(self._file.path), error=str(err)))

    def _drain(self) -> None:
        self._outbox.drain(self._targets, _notify_all)

    def _targets(self, event: Event) -> tuple[Event, list[_Subscription]]:
        component, path = event
        folded = fold_path(path)
        return event, [s for s in self._subscriptions if s.wants(component, folded)]


_RESTRICTED = {fold(key) for key in RESTRICTED_KEYS}


def _notify_all(targets: tuple[Event, list[_Subscription]]) -> None:
    (component, path), subscriptions = targets
    for subscription in subscriptions:
        _notify(subscription, component, path)


def _notify(subscription: _Subscription, component: str, path: list[str]) -> None:
    try:
        subscription.callback(component, list(path))
    except Exception as err:  # one broken subscriber must not starve the others
        log.exception(
            kv(event="config_listener_failed", component=component, path="/".join(path), error=repr(err))
        )


def _check_key_path(key_path: Any) -> None:
    if not isinstance(key_path, list) or not all(isinstance(key, str) for key in key_path):
        raise ConfigInvalidUpdateError(f"keyPath must be a list of strings, got {key_path!r:.80}")


def _add_missing(node: ConfigNode, defaults: dict[str, Any], now: float) -> None:
    for key, value in defaults.items():
        existing = node.child(key)
        if existing is None:
            node.put(ConfigNode.from_value(key, value, now))
        elif isinstance(value, dict) and not existing.is_leaf:
            _add_missing(existing, value, now)


def _lookup_default(defaults: dict[str, Any], keys: list[str]) -> tuple[bool, Any, str]:
    """``(found, value, name as the defaults spell it)`` for a case-insensitive key path."""
    value: Any = defaults
    name = ""
    for key in keys:
        if not isinstance(value, dict):
            return False, None, key
        match = next((k for k in value if fold(k) == fold(key)), None)
        if match is None:
            return False, None, key
        value, name = value[match], match
    return True, value, name


def _refuse_list_steps(
    pointer: str, keys: list[str], defaults: dict[str, Any], root: ConfigNode | None
) -> None:
    # Reset addresses map keys only; stepping into a list (in the defaults or the current value) is refused.
    value: Any = defaults
    node = root
    for depth, key in enumerate(keys):
        in_defaults_list = isinstance(value, list)
        in_current_list = node is not None and node.is_leaf and isinstance(node.value, list)
        if in_defaults_list or in_current_list:
            where = "/".join(keys[:depth]) or "the root"
            raise ConfigInvalidUpdateError(
                f"reset pointer {pointer!r} points into the list at {where}; only a whole list can be reset"
            )
        value = _lookup_default(value, [key])[1] if isinstance(value, dict) else None
        node = node.child(key) if node is not None else None


__all__ = ["ConfigError", "ConfigStore"]
