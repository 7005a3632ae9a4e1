"""Recipes into component versions: loading, checks and the artifact URI substitution (no CDK)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.exceptions import RecipeError
from infra.greengrass.recipes import Recipe, load_recipe, load_recipes

PLACEHOLDER = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/edgebundle.zip"


def _doc(name: str = "com.x.A", uri: str = PLACEHOLDER) -> dict[str, object]:
    return {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Platform": {"os": "linux"}, "Artifacts": [{"Uri": uri, "Unarchive": "ZIP"}]}],
    }


def test_the_projects_recipes_load_and_all_use_the_source_artifact(repo_root: Path) -> None:
    recipes = load_recipes(repo_root / "recipes")
    assert recipes, "expected at least one recipe"
    assert [r.name for r in recipes] == sorted(r.name for r in recipes)
    assert all(r.uses_source_artifact() for r in recipes)


def test_placeholder_uri_is_replaced_and_the_original_left_untouched() -> None:
    recipe = Recipe.from_document(_doc(), source="a.yaml")
    document = recipe.with_artifact_uri("s3://bucket/hash.zip")
    assert document["Manifests"][0]["Artifacts"][0]["Uri"] == "s3://bucket/hash.zip"
    assert recipe.document["Manifests"][0]["Artifacts"][0]["Uri"] == PLACEHOLDER


def test_other_placeholder_artifacts_are_refused_naming_the_file() -> None:
    recipe = Recipe.from_document(
        _doc(uri="s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/model.tflite"), source="b.yaml"
    )
    with pytest.raises(RecipeError, match=r"b\.yaml: artifact .*model\.tflite has no asset"):
        recipe.with_artifact_uri("s3://bucket/hash.zip")


def test_public_artifact_uris_are_kept() -> None:
    recipe = Recipe.from_document(_doc(uri="https://example.com/x.zip"), source="c.yaml")
    assert (
        recipe.with_artifact_uri("s3://bucket/hash.zip")["Manifests"][0]["Artifacts"][0]["Uri"]
        == "https://example.com/x.zip"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a list\n", "expected a recipe mapping at the top level"),
        (
            "RecipeFormatVersion: '2020-01-25'\nComponentVersion: 1.0.0\n",
            "ComponentName",
        ),
        (
            "RecipeFormatVersion: '2020-01-25'\nComponentName: com.x.A\nComponentVersion: 1.0\n",
            "ComponentVersion: expected a semantic version string",
        ),
        ("ComponentName: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_recipe_files_are_refused_with_the_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError, match=expected):
        load_recipe(path)


def test_duplicate_component_names_are_refused(tmp_path: Path) -> None:
    import yaml

    for file_name in ("one.yaml", "two.yaml"):
        (tmp_path / file_name).write_text(yaml.safe_dump(_doc()), encoding="utf-8")
    with pytest.raises(RecipeError, match="also defined in"):
        load_recipes(tmp_path)


def test_missing_recipes_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="recipes folder not found"):
        load_recipes(tmp_path / "nope")


_URIS = st.one_of(
    st.just(PLACEHOLDER),
    st.from_regex(r"\Ahttps://[a-z]{1,8}\.example/[a-z]{1,8}\.zip\Z"),
    st.from_regex(r"\As3://[a-z]{3,10}/[a-z/]{1,12}\.zip\Z"),
)


@given(manifests=st.lists(st.lists(_URIS, max_size=4), max_size=3))
def test_only_the_source_artifact_placeholder_changes(manifests: list[list[str]]) -> None:
    document: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "com.x.A",
        "ComponentVersion": "1.0.0",
        "Manifests": [{"Artifacts": [{"Uri": uri} for uri in uris]} for uris in manifests],
    }
    recipe = Recipe.from_document(document, source="p.yaml")
    replaced = recipe.with_artifact_uri("s3://assets/hash.zip")
    for before, after in zip(document["Manifests"], replaced["Manifests"], strict=True):
        for old, new in zip(before["Artifacts"], after["Artifacts"], strict=True):
            assert new["Uri"] == ("s3://assets/hash.zip" if old["Uri"] == PLACEHOLDER else old["Uri"])
    assert recipe.uses_source_artifact() == any(PLACEHOLDER in uris for uris in manifests)
