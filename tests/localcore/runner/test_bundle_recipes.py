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


@pytest.mark.soak
def test_the_whole_bundle_runs_and_stays_running(tmp_path: Path) -> None:
    # What `make run` does, with the embedded cloud: every component RUNNING, and still so 30 s later.
    from localcore.cloud.service import embedded_cloud_factory
    from localcore.testing import running_core

    names = [load_recipe(p).name for p in BUNDLE_RECIPES]
    with running_core(
        tmp_path, REPO / "recipes", thing_name="dev-1", cloud=embedded_cloud_factory(), project_root=REPO
    ) as core:
        for name in names:
            core.wait_for_state(name, "RUNNING", timeout=120)
        left_running = core.runner.wait_until(
            lambda: any(core.state(n) != "RUNNING" for n in names), timeout=30
        )
        assert not left_running, {n: core.state(n) for n in names}
