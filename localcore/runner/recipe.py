"""Recipe loading: YAML or JSON, RecipeFormatVersion 2020-01-25, into typed ``Recipe`` objects.

Follows the nucleus' parser (reference section 5): keys are case-insensitive, the first manifest
whose ``Platform`` matches this machine is used, and a manifest without a ``Lifecycle`` takes the
recipe's global ``Lifecycle`` filtered by its ``Selections`` (default ``all``). Anything that does
not fit raises :class:`RecipeError` naming the file, the key path and what was expected.

Example::

    recipe = load_recipe(Path("recipes/sensing.yaml"))
    recipe.name, recipe.version, recipe.lifecycle.run.script
"""

from __future__ import annotations

import datetime
import json
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import semantic_version
import yaml

from localcore.runner.errors import RecipeError

FORMAT_VERSION = "2020-01-25"
COMPONENT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9\-_.]+$")
STEP_NAMES = ("bootstrap", "install", "startup", "run", "shutdown", "recover")
STEP_KEYS = ("script", "timeout", "skipif", "setenv", "requiresprivilege")
LIFECYCLE_KEYWORDS = frozenset((*STEP_NAMES, *STEP_KEYS))
DEPENDENCY_TYPES = ("HARD", "SOFT")
COMPONENT_TYPES = (
    "aws.greengrass.generic",
    "aws.greengrass.lambda",
    "aws.greengrass.plugin",
    "aws.greengrass.nucleus",
)
RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Step:
    """One lifecycle step: a shell script with optional Timeout (s), Skipif and step-level Setenv."""

    script: str
    timeout: float | None = None
    skipif: tuple[str, str] | None = None  # ("onpath", exe) or ("exists", path)
    setenv: Mapping[str, str] = field(default_factory=dict)
    requires_privilege: bool = False


@dataclass(frozen=True)
class Lifecycle:
    """The lifecycle the runner executes for this machine."""

    setenv: Mapping[str, str] = field(default_factory=dict)
    bootstrap: Step | None = None
    install: Step | None = None
    startup: Step | None = None
    run: Step | None = None
    shutdown: Step | None = None
    recover: Step | None = None


@dataclass(frozen=True)
class Artifact:
    """An artifact of the selected manifest."""

    uri: str
    unarchive: str = "NONE"  # NONE or ZIP

    @property
    def file_name(self) -> str:
        """The artifact's file name (the last path segment of its URI)."""
        return self.uri.rstrip("/").rsplit("/", 1)[-1].split(":", 1)[-1]


@dataclass(frozen=True)
class Dependency:
    """One entry of ``ComponentDependencies``."""

    name: str
    version_requirement: str = "*"
    dependency_type: str = "HARD"


@dataclass(frozen=True)
class Recipe:
    """A validated recipe, reduced to what this machine runs."""

    source: Path
    name: str
    version: str
    lifecycle: Lifecycle
    description: str = ""
    publisher: str = ""
    component_type: str = "aws.greengrass.generic"
    default_configuration: Mapping[str, Any] = field(default_factory=dict)
    dependencies: Mapping[str, Dependency] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()
    platform: Mapping[str, str] = field(default_factory=dict)


# --- this machine ----------------------------------------------------------------------------------
def machine_platform() -> dict[str, str]:
    """This machine in the nucleus' platform vocabulary (``os``, ``architecture``, ``architecture.detail``)."""
    machine = platform.machine().lower()
    architecture = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "aarch64",
        "arm64": "aarch64",
        "i386": "x86",
        "i686": "x86",
        "x86": "x86",
    }.get(machine, "arm" if machine.startswith("arm") else machine)
    found = {"os": platform.system().lower(), "architecture": architecture}
    detail = {"armv6l": "arm61", "armv7l": "arm71", "armv8l": "arm81"}.get(machine)
    if detail:
        found["architecture.detail"] = detail
    return found


def platform_matches(wanted: Mapping[str, str], machine: Mapping[str, str]) -> bool:
    """Whether a manifest's Platform accepts ``machine``: exact, ``*`` (also ``all``), or ``/regex/``."""
    for key, value in wanted.items():
        if value in ("*", "all"):
            continue
        actual = machine.get(key.lower())
        if actual is None:
            return False
        if len(value) > 1 and value.startswith("/") and value.endswith("/"):
            if not re.fullmatch(value[1:-1], actual):
                return False
        elif value.lower() != actual.lower():
            return False
    return True


# --- loading ---------------------------------------------------------------------------------------
def load_recipe(path: Path, machine: Mapping[str, str] | None = None) -> Recipe:
    """Load and validate one recipe file for ``machine`` (default: this machine)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(path, "", f"cannot read the file ({err})") from err
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise RecipeError(
            path, "", f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {err}"
        ) from err
    return parse_recipe(document, path, machine or machine_platform())


def recipe_files(folder: Path) -> list[Path]:
    """The recipe files of a folder (``*.yaml``, ``*.yml``, ``*.json``), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in RECIPE_SUFFIXES)


class _Reader:
    """Case-insensitive access to one mapping of the recipe, remembering its key path for errors."""

    def __init__(self, source: Path, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise RecipeError(source, path or "(top level)", f"expected a mapping, got {_describe(value)}")
        self.source = source
        self.path = path
        self.items: dict[str, tuple[str, Any]] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RecipeError(source, path, f"expected string keys, got {key!r}")
            if key.lower() in self.items:
                raise RecipeError(
                    source,
                    self.child(key),
                    f"duplicate key (keys are case-insensitive: {self.items[key.lower()][0]!r})",
                )
            self.items[key.lower()] = (key, item)

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def key_path(self, key: str) -> str:
        original = self.items.get(key.lower(), (key, None))[0]
        return self.child(original)

    def has(self, key: str) -> bool:
        return key.lower() in self.items

    def raw(self, key: str) -> Any:
        return self.items.get(key.lower(), (key, None))[1]

    def error(self, key: str, problem: str) -> RecipeError:
        return RecipeError(self.source, self.key_path(key), problem)

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            if required:
                raise self.error(key, "required, expected a string")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"expected a string, got {_describe(value)}")
        return str(value)

    def mapping(self, key: str) -> _Reader | None:
        value = self.raw(key)
        return None if value is None else _Reader(self.source, value, self.key_path(key))


def _describe(value: Any) -> str:
    kinds = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    return f"{kinds.get(type(value), type(value).__name__)} ({json.dumps(value, default=str)[:60]})"


def parse_recipe(document: Any, source: Path, machine: Mapping[str, str]) -> Recipe:
    """Validate a parsed recipe document; see :func:`load_recipe`."""
    top = _Reader(source, document, "")
    _check_format_version(top)
    name = top.string("ComponentName", required=True)
    if not COMPONENT_NAME_PATTERN.match(name) or len(name) > 128:
        raise top.error(
            "ComponentName",
            f"expected letters, digits, '-', '_' or '.', at most 128 characters, got {name!r}",
        )
    version = _check_version(top)
    component_type = top.string("ComponentType", default="aws.greengrass.generic")
    if component_type.lower() not in COMPONENT_TYPES:
        raise top.error(
            "ComponentType", f"expected one of {', '.join(COMPONENT_TYPES)}, got {component_type!r}"
        )
    manifest_index, manifest = _select_manifest(top, machine)
    lifecycle = _manifest_lifecycle(top, manifest, manifest_index)
    return Recipe(
        source=source,
        name=name,
        version=version,
        lifecycle=lifecycle,
        description=top.string("ComponentDescription"),
        publisher=top.string("ComponentPublisher"),
        component_type=component_type.lower(),
        default_configuration=_default_configuration(top),
        dependencies=_dependencies(top),
        artifacts=_artifacts(manifest),
        platform=_platform_of(manifest),
    )


def _check_format_version(top: _Reader) -> None:
    value = top.raw("RecipeFormatVersion")
    # An unquoted 2020-01-25 in YAML is a date; it means the same thing.
    if isinstance(value, datetime.date):
        value = value.isoformat()
    if value is None:
        raise top.error("RecipeFormatVersion", f"required, expected {FORMAT_VERSION!r}")
    if value != FORMAT_VERSION:
        raise top.error("RecipeFormatVersion", f"expected {FORMAT_VERSION!r}, got {value!r}")


def _check_version(top: _Reader) -> str:
    value = top.raw("ComponentVersion")
    if not isinstance(value, str):
        hint = " (quote it: an unquoted 1.0 is a number in YAML)" if isinstance(value, int | float) else ""
        raise top.error(
            "ComponentVersion",
            f"expected a semantic version string like '1.0.0', got {_describe(value)}{hint}",
        )
    try:
        parsed = semantic_version.Version(value)
    except ValueError as err:
        raise top.error(
            "ComponentVersion", f"expected a semantic version like '1.0.0', got {value!r}"
        ) from err
    if len(value) > 64 or max(parsed.major, parsed.minor, parsed.patch) > 999999:
        raise top.error(
            "ComponentVersion", f"expected at most 64 characters and parts <= 999999, got {value!r}"
        )
    return value


def _default_configuration(top: _Reader) -> dict[str, Any]:
    configuration = top.mapping("ComponentConfiguration")
    if configuration is None:
        return {}
    defaults = configuration.raw("DefaultConfiguration")
    if defaults is None:
        return {}
    if not isinstance(defaults, dict):
        raise configuration.error("DefaultConfiguration", f"expected a mapping, got {_describe(defaults)}")
    return defaults


def _dependencies(top: _Reader) -> dict[str, Dependency]:
    deps = top.mapping("ComponentDependencies")
    if deps is None:
        return {}
    found: dict[str, Dependency] = {}
    for original, value in deps.items.values():
        entry = _Reader(deps.source, value if value is not None else {}, deps.child(original))
        requirement = entry.string("VersionRequirement", default="*")
        try:
            semantic_version.NpmSpec(requirement)
        except ValueError as err:
            raise entry.error(
                "VersionRequirement",
                f"expected an npm-style version range like '>=1.0.0 <2.0.0' or '^1.1.0', got {requirement!r}",
            ) from err
        kind = entry.string("DependencyType", default="HARD").upper()
        if kind not in DEPENDENCY_TYPES:
            raise entry.error("DependencyType", f"expected HARD or SOFT, got {entry.raw('DependencyType')!r}")
        found[original] = Dependency(original, requirement, kind)
    return found


def _select_manifest(top: _Reader, machine: Mapping[str, str]) -> tuple[int, _Reader]:
    manifests = top.raw("Manifests")
    if not isinstance(manifests, list) or not manifests:
        raise top.error(
            "Manifests", f"required, expected a non-empty list of manifests, got {_describe(manifests)}"
        )
    for index, value in enumerate(manifests):
        if value is None:
            raise RecipeError(top.source, f"Manifests[{index}]", "expected a manifest, got null")
        manifest = _Reader(top.source, value, f"Manifests[{index}]")
        wanted = _platform_of(manifest)
        if platform_matches(wanted, machine):
            return index, manifest
    described = ", ".join(f"{k}={v}" for k, v in machine.items())
    raise top.error("Manifests", f"no manifest's Platform matches this machine ({described})")


def _platform_of(manifest: _Reader) -> dict[str, str]:
    platform_reader = manifest.mapping("Platform")
    if platform_reader is None:
        return {}
    return {
        original.lower(): platform_reader.string(original) for original, _ in platform_reader.items.values()
    }


def _artifacts(manifest: _Reader) -> tuple[Artifact, ...]:
    value = manifest.raw("Artifacts")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise manifest.error("Artifacts", f"expected a list, got {_describe(value)}")
    found: list[Artifact] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        entry = _Reader(manifest.source, item, f"{manifest.key_path('Artifacts')}[{index}]")
        uri = entry.string("URI", required=True)
        unarchive = entry.string("Unarchive", default="NONE").upper()
        if unarchive not in ("NONE", "ZIP"):
            raise entry.error("Unarchive", f"expected NONE or ZIP, got {entry.raw('Unarchive')!r}")
        artifact = Artifact(uri, unarchive)
        if artifact.file_name in names:
            raise entry.error(
                "URI", f"artifact file names must be unique within a manifest; {artifact.file_name!r} repeats"
            )
        names.add(artifact.file_name)
        found.append(artifact)
    return tuple(found)


def _manifest_lifecycle(top: _Reader, manifest: _Reader, index: int) -> Lifecycle:
    if manifest.has("Lifecycle") and manifest.raw("Lifecycle") is not None:
        raw = manifest.raw("Lifecycle")
        if isinstance(raw, str):
            # The nucleus accepts a manifest Lifecycle given as a YAML/JSON string.
            try:
                raw = yaml.safe_load(raw)
            except yaml.YAMLError as err:
                raise manifest.error(
                    "Lifecycle", f"expected a mapping (or a YAML string of one): {err}"
                ) from err
        return _parse_lifecycle(top.source, raw, manifest.key_path("Lifecycle"))
    global_lifecycle = top.raw("Lifecycle")
    if global_lifecycle is None:
        return Lifecycle()
    selections = manifest.raw("Selections")
    if selections is None:
        selections = ["all"]
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise manifest.error("Selections", f"expected a list of selection keys, got {_describe(selections)}")
    selected = select_lifecycle(global_lifecycle, [s.lower() for s in selections])
    return _parse_lifecycle(
        top.source, selected, f"Lifecycle (Selections {selections} of Manifests[{index}])"
    )


def select_lifecycle(node: Any, selections: list[str], *, structural: bool = True) -> Any:
    """Keep the parts of a global lifecycle that the selection keys pick (docs: recipe Selections).

    At structural levels (the lifecycle map and step objects) a key that is not a lifecycle keyword
    is a selection key: its content is merged in when selected and dropped otherwise. ``Setenv``
    maps hold variable names, never selection keys. A ``Script`` given as a mapping chooses by key.
    """
    if not isinstance(node, dict):
        return node
    if not structural:
        return dict(node)
    result: dict[str, Any] = {}
    picked: Any = None
    for key, value in node.items():
        lowered = str(key).lower()
        if lowered in LIFECYCLE_KEYWORDS:
            inner_structural = lowered != "setenv"
            if lowered == "script" and isinstance(value, dict):
                value = _pick_by_selection(value, selections)
            result[key] = select_lifecycle(value, selections, structural=inner_structural)
        elif lowered in selections:
            chosen = select_lifecycle(value, selections)
            if isinstance(chosen, dict):
                result.update(chosen)
            else:
                picked = chosen
    if picked is not None and not result:
        return picked
    return result


def _pick_by_selection(options: dict[str, Any], selections: list[str]) -> Any:
    lowered = {str(k).lower(): v for k, v in options.items()}
    for selection in selections:
        if selection in lowered:
            return lowered[selection]
    return None


def _parse_lifecycle(source: Path, raw: Any, path: str) -> Lifecycle:
    reader = _Reader(source, raw, path)
    steps: dict[str, Step | None] = {}
    setenv: dict[str, str] = {}
    for lowered, (original, value) in reader.items.items():
        if lowered == "setenv":
            setenv = _parse_setenv(source, value, reader.child(original))
        elif lowered in STEP_NAMES:
            steps[lowered] = _parse_step(source, value, reader.child(original))
        else:
            raise RecipeError(
                source,
                reader.child(original),
                f"unknown lifecycle step; expected Setenv or one of {', '.join(s.capitalize() for s in STEP_NAMES)}",
            )
    if steps.get("startup") and steps.get("run"):
        raise RecipeError(source, path, "Startup and Run are mutually exclusive; expected only one of them")
    return Lifecycle(setenv=setenv, **steps)


def _parse_setenv(source: Path, value: Any, path: str) -> dict[str, str]:
    reader = _Reader(source, value if value is not None else {}, path)
    result: dict[str, str] = {}
    for original, item in reader.items.values():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise RecipeError(
                source, reader.child(original), f"expected a string value, got {_describe(item)}"
            )
        result[original] = str(item)
    return result


def _parse_step(source: Path, value: Any, path: str) -> Step | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Step(script=value)
    reader = _Reader(source, value, path)
    for lowered, (original, _) in reader.items.items():
        if lowered not in STEP_KEYS:
            raise RecipeError(
                source,
                reader.child(original),
                "unknown step key; expected one of Script, Timeout, Skipif, Setenv, RequiresPrivilege",
            )
    script = reader.raw("Script")
    if not isinstance(script, str):
        raise reader.error("Script", f"required, expected a shell script string, got {_describe(script)}")
    timeout: float | None = None
    if reader.raw("Timeout") is not None:
        raw_timeout = reader.raw("Timeout")
        try:
            timeout = float(raw_timeout)
        except (TypeError, ValueError):
            timeout = -1.0
        if isinstance(raw_timeout, bool) or timeout <= 0:
            raise reader.error("Timeout", f"expected a positive number of seconds, got {raw_timeout!r}")
    return Step(
        script=script,
        timeout=timeout,
        skipif=_parse_skipif(reader),
        setenv=_parse_setenv(source, reader.raw("Setenv"), reader.key_path("Setenv")),
        requires_privilege=_parse_bool(reader, "RequiresPrivilege"),
    )


def _parse_skipif(reader: _Reader) -> tuple[str, str] | None:
    raw = reader.raw("Skipif")
    if raw is None:
        return None
    parts = str(raw).strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() not in ("onpath", "exists"):
        raise reader.error("Skipif", f"expected 'onpath <executable>' or 'exists <file>', got {raw!r}")
    return parts[0].lower(), parts[1].strip()


def _parse_bool(reader: _Reader, key: str) -> bool:
    raw = reader.raw(key)
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise reader.error(key, f"expected true or false, got {raw!r}")
