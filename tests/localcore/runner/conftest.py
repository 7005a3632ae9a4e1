"""Runner test helpers: the recipes written for these tests live in ``recipes/`` beside this file."""

from __future__ import annotations

from pathlib import Path

RECIPES = Path(__file__).resolve().parent / "recipes"
LIFECYCLE = RECIPES / "lifecycle"


def lifecycle(*names: str) -> list[Path]:
    """Paths of ``recipes/lifecycle/<name>.yaml``."""
    return [LIFECYCLE / f"{name}.yaml" for name in names]
