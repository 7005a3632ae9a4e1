"""The artifact source for ``edgebundle.zip``: the working tree zipped on the fly.

The bundle's recipes name one artifact, ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/
edgebundle.zip`` (GDK's placeholders). After ``make build`` localcore finds it in GDK's
``greengrass-build/`` layout by itself; before, this source builds it from the project's source
(``bundlebuild/source_zip.py``), once per core, under ``<root>/packages/build/``.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from bundlebuild.source_zip import build_source_zip
from localcore.logfmt import kv
from localcore.plugins import ArtifactContext
from localcore.runner.artifacts import PLACEHOLDER_PREFIX
from localcore.runner.errors import ArtifactError
from localcore.runner.recipe import Artifact, Recipe

SOURCE_ZIP_NAME = "edgebundle.zip"

_log = logging.getLogger("bundledev.source_zip")


class SourceZipSource:
    """Builds ``edgebundle.zip`` for an ``s3://`` artifact of that name that was not built."""

    def __init__(self) -> None:
        self._built: dict[Path, Path] = {}
        self._lock = threading.Lock()

    def locate(self, recipe: Recipe, artifact: Artifact, context: ArtifactContext) -> Path | None:
        """The zip for the source recipes' ``edgebundle.zip`` when ``make build`` left none; ``None``
        for anything else, a per-architecture build's ``<arch>/edgebundle.zip`` included (localcore's
        own GDK layout lookup finds that one, or says where it expected it)."""
        if (
            not artifact.uri.startswith(PLACEHOLDER_PREFIX)
            or artifact.uri[len(PLACEHOLDER_PREFIX) :] != SOURCE_ZIP_NAME
        ):
            return None
        built = (
            context.project_root
            / "greengrass-build/artifacts"
            / recipe.name
            / recipe.version
            / SOURCE_ZIP_NAME
        )
        if built.is_file():
            return None
        return self._source_zip(context)

    def _source_zip(self, context: ArtifactContext) -> Path:
        with self._lock:
            found = self._built.get(context.core_root)
            if found is None:
                destination = context.core_root / "packages" / "build" / SOURCE_ZIP_NAME
                try:
                    found = build_source_zip(context.project_root, destination)
                except OSError as err:
                    raise ArtifactError(
                        f"cannot build {SOURCE_ZIP_NAME} from {context.project_root}: {err}"
                    ) from err
                self._built[context.core_root] = found
                _log.info(kv(event="source_zip_built", path=destination, project=context.project_root))
            return found
