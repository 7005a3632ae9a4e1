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

import difflib
import hashlib
import json
import re
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
    posix_user: str | None = None

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
        if self.posix_user is not None:  # only when set: older records keep their digests
            document["posixUser"] = self.posix_user
        try:
            text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=repr)
        except TypeError:
            # Keys of mixed types cannot be sorted (YAML allows `1:` beside `a:`); the store refuses
            # such a merge anyway, and repr is still stable for one and the same file.
            text = repr(document)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# The keys a deployment file may hold, as the CreateDeployment API / CfnDeployment spell them, plus
# the Greengrass CLI's local-deployment options (reference greengrass-deployments.md section 1.1,
# 1.5). The nucleus ignores unknown keys (section 1.1, trap 15); refusing them is a deliberate
# stand-in choice, so that a misspelt ``configurationUpdat:`` is an error and not a no-op.
TOP_LEVEL_KEYS = (
    "components",
    "deploymentPolicies",
    "deploymentName",
    "targetArn",
    "recipeDirectoryPath",
    "artifactsDirectoryPath",
    "rootComponentsToRemove",
)
COMPONENT_KEYS = ("componentVersion", "configurationUpdate", "runWith")
CONFIGURATION_UPDATE_KEYS = ("merge", "reset")
RUN_WITH_KEYS = ("posixUser", "windowsUser", "systemResourceLimits")
LIMIT_KEYS = ("memory", "cpus")
POLICY_KEYS = ("failureHandlingPolicy", "componentUpdatePolicy", "configurationValidationPolicy")
UPDATE_POLICY_KEYS = ("action", "timeoutInSeconds")
VALIDATION_POLICY_KEYS = ("timeoutInSeconds",)
FAILURE_POLICIES = ("ROLLBACK", "DO_NOTHING")
UPDATE_ACTIONS = ("NOTIFY_COMPONENTS", "SKIP_NOTIFY_COMPONENTS")
# Cloud defaults (reference section 1.2): ROLLBACK, NOTIFY_COMPONENTS with 60 s per round; the
# validation timeout has four sources giving 20/30/60 s: the nucleus' own 20 s default is used.
DEFAULT_UPDATE_TIMEOUT_SECONDS = 60
DEFAULT_VALIDATION_TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class DeploymentPolicies:
    """``deploymentPolicies`` with the cloud deployment's defaults (reference section 1.2)."""

    failure_handling: str = "ROLLBACK"
    update_action: str = "NOTIFY_COMPONENTS"
    update_timeout_seconds: int = DEFAULT_UPDATE_TIMEOUT_SECONDS
    validation_timeout_seconds: int = DEFAULT_VALIDATION_TIMEOUT_SECONDS


@dataclass(frozen=True)
class DeploymentDocument:
    """A whole deployment file: components, policies and the local-deployment options."""

    components: dict[str, ComponentDeployment]
    policies: DeploymentPolicies = field(default_factory=DeploymentPolicies)
    name: str | None = None
    target_arn: str | None = None
    recipe_directory: Path | None = None
    artifacts_directory: Path | None = None
    components_to_remove: tuple[str, ...] = ()


def load_deployment(path: Path) -> dict[str, ComponentDeployment]:
    """Read and validate a deployment file's components; see :func:`load_deployment_document`."""
    return load_deployment_document(path).components


def load_deployment_document(path: Path) -> DeploymentDocument:
    """Read and validate a deployment file; :class:`DeploymentError` names the key path at fault."""
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
        raise DeploymentError(path, "", f"cannot read a JSON or YAML deployment: {err}") from err
    return parse_deployment_document(document, path, base=path.parent)


def _get(mapping: dict[str, Any], key: str) -> Any:
    for candidate, value in mapping.items():
        if str(candidate).lower() == key.lower():
            return value
    return None


def _refuse_unknown(source: Path | str, where: str, mapping: dict[str, Any], known: tuple[str, ...]) -> None:
    """Refuse a key that is none of ``known`` (case-insensitive, as the rest of the parser)."""
    folded = {key.lower() for key in known}
    for key in mapping:
        if str(key).lower() not in folded:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            path = f"{where}.{key}" if where else str(key)
            raise DeploymentError(
                source, path, f"unknown key {str(key)!r}{hint}; expected one of: {', '.join(known)}"
            )


def parse_deployment(document: Any, source: Path | str) -> dict[str, ComponentDeployment]:
    """Validate a parsed deployment document's components; see :func:`parse_deployment_document`."""
    return parse_deployment_document(document, source).components


def parse_deployment_document(
    document: Any, source: Path | str, *, base: Path | None = None
) -> DeploymentDocument:
    """Validate a parsed deployment document; relative folders resolve against ``base``."""
    if not isinstance(document, dict):
        raise DeploymentError(source, "", "expected a mapping with a 'components' key")
    _refuse_unknown(source, "", document, TOP_LEVEL_KEYS)
    components = _get(document, "components")
    if components is None:
        components = {}
    if not isinstance(components, dict):
        raise DeploymentError(source, "components", "expected a mapping of component name to its settings")
    result: dict[str, ComponentDeployment] = {}
    for name, entry in components.items():
        where = f"components.{name}"
        if not isinstance(name, str) or not name.strip():
            raise DeploymentError(source, where, "Target component name is empty")
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise DeploymentError(
                source, where, "expected a mapping (componentVersion, configurationUpdate, runWith)"
            )
        _refuse_unknown(source, where, entry, COMPONENT_KEYS)
        version = _get(entry, "componentVersion")
        if version is not None and not isinstance(version, str):
            raise DeploymentError(
                source, f"{where}.componentVersion", f"expected a version string, got {version!r}"
            )
        if version is not None and not _SEMVER.match(version):
            raise DeploymentError(
                source,
                f"{where}.componentVersion",
                f"Unsupported component version '{version}' for component '{name}': expected a "
                "semantic version like 1.0.0",
            )
        merge, reset = _configuration_update(source, where, _get(entry, "configurationUpdate"))
        limits, posix_user = _run_with(source, where, _get(entry, "runWith"))
        result[str(name)] = ComponentDeployment(version, merge, reset, limits, posix_user)
    remove = _get(document, "rootComponentsToRemove") or []
    if not isinstance(remove, list) or not all(isinstance(n, str) and n for n in remove):
        raise DeploymentError(
            source, "rootComponentsToRemove", f"expected a list of component names, got {remove!r}"
        )
    for name in remove:
        if name in result:
            raise DeploymentError(
                source, "rootComponentsToRemove", f"{name} is both in components and to be removed"
            )
    return DeploymentDocument(
        components=result,
        policies=_policies(source, _get(document, "deploymentPolicies")),
        name=_optional_text(source, document, "deploymentName"),
        target_arn=_optional_text(source, document, "targetArn"),
        recipe_directory=_folder(source, document, "recipeDirectoryPath", base),
        artifacts_directory=_folder(source, document, "artifactsDirectoryPath", base),
        components_to_remove=tuple(remove),
    )


_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def _optional_text(source: Path | str, document: dict[str, Any], key: str) -> str | None:
    value = _get(document, key)
    if value is not None and (not isinstance(value, str) or not value):
        raise DeploymentError(source, key, f"expected a non-empty string, got {value!r}")
    return value


def _folder(source: Path | str, document: dict[str, Any], key: str, base: Path | None) -> Path | None:
    text = _optional_text(source, document, key)
    if text is None:
        return None
    folder = Path(text)
    if not folder.is_absolute() and base is not None:
        folder = base / folder
    return folder


def _seconds(source: Path | str, where: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DeploymentError(
            source, where, f"expected a whole number of seconds >= {minimum}, got {value!r}"
        )
    return value


def _policies(source: Path | str, policies: Any) -> DeploymentPolicies:
    if policies is None:
        return DeploymentPolicies()
    where = "deploymentPolicies"
    if not isinstance(policies, dict):
        raise DeploymentError(source, where, f"expected a mapping of {', '.join(POLICY_KEYS)}")
    _refuse_unknown(source, where, policies, POLICY_KEYS)
    failure = _get(policies, "failureHandlingPolicy") or "ROLLBACK"
    if failure not in FAILURE_POLICIES:
        raise DeploymentError(
            source,
            f"{where}.failureHandlingPolicy",
            f"expected one of {', '.join(FAILURE_POLICIES)}, got {failure!r}",
        )
    action, update_timeout = "NOTIFY_COMPONENTS", DEFAULT_UPDATE_TIMEOUT_SECONDS
    update = _get(policies, "componentUpdatePolicy")
    if update is not None:
        uwhere = f"{where}.componentUpdatePolicy"
        if not isinstance(update, dict):
            raise DeploymentError(
                source, uwhere, "expected a mapping with 'action' and/or 'timeoutInSeconds'"
            )
        _refuse_unknown(source, uwhere, update, UPDATE_POLICY_KEYS)
        action = _get(update, "action") or action
        if action not in UPDATE_ACTIONS:
            raise DeploymentError(
                source, f"{uwhere}.action", f"expected one of {', '.join(UPDATE_ACTIONS)}, got {action!r}"
            )
        if _get(update, "timeoutInSeconds") is not None:
            update_timeout = _seconds(
                source, f"{uwhere}.timeoutInSeconds", _get(update, "timeoutInSeconds"), minimum=1
            )
    validation_timeout = DEFAULT_VALIDATION_TIMEOUT_SECONDS
    validation = _get(policies, "configurationValidationPolicy")
    if validation is not None:
        vwhere = f"{where}.configurationValidationPolicy"
        if not isinstance(validation, dict):
            raise DeploymentError(source, vwhere, "expected a mapping with 'timeoutInSeconds'")
        _refuse_unknown(source, vwhere, validation, VALIDATION_POLICY_KEYS)
        if _get(validation, "timeoutInSeconds") is not None:
            validation_timeout = _seconds(
                source, f"{vwhere}.timeoutInSeconds", _get(validation, "timeoutInSeconds"), minimum=1
            )
    return DeploymentPolicies(failure, action, update_timeout, validation_timeout)


def _configuration_update(
    source: Path | str, where: str, update: Any
) -> tuple[dict[str, Any] | None, list[str] | None]:
    if update is None:
        return None, None
    where = f"{where}.configurationUpdate"
    if not isinstance(update, dict):
        raise DeploymentError(source, where, "expected a mapping with 'merge' and/or 'reset'")
    _refuse_unknown(source, where, update, CONFIGURATION_UPDATE_KEYS)
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


def _run_with(source: Path | str, where: str, run_with: Any) -> tuple[ResourceLimits, str | None]:
    if run_with is None:
        return ResourceLimits(), None
    where = f"{where}.runWith"
    if not isinstance(run_with, dict):
        raise DeploymentError(source, where, f"expected a mapping of {', '.join(RUN_WITH_KEYS)}")
    _refuse_unknown(source, where, run_with, RUN_WITH_KEYS)
    posix_user = _get(run_with, "posixUser")
    if posix_user is not None and (not isinstance(posix_user, str) or not posix_user):
        raise DeploymentError(
            source, f"{where}.posixUser", f"expected 'user' or 'user:group', got {posix_user!r}"
        )
    limits = _get(run_with, "systemResourceLimits")
    if limits is None:
        return ResourceLimits(), posix_user
    where = f"{where}.systemResourceLimits"
    if not isinstance(limits, dict):
        raise DeploymentError(source, where, "expected a mapping with 'memory' (KB) and/or 'cpus'")
    _refuse_unknown(source, where, limits, LIMIT_KEYS)
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
    return ResourceLimits(memory_kb=memory, cpus=float(cpus) if cpus is not None else None), posix_user


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
