"""Each component's artifact holds its own code, what it imports, its own models and its own wheels.

Checked against the component's imports from two sides: the artifact's listing against the
import closure computed from the source, and, independently, by importing every module of the
component from the unpacked artifact alone in a fresh interpreter (a module the closure missed
fails there with ModuleNotFoundError).
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bundlebuild import build as bb
from bundlebuild.closure import import_closure
from bundlebuild.requirements import DYNAMIC_IMPORTS, IMPORT_DISTRIBUTIONS, NOT_SHIPPED, imported_names
from localcore.runner.recipe import read_recipe_documents

PROJECT = Path(__file__).resolve().parents[2]
RECIPES = {r.name: r for r in read_recipe_documents(PROJECT / "recipes")}
PACKAGES = {name: bb.component_package(recipe) for name, recipe in RECIPES.items()}
MANIFEST = json.loads((PROJECT / "models" / "manifest.json").read_text())
# The models each component's configuration names (components/*/config.py defaults).
OWN_MODELS = {
    "com.edgebundle.Inference": {"sensor_anomaly"},
    "com.edgebundle.QualityInspection": {"part_defect"},
    "com.edgebundle.Sensing": set(),
    "com.edgebundle.Sync": set(),
}
by_component = pytest.mark.parametrize("name", sorted(RECIPES))


@pytest.fixture(scope="module")
def dev_build(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bb.BuiltComponent]:
    out = tmp_path_factory.mktemp("dev-build") / "gg"
    return {component.name: component for component in bb.build(out=out)}


def _listing(component: bb.BuiltComponent) -> list[str]:
    (artifact,) = component.artifacts
    return zipfile.ZipFile(artifact).namelist()


def test_the_four_artifacts_differ_and_each_runs_its_own_package(
    dev_build: dict[str, bb.BuiltComponent],
) -> None:
    listings = {name: set(_listing(component)) for name, component in dev_build.items()}
    assert len({frozenset(listing) for listing in listings.values()}) == len(listings)
    assert PACKAGES == {
        "com.edgebundle.Inference": "components.inference",
        "com.edgebundle.QualityInspection": "components.inspection",
        "com.edgebundle.Sensing": "components.sensing",
        "com.edgebundle.Sync": "components.sync",
    }


@by_component
def test_the_listing_is_the_import_closure_plus_installer_and_own_models(
    dev_build: dict[str, bb.BuiltComponent], name: str
) -> None:
    closure = import_closure(PROJECT, PACKAGES[name])
    listing = set(_listing(dev_build[name]))
    code = {entry for entry in listing if entry.endswith(".py")}
    own_package = PACKAGES[name].replace(".", "/") + "/"
    expected_code = {path.as_posix() for path in closure.files(PROJECT)} | {"bundlebuild/install.py"}
    assert code == expected_code
    assert any(entry.startswith(own_package) for entry in code)
    assert "models/train.py" not in listing and "models/heldout.py" not in listing, "never training code"
    assert not any(entry.startswith("components/common/") and entry not in expected_code for entry in listing)
    models = {entry for entry in listing if entry.endswith(".tflite")}
    expected_models = {
        f"models/{variant['file']}"
        for model in OWN_MODELS[name]
        for variant in MANIFEST["models"][model]["variants"].values()
    }
    assert models == expected_models
    if OWN_MODELS[name]:
        shipped = json.loads(zipfile.ZipFile(dev_build[name].artifacts[0]).read("models/manifest.json"))
        assert set(shipped["models"]) == OWN_MODELS[name]
    else:
        assert "models/manifest.json" not in listing
    assert ("bundle.yaml" in listing) == ("bundlespec" in closure.modules)


@by_component
def test_every_module_of_the_component_imports_from_the_artifact_alone(
    dev_build: dict[str, bb.BuiltComponent], name: str, tmp_path: Path
) -> None:
    (artifact,) = dev_build[name].artifacts
    zipfile.ZipFile(artifact).extractall(tmp_path / "edgebundle")
    package = PACKAGES[name]
    script = (
        "import importlib, pkgutil, sys\n"
        f"package = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "outside = sorted(m.__file__ for m in list(sys.modules.values())\n"
        "    if getattr(m, '__file__', None) and m.__name__.split('.')[0] in ('components', 'models', 'bundlespec')\n"
        f"    and not m.__file__.startswith({str(tmp_path)!r}))\n"
        "print(outside)\n"
    )
    if OWN_MODELS[name]:
        # The component's models load from the artifact's own manifest, every variant there.
        script += (
            "from components.common.model_manifest import Manifest\n"
            "manifest = Manifest.load()\n"
            f"assert manifest.models == {sorted(OWN_MODELS[name])!r}, manifest.models\n"
            "for model in manifest.models:\n"
            "    for variant in manifest.variants(model):\n"
            "        path = manifest.variant(model, variant).path\n"
            f"        assert path.is_file() and str(path).startswith({str(tmp_path)!r}), path\n"
        )
    # -I: no PYTHONPATH, no project checkout on the path; the unpacked artifact is the only source.
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(tmp_path / 'edgebundle')!r})\n{script}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]", "project modules came from outside the artifact"


@by_component
def test_every_third_party_import_is_shipped_or_excused(name: str) -> None:
    closure = import_closure(PROJECT, PACKAGES[name])
    for imported in imported_names(closure):
        assert imported in IMPORT_DISTRIBUTIONS or imported in NOT_SHIPPED.get(name, {}), imported
    for excused in NOT_SHIPPED.get(name, {}):
        assert excused in imported_names(closure), (
            f"{name}: NOT_SHIPPED names {excused}, which it never imports"
        )


def test_dynamic_imports_are_named_in_their_modules_source() -> None:
    for module, names in DYNAMIC_IMPORTS.items():
        source = (PROJECT / (module.replace(".", "/") + ".py")).read_text()
        for imported in names:
            # a string literal naming the module or one of its submodules
            assert f'"{imported}"' in source or f'"{imported}.' in source, (
                f"{module} no longer imports {imported}"
            )


def _requirements(component: bb.BuiltComponent, tag: str) -> set[str]:
    (artifact,) = component.artifacts
    text = zipfile.ZipFile(artifact).read(f"wheels/{tag}/requirements.txt").decode()
    return {line.split(">")[0].split("=")[0].strip() for line in text.splitlines() if line.strip()}


@pytest.mark.parametrize("tag", ["cp311", "cp313"])
def test_device_artifacts_carry_the_hardware_drivers_and_nothing_foreign(
    amd64_build: dict[str, bb.BuiltComponent], tag: str
) -> None:
    sensing = _requirements(amd64_build["com.edgebundle.Sensing"], tag)
    inspection = _requirements(amd64_build["com.edgebundle.QualityInspection"], tag)
    inference = _requirements(amd64_build["com.edgebundle.Inference"], tag)
    sync = _requirements(amd64_build["com.edgebundle.Sync"], tag)
    assert {"adafruit-circuitpython-dht", "adafruit-blinka", "psutil"} <= sensing
    assert {"opencv-python-headless", "adafruit-blinka", "numpy", "ai-edge-litert"} <= inspection
    assert {"numpy", "ai-edge-litert"} <= inference and "adafruit-blinka" not in inference
    assert sync == {"awsiotsdk", "msgspec", "zstandard"}, "sync uploads with awscrt, no boto3/numpy/pyyaml"
    assert "numpy" not in sensing, "sensing imports numpy only to build training windows"


def test_arm_devices_get_blinkas_gpio_binding() -> None:
    from bundlebuild.requirements import component_distributions, project_requirements, requirement_lines

    declared = project_requirements(PROJECT / "pyproject.toml")
    closure = import_closure(PROJECT, "components.sensing")
    distributions = component_distributions("com.edgebundle.Sensing", closure)
    for python in ("3.11", "3.13"):
        arm = requirement_lines("s", distributions, declared, machine="aarch64", python=python)
        pc = requirement_lines("s", distributions, declared, machine="x86_64", python=python)
        assert any(line.startswith("gpiod") for line in arm)
        assert not any(line.startswith("gpiod") for line in pc)


def test_a_device_where_markers_leave_an_import_unprovided_is_named() -> None:
    """32-bit ARM on CPython 3.13: ai-edge-litert has no 32-bit wheels and tflite-runtime none for 3.12+."""
    from bundlebuild.requirements import (
        component_distributions,
        project_requirements,
        requirement_lines,
        uncovered_imports,
    )

    declared = project_requirements(PROJECT / "pyproject.toml")
    closure = import_closure(PROJECT, "components.inference")
    distributions = component_distributions("com.edgebundle.Inference", closure)

    def uncovered(machine: str, python: str) -> list[str]:
        lines = requirement_lines("i", distributions, declared, machine=machine, python=python)
        return uncovered_imports("com.edgebundle.Inference", closure, lines)

    assert uncovered("armv7l", "3.13") == ["ai_edge_litert or tflite_runtime"]
    assert uncovered("armv7l", "3.11") == []  # tflite-runtime
    assert uncovered("aarch64", "3.13") == []  # ai-edge-litert
