"""Recipe variables: ``{artifacts:path}``, ``{configuration:/ptr}``, ``{iot:thingName}`` and friends.

Follows the nucleus' ``KernelConfigResolver`` (reference section 5): same-component variables
``{namespace:key}`` and cross-component ones ``{Component:namespace:key}`` (direct dependencies
only). What cannot be resolved is left exactly as written: a missing configuration node, an
unknown namespace, a component that is not a direct dependency (the last two are logged).

Example::

    interpolator = Interpolator(root=root, thing_name="dev-1", versions={"a": "1.0.0"},
                                dependencies={"a": set()}, configuration=store.snapshot)
    interpolator.interpolate("a", "{work:path}/venv")   # "<root>/work/a/venv"
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from localcore.logfmt import kv

# NUC componentmanager/KernelConfigResolver.java
SAME_COMPONENT = re.compile(r"\{([.\w-]+):([^:}]*)}")
CROSS_COMPONENT = re.compile(r"\{([.\w-]+):([.\w-]+):([^:}]*)}")

_log = logging.getLogger("localcore.runner.variables")


def artifacts_path(root: Path, name: str, version: str) -> Path:
    """``{artifacts:path}``: where the component's artifacts are copied."""
    return root / "packages" / "artifacts" / name / version


def decompressed_path(root: Path, name: str, version: str) -> Path:
    """``{artifacts:decompressedPath}``: where its ZIP artifacts are unarchived."""
    return root / "packages" / "artifacts-unarchived" / name / version


def work_path(root: Path, name: str) -> Path:
    """``{work:path}``: the component's working directory."""
    return root / "work" / name


def configuration_text(value: Any) -> str:
    """A configuration value as the nucleus writes it into a script: objects as sorted JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


_MISSING = object()


def resolve_pointer(tree: Any, pointer: str) -> Any:
    """The node at a JSON pointer (``/a/b``, ``~0`` ``~1`` escapes), case-insensitive keys; or ``_MISSING``."""
    if pointer in ("", "/"):
        return tree
    if not pointer.startswith("/"):
        return _MISSING
    node = tree
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            match = next((k for k in node if str(k).lower() == part.lower()), _MISSING)
            if match is _MISSING:
                return _MISSING
            node = node[match]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


class Interpolator:
    """Replaces recipe variables for one core: paths, thing name and each component's configuration."""

    def __init__(
        self,
        *,
        root: Path,
        thing_name: str,
        versions: Mapping[str, str],
        dependencies: Mapping[str, set[str]],
        configuration: Callable[[str], Mapping[str, Any]],
    ) -> None:
        """``versions``: component -> version; ``dependencies``: component -> its direct dependencies;
        ``configuration(component)``: that component's current configuration tree."""
        self._root = root.resolve()
        self._thing_name = thing_name
        self._versions = versions
        self._dependencies = dependencies
        self._configuration = configuration

    def interpolate(self, component: str, text: str) -> str:
        """Replace every resolvable variable in ``text`` for ``component``."""
        text = CROSS_COMPONENT.sub(lambda m: self._cross(component, m), text)
        return SAME_COMPONENT.sub(lambda m: self._same(component, m), text)

    def interpolate_tree(self, component: str, value: Any) -> Any:
        """Interpolate every string inside a JSON-like tree (used for accessControl policies)."""
        if isinstance(value, str):
            return self.interpolate(component, value)
        if isinstance(value, dict):
            return {key: self.interpolate_tree(component, item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.interpolate_tree(component, item) for item in value]
        return value

    def _same(self, component: str, match: re.Match[str]) -> str:
        resolved = self._lookup(component, match.group(1), match.group(2))
        if resolved is None:
            return match.group(0)
        return resolved

    def _cross(self, component: str, match: re.Match[str]) -> str:
        target, namespace, key = match.group(1), match.group(2), match.group(3)
        if namespace not in ("configuration", "artifacts", "work"):
            # Not a cross-component variable (e.g. a literal "{a:b:c}" in a script): leave it.
            return match.group(0)
        if target not in self._dependencies.get(component, set()):
            _log.error(
                kv(event="variable_not_direct_dependency", component=component, variable=match.group(0))
            )
            return match.group(0)
        resolved = self._lookup(target, namespace, key)
        return match.group(0) if resolved is None else resolved

    def _lookup(self, component: str, namespace: str, key: str) -> str | None:
        version = self._versions.get(component, "")
        if namespace == "artifacts" and key == "path":
            return str(artifacts_path(self._root, component, version))
        if namespace == "artifacts" and key == "decompressedPath":
            return str(decompressed_path(self._root, component, version))
        if namespace == "work" and key == "path":
            return str(work_path(self._root, component))
        if namespace == "kernel" and key == "rootPath":
            return str(self._root)
        if namespace == "iot" and key == "thingName":
            return self._thing_name
        if namespace == "configuration":
            value = resolve_pointer(self._configuration(component), key)
            return None if value is _MISSING else configuration_text(value)
        _log.error(kv(event="variable_unknown", component=component, namespace=namespace, key=key))
        return None
