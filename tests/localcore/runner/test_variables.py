"""Recipe variables: each namespace, cross-component forms, and what stays unreplaced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from localcore.runner.variables import Interpolator, configuration_text, resolve_pointer

from .conftest import RECIPES

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
    core = local_core(recipes, thing_name="line-thing")
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
    # AND accessControl was registered with its variables replaced
    assert core.runner._access_control("test.Variables") == {
        "aws.greengrass.ipc.pubsub": {
            "test.Variables:pubsub:1": {
                "operations": ["aws.greengrass#PublishToTopic"],
                "resources": ["factory/line-thing/line-7"],
            }
        }
    }
