"""Recipe placeholder paths to local files: the synth-time source zip, or `make build` output."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.exceptions import RecipeError
from infra.greengrass.artifacts import ArtifactFiles
from infra.greengrass.recipes import Recipe


def _recipe() -> Recipe:
    return Recipe.from_document(
        {"RecipeFormatVersion": "2020-01-25", "ComponentName": "com.x.A", "ComponentVersion": "2.0.0"},
        source="a.yaml",
    )


def test_without_a_build_dir_only_the_source_zip_resolves(tmp_path: Path) -> None:
    source = tmp_path / "edgebundle.zip"
    source.write_bytes(b"zip")
    files = ArtifactFiles(source_zip=source)
    assert files.local_file(_recipe(), "edgebundle.zip") == source
    with pytest.raises(RecipeError, match="only in `make build` output"):
        files.local_file(_recipe(), "aarch64/edgebundle.zip")


def test_a_missing_source_zip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="the source artifact was not built"):
        ArtifactFiles(source_zip=tmp_path / "nope.zip").local_file(_recipe(), "edgebundle.zip")


def test_a_build_dir_resolves_by_component_name_and_version(tmp_path: Path) -> None:
    built = tmp_path / "build" / "artifacts" / "com.x.A" / "2.0.0" / "aarch64" / "edgebundle.zip"
    built.parent.mkdir(parents=True)
    built.write_bytes(b"zip")
    files = ArtifactFiles(source_zip=tmp_path / "unused.zip", build_dir=tmp_path / "build")
    assert files.local_file(_recipe(), "aarch64/edgebundle.zip") == built
    with pytest.raises(RecipeError, match=r"x86_64/edgebundle\.zip not found .* run `make build`"):
        files.local_file(_recipe(), "x86_64/edgebundle.zip")
