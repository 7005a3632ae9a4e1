"""Artifacts: file: and project-relative URIs, GDK placeholder URIs, plugin sources, ZIPs unarchived
like the nucleus."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from localcore.plugins import ArtifactContext
from localcore.runner.artifacts import ArtifactResolver
from localcore.runner.errors import ArtifactError
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


def make_zip(path: Path, entries: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return path


def test_file_uris_are_copied_and_zips_unarchived(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "model.bin").write_text("weights")
    make_zip(project / "data" / "code.zip", {"pkg/__init__.py": "x = 1\n"})
    absolute = tmp_path / "elsewhere.txt"
    absolute.write_text("absolute")
    root = tmp_path / "root"
    resolver = ArtifactResolver(root, project)
    resolver.prepare(
        recipe(
            tmp_path,
            Artifact("file:data/model.bin"),
            Artifact("data/code.zip", unarchive="ZIP"),
            Artifact(f"file://{absolute}"),
        )
    )
    artifacts = root / "packages/artifacts/com.example.A/1.2.0"
    assert (artifacts / "model.bin").read_text() == "weights"
    assert (artifacts / "elsewhere.txt").read_text() == "absolute"
    assert (
        root / "packages/artifacts-unarchived/com.example.A/1.2.0/code/pkg/__init__.py"
    ).read_text() == "x = 1\n"


def test_placeholder_uri_prefers_the_built_artifact(tmp_path: Path) -> None:
    project = tmp_path / "project"
    built = make_zip(
        project / "greengrass-build/artifacts/com.example.A/1.2.0/edgebundle.zip", {"marker.txt": "built"}
    )
    resolver = ArtifactResolver(tmp_path / "root", project)
    assert resolver.locate(recipe(tmp_path), Artifact(PLACEHOLDER + "edgebundle.zip")) == built


def test_a_per_architecture_placeholder_uri_finds_that_architectures_build(tmp_path: Path) -> None:
    # `make build --arch amd64` writes <version>/amd64/edgebundle.zip; the URI keeps that path.
    project = tmp_path / "project"
    built = make_zip(
        project / "greengrass-build/artifacts/com.example.A/1.2.0/amd64/edgebundle.zip",
        {"marker.txt": "amd64"},
    )
    resolver = ArtifactResolver(tmp_path / "root", project)
    assert resolver.locate(recipe(tmp_path), Artifact(PLACEHOLDER + "amd64/edgebundle.zip")) == built


def test_a_plugin_source_is_asked_first_and_may_decline(tmp_path: Path) -> None:
    """Artifact sources (localcore.plugins) resolve what they handle; None falls through to the
    built-in rules."""
    special = tmp_path / "special.bin"
    special.write_text("from the source")
    asked: list[str] = []

    class OnlySpecial:
        def locate(self, recipe: Recipe, artifact: Artifact, context: ArtifactContext) -> Path | None:
            asked.append(artifact.uri)
            assert context.project_root == tmp_path.resolve()
            return special if artifact.uri == "plugin:special" else None

    (tmp_path / "plain.txt").write_text("plain")
    resolver = ArtifactResolver(tmp_path / "root", tmp_path, [OnlySpecial()])
    r = recipe(tmp_path)
    assert resolver.locate(r, Artifact("plugin:special")) == special
    assert resolver.locate(r, Artifact("file:plain.txt")) == tmp_path.resolve() / "plain.txt"
    assert asked == ["plugin:special", "file:plain.txt"]


def test_unusable_artifacts_say_why(tmp_path: Path) -> None:
    resolver = ArtifactResolver(tmp_path / "root", tmp_path)
    r = recipe(tmp_path)
    with pytest.raises(
        ArtifactError, match=r"localcore does not download from S3; expected the file at .*greengrass-build"
    ):
        resolver.locate(r, Artifact("s3://real-bucket/a/other.zip"))
    with pytest.raises(ArtifactError, match=r"no such file \(looked at"):
        resolver.locate(r, Artifact("file:missing.txt"))
    with pytest.raises(ArtifactError, match="unsupported URI scheme 'docker'"):
        resolver.locate(r, Artifact("docker:image:tag"))


def test_a_zip_entry_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    make_zip(tmp_path / "evil.zip", {"../../escape.txt": "x"})
    resolver = ArtifactResolver(tmp_path / "root", tmp_path)
    with pytest.raises(ArtifactError, match="would be extracted outside"):
        resolver.prepare(recipe(tmp_path, Artifact("file:evil.zip", unarchive="ZIP")))
    assert not (tmp_path / "root" / "escape.txt").exists()
