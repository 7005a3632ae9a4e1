"""The deployment file is refused on any key or value it does not understand, naming it.

The nucleus ignores unknown keys (``FAIL_ON_UNKNOWN_PROPERTIES`` false in NUC
``util/SerializerFactory.java``; reference greengrass-deployments.md section 1.1, trap 15): a
misspelt ``configurationUpdat:`` would deploy nothing. Refusing is the stand-in's deliberate
choice; every other message follows the API's and the nucleus' wording where one exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localcore.runner.deployment import (
    DeploymentPolicies,
    load_deployment_document,
    parse_deployment_document,
)
from localcore.runner.errors import DeploymentError
from localcore.runner.loading import LoadedRecipes, check_deployment


def _refused(document: Any) -> str:
    with pytest.raises(DeploymentError) as caught:
        parse_deployment_document(document, "d.yaml")
    return str(caught.value)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"component": {}}, "d.yaml: component: unknown key 'component' (did you mean 'components'?)"),
        (
            {"components": {"a": {"configurationUpdat": {"merge": {}}}}},
            "components.a.configurationUpdat: unknown key 'configurationUpdat' (did you mean "
            "'configurationUpdate'?); expected one of: componentVersion, configurationUpdate, runWith",
        ),
        (
            {"components": {"a": {"configurationUpdate": {"merg": {"x": 1}}}}},
            "components.a.configurationUpdate.merg: unknown key 'merg' (did you mean 'merge'?)",
        ),
        (
            {"components": {"a": {"runWith": {"systemResourceLimits": {"memry": 1}}}}},
            "components.a.runWith.systemResourceLimits.memry: unknown key 'memry'",
        ),
        ({"components": {"a": {"runWith": {"user": "x"}}}}, "components.a.runWith.user: unknown key 'user'"),
        (
            {"components": {}, "deploymentPolicies": {"failureHandling": "ROLLBACK"}},
            "deploymentPolicies.failureHandling: unknown key 'failureHandling' (did you mean "
            "'failureHandlingPolicy'?)",
        ),
        (
            {"components": {}, "deploymentPolicies": {"componentUpdatePolicy": {"timeout": 5}}},
            "deploymentPolicies.componentUpdatePolicy.timeout: unknown key 'timeout'",
        ),
        (
            {"components": {}, "deploymentPolicies": {"configurationValidationPolicy": {"timeout": 5}}},
            "deploymentPolicies.configurationValidationPolicy.timeout: unknown key 'timeout'",
        ),
        (
            {"components": {}, "deploymentPolicies": {"failureHandlingPolicy": "UNDO"}},
            "deploymentPolicies.failureHandlingPolicy: expected one of ROLLBACK, DO_NOTHING, got 'UNDO'",
        ),
        (
            {"components": {}, "deploymentPolicies": {"componentUpdatePolicy": {"action": "NOTIFY"}}},
            "componentUpdatePolicy.action: expected one of NOTIFY_COMPONENTS, SKIP_NOTIFY_COMPONENTS",
        ),
        (
            {"components": {}, "deploymentPolicies": {"componentUpdatePolicy": {"timeoutInSeconds": "60"}}},
            "componentUpdatePolicy.timeoutInSeconds: expected a whole number of seconds >= 1, got '60'",
        ),
        (
            {"components": {"a": {"componentVersion": "1.0"}}},
            "components.a.componentVersion: Unsupported component version '1.0' for component 'a'",
        ),
        ({"components": {"": {}}}, "components.: Target component name is empty"),
        ({"components": {}, "rootComponentsToRemove": "a"}, "rootComponentsToRemove: expected a list"),
        (
            {"components": {"a": {}}, "rootComponentsToRemove": ["a"]},
            "rootComponentsToRemove: a is both in components and to be removed",
        ),
        ({"components": {}, "recipeDirectoryPath": 3}, "recipeDirectoryPath: expected a non-empty string"),
        (["components"], "d.yaml: expected a mapping with a 'components' key"),
    ],
)
def test_every_bad_document_is_refused_naming_the_key(document: Any, expected: str) -> None:
    assert expected in _refused(document)


def test_an_unreadable_file_is_refused_with_the_parser_message(tmp_path: Path) -> None:
    path = tmp_path / "d.yaml"
    path.write_text("components: [unclosed\n", encoding="utf-8")
    with pytest.raises(DeploymentError, match="cannot read a JSON or YAML deployment"):
        load_deployment_document(path)


def test_a_full_cloud_shaped_document_with_local_options_is_read(tmp_path: Path) -> None:
    """The CreateDeployment shape (reference section 1.1) plus the Greengrass CLI's local options."""
    path = tmp_path / "d.yaml"
    path.write_text(
        """
deploymentName: line-1
targetArn: arn:aws:iot:us-east-1:123456789012:thinggroup/line-1
recipeDirectoryPath: recipes
artifactsDirectoryPath: /abs/artifacts
rootComponentsToRemove: [com.example.Old]
components:
  com.example.A:
    componentVersion: 1.1.0
    configurationUpdate: {merge: '{"x": 1}', reset: ["/y"]}
    runWith: {posixUser: "ggc_user:ggc_group", systemResourceLimits: {memory: 1024, cpus: 0.5}}
deploymentPolicies:
  failureHandlingPolicy: DO_NOTHING
  componentUpdatePolicy: {action: SKIP_NOTIFY_COMPONENTS, timeoutInSeconds: 30}
  configurationValidationPolicy: {timeoutInSeconds: 7}
""",
        encoding="utf-8",
    )
    document = load_deployment_document(path)
    entry = document.components["com.example.A"]
    assert (entry.version, entry.merge, entry.reset, entry.posix_user) == (
        "1.1.0",
        {"x": 1},
        ["/y"],
        "ggc_user:ggc_group",
    )
    assert document.policies == DeploymentPolicies("DO_NOTHING", "SKIP_NOTIFY_COMPONENTS", 30, 7)
    assert document.recipe_directory == tmp_path / "recipes"
    assert document.artifacts_directory == Path("/abs/artifacts")
    assert document.components_to_remove == ("com.example.Old",)
    assert document.name == "line-1"


def test_policies_default_to_the_cloud_deployment_defaults() -> None:
    """ROLLBACK, NOTIFY_COMPONENTS with 60 s, 20 s validation (reference section 1.2)."""
    policies = parse_deployment_document({"components": {}}, "d").policies
    assert policies == DeploymentPolicies("ROLLBACK", "NOTIFY_COMPONENTS", 60, 20)


def test_an_unknown_component_is_refused_naming_the_known_ones() -> None:
    """Today's warning was silently ignored; a misspelt name would deploy nothing."""
    document = parse_deployment_document({"components": {"com.example.Sensng": {}}}, "d")
    with pytest.raises(DeploymentError, match=r"unknown component 'com.example.Sensng'.*com.example.Sensing"):
        check_deployment(document.components, LoadedRecipes(), {"com.example.Sensing"})


def test_components_the_core_stands_in_for_are_known() -> None:
    document = parse_deployment_document({"components": {"aws.greengrass.ShadowManager": {}}}, "d")
    check_deployment(document.components, LoadedRecipes(), set())
