"""The bundle's own recipes (``recipes/``) load, pass validation and their dependencies resolve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bundledev.plugin import EdgeBundlePlugin
from localcore.runner.artifacts import ArtifactResolver
from localcore.runner.dependencies import plan_start_order
from localcore.runner.recipe import load_recipe, recipe_files

REPO = Path(__file__).resolve().parents[2]
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
    resolver = ArtifactResolver(tmp_path, REPO, EdgeBundlePlugin().artifact_sources())
    for artifact in recipe.artifacts:
        assert resolver.locate(recipe, artifact).is_file()


# GDK's recipe schema lives in the shared reference beside the repository (not copied into it).
GDK_RECIPE_SCHEMA = REPO.parent / "shared" / "reference" / "gdk-schemas" / "recipe_schema.json"


def _lowercase_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).lower(): _lowercase_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lowercase_keys(item) for item in value]
    return value


@pytest.mark.skipif(
    not GDK_RECIPE_SCHEMA.is_file(), reason="GDK's recipe schema is not beside the repository"
)
@pytest.mark.parametrize("path", BUNDLE_RECIPES, ids=[p.name for p in BUNDLE_RECIPES])
def test_bundle_recipe_passes_gdk_validation(path: Path) -> None:
    # What `gdk component build` checks: every key lowercased, then JSON Schema draft 7.
    import jsonschema
    import yaml

    schema = json.loads(GDK_RECIPE_SCHEMA.read_text())
    document = _lowercase_keys(yaml.safe_load(path.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(document)
    ]
    assert errors == []


@pytest.mark.soak
def test_the_whole_bundle_runs_and_stays_running(tmp_path: Path) -> None:
    # What `make run` does, with the embedded cloud: every component RUNNING, and still so 30 s later.
    from bundledev.cloud_description import describe_bundle
    from bundlespec import load_spec
    from localcore.cloud.service import embedded_cloud_factory
    from localcore.testing import running_core

    names = [load_recipe(p).name for p in BUNDLE_RECIPES]
    with running_core(
        tmp_path,
        REPO / "recipes",
        thing_name="dev-1",
        cloud=embedded_cloud_factory(description=describe_bundle(load_spec(), "dev-1")),
        project_root=REPO,
        artifact_sources=EdgeBundlePlugin().artifact_sources(),
    ) as core:
        for name in names:
            core.wait_for_state(name, "RUNNING", timeout=120)
        left_running = core.runner.wait_until(
            lambda: any(core.state(n) != "RUNNING" for n in names), timeout=30
        )
        assert not left_running, {n: core.state(n) for n in names}
