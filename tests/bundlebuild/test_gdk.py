"""GDK: one project per component under gdk/, valid for GDK 1.6.2, building through `make`.

GDK takes exactly one component per ``gdk-config.json`` (``config_schema.json``: ``component``
has ``maxProperties: 1``) and reads ``recipe.json``/``recipe.yaml`` from the folder it runs in
(``gdk/commands/component/project_utils.py`` ``get_recipe_file``). For a custom build it runs the
command as is, in that folder (``BuildCommand.run``: ``sp.run(custom_build_command)``), with
whatever ``python3`` is first on PATH: the command must not depend on that interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from localcore.runner.recipe import read_recipe_documents

PROJECT = Path(__file__).resolve().parents[2]
GDK_SCHEMAS = Path("/work/shared/reference/gdk-schemas")
RECIPES = {r.name: r for r in read_recipe_documents(PROJECT / "recipes")}
by_component = pytest.mark.parametrize("name", sorted(RECIPES))


def _config(name: str) -> dict[str, object]:
    config: dict[str, object] = json.loads((PROJECT / "gdk" / name / "gdk-config.json").read_text())
    return config


def test_one_gdk_project_per_recipe() -> None:
    assert {p.name for p in (PROJECT / "gdk").iterdir() if p.is_dir()} == set(RECIPES)


@by_component
def test_the_config_is_valid_for_gdk(name: str) -> None:
    schema_file = GDK_SCHEMAS / "config_schema.json"
    if not schema_file.exists():
        pytest.skip(f"GDK schema not found at {schema_file}")
    jsonschema.Draft7Validator(json.loads(schema_file.read_text())).validate(_config(name))


@by_component
def test_the_recipe_is_the_one_in_recipes_and_the_version_its_own(name: str) -> None:
    project = PROJECT / "gdk" / name
    assert (project / "recipe.yaml").is_symlink(), "a copy would be a second version source"
    assert (project / "recipe.yaml").resolve() == RECIPES[name].source.resolve()
    component = _config(name)["component"]
    assert isinstance(component, dict) and list(component) == [name]
    assert component[name]["version"] == RECIPES[name].version


@by_component
def test_the_build_command_is_make_for_this_component_into_gdks_folder(name: str) -> None:
    command = _config(name)["component"][name]["build"]["custom_build_command"]  # type: ignore[index]
    assert command[:4] == ["make", "-C", "../..", "build"]
    (args,) = command[4:]
    assert args.startswith("ARGS=")
    words = args.removeprefix("ARGS=").split()
    assert words[words.index("--component") + 1] == name
    assert words[words.index("--out") + 1] == f"gdk/{name}/greengrass-build"
    assert {words[i + 1] for i, w in enumerate(words) if w == "--arch"} == {"aarch64", "amd64"}


def test_gdks_custom_build_runs_with_a_foreign_python3_first_on_path(tmp_path: Path) -> None:
    """Run Sync's command as GDK does, with a ``python3`` on PATH that fails whenever it is used."""
    name = "com.edgebundle.Sync"
    project = PROJECT / "gdk" / name
    command = _config(name)["component"][name]["build"]["custom_build_command"]  # type: ignore[index]
    foreign = tmp_path / "bin"
    foreign.mkdir()
    (foreign / "python3").write_text("#!/bin/sh\necho 'not the project interpreter' >&2\nexit 97\n")
    (foreign / "python3").chmod(0o755)
    env = {**os.environ, "PATH": f"{foreign}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    out = project / "greengrass-build"
    try:
        result = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        version = RECIPES[name].version
        assert (out / "recipes" / f"{name}-{version}.yaml").is_file()
        for arch in ("aarch64", "amd64"):
            assert (out / "artifacts" / name / version / arch / "edgebundle.zip").is_file()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert sys.executable  # the test itself ran with the project's interpreter, the build did not need one


def _lowercase_keys(value: object) -> object:
    if isinstance(value, dict):
        return {str(key).lower(): _lowercase_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lowercase_keys(item) for item in value]
    return value


@by_component
def test_built_recipes_pass_gdks_recipe_schema(name: str) -> None:
    """What GDK validates (every key lowercased, Draft-7), on the recipe `make build` writes for three devices."""
    from bundlebuild import build as bb
    from localcore.runner.platforms import DEVICE_MACHINES

    schema_file = GDK_SCHEMAS / "recipe_schema.json"
    if not schema_file.exists():
        pytest.skip(f"GDK schema not found at {schema_file}")
    machines = [DEVICE_MACHINES[arch] for arch in ("aarch64", "amd64", "armv7l")]
    built = bb.transform_recipe(RECIPES[name].document, RECIPES[name].version, machines, "a-bucket")
    validator = jsonschema.Draft7Validator(json.loads(schema_file.read_text()))
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(_lowercase_keys(built))
    ]
    assert errors == []


@pytest.mark.soak
def test_gdk_build_from_a_fresh_clone(tmp_path: Path) -> None:
    """The README's route: a fresh clone, no .venv yet, GDK's custom build command for every component."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(clone)], check=True, timeout=300)
    for name in sorted(RECIPES):
        project = clone / "gdk" / name
        command = _config(name)["component"][name]["build"]["custom_build_command"]  # type: ignore[index]
        result = subprocess.run(
            command, cwd=project, capture_output=True, text=True, timeout=1800, check=False
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        assert (project / "greengrass-build" / "recipes" / f"{name}-{RECIPES[name].version}.yaml").is_file()
