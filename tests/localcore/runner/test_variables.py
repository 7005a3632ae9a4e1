"""Recipe variables: each namespace, cross-component forms, and what stays unreplaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localcore.runner.deployment import NUCLEUS, interpolates_component_configuration, parse_deployment
from localcore.runner.errors import DeploymentError
from localcore.runner.variables import Interpolator, configuration_text, resolve_pointer

from .conftest import RECIPES

# A deployment that sets the nucleus' interpolateComponentConfiguration, as infra/ used to.
INTERPOLATING = {
    "components": {NUCLEUS: {"configurationUpdate": {"merge": {"interpolateComponentConfiguration": True}}}}
}

CONFIG: dict[str, dict[str, Any]] = {
    "app": {
        "name": "line-7",
        "port": 8883,
        "ratio": 0.5,
        "on": True,
        "none": None,
        "obj": {"b": 2, "a": [1]},
        "a/b": "slash",
        "Mixed": "case",
    },
    "dep": {"greeting": "hi"},
    "other": {"greeting": "not yours"},
}


def interpolator(root: Path) -> Interpolator:
    return Interpolator(
        root=root,
        thing_name="thing-1",
        versions={"app": "1.2.3", "dep": "0.1.0", "other": "9.9.9"},
        dependencies={"app": {"dep"}, "dep": set(), "other": set()},
        configuration=lambda name: CONFIG.get(name, {}),
    )


def test_paths_thing_and_configuration(tmp_path: Path) -> None:
    it = interpolator(tmp_path)
    root = tmp_path.resolve()
    assert it.interpolate("app", "{artifacts:path}") == f"{root}/packages/artifacts/app/1.2.3"
    assert (
        it.interpolate("app", "{artifacts:decompressedPath}")
        == f"{root}/packages/artifacts-unarchived/app/1.2.3"
    )
    assert (
        it.interpolate("app", "{work:path}|{kernel:rootPath}|{iot:thingName}")
        == f"{root}/work/app|{root}|thing-1"
    )
    assert it.interpolate("app", "{configuration:/name}:{configuration:/port}") == "line-7:8883"
    assert (
        it.interpolate("app", "{configuration:/on} {configuration:/none} {configuration:/ratio}")
        == "true null 0.5"
    )
    # objects as JSON with sorted keys; pointer escapes; case-insensitive keys
    assert it.interpolate("app", "{configuration:/obj}") == '{"a":[1],"b":2}'
    assert (
        it.interpolate("app", "{configuration:/a~1b} {configuration:/mixed} {configuration:/obj/a/0}")
        == "slash case 1"
    )


def test_unresolvable_variables_stay_as_written(tmp_path: Path) -> None:
    it = interpolator(tmp_path)
    for text in (
        "{configuration:/missing}",
        "{nothing:here}",
        "{artifacts:unknownKey}",
        "{other:configuration:/greeting}",
        "{dep:madeup:x}",
    ):
        assert it.interpolate("app", text) == text


def test_cross_component_only_for_direct_dependencies(tmp_path: Path) -> None:
    it = interpolator(tmp_path)
    root = tmp_path.resolve()
    assert it.interpolate("app", "{dep:configuration:/greeting} {dep:work:path}") == f"hi {root}/work/dep"
    assert it.interpolate("app", "{dep:artifacts:path}") == f"{root}/packages/artifacts/dep/0.1.0"
    assert it.interpolate("dep", "{app:configuration:/name}") == "{app:configuration:/name}"


def test_access_control_trees_are_interpolated(tmp_path: Path) -> None:
    policy = {
        "aws.greengrass.ipc.pubsub": {
            "p": {"operations": ["*"], "resources": ["line/{iot:thingName}/{configuration:/name}", 5]}
        }
    }
    assert interpolator(tmp_path).interpolate_tree("app", policy) == {
        "aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["line/thing-1/line-7", 5]}}
    }


@given(st.text())
def test_text_without_braces_is_unchanged(text: str) -> None:
    text = text.replace("{", "").replace("}", "")
    assert interpolator(Path("/tmp")).interpolate("app", text) == text


def test_pointer_and_text_helpers() -> None:
    assert resolve_pointer({"a": {"b": 1}}, "") == {"a": {"b": 1}}
    assert configuration_text([1, {"b": 1, "a": 2}]) == '[1,{"a":2,"b":1}]'


def test_variables_reach_a_real_component(local_core: Any) -> None:
    # GIVEN a component that writes every variable it sees, with a file: and a ZIP artifact
    recipes = [RECIPES / "variables.yaml", RECIPES / "variables_dep.yaml", RECIPES / "unrelated.yaml"]
    core = local_core(recipes, thing_name="line-thing", deployment=INTERPOLATING)
    core.wait_for_state("test.Variables", "FINISHED")
    root = core.root
    lines = dict(
        line.split("=", 1) for line in (root / "work/test.Variables/variables.txt").read_text().splitlines()
    )
    # THEN each is replaced as the nucleus does, and unknown or non-dependency ones are left alone
    assert lines["artifacts.path"] == f"{root}/packages/artifacts/test.Variables/2.1.0"
    assert lines["artifacts.decompressedPath"] == f"{root}/packages/artifacts-unarchived/test.Variables/2.1.0"
    assert lines["work.path"] == lines["cwd"] == f"{root}/work/test.Variables"
    assert lines["kernel.rootPath"] == str(root)
    assert lines["iot.thingName"] == "line-thing"
    assert (lines["configuration.name"], lines["configuration.port"]) == ("line-7", "8883")
    assert lines["configuration.nested"] == '{"a":1,"b":2}'
    assert lines["configuration.missing"] == "{configuration:/missing}"
    assert lines["unknown.namespace"] == "{nothing:here}"
    assert lines["dep.configuration"] == "hi-from-dep"
    assert lines["dep.work"] == f"{root}/work/test.VariablesDep"
    assert lines["notdep.configuration"] == "{test.Unrelated:configuration:/greeting}"
    assert (lines["hello"], lines["unzipped"]) == ("hello artifact", "zipped data")
    # AND accessControl was registered with its variables replaced (the deployment lets the
    # nucleus interpolate component configuration)
    assert core.runner._access_control("test.Variables") == {
        "aws.greengrass.ipc.pubsub": {
            "test.Variables:pubsub:1": {
                "operations": ["aws.greengrass#PublishToTopic"],
                "resources": ["factory/line-thing/line-7"],
            }
        }
    }


def test_access_control_variables_stay_literal_unless_the_nucleus_interpolates_configuration(
    local_core: Any,
) -> None:
    """The nucleus replaces recipe variables in configuration, accessControl included, only when
    its ``interpolateComponentConfiguration`` is true, which defaults to false (nucleus
    ``DeviceConfiguration.java``: ``getTopic(DEVICE_PARAM_INTERPOLATE_COMPONENT_CONFIGURATION)
    .dflt(false)``; reference greengrass-ipc.md 4.3 and 5, greengrass-deployments.md 1.3).
    Lifecycle scripts are interpolated either way."""
    recipes = [RECIPES / "variables.yaml", RECIPES / "variables_dep.yaml", RECIPES / "unrelated.yaml"]
    core = local_core(recipes, thing_name="line-thing")
    core.wait_for_state("test.Variables", "FINISHED")
    lines = dict(
        line.split("=", 1)
        for line in (core.root / "work/test.Variables/variables.txt").read_text().splitlines()
    )
    assert lines["iot.thingName"] == "line-thing"
    policy = core.runner._access_control("test.Variables")
    assert policy["aws.greengrass.ipc.pubsub"]["test.Variables:pubsub:1"]["resources"] == [
        "factory/{iot:thingName}/{configuration:/name}"
    ]
    core_log = (core.root / "logs/greengrass.log").read_text()
    assert "event=nucleus_settings interpolateComponentConfiguration=False" in core_log
    assert "event=access_control_variables_not_interpolated component=test.Variables" in core_log
    assert "variables={configuration:/name},{iot:thingName}" in core_log


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("TRUE", True), ("false", False), (None, False)]
)
def test_the_nucleus_setting_is_read_from_the_deployment(value: Any, expected: bool) -> None:
    merge = {} if value is None else {"InterpolateComponentConfiguration": value}
    deployment = parse_deployment({"components": {NUCLEUS: {"configurationUpdate": {"merge": merge}}}}, "d")
    assert interpolates_component_configuration(deployment) is expected
    assert interpolates_component_configuration({}) is False


def test_a_setting_that_is_not_a_boolean_is_refused_naming_the_key() -> None:
    merge = {"interpolateComponentConfiguration": "yes"}
    deployment = parse_deployment({"components": {NUCLEUS: {"configurationUpdate": {"merge": merge}}}}, "d")
    with pytest.raises(DeploymentError) as raised:
        interpolates_component_configuration(deployment, "d.yaml")
    message = str(raised.value)
    assert (
        "components.aws.greengrass.Nucleus.configurationUpdate.merge.interpolateComponentConfiguration"
        in message
    )
    assert "expected true or false, got 'yes'" in message
