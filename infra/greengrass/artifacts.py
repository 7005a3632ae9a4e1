"""Where a recipe's placeholder artifacts are on disk, to be uploaded as CDK assets.

The app deploys a build folder (``make build`` or GDK output with ``-c buildDir=...``, or, for a
plain synth, a development build it makes itself): each placeholder path (``edgebundle.zip``,
``aarch64/edgebundle.zip``) is the file at
``<build folder>/artifacts/<ComponentName>/<ComponentVersion>/<path>``. A lone ``source_zip`` (one
artifact for every recipe) is kept for tests of the Greengrass unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from infra.constants import SOURCE_ARTIFACT
from infra.exceptions import RecipeError
from infra.greengrass.recipes import Recipe


@dataclass(frozen=True)
class ArtifactFiles:
    """Resolves a recipe's placeholder path (``edgebundle.zip``, ``aarch64/edgebundle.zip``) to a file."""

    source_zip: Path | None = None
    build_dir: Path | None = None
    # Per component, the build folder holding its artifacts when they are not all in build_dir
    # (one GDK project per component: infra/greengrass/build_folder.py).
    component_build_dirs: Mapping[str, Path] = field(default_factory=dict)

    def local_file(self, recipe: Recipe, path: str) -> Path:
        """The file to upload for ``path`` of ``recipe``; errors say what to build."""
        build_dir = self.component_build_dirs.get(recipe.name, self.build_dir)
        if build_dir is not None:
            built = build_dir / "artifacts" / recipe.name / recipe.version / path
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
        if self.source_zip is None or not self.source_zip.is_file():
            raise RecipeError(f"{self.source_zip or SOURCE_ARTIFACT}: the source artifact was not built")
        return self.source_zip
