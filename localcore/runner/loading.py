"""Reading a set of recipes into the components a core will run, and the ones it refuses.

A broken recipe, a name defined twice, a component ``--only`` asked for that no recipe defines,
and a deployment naming another version than the recipe's are each refused with the error that
says why; the rest are kept by name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from localcore.logfmt import kv
from localcore.runner.dependencies import STAND_IN_COMPONENTS, with_dependencies
from localcore.runner.deployment import ComponentDeployment
from localcore.runner.errors import DeploymentError, RecipeError, RunnerError, UnknownComponentError
from localcore.runner.recipe import Recipe, component_name_of

if TYPE_CHECKING:
    from localcore.profiles.base import NucleusProfile

_log = logging.getLogger("localcore.runner")


@dataclass
class LoadedRecipes:
    """The recipes a core keeps, by component name, and those refused with their reason."""

    recipes: dict[str, Recipe] = field(default_factory=dict)
    refused: dict[str, RunnerError] = field(default_factory=dict)


def load_recipes(
    paths: Iterable[Path],
    *,
    only: Iterable[str] | None = None,
    deployment: Mapping[str, ComponentDeployment] | None = None,
    profile: NucleusProfile | None = None,
) -> LoadedRecipes:
    """Load every recipe file; keep ``only`` these components and what they depend on (all without it).

    ``profile`` reads each recipe as its nucleus does (default classic) and may fail the whole set.
    """
    from localcore.profiles import profile_named

    nucleus = profile_named(profile)
    result = LoadedRecipes()
    loaded = result.recipes
    for path in paths:
        try:
            recipe = nucleus.load_recipe(path)
        except RecipeError as err:
            # The component's name is unknown if the recipe is broken: guess it from the file.
            name = component_name_of(path)
            result.refused[name] = err
            _log.error(kv(event="recipe_refused", file=path, error=err))
            continue
        if recipe.name in loaded:
            result.refused[recipe.name] = RecipeError(
                path, "ComponentName", f"{recipe.name} is also defined by {loaded[recipe.name].source}"
            )
            continue
        loaded[recipe.name] = recipe
    defined = set(loaded) | set(result.refused)
    if only is not None:
        asked = set(only)
        wanted = with_dependencies(asked, loaded)
        for name in sorted(asked - set(loaded) - set(result.refused)):
            result.refused[name] = UnknownComponentError(name)
        result.recipes = {name: recipe for name, recipe in loaded.items() if name in wanted}
        result.refused = {
            name: err for name, err in result.refused.items() if name in wanted or name in asked
        }
    check_deployment(deployment or {}, result, defined)
    failure = nucleus.deployment_failure(result.recipes, set(deployment or {}))
    if failure is not None:
        # nucleus lite fails the whole deployment, not only the component that cannot resolve.
        _log.error(kv(event="deployment_failed", nucleus=nucleus.name, error=failure))
        for name in result.recipes:
            result.refused[name] = failure
        result.recipes = {}
    return result


def check_deployment(
    deployment: Mapping[str, ComponentDeployment], loaded: LoadedRecipes, defined: set[str] | None = None
) -> None:
    """Refuse a component whose deployment entry names another version than its recipe's.

    Raises:
        DeploymentError: the deployment names a component no recipe defines (and that is not a
            component the core stands in for): a misspelt name would otherwise deploy nothing.
    """
    known = set(defined if defined is not None else set(loaded.recipes) | set(loaded.refused))
    for name, entry in deployment.items():
        if name not in loaded.recipes:
            if name not in known and name not in STAND_IN_COMPONENTS:
                expected = ", ".join(sorted(known)) or "none"
                raise DeploymentError(
                    "deployment",
                    f"components.{name}",
                    f"unknown component {name!r}: no recipe defines it (recipes define: {expected})",
                )
            continue
        version = loaded.recipes[name].version
        if entry.version is not None and entry.version != version:
            loaded.refused[name] = DeploymentError(
                "deployment",
                f"components.{name}.componentVersion",
                f"expected {version} (the recipe's version), got {entry.version}",
            )
