"""`make build`: the GDK layout, manifests in the nucleus's platform values, and clear failures."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundlebuild import build as bb
from localcore.runner.errors import RecipeError
from localcore.runner.platforms import DEVICE_MACHINES, linux_platform
from localcore.runner.recipe import parse_recipe, read_recipe_documents

PROJECT = Path(__file__).resolve().parents[2]

# What the nucleus reports on each device (PlatformResolver.java, aws-greengrass-nucleus: getArchInfo
# maps os.arch "amd64"/"x86_64" -> "amd64", anything containing "arm" -> "arm", "aarch64" -> "aarch64";
# getArchDetailInfo returns `uname -m` for armv6l/armv7l/armv8l only; getOSInfo: "linux" with /proc).
NUCLEUS_REPORTS = {
    "amd64": {"os": "linux", "architecture": "amd64"},
    "aarch64": {"os": "linux", "architecture": "aarch64"},
    "armv7l": {"os": "linux", "architecture": "arm", "architecture.detail": "armv7l"},
}


def test_build_writes_gdk_layout_for_every_recipe(tmp_path: Path) -> None:
    # GIVEN the project's recipes WHEN building without --arch (a development build)
    built = bb.build(out=tmp_path / "gg")
    recipes = {r.name: r for r in read_recipe_documents(PROJECT / "recipes")}
    # THEN each recipe has a built recipe at its own version and one artifact, code at the zip root
    assert {component.name for component in built} == set(recipes)
    for component in built:
        assert component.version == recipes[component.name].version, "the recipe is the version source"
        recipe = yaml.safe_load(component.recipe.read_text())
        assert recipe["ComponentVersion"] == component.version
        uris = [a["Uri"] for m in recipe["Manifests"] for a in m.get("Artifacts", [])]
        assert bb.PLACEHOLDER_URI in uris
        (artifact,) = component.artifacts
        assert (
            artifact == tmp_path / "gg" / "artifacts" / component.name / component.version / "edgebundle.zip"
        )
        entries = set(zipfile.ZipFile(artifact).namelist())
        assert "bundlebuild/install.py" in entries
        assert not any(entry.startswith(("localcore/", "tests/", "wheels/")) for entry in entries)


def test_per_architecture_manifests_say_what_the_nucleus_reports_and_name_the_bucket() -> None:
    """Manifest platforms are the nucleus's values (PlatformResolver.java), not `uname -m`'s."""
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.edgebundle.Sync",
        "ComponentVersion": "0.0.1",
        "Manifests": [
            {"Platform": {"os": "linux"}, "Artifacts": [{"Uri": bb.PLACEHOLDER_URI, "Unarchive": "ZIP"}]},
            {"Platform": {"os": "windows"}, "Lifecycle": {}},
        ],
    }
    machines = [DEVICE_MACHINES[name] for name in ("aarch64", "amd64", "armv7l")]
    out = bb.transform_recipe(recipe, "1.2.3", machines, "my-bucket")
    linux = [m for m in out["Manifests"] if m["Platform"]["os"] == "linux"]
    assert [m["Platform"] for m in linux] == [
        NUCLEUS_REPORTS["aarch64"],
        NUCLEUS_REPORTS["amd64"],
        NUCLEUS_REPORTS["armv7l"],
    ]
    assert [m["Artifacts"][0]["Uri"] for m in linux] == [
        f"s3://my-bucket/com.edgebundle.Sync/1.2.3/{arch}/edgebundle.zip"
        for arch in ("aarch64", "amd64", "armv7l")
    ]
    assert out["Manifests"][-1] == {"Platform": {"os": "windows"}, "Lifecycle": {}}
    assert recipe["ComponentVersion"] == "0.0.1", "the input recipe is not modified"


@pytest.mark.parametrize("device", sorted(NUCLEUS_REPORTS))
def test_localcore_selects_each_devices_own_manifest_of_every_built_recipe(device: str) -> None:
    """On each device the platform the nucleus reports selects that device's manifest, first match wins

    (PlatformHelper.findBestMatch, aws-greengrass-component-common: the first manifest whose every
    Platform key matches the device). A device class the build did not target matches none.
    """
    machines = [DEVICE_MACHINES[name] for name in ("aarch64", "amd64", "armv7l")]
    for recipe in read_recipe_documents(PROJECT / "recipes"):
        built = bb.transform_recipe(recipe.document, recipe.version, machines, None)
        selected = parse_recipe(built, recipe.source, NUCLEUS_REPORTS[device])
        (artifact,) = selected.artifacts
        assert artifact.uri == f"{bb.PLACEHOLDER_PREFIX}/{device}/edgebundle.zip", recipe.name
        with pytest.raises(RecipeError, match="no manifest's Platform matches"):
            parse_recipe(built, recipe.source, {"os": "linux", "architecture": "x86"})


def test_the_nucleus_reports_match_the_shared_table() -> None:
    """localcore's one table gives the platform the nucleus reports for each device's `uname -m`."""
    for name, reported in NUCLEUS_REPORTS.items():
        assert DEVICE_MACHINES[name].platform == reported
        assert linux_platform(DEVICE_MACHINES[name].uname_machine) == reported


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ("sparc", r"unknown architecture 'sparc'; expected one of amd64, aarch64, armv7l"),
        ("arm", r"'arm' is ambiguous: say armv7l or armv6l"),
    ],
)
def test_unknown_architectures_are_refused_listing_the_accepted(
    tmp_path: Path, asked: str, message: str
) -> None:
    with pytest.raises(bb.BuildError, match=message):
        bb.build(out=tmp_path / "gg", arches=[asked])
    assert not (tmp_path / "gg").exists()


def test_aliases_name_the_same_devices() -> None:
    assert bb._machines(["x86_64", "amd64", "arm64"]) == [
        DEVICE_MACHINES["amd64"],
        DEVICE_MACHINES["aarch64"],
    ]


def test_unknown_component_is_named(tmp_path: Path) -> None:
    with pytest.raises(bb.BuildError, match=r"com\.example\.Missing: no such recipe"):
        bb.build(out=tmp_path / "gg", only=["com.example.Missing"])


def test_a_missing_wheel_fails_naming_distribution_architecture_and_python(tmp_path: Path) -> None:
    """PyPI has no 32-bit ARM wheel of awscrt (awsiotsdk's C extension): the build says so and writes nothing."""
    out = tmp_path / "gg"
    with pytest.raises(bb.BuildError) as caught:
        bb.build(out=out, only=["com.edgebundle.Sync"], arches=["armv7l"])
    message = str(caught.value)
    for python in ("3.11", "3.13"):
        assert "com.edgebundle.Sync: no wheel of " in message
        assert f"for armv7l / CPython {python}" in message
    assert "--find-links" in message
    assert not out.exists(), "nothing is written when a device cannot be served"


def test_cli_reports_failure_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bundlebuild.build", "--out", str(tmp_path), "--arch", "sparc"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "build failed: unknown architecture 'sparc'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_recipe_that_runs_no_component_package_is_refused(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.x.Shell",
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Lifecycle": {"Run": "echo hi"}}],
    }
    path = tmp_path / "shell.yaml"
    path.write_text(yaml.safe_dump(document))
    (recipe,) = read_recipe_documents(tmp_path)
    with pytest.raises(bb.BuildError, match=r"shell\.yaml: expected the lifecycle to run exactly one"):
        bb.component_package(recipe)


def _wheel(folder: Path, name: str, tag: str, requires: tuple[str, ...] = ()) -> None:
    """A minimal wheel file pip can resolve (it is offered, never installed here)."""
    dist_info = f"{name}-99.0.0.dist-info"
    metadata = "Metadata-Version: 2.1\nName: {}\nVersion: 99.0.0\n{}".format(
        name, "".join(f"Requires-Dist: {r}\n" for r in requires)
    )
    with zipfile.ZipFile(folder / f"{name}-99.0.0-{tag}.whl", "w") as archive:
        archive.writestr(f"{dist_info}/METADATA", metadata)
        archive.writestr(f"{dist_info}/WHEEL", f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
        archive.writestr(f"{dist_info}/RECORD", "")


def test_32_bit_arm_builds_from_wheels_offered_with_find_links(tmp_path: Path) -> None:
    """The documented armv7l route: wheels built on a device, offered with --find-links."""
    offered = tmp_path / "armwheels"
    offered.mkdir()
    _wheel(offered, "awsiotsdk", "py3-none-any", ("awscrt==99.0.0",))
    for python in ("cp311", "cp313"):
        for name in ("awscrt", "msgspec", "pyyaml", "zstandard"):
            _wheel(offered, name, f"{python}-{python}-linux_armv7l")
    (built,) = bb.build(
        out=tmp_path / "gg",
        only=["com.edgebundle.Sync"],
        arches=["armv7l"],
        find_links=[offered],
        cache_dir=tmp_path / "cache",
    )
    (artifact,) = built.artifacts
    assert artifact.parent.name == "armv7l"
    entries = zipfile.ZipFile(artifact).namelist()
    assert "wheels/cp311/awscrt-99.0.0-cp311-cp311-linux_armv7l.whl" in entries
    assert "wheels/cp313/msgspec-99.0.0-cp313-cp313-linux_armv7l.whl" in entries
    assert "wheels/shared/awsiotsdk-99.0.0-py3-none-any.whl" in entries
    recipe = yaml.safe_load(built.recipe.read_text())
    # One manifest per runtime: the classic nucleus's, and nucleus lite's (its `runtime` key).
    assert [m["Platform"] for m in recipe["Manifests"]] == [
        NUCLEUS_REPORTS["armv7l"],
        {**NUCLEUS_REPORTS["armv7l"], "runtime": "aws_nucleus_lite"},
    ]


def test_a_recipe_that_would_not_load_on_a_device_fails_the_build(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "recipes", project / "recipes")
    for name in ("pyproject.toml",):
        shutil.copy(PROJECT / name, project / name)
    shutil.copytree(
        PROJECT / "components", project / "components", ignore=shutil.ignore_patterns("__pycache__")
    )
    recipe_file = project / "recipes" / "com.edgebundle.Sync.yaml"
    document = yaml.safe_load(recipe_file.read_text())
    document["Manifests"][0]["Lifecycle"]["Run"]["Timeout"] = "soon"
    recipe_file.write_text(yaml.safe_dump(document))
    with pytest.raises(
        bb.BuildError, match=r"built for amd64: .*Sync\.yaml: Manifests\[0\]\.Lifecycle\.Run\.Timeout"
    ):
        bb.build(project_root=project, out=tmp_path / "gg", only=["com.edgebundle.Sync"])
