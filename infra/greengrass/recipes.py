"""Recipes as component versions: read with localcore's recipe reader, artifact URIs pointed at assets.

Recipes carry GDK's placeholder URI ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/<file>``
(the local core resolves it to a local build). For the cloud, each placeholder file (a
component's ``edgebundle.zip``, or ``<arch>/edgebundle.zip`` from ``make build``) is uploaded as a
CDK asset and the placeholder is replaced with its S3 URL. Reading and checking a recipe file is
localcore's job (:func:`localcore.runner.recipe.read_recipe_document`): there is one recipe reader.

Example:
    >>> recipe = Recipe.from_document({"ComponentName": "com.x.A", "ComponentVersion": "1.0.0",
    ...                                "RecipeFormatVersion": "2020-01-25"}, source="a.yaml")
    >>> recipe.name, recipe.version
    ('com.x.A', '1.0.0')
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.constants import ARTIFACT_PLACEHOLDER_PREFIX, SOURCE_ARTIFACT
from infra.exceptions import RecipeError
from localcore.runner import recipe as reader
from localcore.runner.errors import RecipeError as ReaderError


def _get(mapping: Mapping[str, Any], name: str) -> Any:
    """A value by case-insensitive key, as the nucleus reads recipes (``Uri`` or ``URI``)."""
    for key, value in mapping.items():
        if str(key).lower() == name.lower():
            return value
    return None


def _uri_key(artifact: Mapping[str, Any]) -> str:
    return next((str(key) for key in artifact if str(key).lower() == "uri"), "Uri")


@dataclass(frozen=True)
class Recipe:
    """One component recipe: its name, version, the parsed document and the file it came from."""

    name: str
    version: str
    document: dict[str, Any]
    source: str

    @classmethod
    def from_document(cls, document: Any, *, source: str) -> Recipe:
        """Check the fields a component version needs; errors name the file and the field."""
        try:
            checked = reader.check_recipe_document(document, Path(source))
        except ReaderError as err:
            raise RecipeError(str(err)) from err
        return cls(checked.name, checked.version, checked.document, source)

    def _artifacts(self, document: Mapping[str, Any]) -> list[dict[str, Any]]:
        found = []
        for manifest in _get(document, "Manifests") or []:
            for artifact in _get(manifest or {}, "Artifacts") or []:
                if not isinstance(artifact, dict) or not isinstance(_get(artifact, "Uri"), str):
                    raise RecipeError(f"{self.source}: an artifact of {self.name} has no Uri string")
                found.append(artifact)
        return found

    def artifact_uris(self) -> list[str]:
        """Every artifact URI in every manifest."""
        return [str(_get(artifact, "Uri")) for artifact in self._artifacts(self.document)]

    def placeholder_paths(self) -> list[str]:
        """The file paths after GDK's placeholder prefix (``edgebundle.zip``, ``aarch64/edgebundle.zip``)."""
        return [
            uri[len(ARTIFACT_PLACEHOLDER_PREFIX) :]
            for uri in self.artifact_uris()
            if uri.startswith(ARTIFACT_PLACEHOLDER_PREFIX)
        ]

    def uses_source_artifact(self) -> bool:
        """Whether the recipe needs ``edgebundle.zip`` (any architecture's)."""
        return any(path.rsplit("/", 1)[-1] == SOURCE_ARTIFACT for path in self.placeholder_paths())

    def with_artifact_urls(self, urls: Mapping[str, str]) -> dict[str, Any]:
        """A copy of the document with each placeholder URI replaced by ``urls[<path>]``.

        A placeholder path without a URL has no asset behind it and is refused, naming the file.
        """
        document = copy.deepcopy(self.document)
        for artifact in self._artifacts(document):
            key = _uri_key(artifact)
            uri = artifact[key]
            if uri.startswith(ARTIFACT_PLACEHOLDER_PREFIX):
                path = uri[len(ARTIFACT_PLACEHOLDER_PREFIX) :]
                if path not in urls:
                    raise RecipeError(
                        f"{self.source}: artifact {uri} has no asset; expected "
                        f"{ARTIFACT_PLACEHOLDER_PREFIX}{SOURCE_ARTIFACT} or a file `make build` wrote"
                    )
                artifact[key] = urls[path]
        return document

    def with_artifact_uri(self, source_artifact_uri: str) -> dict[str, Any]:
        """The document with the placeholder URI of ``edgebundle.zip`` replaced (the one-artifact case)."""
        return self.with_artifact_urls({SOURCE_ARTIFACT: source_artifact_uri})


def load_recipe(path: Path) -> Recipe:
    """Read one recipe file (YAML or JSON) with localcore's reader."""
    try:
        checked = reader.read_recipe_document(path)
    except ReaderError as err:
        raise RecipeError(str(err)) from err
    return Recipe(checked.name, checked.version, checked.document, str(path))


def load_recipes(recipes_dir: Path) -> list[Recipe]:
    """Every recipe in ``recipes_dir``, sorted by component name; names must be unique."""
    try:
        checked = reader.read_recipe_documents(recipes_dir)
    except ReaderError as err:
        raise RecipeError(str(err)) from err
    return [Recipe(r.name, r.version, r.document, str(r.source)) for r in checked]
