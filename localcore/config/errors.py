"""Errors of the component configuration store.

The IPC layer maps them to the client's modelled errors: :class:`ConfigKeyNotFoundError` ->
ResourceNotFoundError("Key not found"), :class:`ConfigStaleUpdateError` ->
FailedUpdateConditionCheckError, :class:`ConfigInvalidUpdateError` -> InvalidArgumentsError.
"""

from __future__ import annotations

from collections.abc import Sequence


class ConfigError(Exception):
    """Any configuration store failure; ``message`` says what is wrong and what was expected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigKeyNotFoundError(ConfigError, KeyError):
    """No such component, or no node at that key path (GetConfiguration's "Key not found")."""

    def __init__(self, component: str, key_path: Sequence[str]) -> None:
        self.component = component
        self.key_path = list(key_path)
        where = "/".join(self.key_path) if self.key_path else "(the whole configuration)"
        super().__init__(f"Key not found: component {component!r} has no configuration key {where}")

    def __str__(self) -> str:
        # KeyError's own __str__ would wrap the message in quotes.
        return self.message


class ConfigStaleUpdateError(ConfigError):
    """UpdateConfiguration with a timestamp older than the node's last modification."""

    def __init__(self) -> None:
        super().__init__("Proposed timestamp is older than the config's latest modified timestamp")


class ConfigInvalidUpdateError(ConfigError, ValueError):
    """A malformed update: missing timestamp/value, restricted key, bad JSON pointer or value type."""
