"""``make build``: write ``greengrass-build/`` in the layout GDK uses, for every recipe in ``recipes/``.

Layout (GDK's, extended to several components)::

    greengrass-build/
      recipes/<ComponentName>-<version>.yaml                recipe with version and artifact URIs set
      artifacts/<ComponentName>/<version>/edgebundle.zip          (no --arch: one development artifact)
      artifacts/<ComponentName>/<version>/<arch>/edgebundle.zip   (--arch: one per device architecture)

Each component's artifact holds its own code, the project modules it imports and its own models
(:mod:`bundlebuild.component_zip`). With ``--arch``, it also carries, per device Python (3.11 and
3.13), the wheels of the distributions the component imports, hardware drivers included
(:mod:`bundlebuild.requirements`, :mod:`bundlebuild.wheels`), and the recipe gets one manifest per
architecture whose ``Platform`` is the nucleus's (:mod:`localcore.runner.platforms`). The version
is each recipe's own ``ComponentVersion``: the one source the GDK configs and the CDK app follow.

A device for which a wheel does not exist fails the build, naming the distribution, the
architecture and the Python (32-bit ARM: PyPI has next to no wheels; see docs/cloud.md).
Artifact URIs keep GDK's placeholders ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/...``
unless ``--bucket`` is given; the CDK app uploads the same files as assets.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bundlebuild.closure import import_closure
from bundlebuild.component_zip import ComponentContents, component_contents, write_component_zip
from bundlebuild.requirements import (
    RequirementError,
    component_distributions,
    project_requirements,
    requirement_lines,
    uncovered_imports,
)
from bundlebuild.wheels import DEVICE_PYTHONS, MissingWheelError, default_cache_dir, fetch_wheels
from localcore.runner.errors import RecipeError
from localcore.runner.platforms import DEVICE_MACHINES, DeviceMachine, device_machine
from localcore.runner.recipe import RecipeDocument, parse_recipe, read_recipe_documents

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACT_NAME = "edgebundle.zip"
PLACEHOLDER_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION"
PLACEHOLDER_URI = f"{PLACEHOLDER_PREFIX}/{ARTIFACT_NAME}"
_RUN_MODULE = re.compile(r"-m\s+(components\.[A-Za-z0-9_.]+)")


class BuildError(RuntimeError):
    """The build cannot go on; the message names the recipe, component or wheel and what was expected."""


@dataclass(frozen=True)
class BuiltComponent:
    """One component written to the build folder."""

    name: str
    version: str
    recipe: Path
    artifacts: tuple[Path, ...]


def component_package(recipe: RecipeDocument) -> str:
    """The Python package a recipe runs (``python3 -m components.sensing`` -> ``components.sensing``)."""
    found = sorted(set(_RUN_MODULE.findall(yaml.safe_dump(recipe.document))))
    if len(found) != 1:
        raise BuildError(
            f"{recipe.source}: expected the lifecycle to run exactly one `python3 -m components.<package>`, "
            f"found {found or 'none'}"
        )
    return found[0]


def _key(mapping: dict[str, Any], name: str) -> str:
    """The recipe's spelling of a case-insensitive key."""
    for key in mapping:
        if key.lower() == name.lower():
            return str(key)
    return name


def transform_recipe(
    recipe: dict[str, Any], version: str, machines: Sequence[DeviceMachine] | None, bucket: str | None
) -> dict[str, Any]:
    """Set the version and artifact URIs; with ``machines``, one manifest per device architecture.

    Each per-architecture manifest's ``Platform`` is the one the nucleus reports on that device.
    """
    result = copy.deepcopy(recipe)
    name = str(result[_key(result, "ComponentName")])
    result[_key(result, "ComponentVersion")] = version
    prefix = f"s3://{bucket}/{name}/{version}" if bucket else PLACEHOLDER_PREFIX
    manifests_key = _key(result, "Manifests")
    manifests: list[dict[str, Any]] = []
    for manifest in result.get(manifests_key, []):
        artifacts_key = _key(manifest, "Artifacts")
        uses_bundle = any(
            str(artifact.get(_key(artifact, "Uri"), "")).endswith(f"/{ARTIFACT_NAME}")
            for artifact in manifest.get(artifacts_key, [])
        )
        if not uses_bundle:
            manifests.append(manifest)
            continue
        variants: list[DeviceMachine | None] = list(machines) if machines else [None]
        for machine in variants:
            variant = copy.deepcopy(manifest)
            for artifact in variant.get(artifacts_key, []):
                uri_key = _key(artifact, "Uri")
                if str(artifact.get(uri_key, "")).endswith(f"/{ARTIFACT_NAME}"):
                    folder = f"/{machine.name}" if machine else ""
                    artifact[uri_key] = f"{prefix}{folder}/{ARTIFACT_NAME}"
            if machine:
                platform_key = _key(variant, "Platform")
                variant[platform_key] = {**(variant.get(platform_key) or {}), **machine.platform}
            manifests.append(variant)
    result[manifests_key] = manifests
    return result


def build(
    project_root: Path = PROJECT_ROOT,
    out: Path | None = None,
    *,
    only: list[str] | None = None,
    arches: list[str] | None = None,
    bucket: str | None = None,
    cache_dir: Path | None = None,
    find_links: Sequence[Path] = (),
) -> list[BuiltComponent]:
    """Build every component (or ``only`` these) into ``out`` (default ``greengrass-build/``).

    Raises:
        BuildError: a bad recipe, an unknown architecture or component, an unmapped import, or
            missing wheels (all of them, each naming the component, distribution, architecture
            and Python).
    """
    out = out or project_root / "greengrass-build"
    machines = _machines(arches)
    try:
        recipes = read_recipe_documents(project_root / "recipes")
    except RecipeError as err:
        raise BuildError(str(err)) from err
    if not recipes:
        raise BuildError(f"{project_root / 'recipes'}: no recipes found")
    selected = [r for r in recipes if not only or r.name in only]
    unknown = sorted(set(only or ()) - {r.name for r in recipes})
    if unknown:
        raise BuildError(
            f"{', '.join(unknown)}: no such recipe in {project_root / 'recipes'}; expected one of "
            f"{', '.join(r.name for r in recipes)}"
        )
    declared = project_requirements(project_root / "pyproject.toml")
    plans = [_plan(project_root, recipe, declared, machines) for recipe in selected]
    wheels, missing = _fetch_all(plans, cache_dir or default_cache_dir(), find_links)
    if missing:
        raise BuildError(
            "some devices cannot be served, nothing was written:\n  "
            + "\n  ".join(missing)
            + "\nPyPI has no such wheel for that architecture and Python: drop that --arch, or offer wheels "
            "built on such a device (`pip wheel`) with --find-links DIR (docs/cloud.md, 32-bit ARM)"
        )
    if out.exists():
        shutil.rmtree(out)
    (out / "recipes").mkdir(parents=True)
    built = []
    for plan in plans:
        built.append(_write(project_root, out, plan, machines, wheels, bucket))
    return built


@dataclass
class _Plan:
    """What one component's artifacts will hold, worked out before anything is downloaded or written."""

    recipe: RecipeDocument
    contents: ComponentContents
    lines: dict[tuple[str, str], list[str]]  # (machine, python) -> requirement lines
    uncovered: dict[tuple[str, str], list[str]]  # (machine, python) -> imports nothing provides there


def _machines(arches: list[str] | None) -> list[DeviceMachine]:
    machines: list[DeviceMachine] = []
    for asked in arches or []:
        try:
            machine = device_machine(asked)
        except ValueError as err:
            raise BuildError(str(err)) from err
        if machine not in machines:
            machines.append(machine)
    return machines


def _plan(
    project_root: Path, recipe: RecipeDocument, declared: dict[str, str], machines: list[DeviceMachine]
) -> _Plan:
    package = component_package(recipe)
    _check_on_every_device(recipe, machines)
    closure = import_closure(project_root, package)
    defaults = _default_configuration(recipe)
    try:
        contents = component_contents(project_root, package, closure, defaults)
        distributions = component_distributions(recipe.name, closure)
        lines = {
            (machine.name, python): requirement_lines(
                recipe.name, distributions, declared, machine=machine.uname_machine, python=python
            )
            for machine in machines
            for python in DEVICE_PYTHONS
        }
    except (RequirementError, ValueError) as err:
        raise BuildError(f"{recipe.source}: {err}") from err
    uncovered = {key: uncovered_imports(recipe.name, closure, found) for key, found in lines.items()}
    return _Plan(recipe, contents, lines, {key: names for key, names in uncovered.items() if names})


def _check_on_every_device(recipe: RecipeDocument, machines: list[DeviceMachine]) -> None:
    """The built recipe loads, as localcore (and the nucleus) reads it, on each device it targets."""
    built = transform_recipe(recipe.document, recipe.version, machines, None)
    for machine in machines or [DEVICE_MACHINES["amd64"]]:
        try:
            parse_recipe(built, recipe.source, machine.platform)
        except RecipeError as err:
            raise BuildError(f"built for {machine.name}: {err}") from err


def _default_configuration(recipe: RecipeDocument) -> dict[str, Any]:
    configuration = recipe.document.get(_key(recipe.document, "ComponentConfiguration")) or {}
    return dict(configuration.get(_key(configuration, "DefaultConfiguration")) or {})


def _fetch_all(
    plans: list[_Plan], cache_dir: Path, find_links: Sequence[Path]
) -> tuple[dict[tuple[str, str, str], list[Path]], list[str]]:
    wheels: dict[tuple[str, str, str], list[Path]] = {}
    missing: list[str] = []
    for plan in plans:
        for (machine, python), names in plan.uncovered.items():
            missing.append(
                f"{plan.recipe.name}: nothing provides {', '.join(names)} for {machine} / CPython {python} "
                "(the pyproject.toml markers select no distribution of it there)"
            )
        for (machine, python), lines in plan.lines.items():
            if (machine, python) in plan.uncovered:
                continue
            try:
                wheels[(plan.recipe.name, machine, python)] = fetch_wheels(
                    lines, DEVICE_MACHINES[machine], python, cache_dir, find_links=find_links
                )
            except MissingWheelError as err:
                missing.append(f"{plan.recipe.name}: {err}")
            except RuntimeError as err:
                raise BuildError(f"{plan.recipe.name}: {err}") from err
    return wheels, missing


def _write(
    project_root: Path,
    out: Path,
    plan: _Plan,
    machines: list[DeviceMachine],
    wheels: dict[tuple[str, str, str], list[Path]],
    bucket: str | None,
) -> BuiltComponent:
    name, version = plan.recipe.name, plan.recipe.version
    root = out / "artifacts" / name / version
    artifacts = []
    if not machines:
        artifacts.append(write_component_zip(project_root, plan.contents, root / ARTIFACT_NAME))
    for machine in machines:
        per_python = {
            DEVICE_PYTHONS[python].tag: (
                plan.lines[(machine.name, python)],
                wheels[(name, machine.name, python)],
            )
            for python in DEVICE_PYTHONS
        }
        target = root / machine.name / ARTIFACT_NAME
        artifacts.append(write_component_zip(project_root, plan.contents, target, per_python))
    transformed = transform_recipe(plan.recipe.document, version, machines, bucket)
    recipe_out = out / "recipes" / f"{name}-{version}.yaml"
    recipe_out.write_text(yaml.safe_dump(transformed, sort_keys=False), encoding="utf-8")
    return BuiltComponent(name, version, recipe_out, tuple(artifacts))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bundlebuild.build [--component NAME] [--arch aarch64 ...] [--bucket B]``."""
    parser = argparse.ArgumentParser(prog="python -m bundlebuild.build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default greengrass-build/)")
    parser.add_argument("--component", action="append", help="build only this component (repeatable)")
    parser.add_argument(
        "--arch",
        action="append",
        help=f"carry wheels for this device architecture (repeatable): {', '.join(DEVICE_MACHINES)} "
        "(x86_64 = amd64, arm64 = aarch64); none: a development artifact without wheels",
    )
    parser.add_argument("--bucket", help="real artifact bucket for the URIs (default: GDK placeholders)")
    parser.add_argument("--find-links", type=Path, action="append", default=[], help="extra wheels folder")
    parser.add_argument(
        "--wheel-cache", type=Path, default=None, help="wheel cache (default ~/.cache/edge-bundle)"
    )
    args = parser.parse_args(argv)
    try:
        built = build(
            out=args.out,
            only=args.component,
            arches=args.arch,
            bucket=args.bucket,
            cache_dir=args.wheel_cache,
            find_links=args.find_links,
        )
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    for component in built:
        print(f"{component.name} {component.version}: {component.recipe.name}")
        for artifact in component.artifacts:
            shown = artifact.relative_to(Path.cwd()) if artifact.is_relative_to(Path.cwd()) else artifact
            print(f"  {shown} ({artifact.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
