"""``<root>/config/config.json``: every component's tree (names, values, modification times) and
its DefaultConfiguration, written atomically so ``localcore config get`` can read a stopped core."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from localcore.config.tree import ConfigNode
from localcore.logfmt import kv

log = logging.getLogger("localcore.config")

FORMAT_VERSION = 1


class ConfigFile:
    """Loads and saves the configuration file of a core root."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / "config" / "config.json"

    def save(self, trees: dict[str, ConfigNode], defaults: dict[str, dict[str, Any]]) -> None:
        """Write everything (temp file, fsync, rename)."""
        record = {
            "format": FORMAT_VERSION,
            "components": {
                name: {"defaults": defaults.get(name, {}), "tree": tree.to_record()}
                for name, tree in trees.items()
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle, separators=(",", ":"), allow_nan=False)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def load(self) -> tuple[dict[str, ConfigNode], dict[str, dict[str, Any]]]:
        """The saved trees and defaults; a missing file is empty, an unreadable one is set aside."""
        if not self.path.is_file():
            return {}, {}
        try:
            return _parse(json.loads(self.path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as err:
            aside = self.path.with_name("config.json.unreadable")
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            log.error(
                kv(event="config_file_unreadable", path=str(self.path), moved_to=str(aside), error=str(err))
            )
            return {}, {}


def _parse(record: Any) -> tuple[dict[str, ConfigNode], dict[str, dict[str, Any]]]:
    if not isinstance(record, dict) or record.get("format") != FORMAT_VERSION:
        raise ValueError(f'expected an object with "format": {FORMAT_VERSION}')
    components = record.get("components")
    if not isinstance(components, dict):
        raise ValueError('expected "components" to be an object')
    trees: dict[str, ConfigNode] = {}
    defaults: dict[str, dict[str, Any]] = {}
    for name, entry in components.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("defaults", {}), dict):
            raise ValueError(f'component {name!r}: expected {{"defaults": {{...}}, "tree": {{...}}}}')
        trees[name] = ConfigNode.from_record(entry.get("tree"))
        if trees[name].is_leaf:
            raise ValueError(f"component {name!r}: the configuration root must be a map")
        defaults[name] = entry.get("defaults", {})
    return trees, defaults


def read_configuration(root: Path) -> dict[str, dict[str, Any]]:
    """Every component's configuration saved under ``root``, for tools reading a stopped core.

    Raises ValueError (or OSError) naming what is wrong; a missing file reads as ``{}``.
    """
    path = ConfigFile(root).path
    if not path.is_file():
        return {}
    trees, _defaults = _parse(json.loads(path.read_text(encoding="utf-8")))
    return {name: tree.to_value() for name, tree in trees.items()}
