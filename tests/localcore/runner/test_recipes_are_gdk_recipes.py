"""The recipes written for localcore's tests are valid GDK recipes too (what `gdk component build` checks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
# GDK's recipe schema lives in the shared reference beside the repository (not copied into it).
GDK_RECIPE_SCHEMA = REPO.parent / "shared" / "reference" / "gdk-schemas" / "recipe_schema.json"


def _lowercase_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).lower(): _lowercase_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lowercase_keys(item) for item in value]
    return value


TEST_RECIPES = sorted(
    p for p in (Path(__file__).parent / "recipes").rglob("*.yaml") if p.parent.name != "bad"
)


@pytest.mark.skipif(
    not GDK_RECIPE_SCHEMA.is_file(), reason="GDK's recipe schema is not beside the repository"
)
def test_the_recipes_written_for_these_tests_are_valid_gdk_recipes_too() -> None:
    import jsonschema
    import yaml

    validator = jsonschema.Draft7Validator(json.loads(GDK_RECIPE_SCHEMA.read_text()))
    invalid = {
        p.name: [e.message for e in validator.iter_errors(_lowercase_keys(yaml.safe_load(p.read_text())))]
        for p in TEST_RECIPES
    }
    assert {name: errors for name, errors in invalid.items() if errors} == {}
