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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import semantic_version
import yaml

from localcore.runner.errors import RecipeError
from localcore.runner.lifecycle_parser import parse_lifecycle, select_lifecycle
from localcore.runner.model import Artifact, Dependency, Lifecycle, Recipe, Step
from localcore.runner.platforms import machine_platform, platform_matches
from localcore.runner.reader import RecipeReader, describe

# Re-exported: the runner and tests import the recipe's types and helpers from here.
__all__ = [
    "Artifact",
    "Dependency",
    "Lifecycle",
    "Recipe",
    "RecipeDocument",
    "RecipeError",
    "Step",
    "check_recipe_document",
    "component_name_of",
    "load_recipe",
    "machine_platform",
    "parse_recipe",
    "platform_matches",
    "read_recipe_document",
    "read_recipe_documents",
    "recipe_files",
    "select_lifecycle",
]

FORMAT_VERSION = "2020-01-25"
COMPONENT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9\-_.]+$")
DEPENDENCY_TYPES = ("HARD", "SOFT")
COMPONENT_TYPES = (
    "aws.greengrass.generic",
    "aws.greengrass.lambda",
    "aws.greengrass.plugin",
    "aws.greengrass.nucleus",
)
RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


# --- loading ---------------------------------------------------------------------------------------
def load_recipe(path: Path, machine: Mapping[str, str] | None = None) -> Recipe:
    """Load and validate one recipe file for ``machine`` (default: this machine)."""
    return parse_recipe(_parse_file(path), path, machine or machine_platform())


@dataclass(frozen=True)
class RecipeDocument:
    """A whole recipe file, every manifest kept: for tools that rewrite recipes (``make build``, the CDK app).

    Attributes:
        source: the file it was read from.
        name: ``ComponentName``, checked as the nucleus checks it.
        version: ``ComponentVersion``, a checked semantic version string.
        document: the parsed mapping, keys as written.
    """

    source: Path
    name: str
    version: str
    document: dict[str, Any]


def read_recipe_document(path: Path) -> RecipeDocument:
    """Read a recipe file whole (YAML or JSON) and check its format version, name and version.

    Unlike :func:`load_recipe` no manifest is selected, so a recipe for other machines reads too.

    Raises:
        RecipeError: unreadable, not a mapping, or a bad ``RecipeFormatVersion``/``ComponentName``/
            ``ComponentVersion``; the message names the file and the key.
    """
    return check_recipe_document(_parse_file(path), path)


def check_recipe_document(document: Any, source: Path) -> RecipeDocument:
    """An already parsed recipe, checked as :func:`read_recipe_document` checks a file."""
    if not isinstance(document, dict):
        raise RecipeError(source, "", f"expected a recipe mapping at the top level, got {describe(document)}")
    top = RecipeReader(source, document, "")
    _check_format_version(top)
    return RecipeDocument(source, _check_name(top), _check_version(top), document)


def read_recipe_documents(folder: Path) -> list[RecipeDocument]:
    """Every recipe of ``folder`` (see :func:`recipe_files`), read whole; component names must be unique."""
    if not folder.is_dir():
        raise RecipeError(folder, "", "recipes folder not found")
    found: dict[str, RecipeDocument] = {}
    for path in recipe_files(folder):
        recipe = read_recipe_document(path)
        if recipe.name in found:
            raise RecipeError(
                path,
                "ComponentName",
                f"component {recipe.name} is also defined in {found[recipe.name].source}",
            )
        found[recipe.name] = recipe
    return [found[name] for name in sorted(found)]


def _parse_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RecipeError(path, "", f"cannot read the file ({err})") from err
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise RecipeError(
            path, "", f"not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {err}"
        ) from err


def recipe_files(folder: Path) -> list[Path]:
    """The recipe files of a folder (``*.yaml``, ``*.yml``, ``*.json``), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in RECIPE_SUFFIXES)


def parse_recipe(document: Any, source: Path, machine: Mapping[str, str]) -> Recipe:
    """Validate a parsed recipe document; see :func:`load_recipe`."""
    top = RecipeReader(source, document, "")
    _check_format_version(top)
    name = _check_name(top)
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


def _check_name(top: RecipeReader) -> str:
    name = top.string("ComponentName", required=True)
    if not COMPONENT_NAME_PATTERN.match(name) or len(name) > 128:
        raise top.error(
            "ComponentName",
            f"expected letters, digits, '-', '_' or '.', at most 128 characters, got {name!r}",
        )
    return name


def _check_format_version(top: RecipeReader) -> None:
    value = top.raw("RecipeFormatVersion")
    # An unquoted 2020-01-25 in YAML is a date; it means the same thing.
    if isinstance(value, datetime.date):
        value = value.isoformat()
    if value is None:
        raise top.error("RecipeFormatVersion", f"required, expected {FORMAT_VERSION!r}")
    if value != FORMAT_VERSION:
        raise top.error("RecipeFormatVersion", f"expected {FORMAT_VERSION!r}, got {value!r}")


def _check_version(top: RecipeReader) -> str:
    value = top.raw("ComponentVersion")
    if not isinstance(value, str):
        hint = " (quote it: an unquoted 1.0 is a number in YAML)" if isinstance(value, int | float) else ""
        raise top.error(
            "ComponentVersion",
            f"expected a semantic version string like '1.0.0', got {describe(value)}{hint}",
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


def _default_configuration(top: RecipeReader) -> dict[str, Any]:
    configuration = top.mapping("ComponentConfiguration")
    if configuration is None:
        return {}
    defaults = configuration.raw("DefaultConfiguration")
    if defaults is None:
        return {}
    if not isinstance(defaults, dict):
        raise configuration.error("DefaultConfiguration", f"expected a mapping, got {describe(defaults)}")
    return defaults


def _dependencies(top: RecipeReader) -> dict[str, Dependency]:
    deps = top.mapping("ComponentDependencies")
    if deps is None:
        return {}
    found: dict[str, Dependency] = {}
    for original, value in deps.items.values():
        entry = RecipeReader(deps.source, value if value is not None else {}, deps.child(original))
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


def _select_manifest(top: RecipeReader, machine: Mapping[str, str]) -> tuple[int, RecipeReader]:
    manifests = top.raw("Manifests")
    if not isinstance(manifests, list) or not manifests:
        raise top.error(
            "Manifests", f"required, expected a non-empty list of manifests, got {describe(manifests)}"
        )
    for index, value in enumerate(manifests):
        if value is None:
            raise RecipeError(top.source, f"Manifests[{index}]", "expected a manifest, got null")
        manifest = RecipeReader(top.source, value, f"Manifests[{index}]")
        wanted = _platform_of(manifest)
        if platform_matches(wanted, machine):
            return index, manifest
    described = ", ".join(f"{k}={v}" for k, v in machine.items())
    raise top.error("Manifests", f"no manifest's Platform matches this machine ({described})")


def _platform_of(manifest: RecipeReader) -> dict[str, str]:
    platform_reader = manifest.mapping("Platform")
    if platform_reader is None:
        return {}
    return {
        original.lower(): platform_reader.string(original) for original, _ in platform_reader.items.values()
    }


def _artifacts(manifest: RecipeReader) -> tuple[Artifact, ...]:
    value = manifest.raw("Artifacts")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise manifest.error("Artifacts", f"expected a list, got {describe(value)}")
    found: list[Artifact] = []
    names: set[str] = set()
    for index, item in enumerate(value):
        entry = RecipeReader(manifest.source, item, f"{manifest.key_path('Artifacts')}[{index}]")
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


def _manifest_lifecycle(top: RecipeReader, manifest: RecipeReader, index: int) -> Lifecycle:
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
        return parse_lifecycle(top.source, raw, manifest.key_path("Lifecycle"))
    global_lifecycle = top.raw("Lifecycle")
    if global_lifecycle is None:
        return Lifecycle()
    selections = manifest.raw("Selections")
    if selections is None:
        selections = ["all"]
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise manifest.error("Selections", f"expected a list of selection keys, got {describe(selections)}")
    selected = select_lifecycle(global_lifecycle, [s.lower() for s in selections])
    return parse_lifecycle(top.source, selected, f"Lifecycle (Selections {selections} of Manifests[{index}])")


def component_name_of(path: Path) -> str:
    """A refused recipe's component name: from the file if it can be read at all, else the file name."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(document, dict):
            for key, value in document.items():
                if str(key).lower() == "componentname" and isinstance(value, str):
                    return value
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        pass
    return path.stem
