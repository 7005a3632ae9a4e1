"""Recipes from ``recipes/`` as component versions: loaded, checked, artifact URIs pointed at the asset.

Recipes carry GDK's placeholder URI ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/<file>``
(the local core resolves it to a local build). For the cloud, the one artifact the project builds,
``edgebundle.zip``, is uploaded as a CDK asset and the placeholder is replaced with its S3 URL.

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

import yaml

from infra.constants import ARTIFACT_PLACEHOLDER_PREFIX, SOURCE_ARTIFACT
from infra.exceptions import RecipeError

RECIPE_SUFFIXES = (".yaml", ".yml", ".json")


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
        if not isinstance(document, dict):
            raise RecipeError(f"{source}: expected a mapping at the top level, got {type(document).__name__}")
        for field in ("RecipeFormatVersion", "ComponentName", "ComponentVersion"):
            value = document.get(field)
            if not isinstance(value, str) or not value:
                raise RecipeError(f"{source}: {field} must be a non-empty string, got {value!r}")
        return cls(document["ComponentName"], document["ComponentVersion"], document, source)

    def artifact_uris(self) -> list[str]:
        """Every artifact URI in every manifest."""
        uris: list[str] = []
        for manifest in self.document.get("Manifests") or []:
            for artifact in (manifest or {}).get("Artifacts") or []:
                uri = (artifact or {}).get("Uri")
                if not isinstance(uri, str):
                    raise RecipeError(f"{self.source}: an artifact of {self.name} has no Uri string")
                uris.append(uri)
        return uris

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
        for manifest in document.get("Manifests") or []:
            for artifact in manifest.get("Artifacts") or []:
                uri = artifact["Uri"]
                if uri.startswith(ARTIFACT_PLACEHOLDER_PREFIX):
                    path = uri[len(ARTIFACT_PLACEHOLDER_PREFIX) :]
                    if path not in urls:
                        raise RecipeError(
                            f"{self.source}: artifact {uri} has no asset; expected "
                            f"{ARTIFACT_PLACEHOLDER_PREFIX}{SOURCE_ARTIFACT} or a file `make build` wrote"
                        )
                    artifact["Uri"] = urls[path]
        return document

    def with_artifact_uri(self, source_artifact_uri: str) -> dict[str, Any]:
        """The document with the placeholder URI of ``edgebundle.zip`` replaced (the one-artifact case)."""
        return self.with_artifact_urls({SOURCE_ARTIFACT: source_artifact_uri})


def load_recipe(path: Path) -> Recipe:
    """Parse one recipe file (YAML or JSON, JSON being YAML)."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML/JSON: {err}") from err
    return Recipe.from_document(document, source=str(path))


def load_recipes(recipes_dir: Path) -> list[Recipe]:
    """Every recipe in ``recipes_dir``, sorted by component name; names must be unique."""
    if not recipes_dir.is_dir():
        raise RecipeError(f"{recipes_dir}: recipes folder not found")
    recipes = [
        load_recipe(p) for p in sorted(recipes_dir.iterdir()) if p.suffix in RECIPE_SUFFIXES and p.is_file()
    ]
    seen: dict[str, str] = {}
    for recipe in recipes:
        if recipe.name in seen:
            raise RecipeError(
                f"{recipe.source}: component {recipe.name} is also defined in {seen[recipe.name]}"
            )
        seen[recipe.name] = recipe.source
    return sorted(recipes, key=lambda r: r.name)
