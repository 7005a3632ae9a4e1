"""Local artifacts, laid out as the nucleus does so ``{artifacts:...}`` paths are real.

Each artifact of the selected manifest is copied to ``<root>/packages/artifacts/<name>/<version>/``
and, with ``Unarchive: ZIP``, extracted to ``<root>/packages/artifacts-unarchived/<name>/<version>/
<archive name without extension>/``. Where the file comes from, first match wins:

- the plugins' artifact sources (:class:`localcore.plugins.ArtifactSource`), in order;
- ``file:/abs/path`` or ``file:relative/path`` (relative to the project root, then the recipe's folder);
- ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/<path>`` (GDK placeholders; ``<path>`` may
  be ``<arch>/<file>``) or any other ``s3://`` URI (by file name):
  ``greengrass-build/artifacts/<name>/<version>/<path>``, where ``gdk component build`` puts it.
"""

from __future__ import annotations

import logging
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from localcore.logfmt import kv
from localcore.plugins import ArtifactContext, ArtifactSource
from localcore.runner.errors import ArtifactError
from localcore.runner.recipe import Artifact, Recipe
from localcore.runner.variables import artifacts_path, decompressed_path

PLACEHOLDER_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/"

_log = logging.getLogger("localcore.runner.artifacts")


class ArtifactResolver:
    """Finds and lays out the artifacts of recipes under one core root."""

    def __init__(self, root: Path, project_root: Path, sources: Sequence[ArtifactSource] = ()) -> None:
        self._root = root
        self._project_root = project_root.resolve()
        self._sources = list(sources)
        self._context = ArtifactContext(core_root=root, project_root=self._project_root)

    def prepare(self, recipe: Recipe) -> None:
        """Copy (and unarchive) every artifact of ``recipe``; raise :class:`ArtifactError` naming the one that failed."""
        target = artifacts_path(self._root, recipe.name, recipe.version)
        unarchived = decompressed_path(self._root, recipe.name, recipe.version)
        for artifact in recipe.artifacts:
            origin = self.locate(recipe, artifact)
            target.mkdir(parents=True, exist_ok=True)
            copied = target / artifact.file_name
            try:
                if origin.resolve() != copied.resolve():
                    shutil.copyfile(origin, copied)
                if artifact.unarchive == "ZIP":
                    _unzip(copied, unarchived / Path(artifact.file_name).stem)
            except (OSError, zipfile.BadZipFile) as err:
                raise ArtifactError(f"{recipe.source}: artifact {artifact.uri}: {err}") from err
            _log.info(kv(event="artifact_ready", component=recipe.name, uri=artifact.uri, path=copied))

    def locate(self, recipe: Recipe, artifact: Artifact) -> Path:
        """The local file an artifact URI stands for."""
        for source in self._sources:
            found = source.locate(recipe, artifact, self._context)
            if found is not None:
                return found
        parsed = urlparse(artifact.uri)
        if parsed.scheme == "file":
            return self._local_file(recipe, unquote(parsed.netloc + parsed.path), artifact)
        if parsed.scheme == "s3":
            # GDK's placeholder keeps the path under the version folder (`amd64/edgebundle.zip`
            # for a per-architecture build); any other s3:// URI is looked up by its file name.
            relative = (
                unquote(artifact.uri[len(PLACEHOLDER_PREFIX) :])
                if artifact.uri.startswith(PLACEHOLDER_PREFIX)
                else artifact.file_name
            )
            built = (
                self._project_root
                / "greengrass-build"
                / "artifacts"
                / recipe.name
                / recipe.version
                / relative
            )
            if built.is_file():
                return built
            raise ArtifactError(
                f"{recipe.source}: artifact {artifact.uri}: localcore does not download from S3; "
                f"expected the file at {built} (GDK's build layout: `gdk component build`) or a file: URI"
            )
        if not parsed.scheme:
            return self._local_file(recipe, artifact.uri, artifact)
        raise ArtifactError(
            f"{recipe.source}: artifact {artifact.uri}: unsupported URI scheme {parsed.scheme!r}; expected file: or s3://"
        )

    def _local_file(self, recipe: Recipe, path_text: str, artifact: Artifact) -> Path:
        path = Path(path_text)
        candidates = (
            [path] if path.is_absolute() else [self._project_root / path, recipe.source.parent / path]
        )
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        tried = ", ".join(str(c) for c in candidates)
        raise ArtifactError(f"{recipe.source}: artifact {artifact.uri}: no such file (looked at {tried})")


def _unzip(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into a fresh ``destination``; refuse entries that would escape it."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    base = destination.resolve()
    with zipfile.ZipFile(archive) as opened:
        for member in opened.infolist():
            target = (destination / member.filename).resolve()
            if base not in target.parents and target != base:
                raise ArtifactError(
                    f"{archive}: entry {member.filename!r} would be extracted outside {destination}"
                )
        opened.extractall(destination)
        # Keep executable bits the archive recorded (zipfile drops them).
        for member in opened.infolist():
            mode = (member.external_attr >> 16) & 0o777
            if mode & 0o111 and not member.is_dir():
                (destination / member.filename).chmod(mode)
