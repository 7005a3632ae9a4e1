"""A build folder (``-c buildDir=...``) checked against the bundle before anything is deployed.

A deployment names every component it keeps on the device: deploying a build folder that lacks
one of the bundle's components would remove that component from every device of the fleet. So
the folder must hold a built recipe for each recipe in ``recipes/``, at the version that recipe
declares (the one version source), and nothing the bundle does not define.

Two layouts are accepted:

- ``make build`` output: ``<dir>/recipes/<Name>-<version>.yaml`` and ``<dir>/artifacts/...``;
- GDK's per-component projects (``gdk/<Name>/``, see the README): ``<dir>/<Name>/greengrass-build/``
  each holding one component, so ``-c buildDir=gdk`` deploys what ``gdk component build`` built.

Example::

    built = load_build_folder(Path("greengrass-build"), load_recipes(RECIPES_DIR))
    built.recipes, built.folders["com.edgebundle.Sensing"]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.exceptions import SettingsError
from infra.greengrass.recipes import Recipe, load_recipes

GDK_BUILD_FOLDER = "greengrass-build"


@dataclass(frozen=True)
class BuildFolder:
    """The built recipes to deploy and, per component name, the build folder holding its artifacts."""

    recipes: list[Recipe]
    folders: dict[str, Path]


def build_roots(build_dir: Path) -> list[Path]:
    """The build folders under ``build_dir``: itself (``make build``) or each GDK project's."""
    if (build_dir / "recipes").is_dir():
        return [build_dir]
    roots = sorted(p.parent for p in build_dir.glob(f"*/{GDK_BUILD_FOLDER}/recipes") if p.is_dir())
    if not roots:
        raise SettingsError(
            f"{build_dir}: not a build folder: expected {build_dir}/recipes (from `make build`) or "
            f"{build_dir}/<component>/{GDK_BUILD_FOLDER}/recipes (from `gdk component build`)"
        )
    return roots


def load_build_folder(build_dir: Path, bundle: Sequence[Recipe]) -> BuildFolder:
    """The built recipes of ``build_dir``, refused unless they are exactly the bundle's components and versions.

    Raises:
        SettingsError: a component missing, at another version, built twice, or not in the bundle.
    """
    recipes: list[Recipe] = []
    folders: dict[str, Path] = {}
    for root in build_roots(build_dir):
        for recipe in load_recipes(root / "recipes"):
            if recipe.name in folders:
                raise SettingsError(
                    f"{build_dir}: {recipe.name} is built in both {folders[recipe.name]} and {root}"
                )
            folders[recipe.name] = root
            recipes.append(recipe)
    expected = {r.name: r for r in bundle}
    built = {r.name: r for r in recipes}
    problems = []
    missing = sorted(set(expected) - set(built))
    if missing:
        problems.append(
            f"lacks {', '.join(missing)} (deploying it would remove them from every device); "
            "build every component: `make build ARGS=...`"
        )
    extra = sorted(set(built) - set(expected))
    if extra:
        problems.append(f"holds {', '.join(extra)}, which recipes/ does not define")
    for name in sorted(set(expected) & set(built)):
        if built[name].version != expected[name].version:
            problems.append(
                f"has {name} {built[name].version}, but recipes/ declares {expected[name].version}; rebuild it"
            )
    if problems:
        raise SettingsError(f"build folder {build_dir}: " + "; ".join(problems))
    return BuildFolder(sorted(recipes, key=lambda r: r.name), folders)
