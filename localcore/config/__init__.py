"""Component configuration: case-insensitive trees with timestamps, defaults, merge and reset."""

from localcore.config.errors import (
    ConfigError,
    ConfigInvalidUpdateError,
    ConfigKeyNotFoundError,
    ConfigStaleUpdateError,
)
from localcore.config.persistence import read_configuration
from localcore.config.store import ConfigStore

__all__ = [
    "ConfigError",
    "ConfigInvalidUpdateError",
    "ConfigKeyNotFoundError",
    "ConfigStaleUpdateError",
    "ConfigStore",
    "read_configuration",
]
