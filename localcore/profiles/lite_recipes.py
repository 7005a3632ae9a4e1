"""How nucleus lite reads recipes and resolves dependencies (nucleus-lite.md "Recipes", from
``LITE:docs/RECIPE_SUPPORT_CHANGES.md`` and observed):

- a manifest is selected only if its ``Platform`` has ``runtime`` ``"aws_nucleus_lite"`` or ``"*"``
  (else "No lifecycle was found for linux");
- keys are case sensitive: lifecycle steps are ``install``, ``run``, ``startup`` (``bootstrap``
  partly); ``Install``/``Run`` are not steps ("Recipes without at least 1 valid lifecycle step
  aren't currently supported");
- an empty ``ComponentDependencies`` map is an error ("Key ComponentDependencies is of invalid type.");
- a dependency lite has no recipe for is resolved in the cloud, which fails the whole deployment
  offline ("Cloud resolution for the component failed"); ``aws.greengrass.TokenExchangeService``
  is ignored as a dependency;
- numbers and booleans of the recipe's YAML come back from GetConfiguration as strings
  (nucleus-lite.md "Configuration");
- a local deployment reads recipes named ``NAME-VERSION.yaml``. localcore has no local-deployment
  command yet, so the rule is applied to the recipe folder: a recipe file named otherwise is
  reported (a warning naming the name lite looks for), and still run.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localcore.logfmt import kv
from localcore.runner.errors import DependencyError, RecipeError, RunnerError
from localcore.runner.model import Recipe
from localcore.runner.platforms import machine_platform, platform_matches
from localcore.runner.recipe import parse_recipe, read_recipe_document

_log = logging.getLogger("localcore.profiles.lite")

RUNTIME_KEY = "runtime"
LITE_RUNTIME = "aws_nucleus_lite"
RUNTIME_VALUES = (LITE_RUNTIME, "*")
#: Lifecycle steps lite runs, exactly as spelt (bootstrap only in part).
LITE_STEPS = ("install", "run", "startup", "bootstrap")
#: Other lifecycle keys lite accepts as written.
LITE_LIFECYCLE_KEYS = ("Setenv",)
#: Dependencies lite resolves without a recipe: it ignores TokenExchangeService, and still sets
#: the credentials URI for the component (observed). The version is the classic stand-in's.
LITE_STAND_INS: dict[str, str] = {"aws.greengrass.TokenExchangeService": "2.0.3"}
#: The file name lite's local deployment reads a recipe from.
FILE_NAME_PATTERN = "{name}-{version}"


def load_lite_recipe(path: Path) -> Recipe:
    """One recipe file as nucleus lite reads it (see the module docstring).

    Raises:
        RecipeError: lite would refuse it; the message quotes lite's own error and says what to change.
    """
    whole = read_recipe_document(path)
    document = whole.document
    _check_dependencies_key(document, path)
    manifest_index, manifest = _select_lite_manifest(document, path)
    manifest = _lite_lifecycle(manifest, path, manifest_index)
    selected = {**document, "Manifests": [manifest]}
    recipe = parse_recipe(selected, path, {**machine_platform(), RUNTIME_KEY: LITE_RUNTIME})
    expected = FILE_NAME_PATTERN.format(name=recipe.name, version=recipe.version)
    if path.stem != expected:
        _log.warning(
            kv(
                event="lite_recipe_file_name",
                file=path,
                expected=f"{expected}{path.suffix}",
                why="nucleus lite's local deployment reads recipes named NAME-VERSION.yaml",
            )
        )
    return dataclasses.replace(recipe, default_configuration=as_lite_strings(recipe.default_configuration))


def as_lite_strings(value: Any) -> Any:
    """Recipe configuration as lite hands it over: numbers and booleans become the strings YAML
    would print (``2.0`` -> ``"2.0"``, ``true`` -> ``"true"``); maps and lists keep their shape."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return {key: as_lite_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_lite_strings(item) for item in value]
    return value


def _check_dependencies_key(document: Mapping[str, Any], path: Path) -> None:
    if "ComponentDependencies" not in document:
        return
    value = document["ComponentDependencies"]
    if not isinstance(value, dict) or not value:
        raise RecipeError(
            path,
            "ComponentDependencies",
            "nucleus lite refuses it: 'Key ComponentDependencies is of invalid type.' "
            "(expected a non-empty map of dependencies; leave the key out when there are none)",
        )


def _select_lite_manifest(document: Mapping[str, Any], path: Path) -> tuple[int, dict[str, Any]]:
    manifests = document.get("Manifests")
    machine = {**machine_platform(), RUNTIME_KEY: LITE_RUNTIME}
    if isinstance(manifests, list):
        for index, manifest in enumerate(manifests):
            if not isinstance(manifest, dict):
                continue
            platform = manifest.get("Platform")
            if not isinstance(platform, dict) or platform.get(RUNTIME_KEY) not in RUNTIME_VALUES:
                continue
            wanted = {str(k): (None if v is None else str(v)) for k, v in platform.items()}
            if platform_matches(wanted, machine):
                return index, manifest
    raise RecipeError(
        path,
        "Manifests",
        "nucleus lite finds no manifest for this machine: 'No lifecycle was found for linux' "
        f"(it selects only a manifest whose Platform has {RUNTIME_KEY}: {LITE_RUNTIME} or '*', "
        "and otherwise matches the machine)",
    )


def _lite_lifecycle(manifest: dict[str, Any], path: Path, index: int) -> dict[str, Any]:
    """The manifest with only the lifecycle keys lite reads (it is case sensitive)."""
    lifecycle = manifest.get("Lifecycle")
    if not isinstance(lifecycle, dict):
        return manifest  # a global Lifecycle by Selections, or a string: read as classic reads it
    kept = {key: value for key, value in lifecycle.items() if key in LITE_STEPS or key in LITE_LIFECYCLE_KEYS}
    if not any(key in LITE_STEPS for key in kept):
        raise RecipeError(
            path,
            f"Manifests[{index}].Lifecycle",
            "nucleus lite refuses it: 'Recipes without at least 1 valid lifecycle step aren't currently "
            f"supported' (expected lower-case steps {', '.join(LITE_STEPS[:3])}; got {', '.join(map(str, lifecycle)) or 'none'})",
        )
    ignored = sorted(str(key) for key in lifecycle if key not in kept)
    if ignored:
        _log.warning(kv(event="lite_lifecycle_keys_ignored", file=path, keys=",".join(ignored)))
    return {**manifest, "Lifecycle": kept}


def lite_deployment_failure(recipes: Mapping[str, Recipe], deployment_names: set[str]) -> RunnerError | None:
    """Why lite fails the whole deployment offline: a component, a dependency or a deployment entry
    it has no recipe for needs cloud resolution ("Cloud resolution for the component failed")."""
    for recipe in recipes.values():
        for dep in recipe.dependencies.values():
            if dep.name not in recipes and dep.name not in LITE_STAND_INS:
                return DependencyError(
                    recipe.name,
                    f"depends on {dep.name!r} ({dep.dependency_type}), which nucleus lite has no recipe for: "
                    "it resolves it in the cloud, and offline the whole deployment fails "
                    "('Cloud resolution for the component failed'); remove the dependency or supply its recipe",
                )
    for name in sorted(deployment_names):
        if name not in recipes and name not in LITE_STAND_INS:
            return DependencyError(
                name,
                "the deployment names a component nucleus lite has no recipe for: it resolves it in the "
                "cloud, and offline the whole deployment fails ('Cloud resolution for the component failed')",
            )
    return None
