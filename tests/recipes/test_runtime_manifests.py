"""Each recipe carries a manifest for each runtime, and each runtime selects its own.

Both rules below are read from the nuclei's sources and written here as the few lines they are,
so the recipes are held against them rather than against localcore:

- **nucleus classic** (``aws-greengrass/aws-greengrass-nucleus``,
  ``src/main/java/com/aws/greengrass/config/PlatformResolver.java``, commit ``45e92b3``): the
  platform is ``os``, ``architecture`` and ``architecture.detail`` as detected, plus the
  ``platformOverride`` of the nucleus configuration; it sets no ``runtime`` attribute.
  ``findBestMatch`` hands it to ``PlatformHelper.findBestMatch``
  (``aws-greengrass/aws-greengrass-component-common``,
  ``src/main/java/com/amazon/aws/iot/greengrass/component/common/PlatformHelper.java``): the first
  manifest whose every Platform key is satisfied (``isAttributeSatisfied``). ``*`` (or null) is
  satisfied even by a key the platform lacks; any other template needs a non-empty label, so a
  manifest naming ``runtime: aws_nucleus_lite`` is never selected by the classic nucleus, and one
  naming ``runtime: "*"`` would be (which is why the lite manifests name ``aws_nucleus_lite``).
  ``/regex/`` matches the whole label; ``all``/``any`` are wildcards for ``os`` and
  ``architecture`` only; other templates must start with a letter or digit and equal the label.
- **nucleus lite** (``aws-greengrass/aws-greengrass-lite``, ``modules/ggl-recipe/src/recipe.c``,
  ``manifest_selection``): "The manifest is only valid for lite if runtime is explicitly
  aws_nucleus_lite or *. If the value isn't set then that manifest is classic-only." Then ``os``
  must be ``linux``, ``*`` or ``all`` and ``architecture`` absent, ``*`` or the current one; the
  first such manifest with a non-empty ``Lifecycle`` wins. Lifecycle steps are case-sensitive
  (``install``, ``run``; ../shared/reference/nucleus-lite.md, "Recipes").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundlebuild.build import transform_recipe
from localcore.runner.recipe import parse_recipe

ROOT = Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))
by_recipe = pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)

#: The classic nucleus's detected platform on the machines the bundle targets (PlatformResolver:
#: ``amd64``, ``aarch64``, ``arm`` with ``architecture.detail`` ``armv7l``).
CLASSIC_PLATFORMS = (
    {"os": "linux", "architecture": "amd64"},
    {"os": "linux", "architecture": "aarch64"},
    {"os": "linux", "architecture": "arm", "architecture.detail": "armv7l"},
)
#: nucleus lite's recipe file buffer: ``ggl_recipe_get_from_file`` reads a recipe into
#: ``static uint8_t file_mem[8196]`` (``modules/ggl-recipe/src/recipe.c``).
LITE_RECIPE_FILE_BYTES = 8196


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def classic_attribute_satisfied(name: str, label: str | None, template: str | None) -> bool:
    """``PlatformHelper.isAttributeSatisfied``."""
    if template is None or template == "*":
        return True
    if not label:
        return False
    if len(template) >= 2 and template.startswith("/") and template.endswith("/"):
        return re.fullmatch(template[1:-1], label) is not None
    if name in ("os", "architecture") and template in ("all", "any"):
        return True
    return re.match(r"[a-zA-Z0-9]", template) is not None and template == label


def classic_selects(manifests: list[dict[str, Any]], platform: dict[str, str]) -> int | None:
    """``PlatformHelper.findBestMatch``: the index of the first manifest whose platform is satisfied."""
    for index, manifest in enumerate(manifests):
        wanted = manifest.get("Platform") or {}
        if all(classic_attribute_satisfied(k, platform.get(k), v) for k, v in wanted.items()):
            return index
    return None


def lite_selects(manifests: list[dict[str, Any]], architecture: str) -> int | None:
    """``manifest_selection`` / ``select_linux_lifecycle`` of nucleus lite."""
    for index, manifest in enumerate(manifests):
        platform = manifest.get("Platform") or {}
        if platform.get("runtime") not in ("*", "aws_nucleus_lite"):
            continue
        if platform.get("os") not in (None, "linux", "*", "all"):
            continue
        if platform.get("architecture") not in (None, "*", architecture):
            continue
        if manifest.get("Lifecycle"):
            return index
    return None


def test_the_classic_rule_never_selects_a_manifest_for_lite() -> None:
    """The facts the recipes rely on, pinned: the classic platform has no ``runtime``, so a
    manifest asking for ``aws_nucleus_lite`` is passed over wherever it stands, while ``"*"``
    would be taken by either runtime; lite passes over a manifest without ``runtime``."""
    platform = {"os": "linux", "architecture": "amd64"}
    lite_first = [{"Platform": {"os": "linux", "runtime": "aws_nucleus_lite"}}, {"Platform": {"os": "linux"}}]
    assert classic_selects(lite_first, platform) == 1
    assert classic_selects([{"Platform": {"os": "linux", "runtime": "*"}}], platform) == 0
    assert lite_selects([{"Platform": {"os": "linux"}, "Lifecycle": {"run": {}}}], "amd64") is None


@by_recipe
def test_the_classic_nucleus_selects_the_classic_manifest(path: Path) -> None:
    """Also if a classic nucleus named its runtime (the Greengrass API's CoreDevice.runtime says
    ``aws_nucleus_classic``; the PlatformResolver read does not set it), or a device's
    ``platformOverride`` set it: the lite manifest asks for ``aws_nucleus_lite``."""
    manifests = load(path)["Manifests"]
    named = [{**platform, "runtime": "aws_nucleus_classic"} for platform in CLASSIC_PLATFORMS]
    for platform in (*CLASSIC_PLATFORMS, *named):
        index = classic_selects(manifests, platform)
        assert index is not None, platform
        assert "runtime" not in manifests[index]["Platform"]
        assert {"Install", "Run"} <= set(manifests[index]["Lifecycle"])


@by_recipe
def test_nucleus_lite_selects_the_lite_manifest(path: Path) -> None:
    manifests = load(path)["Manifests"]
    for architecture in ("amd64", "aarch64", "arm"):
        index = lite_selects(manifests, architecture)
        assert index is not None
        lifecycle = manifests[index]["Lifecycle"]
        assert manifests[index]["Platform"]["runtime"] == "aws_nucleus_lite"
        # lite's steps are lower case; "Install"/"Run" give "Recipes without at least 1 valid
        # lifecycle step aren't currently supported" (nucleus-lite.md)
        assert {"install", "run"} <= set(lifecycle) and not {"Install", "Run"} & set(lifecycle)


@by_recipe
def test_localcores_classic_profile_runs_the_classic_manifest(path: Path) -> None:
    """localcore matches a Platform key the machine lacks against nothing, as the classic nucleus
    does, so the lite manifest's ``runtime`` keeps it out."""
    for platform in CLASSIC_PLATFORMS:
        recipe = parse_recipe(load(path), path, platform)
        assert recipe.platform == {"os": "linux"}
        assert (
            recipe.lifecycle.run is not None
            and "exec python3 -u -m components." in recipe.lifecycle.run.script
        )


@by_recipe
def test_no_dependency_nucleus_lite_cannot_resolve(path: Path) -> None:
    """nucleus lite resolves every dependency but Nucleus, TokenExchangeService and Cli, whatever
    its DependencyType (``modules/ggdeploymentd/src/deployment_handler.c``, the loop over
    ``ComponentDependencies``); one it has no recipe for goes to the cloud, and offline that fails
    the deployment ("Cloud resolution for the component failed"). An empty map is refused
    ("Key ComponentDependencies is of invalid type.", nucleus-lite.md)."""
    recipe = load(path)
    if "ComponentDependencies" in recipe:
        dependencies = recipe["ComponentDependencies"]
        assert dependencies, "an empty ComponentDependencies map"
        assert set(dependencies) <= {"aws.greengrass.TokenExchangeService"}


#: The device classes ``make build --arch`` targets; each writes a copy of both manifests.
BUILD_MACHINES = 4  # amd64, aarch64, armv7l, armv6l
#: What a per-architecture copy adds to a manifest's Platform at most
#: (``architecture: aarch64`` or ``architecture: arm, architecture.detail: armv7l``, as YAML).
PLATFORM_BYTES_PER_MACHINE = 64


@by_recipe
def test_the_built_recipe_fits_lites_recipe_buffer_and_keeps_both_runtimes(path: Path) -> None:
    """The build writes both manifests (one per architecture each, with ``--arch``); lite reads at
    most 8,196 bytes of a recipe file (``file_mem[8196]`` in ``ggl_recipe_get_from_file``)."""
    built = transform_recipe(
        load(path), "1.0.0", None, "a-bucket-name-of-sixty-three-characters-at-most-for-s3-xxxxxxx"
    )
    manifests = built["Manifests"]
    assert [m["Platform"].get("runtime") for m in manifests] == [None, "aws_nucleus_lite"]
    size = len(yaml.safe_dump(built, sort_keys=False).encode())
    per_machine = len(yaml.safe_dump(manifests, sort_keys=False).encode()) + 2 * PLATFORM_BYTES_PER_MACHINE
    assert size + (BUILD_MACHINES - 1) * per_machine < LITE_RECIPE_FILE_BYTES
