"""The bundle's artifact source: edgebundle.zip from the working tree when `make build` made none."""

from __future__ import annotations

import zipfile
from pathlib import Path

from bundledev.source_zip import SourceZipSource
from localcore.plugins import ArtifactContext
from localcore.runner.artifacts import ArtifactResolver
from localcore.runner.recipe import Artifact, Lifecycle, Recipe

PLACEHOLDER = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/"


def recipe(tmp_path: Path, *artifacts: Artifact) -> Recipe:
    return Recipe(
        source=tmp_path / "recipes" / "r.yaml",
        name="com.example.A",
        version="1.2.0",
        lifecycle=Lifecycle(),
        artifacts=artifacts,
    )


def test_placeholder_uri_builds_the_source_zip_when_nothing_was_built(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "components" / "demo").mkdir(parents=True)
    (project / "components" / "demo" / "__init__.py").write_text("")
    (project / "bundle.yaml").write_text("project: x\n")
    root = tmp_path / "root"
    resolver = ArtifactResolver(root, project, [SourceZipSource()])
    resolver.prepare(recipe(tmp_path, Artifact(PLACEHOLDER + "edgebundle.zip", unarchive="ZIP")))
    # like the nucleus: edgebundle.zip unarchives into .../edgebundle/, entries at the zip root
    unarchived = root / "packages/artifacts-unarchived/com.example.A/1.2.0/edgebundle"
    assert (unarchived / "components/demo/__init__.py").exists()
    assert (unarchived / "bundle.yaml").read_text() == "project: x\n"


def test_a_built_artifact_or_another_uri_is_left_to_localcore(tmp_path: Path) -> None:
    project = tmp_path / "project"
    built = project / "greengrass-build/artifacts/com.example.A/1.2.0/edgebundle.zip"
    built.parent.mkdir(parents=True)
    with zipfile.ZipFile(built, "w") as archive:
        archive.writestr("marker.txt", "built")
    context = ArtifactContext(core_root=tmp_path / "root", project_root=project)
    source = SourceZipSource()
    assert source.locate(recipe(tmp_path), Artifact(PLACEHOLDER + "edgebundle.zip"), context) is None
    assert source.locate(recipe(tmp_path), Artifact(PLACEHOLDER + "other.zip"), context) is None
    assert source.locate(recipe(tmp_path), Artifact("file:edgebundle.zip"), context) is None
