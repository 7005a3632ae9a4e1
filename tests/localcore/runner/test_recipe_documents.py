"""localcore's whole-recipe reader, the one recipe reader `make build` and the CDK app use too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from localcore.runner.errors import RecipeError
from localcore.runner.recipe import read_recipe_document, read_recipe_documents

REPO = Path(__file__).resolve().parents[3]


def _write(folder: Path, name: str, **fields: object) -> Path:
    document = {"RecipeFormatVersion": "2020-01-25", "ComponentName": name, "ComponentVersion": "1.0.0"}
    document.update(fields)  # type: ignore[arg-type]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_recipe_for_other_machines_reads_whole(tmp_path: Path) -> None:
    manifests = [{"Platform": {"os": "windows"}}, {"Platform": {"os": "linux", "architecture": "arm"}}]
    recipe = read_recipe_document(_write(tmp_path, "com.x.A", Manifests=manifests))
    assert (recipe.name, recipe.version) == ("com.x.A", "1.0.0")
    assert recipe.document["Manifests"] == manifests


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ComponentVersion": 1.0}, r"ComponentVersion: expected a semantic version string .*quote it"),
        ({"ComponentVersion": "one"}, "ComponentVersion: expected a semantic version like"),
        ({"RecipeFormatVersion": "2021-01-01"}, "RecipeFormatVersion: expected '2020-01-25'"),
        ({"ComponentName": "bad name!"}, "ComponentName: expected letters, digits"),
    ],
)
def test_bad_headers_are_refused_naming_the_key(
    tmp_path: Path, fields: dict[str, object], message: str
) -> None:
    path = _write(tmp_path, "com.x.A", **fields)
    with pytest.raises(RecipeError, match=message):
        read_recipe_document(path)


def test_a_folder_reads_sorted_and_refuses_a_name_defined_twice(tmp_path: Path) -> None:
    _write(tmp_path, "com.x.B")
    _write(tmp_path, "com.x.A")
    assert [r.name for r in read_recipe_documents(tmp_path)] == ["com.x.A", "com.x.B"]
    (tmp_path / "copy.yaml").write_text((tmp_path / "com.x.A.yaml").read_text())
    with pytest.raises(RecipeError, match=r"com\.x\.A is also defined in"):
        read_recipe_documents(tmp_path)


def test_the_projects_recipes_read() -> None:
    assert len(read_recipe_documents(REPO / "recipes")) == 4
