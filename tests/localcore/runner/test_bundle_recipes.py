"""The bundle's own recipes (``recipes/``) load, pass validation and their dependencies resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcore.runner.artifacts import ArtifactResolver
from localcore.runner.dependencies import plan_start_order
from localcore.runner.recipe import load_recipe, recipe_files

REPO = Path(__file__).resolve().parents[3]
BUNDLE_RECIPES = recipe_files(REPO / "recipes")


@pytest.mark.parametrize("path", BUNDLE_RECIPES, ids=[p.name for p in BUNDLE_RECIPES])
def test_bundle_recipe_loads(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.lifecycle.run is not None or recipe.lifecycle.startup is not None, (
        f"{path.name} starts nothing"
    )


def test_bundle_dependencies_resolve() -> None:
    recipes = {r.name: r for r in map(load_recipe, BUNDLE_RECIPES)}
    plan = plan_start_order(recipes)
    assert plan.refused == {}
    assert sorted(plan.order) == sorted(recipes)


@pytest.mark.parametrize("path", BUNDLE_RECIPES, ids=[p.name for p in BUNDLE_RECIPES])
def test_bundle_artifacts_resolve_locally(path: Path, tmp_path: Path) -> None:
    # Every artifact URI resolves to a real file without a network (greengrass-build/ or the source zip).
    recipe = load_recipe(path)
    resolver = ArtifactResolver(tmp_path, REPO)
    for artifact in recipe.artifacts:
        assert resolver.locate(recipe, artifact).is_file()
