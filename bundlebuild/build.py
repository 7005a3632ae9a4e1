"""``make build``: write ``greengrass-build/`` in the layout GDK uses, for every recipe in ``recipes/``.

Layout (GDK's, extended to several components)::

    greengrass-build/
      recipes/<ComponentName>-<version>.yaml          recipe with version and artifact URIs set
      artifacts/<ComponentName>/<version>/edgebundle.zip                 (no --wheels: one artifact)
      artifacts/<ComponentName>/<version>/<arch>/edgebundle.zip          (--wheels: one per architecture)

Artifacts carry the project source and, with ``--wheels``, the wheels of the component's runtime
requirements for one device architecture, so the recipe's Install step builds the component's
virtual environment on the device without reaching PyPI (see ``bundlebuild/install.py``).
Artifact URIs keep GDK's placeholders ``s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/...``
unless ``--bucket`` is given; the CDK app uploads the same files as assets.
"""

from __future__ import annotations

import argparse
import copy
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib
import yaml
from packaging.markers import Marker

from bundlebuild.source_zip import build_source_zip
from bundlespec import load_spec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ARTIFACT_NAME = "edgebundle.zip"
PLACEHOLDER_URI = f"s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/{ARTIFACT_NAME}"

# pip --platform tags per device architecture (manylinux wheels on PyPI). 32-bit ARM has almost
# no wheels on PyPI (numpy and awscrt among the missing): see docs/cloud.md (32-bit ARM) for what to do there.
PLATFORM_TAGS: dict[str, tuple[str, ...]] = {
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_17_x86_64"),
    "aarch64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_17_aarch64"),
    "armv7l": ("linux_armv7l", "manylinux2014_armv7l"),
}

# The distributions each component imports at run time (names as in pyproject's dependencies);
# a device installs only what its components need.
_COMMON = ("awsiotsdk", "msgspec", "pyyaml")
COMPONENT_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "com.edgebundle.Sensing": (*_COMMON, "psutil"),
    "com.edgebundle.Inference": (*_COMMON, "numpy", "ai-edge-litert", "tflite-runtime"),
    "com.edgebundle.QualityInspection": (*_COMMON, "numpy", "ai-edge-litert", "tflite-runtime", "pillow"),
    # No boto3: sync signs its S3 uploads with awscrt (awsiotsdk's own dependency). No numpy: the
    # batch column encoding is plain Python (numpy cost the process ~12 MiB resident).
    "com.edgebundle.Sync": (*_COMMON, "zstandard"),
}


class BuildError(RuntimeError):
    """The build cannot go on; the message names the recipe or requirement and what was expected."""


@dataclass(frozen=True)
class BuiltComponent:
    """One component written to ``greengrass-build/``."""

    name: str
    version: str
    recipe: Path
    artifacts: tuple[Path, ...]


def project_requirements(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> dict[str, str]:
    """Map each runtime dependency's normalized name to its full requirement string from pyproject."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    requirements: dict[str, str] = {}
    for requirement in data["project"]["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        requirements[_normalize(name)] = requirement
    for extra in data["project"].get("optional-dependencies", {}).values():
        for requirement in extra:
            name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
            requirements.setdefault(_normalize(name), requirement)
    return requirements


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements_for(component: str, all_requirements: dict[str, str], arch: str) -> list[str]:
    """The requirement lines one component needs on one architecture (runtime markers applied)."""
    names = COMPONENT_REQUIREMENTS.get(component)
    if names is None:
        raise BuildError(
            f"{component}: no entry in COMPONENT_REQUIREMENTS; expected one of {sorted(COMPONENT_REQUIREMENTS)}"
        )
    lines = []
    for name in names:
        requirement = all_requirements.get(_normalize(name))
        if requirement is None:
            raise BuildError(f"{component}: requirement {name!r} is not declared in pyproject.toml")
        spec, _, marker = requirement.partition(";")
        if marker and not _marker_holds(marker, arch):
            continue
        lines.append(spec.strip())
    return lines


def _marker_holds(marker: str, arch: str) -> bool:
    # Devices run CPython 3.11 on Linux; the project's markers test the machine and Python version.
    return bool(
        Marker(marker).evaluate({"platform_machine": arch, "python_version": "3.11", "sys_platform": "linux"})
    )


def download_wheels(requirements: list[str], arch: str, dest: Path) -> None:
    """Download binary wheels for ``arch`` (Python 3.11, CPython) into ``dest`` with pip."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--dest", str(dest)]
    command += ["--python-version", "3.11", "--implementation", "cp"]
    for tag in PLATFORM_TAGS[arch]:
        command += ["--platform", tag]
    command += requirements
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BuildError(f"wheels for {arch}: pip download failed:\n{result.stderr.strip()[-2000:]}")


def load_recipe(path: Path) -> dict[str, Any]:
    """Load a recipe file (YAML or JSON) as a mapping."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise BuildError(f"{path}: expected a recipe mapping at the top level")
    return raw


def _key(recipe: dict[str, Any], name: str) -> str:
    """The recipe's spelling of a case-insensitive key."""
    for key in recipe:
        if key.lower() == name.lower():
            return str(key)
    return name


def _arch_variants(arches: list[str] | None) -> list[str | None]:
    """One artifact per architecture asked for; with none asked, one architecture-free artifact."""
    return list(arches) if arches else [None]


def transform_recipe(
    recipe: dict[str, Any], version: str, arches: list[str] | None, bucket: str | None
) -> dict[str, Any]:
    """Set the version and artifact URIs; with ``arches``, one manifest per device architecture."""
    result = copy.deepcopy(recipe)
    name = str(result[_key(result, "ComponentName")])
    result[_key(result, "ComponentVersion")] = version
    prefix = (
        f"s3://{bucket}/{name}/{version}" if bucket else "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION"
    )
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
        for arch in _arch_variants(arches):
            copy_ = copy.deepcopy(manifest)
            for artifact in copy_.get(artifacts_key, []):
                uri_key = _key(artifact, "Uri")
                if str(artifact.get(uri_key, "")).endswith(f"/{ARTIFACT_NAME}"):
                    artifact[uri_key] = (
                        f"{prefix}/{arch}/{ARTIFACT_NAME}" if arch else f"{prefix}/{ARTIFACT_NAME}"
                    )
            if arch:
                platform_key = _key(copy_, "Platform")
                platform = dict(copy_.get(platform_key) or {"os": "linux"})
                platform["architecture"] = arch
                copy_[platform_key] = platform
            manifests.append(copy_)
    result[manifests_key] = manifests
    return result


def build(
    project_root: Path = PROJECT_ROOT,
    out: Path | None = None,
    *,
    only: list[str] | None = None,
    arches: list[str] | None = None,
    bucket: str | None = None,
) -> list[BuiltComponent]:
    """Build every component (or ``only`` these) into ``out`` (default ``greengrass-build/``)."""
    out = out or project_root / "greengrass-build"
    version = load_spec().greengrass.component_version
    recipes = sorted((project_root / "recipes").glob("*.y*ml")) + sorted(
        (project_root / "recipes").glob("*.json")
    )
    if not recipes:
        raise BuildError(f"{project_root / 'recipes'}: no recipes found")
    for asked in arches or []:
        if asked not in PLATFORM_TAGS:
            raise BuildError(f"architecture {asked!r}: expected one of {sorted(PLATFORM_TAGS)}")
    if out.exists():
        shutil.rmtree(out)
    (out / "recipes").mkdir(parents=True)
    all_requirements = project_requirements(project_root / "pyproject.toml")
    built: list[BuiltComponent] = []
    with tempfile.TemporaryDirectory() as scratch:
        source = build_source_zip(project_root, Path(scratch) / ARTIFACT_NAME)
        for recipe_path in recipes:
            recipe = load_recipe(recipe_path)
            name = str(recipe.get(_key(recipe, "ComponentName"), ""))
            if not name:
                raise BuildError(f"{recipe_path}: ComponentName is missing")
            if only and name not in only:
                continue
            artifact_root = out / "artifacts" / name / version
            artifacts: list[Path] = []
            for arch in _arch_variants(arches):
                target = artifact_root / arch / ARTIFACT_NAME if arch else artifact_root / ARTIFACT_NAME
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                if arch:
                    _add_wheels(
                        target, requirements_for(name, all_requirements, arch), arch, Path(scratch) / name
                    )
                artifacts.append(target)
            transformed = transform_recipe(recipe, version, arches, bucket)
            recipe_out = out / "recipes" / f"{name}-{version}.yaml"
            recipe_out.write_text(yaml.safe_dump(transformed, sort_keys=False), encoding="utf-8")
            built.append(BuiltComponent(name, version, recipe_out, tuple(artifacts)))
    if only and not built:
        raise BuildError(f"none of {only} has a recipe in {project_root / 'recipes'}")
    return built


def _add_wheels(artifact: Path, requirements: list[str], arch: str, scratch: Path) -> None:
    wheel_dir = scratch / arch
    download_wheels(requirements, arch, wheel_dir)
    with zipfile.ZipFile(artifact, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("requirements.txt", "\n".join(requirements) + "\n")
        for wheel in sorted(wheel_dir.glob("*.whl")):
            archive.write(wheel, f"wheels/{wheel.name}")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bundlebuild.build [--component NAME] [--arch aarch64 ...] [--bucket B]``."""
    parser = argparse.ArgumentParser(prog="python -m bundlebuild.build", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default greengrass-build/)")
    parser.add_argument("--component", action="append", help="build only this component (repeatable)")
    parser.add_argument(
        "--arch",
        action="append",
        choices=sorted(PLATFORM_TAGS),
        help="carry wheels for this device architecture (repeatable); none: a source-only artifact",
    )
    parser.add_argument("--bucket", help="real artifact bucket for the URIs (default: GDK placeholders)")
    args = parser.parse_args(argv)
    try:
        built = build(out=args.out, only=args.component, arches=args.arch, bucket=args.bucket)
    except BuildError as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    for component in built:
        sizes = ", ".join(
            f"{a.relative_to(PROJECT_ROOT) if a.is_relative_to(PROJECT_ROOT) else a} "
            f"({a.stat().st_size // 1024} KiB)"
            for a in component.artifacts
        )
        print(f"{component.name} {component.version}: {component.recipe.name}; {sizes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
