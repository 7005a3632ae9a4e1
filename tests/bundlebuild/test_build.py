"""`make build`: the GDK layout, recipe transformation, per-architecture requirements, install step."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from bundlebuild import build as bb
from bundlebuild import install

PROJECT = Path(__file__).resolve().parents[2]
GDK_SCHEMAS = PROJECT.parent / "shared" / "reference" / "gdk-schemas"


def test_build_writes_gdk_layout_for_every_recipe(tmp_path: Path) -> None:
    # GIVEN the project's recipes WHEN building without wheels
    built = bb.build(out=tmp_path / "gg")
    names = {component.name for component in built}
    recipe_names = {
        yaml.safe_load(p.read_text())["ComponentName"] for p in (PROJECT / "recipes").glob("*.yaml")
    }
    # THEN each recipe has a built recipe and one source artifact, code at the zip root
    assert names == recipe_names
    for component in built:
        recipe = yaml.safe_load(component.recipe.read_text())
        assert recipe["ComponentVersion"] == component.version
        uris = [a["Uri"] for m in recipe["Manifests"] for a in m.get("Artifacts", [])]
        assert f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{bb.ARTIFACT_NAME}" in uris
        (artifact,) = component.artifacts
        assert (
            artifact == tmp_path / "gg" / "artifacts" / component.name / component.version / bb.ARTIFACT_NAME
        )
        with zipfile.ZipFile(artifact) as archive:
            entries = set(archive.namelist())
        assert "bundlebuild/install.py" in entries
        assert any(entry.startswith("components/") for entry in entries)
        assert not any(entry.startswith("localcore/") for entry in entries)


def test_per_architecture_manifests_and_bucket() -> None:
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.edgebundle.Sync",
        "ComponentVersion": "0.0.1",
        "Manifests": [
            {"Platform": {"os": "linux"}, "Artifacts": [{"Uri": bb.PLACEHOLDER_URI, "Unarchive": "ZIP"}]},
            {"Platform": {"os": "windows"}, "Lifecycle": {}},
        ],
    }
    out = bb.transform_recipe(recipe, "1.2.3", ["aarch64", "x86_64"], "my-bucket")
    assert out["ComponentVersion"] == "1.2.3"
    linux = [m for m in out["Manifests"] if m["Platform"]["os"] == "linux"]
    assert [m["Platform"]["architecture"] for m in linux] == ["aarch64", "x86_64"]
    assert (
        linux[0]["Artifacts"][0]["Uri"] == "s3://my-bucket/com.edgebundle.Sync/1.2.3/aarch64/edgebundle.zip"
    )
    assert out["Manifests"][-1] == {"Platform": {"os": "windows"}, "Lifecycle": {}}
    assert recipe["ComponentVersion"] == "0.0.1", "the input recipe is not modified"


def test_requirements_follow_the_runtime_markers() -> None:
    requirements = bb.project_requirements()
    arm32 = bb.requirements_for("com.edgebundle.Inference", requirements, "armv7l")
    arm64 = bb.requirements_for("com.edgebundle.Inference", requirements, "aarch64")
    assert any(line.startswith("tflite-runtime") for line in arm32)
    assert not any(line.startswith("ai-edge-litert") for line in arm32)
    assert any(line.startswith("ai-edge-litert") for line in arm64)
    assert not any("boto3" in line for line in arm64), "inference does not carry the sync component's needs"
    sync = bb.requirements_for("com.edgebundle.Sync", requirements, "aarch64")
    assert not any(line.startswith(("boto3", "botocore")) for line in sync), "sync uploads with awscrt"
    assert not any(line.startswith("numpy") for line in sync), "sync's batch encoding is plain Python"
    assert any(line.startswith("zstandard") for line in sync), "sync compresses its batches with zstd"


def test_unknown_component_and_architecture_are_named(tmp_path: Path) -> None:
    with pytest.raises(bb.BuildError, match=r"com\.example\.Nope"):
        bb.requirements_for("com.example.Nope", bb.project_requirements(), "x86_64")
    with pytest.raises(bb.BuildError, match="'sparc'"):
        bb.build(out=tmp_path / "gg", arches=["sparc"])
    with pytest.raises(bb.BuildError, match=r"com\.example\.Missing"):
        bb.build(out=tmp_path / "gg", only=["com.example.Missing"])


def test_cli_reports_failure_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bundlebuild.build",
            "--out",
            str(tmp_path),
            "--component",
            "com.example.Missing",
        ],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "build failed" in result.stderr and "Traceback" not in result.stderr


def test_install_step_without_wheels_is_a_no_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert install.main(["--venv", str(tmp_path / "venv"), "--wheels", str(tmp_path / "absent")]) == 0
    assert not (tmp_path / "venv").exists()
    assert "development artifact" in capsys.readouterr().out


def test_gdk_config_is_valid_for_gdk_and_names_a_real_recipe() -> None:
    config = json.loads((PROJECT / "gdk-config.json").read_text())
    schema_file = GDK_SCHEMAS / "config_schema.json"
    if not schema_file.exists():
        pytest.skip(f"GDK schema not found at {schema_file}")
    jsonschema.validate(config, json.loads(schema_file.read_text()))
    (name,) = config["component"]
    assert (PROJECT / "recipes" / f"{name}.yaml").exists()
    command = config["component"][name]["build"]["custom_build_command"]
    assert command[:3] == ["python3", "-m", "bundlebuild.build"] and name in command
