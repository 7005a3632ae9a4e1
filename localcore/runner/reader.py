"""Case-insensitive reading of a recipe's mappings, with the key path kept for error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcore.runner.errors import RecipeError


class RecipeReader:
    """Case-insensitive access to one mapping of the recipe, remembering its key path for errors."""

    def __init__(self, source: Path, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise RecipeError(source, path or "(top level)", f"expected a mapping, got {describe(value)}")
        self.source = source
        self.path = path
        self.items: dict[str, tuple[str, Any]] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RecipeError(source, path, f"expected string keys, got {key!r}")
            if key.lower() in self.items:
                raise RecipeError(
                    source,
                    self.child(key),
                    f"duplicate key (keys are case-insensitive: {self.items[key.lower()][0]!r})",
                )
            self.items[key.lower()] = (key, item)

    def child(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def key_path(self, key: str) -> str:
        original = self.items.get(key.lower(), (key, None))[0]
        return self.child(original)

    def has(self, key: str) -> bool:
        return key.lower() in self.items

    def raw(self, key: str) -> Any:
        return self.items.get(key.lower(), (key, None))[1]

    def error(self, key: str, problem: str) -> RecipeError:
        return RecipeError(self.source, self.key_path(key), problem)

    def string(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self.raw(key)
        if value is None:
            if required:
                raise self.error(key, "required, expected a string")
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self.error(key, f"expected a string, got {describe(value)}")
        return str(value)

    def mapping(self, key: str) -> RecipeReader | None:
        value = self.raw(key)
        return None if value is None else RecipeReader(self.source, value, self.key_path(key))


def describe(value: Any) -> str:
    kinds = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }
    return f"{kinds.get(type(value), type(value).__name__)} ({json.dumps(value, default=str)[:60]})"
