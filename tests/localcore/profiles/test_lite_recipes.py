"""The lite profile's recipe, dependency, configuration and environment rules.

Facts from ``/work/shared/reference/nucleus-lite.md`` "Recipes" (``LITE:docs/RECIPE_SUPPORT_CHANGES.md``
and observed), "Configuration" and "Process environment" (``LITE:modules/recipe-runner/src/runner.c``).
"""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from localcore.profiles import CLASSIC, LITE
from localcore.runner.deployment import parse_deployment
from localcore.runner.errors import RecipeError
from localcore.runner.loading import load_recipes
from localcore.testing import running_core

NAME = "com.example.Lite"
CLASSIC_MANIFEST = {"Platform": {"os": "linux"}, "Lifecycle": {"Run": "echo classic"}}
LITE_MANIFEST = {
    "Platform": {"os": "linux", "runtime": "aws_nucleus_lite"},
    "Lifecycle": {"run": "echo lite"},
}


def _recipe(folder: Path, manifests: list[dict[str, Any]], name: str = NAME, **top: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-1.0.0.yaml"
    document = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "Manifests": manifests,
        **top,
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_lite_selects_the_runtime_manifest_and_classic_the_other(tmp_path: Path) -> None:
    """ "Recipes": a manifest needs ``Platform.runtime`` ``aws_nucleus_lite`` or ``*``; the classic
    nucleus never selects one naming a runtime it lacks (its manifest comes first here)."""
    path = _recipe(tmp_path, [CLASSIC_MANIFEST, LITE_MANIFEST])
    assert LITE.load_recipe(path).lifecycle.run is not None
    assert LITE.load_recipe(path).lifecycle.run.script == "echo lite"  # type: ignore[union-attr]
    assert CLASSIC.load_recipe(path).lifecycle.run.script == "echo classic"  # type: ignore[union-attr]
    star = _recipe(tmp_path / "star", [{"Platform": {"runtime": "*"}, "Lifecycle": {"run": "echo star"}}])
    assert LITE.load_recipe(star).lifecycle.run.script == "echo star"  # type: ignore[union-attr]


def test_a_recipe_without_a_runtime_manifest_is_refused_as_lite_does(tmp_path: Path) -> None:
    """ "Recipes": without ``Platform.runtime`` lite says ``No lifecycle was found for linux``."""
    with pytest.raises(RecipeError, match="No lifecycle was found for linux"):
        LITE.load_recipe(_recipe(tmp_path, [CLASSIC_MANIFEST]))


def test_lifecycle_keys_are_case_sensitive(tmp_path: Path) -> None:
    """ "Recipes": steps are ``install``, ``run``, ``startup``; ``Install``/``Run`` give "Recipes
    without at least 1 valid lifecycle step aren't currently supported"."""
    capitalised = {
        "Platform": {"runtime": "aws_nucleus_lite"},
        "Lifecycle": {"Install": "true", "Run": "true"},
    }
    with pytest.raises(RecipeError, match="at least 1 valid lifecycle step"):
        LITE.load_recipe(_recipe(tmp_path, [capitalised]))
    mixed = {"Platform": {"runtime": "aws_nucleus_lite"}, "Lifecycle": {"Install": "false", "run": "echo ok"}}
    recipe = LITE.load_recipe(_recipe(tmp_path / "mixed", [mixed]))
    assert recipe.lifecycle.install is None  # lite does not read "Install"
    assert recipe.lifecycle.run.script == "echo ok"  # type: ignore[union-attr]


def test_an_empty_component_dependencies_map_is_an_error(tmp_path: Path) -> None:
    """ "Recipes": an empty ``ComponentDependencies`` is ``Key ComponentDependencies is of invalid type.``"""
    with pytest.raises(RecipeError, match="ComponentDependencies is of invalid type"):
        LITE.load_recipe(_recipe(tmp_path, [LITE_MANIFEST], ComponentDependencies={}))


def test_an_unresolvable_dependency_fails_the_whole_deployment(tmp_path: Path) -> None:
    """ "Recipes": a dependency lite has no recipe for (``aws.greengrass.ShadowManager``) is resolved in
    the cloud; offline that fails the whole deployment; TokenExchangeService is ignored."""
    shadow = {"aws.greengrass.ShadowManager": {"VersionRequirement": "^2.0.0"}}
    paths = [
        _recipe(tmp_path, [CLASSIC_MANIFEST, LITE_MANIFEST], ComponentDependencies=shadow),
        _recipe(tmp_path, [CLASSIC_MANIFEST, LITE_MANIFEST], name="com.example.Other"),
    ]
    loaded = load_recipes(paths, profile=LITE)
    assert loaded.recipes == {}
    assert set(loaded.refused) == {NAME, "com.example.Other"}
    assert "Cloud resolution for the component failed" in str(loaded.refused["com.example.Other"])
    assert set(load_recipes(paths).recipes) == {NAME, "com.example.Other"}  # classic stands in
    tes = {"aws.greengrass.TokenExchangeService": {"VersionRequirement": ">=2.0.0 <3.0.0"}}
    ok = _recipe(tmp_path / "tes", [LITE_MANIFEST], ComponentDependencies=tes)
    assert set(load_recipes([ok], profile=LITE).recipes) == {NAME}


def test_a_deployment_naming_a_component_lite_has_no_recipe_for_fails(tmp_path: Path) -> None:
    """ "Recipes": resolution in the cloud fails offline, for a deployment's component as for a dependency."""
    deployment = parse_deployment(
        {"components": {"aws.greengrass.ShadowManager": {"configurationUpdate": {"merge": {}}}}}, "d"
    )
    loaded = load_recipes([_recipe(tmp_path, [LITE_MANIFEST])], profile=LITE, deployment=deployment)
    assert set(loaded.refused) == {NAME}


def test_a_recipe_file_not_named_name_version_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ "Recipes": local deployments read recipes named ``NAME-VERSION.yaml``. localcore has no local
    deployment command yet, so the folder's files are checked and a misnamed one is reported."""
    path = _recipe(tmp_path, [LITE_MANIFEST])
    renamed = path.rename(tmp_path / f"{NAME}.yaml")
    with caplog.at_level(logging.WARNING, logger="localcore.profiles.lite"):
        LITE.load_recipe(renamed)
    assert f"{NAME}-1.0.0.yaml" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="localcore.profiles.lite"):
        LITE.load_recipe(_recipe(tmp_path / "good", [LITE_MANIFEST]))
    assert "lite_recipe_file_name" not in caplog.text


def test_configuration_strings_and_the_process_environment(tmp_path: Path) -> None:
    """ "Configuration": recipe YAML numbers and booleans come back from GetConfiguration as strings
    (``"2.0"``, ``"true"``); "Process environment": ``SVCUID`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN``
    (same value), ``GGC_VERSION``, ``AWS_REGION``, the ``..._FOR_COMPONENT`` socket variable only."""
    dump = f'{shlex.quote(sys.executable)} -c \'import json,os; print(json.dumps(dict(os.environ)), file=open("env.json","w"))\''
    manifest = {"Platform": {"runtime": "aws_nucleus_lite"}, "Lifecycle": {"run": f"{dump}; exec sleep 60"}}
    recipe = _recipe(
        tmp_path / "recipes",
        [manifest],
        ComponentConfiguration={
            "DefaultConfiguration": {"rate": 2.0, "enabled": True, "count": 3, "name": "x"}
        },
    )
    with running_core(tmp_path, recipe, nucleus="lite") as core:
        core.wait_for_state(NAME, "RUNNING")
        value = core.client_for(NAME).get_configuration(key_path=[]).value
        assert value == {"rate": "2.0", "enabled": "true", "count": "3", "name": "x"}
        env_file = core.root / "work" / NAME / "env.json"
        core.runner.wait_until(env_file.exists, 30)
        import json

        env = json.loads(env_file.read_text())
    assert env["SVCUID"] == env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert env["GGC_VERSION"] == "2.6.0"
    assert env["AWS_IOT_THING_NAME"] == "test-thing" and env["AWS_DEFAULT_REGION"] == env["AWS_REGION"]
    assert "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT" in env
    assert "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH" not in env
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in env  # no TokenExchangeService dependency
