"""Recipe loading: formats, case-insensitive keys, platforms, selections, and every kind of bad recipe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localcore.runner.errors import RecipeError
from localcore.runner.recipe import load_recipe, parse_recipe, platform_matches, select_lifecycle

from .conftest import RECIPES

LINUX = {"os": "linux", "architecture": "amd64"}
SOURCE = Path("recipe.yaml")


def minimal(**overrides: Any) -> dict[str, Any]:
    recipe: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "test.Minimal",
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Lifecycle": {"Run": "true"}}],
    }
    recipe.update(overrides)
    return recipe


def test_yaml_and_json_give_the_same_recipe(tmp_path: Path) -> None:
    # GIVEN the same recipe as YAML and as JSON
    (tmp_path / "r.json").write_text(json.dumps(minimal()))
    (tmp_path / "r.yaml").write_text(
        "RecipeFormatVersion: 2020-01-25\nComponentName: test.Minimal\nComponentVersion: '1.0.0'\nManifests:\n  - Lifecycle: {Run: 'true'}\n"
    )
    # WHEN both load
    from_json, from_yaml = load_recipe(tmp_path / "r.json", LINUX), load_recipe(tmp_path / "r.yaml", LINUX)
    # THEN they agree (an unquoted YAML date for the format version is accepted)
    assert from_json.lifecycle == from_yaml.lifecycle
    assert (
        (from_json.name, from_json.version)
        == (from_yaml.name, from_yaml.version)
        == ("test.Minimal", "1.0.0")
    )


def test_keys_are_case_insensitive() -> None:
    document = {
        "recipeformatversion": "2020-01-25",
        "COMPONENTNAME": "test.Case",
        "componentVersion": "1.2.3",
        "componentdependencies": {
            "aws.greengrass.Nucleus": {"versionrequirement": "^2.0.0", "dependencytype": "soft"}
        },
        "componentConfiguration": {"defaultconfiguration": {"Interval": 5}},
        "manifests": [
            {
                "platform": {"OS": "linux"},
                "lifecycle": {"setenv": {"Mixed_Case": "kept"}, "RUN": {"script": "x", "TIMEOUT": 7}},
            }
        ],
    }
    recipe = parse_recipe(document, SOURCE, LINUX)
    assert recipe.name == "test.Case"
    assert recipe.dependencies["aws.greengrass.Nucleus"].dependency_type == "SOFT"
    assert recipe.default_configuration == {"Interval": 5}
    assert recipe.lifecycle.setenv == {"Mixed_Case": "kept"}  # variable names keep their case
    assert recipe.lifecycle.run is not None and recipe.lifecycle.run.timeout == 7.0


def test_first_matching_manifest_wins() -> None:
    manifests = [
        {"Platform": {"os": "windows"}, "Lifecycle": {"Run": "windows"}},
        {"Platform": {"os": "linux", "architecture": "aarch64"}, "Lifecycle": {"Run": "arm"}},
        {"Platform": {"os": "/lin.x/", "architecture": "*"}, "Lifecycle": {"Run": "regex"}},
        {"Lifecycle": {"Run": "any"}},
    ]
    recipe = parse_recipe(minimal(Manifests=manifests), SOURCE, LINUX)
    assert recipe.lifecycle.run is not None and recipe.lifecycle.run.script == "regex"
    arm = parse_recipe(minimal(Manifests=manifests), SOURCE, {"os": "linux", "architecture": "aarch64"})
    assert arm.lifecycle.run is not None and arm.lifecycle.run.script == "arm"


@pytest.mark.parametrize(
    ("wanted", "matches"),
    [
        ({}, True),
        ({"os": "all"}, True),
        ({"os": "any", "architecture": "any"}, True),
        ({"os": "*", "architecture": "*"}, True),
        ({"os": "linux", "architecture": "amd64"}, True),
        ({"os": "Linux"}, False),  # labels are compared exactly
        ({"os": "darwin"}, False),
        ({"architecture.detail": "armv7l"}, False),  # a key the machine lacks only matches "*"
        ({"architecture.detail": "*"}, True),
        ({"architecture.detail": "all"}, False),  # "all"/"any" are wildcards for os and architecture only
        ({"architecture": "/amd64|x86/"}, True),
        ({"architecture": "/amd/"}, False),  # a regex matches the whole value (Java String.matches)
        ({"os": "-linux"}, False),  # a label must start with a letter or digit
    ],
)
def test_platform_matching(wanted: dict[str, str], matches: bool) -> None:
    """The nucleus's rules: PlatformHelper.isAttributeSatisfied (aws-greengrass-component-common)."""
    assert platform_matches(wanted, LINUX) is matches


def test_global_lifecycle_with_selections() -> None:
    # GIVEN a global lifecycle with selection keys at several levels, and manifests without a Lifecycle
    global_lifecycle = {
        "Setenv": {"linux": "is-a-variable-name-not-a-selection"},
        "Install": {"Script": {"linux": "apt-get install x", "windows": "choco install x"}, "Timeout": 30},
        "linux": {"Run": "run-on-linux"},
        "windows": {"Run": "run-on-windows"},
    }
    recipe = parse_recipe(
        minimal(
            Lifecycle=global_lifecycle, Manifests=[{"Platform": {"os": "linux"}, "Selections": ["linux"]}]
        ),
        SOURCE,
        LINUX,
    )
    # THEN only the selected parts are used; Setenv keys are never treated as selection keys
    assert recipe.lifecycle.run is not None and recipe.lifecycle.run.script == "run-on-linux"
    assert recipe.lifecycle.install is not None and recipe.lifecycle.install.script == "apt-get install x"
    assert recipe.lifecycle.setenv == {"linux": "is-a-variable-name-not-a-selection"}


def test_global_lifecycle_without_selections_uses_the_unkeyed_parts() -> None:
    lifecycle = select_lifecycle(
        {"Run": "plain", "windows": {"Install": "w"}, "all": {"Shutdown": "s"}}, ["all"]
    )
    assert lifecycle == {"Run": "plain", "Shutdown": "s"}


def test_a_manifest_lifecycle_beats_the_global_one() -> None:
    recipe = parse_recipe(
        minimal(Lifecycle={"Run": "global"}, Manifests=[{"Lifecycle": {"Run": "manifest"}}]), SOURCE, LINUX
    )
    assert recipe.lifecycle.run is not None and recipe.lifecycle.run.script == "manifest"


def test_step_details() -> None:
    lifecycle = {
        "Install": {
            "Script": "i",
            "Skipif": "onpath git",
            "Timeout": "45",
            "RequiresPrivilege": "true",
            "Setenv": {"X": 1},
        },
        "Shutdown": "s",
        "Recover": {"Script": "r"},
    }
    recipe = parse_recipe(minimal(Manifests=[{"Lifecycle": lifecycle}]), SOURCE, LINUX)
    install = recipe.lifecycle.install
    assert install is not None
    assert (install.skipif, install.timeout, install.requires_privilege, dict(install.setenv)) == (
        ("onpath", "git"),
        45.0,
        True,
        {"X": "1"},
    )
    assert recipe.lifecycle.shutdown is not None and recipe.lifecycle.recover is not None


# Every bad recipe in recipes/bad/, with the key path and the words of the message it gets.
BAD_RECIPES = {
    "not_yaml": ("", "not valid YAML"),
    "wrong_format_version": ("RecipeFormatVersion", "expected '2020-01-25', got '2021-01-01'"),
    "missing_name": ("ComponentName", "required, expected a string"),
    "bad_name": ("ComponentName", "expected letters, digits, '-', '_' or '.'"),
    "numeric_version": ("ComponentVersion", "quote it"),
    "bad_semver": ("ComponentVersion", "expected a semantic version like '1.0.0', got '1.0'"),
    "no_manifests": ("Manifests", "expected a non-empty list of manifests"),
    "no_matching_platform": ("Manifests", "no manifest's Platform matches this machine"),
    "unknown_step": ("Manifests[0].Lifecycle.Rnu", "unknown lifecycle step"),
    "bad_timeout": (
        "Manifests[0].Lifecycle.Install.Timeout",
        "expected a positive number of seconds, got 'soon'",
    ),
    "bad_skipif": (
        "Manifests[0].Lifecycle.Install.Skipif",
        "expected 'onpath <executable>' or 'exists <file>'",
    ),
    "startup_and_run": ("Manifests[0].Lifecycle", "Startup and Run are mutually exclusive"),
    "bad_dependency_type": (
        "ComponentDependencies.aws.greengrass.Nucleus.DependencyType",
        "expected HARD or SOFT, got 'MEDIUM'",
    ),
    "bad_version_requirement": (
        "ComponentDependencies.aws.greengrass.Nucleus.VersionRequirement",
        "expected an npm-style version range",
    ),
    "bad_unarchive": ("Manifests[0].Artifacts[0].Unarchive", "expected NONE or ZIP, got 'TAR'"),
    "duplicate_artifact_names": ("Manifests[0].Artifacts[1].Uri", "artifact file names must be unique"),
    "script_not_string": ("Manifests[0].Lifecycle.Run.Script", "expected a shell script string, got a list"),
    "bad_setenv": ("Manifests[0].Lifecycle.Setenv.A", "expected a string value, got a list"),
    "default_configuration_not_map": (
        "ComponentConfiguration.DefaultConfiguration",
        "expected a mapping, got a list",
    ),
    "duplicate_key": ("componentname", "duplicate key (keys are case-insensitive"),
    "null_manifest": ("Manifests[0]", "expected a manifest, got null"),
    "top_level_list": ("(top level)", "expected a mapping, got a list"),
}


def test_every_bad_recipe_file_has_an_expected_message() -> None:
    assert {p.stem for p in (RECIPES / "bad").glob("*.yaml")} == set(BAD_RECIPES)


@pytest.mark.parametrize("name", sorted(BAD_RECIPES))
def test_bad_recipe_error_names_file_key_path_and_expectation(name: str) -> None:
    path = RECIPES / "bad" / f"{name}.yaml"
    key_path, words = BAD_RECIPES[name]
    with pytest.raises(RecipeError) as caught:
        load_recipe(path, LINUX)
    assert caught.value.source == str(path)
    assert caught.value.key_path == key_path
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{path}: ")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
recipe_keys = st.sampled_from(
    [
        "RecipeFormatVersion",
        "ComponentName",
        "ComponentVersion",
        "Manifests",
        "Lifecycle",
        "ComponentDependencies",
        "ComponentConfiguration",
    ]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(recipe_keys, json_values, max_size=7), st.booleans())
def test_any_document_loads_or_raises_a_recipe_error(document: dict[str, Any], valid_base: bool) -> None:
    # Whatever a recipe holds, the parser answers with a Recipe or a RecipeError, never a crash.
    if valid_base:
        document = {**minimal(), **document}
    try:
        parse_recipe(document, SOURCE, LINUX)
    except RecipeError as err:
        assert str(err).startswith("recipe.yaml")


def test_a_lifecycle_given_as_a_string_is_parsed_or_refused() -> None:
    ok = parse_recipe(minimal(Manifests=[{"Lifecycle": "Run: echo hi"}]), SOURCE, LINUX)
    assert ok.lifecycle.run is not None and ok.lifecycle.run.script == "echo hi"
    with pytest.raises(RecipeError, match=r"Manifests\[0\].Lifecycle: expected a mapping"):
        parse_recipe(minimal(Manifests=[{"Lifecycle": "Run: [unclosed"}]), SOURCE, LINUX)
