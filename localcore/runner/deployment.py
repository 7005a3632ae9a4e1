"""A local deployment file: per-component version, configurationUpdate and resource limits.

The shape of a Greengrass deployment's ``components`` (JSON or YAML)::

    components:
      com.example.Sensing:
        componentVersion: "1.0.0"            # optional: must equal the recipe's version
        configurationUpdate:
          reset: ["/interval"]               # JSON pointers; "" resets everything; applied first
          merge: {"interval": 2}             # then merged (a JSON string is accepted too)
        runWith:
          systemResourceLimits: {memory: 102400, cpus: 0.5}   # memory in KB

It overlays configuration and limits: components it does not name still run with their defaults.
The ``aws.greengrass.Nucleus`` entry's merge holds the nucleus' own settings; the runner reads
``interpolateComponentConfiguration`` from it (:func:`interpolates_component_configuration`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from localcore.runner.errors import DeploymentError
from localcore.runner.limits import ResourceLimits

NUCLEUS = "aws.greengrass.Nucleus"
INTERPOLATE_COMPONENT_CONFIGURATION = "interpolateComponentConfiguration"


@dataclass(frozen=True)
class ComponentDeployment:
    """One component's entry of a deployment."""

    version: str | None = None
    merge: dict[str, Any] | None = None
    reset: list[str] | None = None
    limits: ResourceLimits = field(default_factory=ResourceLimits)

    @property
    def has_configuration_update(self) -> bool:
        """Whether the entry changes configuration (a merge, or a non-empty reset)."""
        return self.merge is not None or bool(self.reset)

    def digest(self) -> str:
        """``sha256:<hex>`` of the entry's canonical JSON: equal entries, whatever their spelling.

        Computed from the parsed entry, so YAML or JSON, key case and a merge given as a JSON
        string do not matter; any change to the version, the update or the limits does.
        """
        document = {
            "componentVersion": self.version,
            "merge": self.merge,
            "reset": self.reset,
            "limits": {"memoryKb": self.limits.memory_kb, "cpus": self.limits.cpus},
        }
        try:
            text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=repr)
        except TypeError:
            # Keys of mixed types cannot be sorted (YAML allows `1:` beside `a:`); the store refuses
            # such a merge anyway, and repr is still stable for one and the same file.
            text = repr(document)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_deployment(path: Path) -> dict[str, ComponentDeployment]:
    """Read and validate a deployment file; :class:`DeploymentError` names the key path at fault."""
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
        raise DeploymentError(path, "", f"cannot read a JSON or YAML deployment: {err}") from err
    return parse_deployment(document, path)


def _get(mapping: dict[str, Any], key: str) -> Any:
    for candidate, value in mapping.items():
        if str(candidate).lower() == key.lower():
            return value
    return None


def parse_deployment(document: Any, source: Path | str) -> dict[str, ComponentDeployment]:
    """Validate a parsed deployment document; see :func:`load_deployment`."""
    if not isinstance(document, dict):
        raise DeploymentError(source, "", "expected a mapping with a 'components' key")
    components = _get(document, "components")
    if not isinstance(components, dict):
        raise DeploymentError(source, "components", "expected a mapping of component name to its settings")
    result: dict[str, ComponentDeployment] = {}
    for name, entry in components.items():
        where = f"components.{name}"
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise DeploymentError(
                source, where, "expected a mapping (componentVersion, configurationUpdate, runWith)"
            )
        version = _get(entry, "componentVersion")
        if version is not None and not isinstance(version, str):
            raise DeploymentError(
                source, f"{where}.componentVersion", f"expected a version string, got {version!r}"
            )
        merge, reset = _configuration_update(source, where, _get(entry, "configurationUpdate"))
        result[str(name)] = ComponentDeployment(
            version, merge, reset, _limits(source, where, _get(entry, "runWith"))
        )
    return result


def _configuration_update(
    source: Path | str, where: str, update: Any
) -> tuple[dict[str, Any] | None, list[str] | None]:
    if update is None:
        return None, None
    where = f"{where}.configurationUpdate"
    if not isinstance(update, dict):
        raise DeploymentError(source, where, "expected a mapping with 'merge' and/or 'reset'")
    merge = _get(update, "merge")
    if isinstance(merge, str):
        # The Greengrass API takes merge as a JSON string.
        try:
            merge = json.loads(merge)
        except json.JSONDecodeError as err:
            raise DeploymentError(
                source, f"{where}.merge", f"expected a JSON object, got invalid JSON: {err}"
            ) from err
    if merge is not None and not isinstance(merge, dict):
        raise DeploymentError(source, f"{where}.merge", f"expected a mapping, got {type(merge).__name__}")
    reset = _get(update, "reset")
    if reset is not None and (not isinstance(reset, list) or not all(isinstance(p, str) for p in reset)):
        raise DeploymentError(
            source, f"{where}.reset", f"expected a list of JSON pointers like '/interval', got {reset!r}"
        )
    for pointer in reset or []:
        if pointer and not pointer.startswith("/"):
            raise DeploymentError(
                source, f"{where}.reset", f"expected JSON pointers starting with '/', got {pointer!r}"
            )
    return merge, reset


def _limits(source: Path | str, where: str, run_with: Any) -> ResourceLimits:
    if run_with is None:
        return ResourceLimits()
    if not isinstance(run_with, dict):
        raise DeploymentError(source, f"{where}.runWith", "expected a mapping")
    limits = _get(run_with, "systemResourceLimits")
    if limits is None:
        return ResourceLimits()
    where = f"{where}.runWith.systemResourceLimits"
    if not isinstance(limits, dict):
        raise DeploymentError(source, where, "expected a mapping with 'memory' (KB) and/or 'cpus'")
    memory = _get(limits, "memory")
    cpus = _get(limits, "cpus")
    if memory is not None and (isinstance(memory, bool) or not isinstance(memory, int) or memory <= 0):
        raise DeploymentError(
            source, f"{where}.memory", f"expected a positive whole number of kilobytes, got {memory!r}"
        )
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0):
        raise DeploymentError(
            source, f"{where}.cpus", f"expected a positive number of CPU cores, got {cpus!r}"
        )
    return ResourceLimits(memory_kb=memory, cpus=float(cpus) if cpus is not None else None)


def interpolates_component_configuration(
    deployment: Mapping[str, ComponentDeployment], source: Path | str = "deployment"
) -> bool:
    """The nucleus setting ``interpolateComponentConfiguration`` of a deployment; false without one.

    Recipe variables such as ``{iot:thingName}`` in a component's configuration, ``accessControl``
    included, are replaced only when it is true; lifecycle scripts are always interpolated
    (nucleus ``DeviceConfiguration.getInterpolateComponentConfiguration``: ``dflt(false)``;
    reference greengrass-deployments.md section 1.3, greengrass-ipc.md section 4.3).

    Raises:
        DeploymentError: the value is neither true nor false; names the key path.
    """
    entry = deployment.get(NUCLEUS)
    value = _get(entry.merge, INTERPOLATE_COMPONENT_CONFIGURATION) if entry and entry.merge else None
    if value is None:
        return False
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"  # a console merge may give it as a string
    if not isinstance(value, bool):
        raise DeploymentError(
            source,
            f"components.{NUCLEUS}.configurationUpdate.merge.{INTERPOLATE_COMPONENT_CONFIGURATION}",
            f"expected true or false, got {value!r}",
        )
    return value
