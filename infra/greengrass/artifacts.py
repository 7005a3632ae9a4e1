"""Where a recipe's placeholder artifacts are on disk, to be uploaded as CDK assets.

Two cases: a plain synth uploads the source zip built at synth time (no wheels: the device
installs nothing, fine for a development device); a deploy from ``make build`` output (``-c
buildDir=greengrass-build``) uploads the files it wrote, such as per-architecture zips with wheels,
at ``<buildDir>/artifacts/<ComponentName>/<ComponentVersion>/<path>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.constants import SOURCE_ARTIFACT
from infra.exceptions import RecipeError
from infra.greengrass.recipes import Recipe


@dataclass(frozen=True)
class ArtifactFiles:
    """Resolves a recipe's placeholder path (``edgebundle.zip``, ``aarch64/edgebundle.zip``) to a file."""

    source_zip: Path
    build_dir: Path | None = None

    def local_file(self, recipe: Recipe, path: str) -> Path:
        """The file to upload for ``path`` of ``recipe``; errors say what to build."""
        if self.build_dir is not None:
            built = self.build_dir / "artifacts" / recipe.name / recipe.version / path
            if not built.is_file():
                raise RecipeError(
                    f"{recipe.source}: artifact {path} not found at {built}; run `make build` for this version"
                )
            return built
        if path != SOURCE_ARTIFACT:
            raise RecipeError(
                f"{recipe.source}: artifact {path} exists only in `make build` output; "
                f"synthesize with -c buildDir=greengrass-build"
            )
        if not self.source_zip.is_file():
            raise RecipeError(f"{self.source_zip}: the source artifact was not built")
        return self.source_zip
