"""`-c buildDir=...`: the CDK app deploys a build folder only if it holds every bundle component.

A cloud deployment replaces its thing group's whole root set: "components missing from the new
revision are uninstalled" (/work/shared/reference/greengrass-deployments.md, root components, citing
DOCS create-deployments.md; step 19: "Stop, uninstall and remove the services that no group needs any
more"). A build folder lacking a component must therefore be refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bundlebuild import build as bb
from infra.exceptions import SettingsError
from infra.greengrass.build_folder import load_build_folder
from infra.greengrass.recipes import load_recipes

REPO = Path(__file__).resolve().parents[2]
BUNDLE = load_recipes(REPO / "recipes")
NAMES = [r.name for r in BUNDLE]


@pytest.fixture(scope="module")
def full_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build") / "greengrass-build"
    bb.build(out=out)
    return out


def test_a_complete_build_deploys_every_component_from_its_folder(full_build: Path) -> None:
    built = load_build_folder(full_build, BUNDLE)
    assert [r.name for r in built.recipes] == NAMES
    assert set(built.folders.values()) == {full_build}


def test_a_build_lacking_a_component_is_refused_naming_it(tmp_path: Path) -> None:
    out = tmp_path / "greengrass-build"
    bb.build(out=out, only=NAMES[:-1])
    with pytest.raises(SettingsError, match=rf"lacks {NAMES[-1]} \(deploying it would remove them"):
        load_build_folder(out, BUNDLE)


def test_a_build_at_another_version_is_refused(full_build: Path, tmp_path: Path) -> None:
    out = tmp_path / "greengrass-build"
    shutil.copytree(full_build, out)
    recipe_file = next((out / "recipes").glob("com.edgebundle.Sync-*.yaml"))
    document = yaml.safe_load(recipe_file.read_text())
    document["ComponentVersion"] = "9.9.9"
    recipe_file.write_text(yaml.safe_dump(document))
    with pytest.raises(SettingsError, match=r"has com\.edgebundle\.Sync 9\.9\.9, but recipes/ declares"):
        load_build_folder(out, BUNDLE)


def test_gdk_projects_one_folder_per_component_deploy_together(tmp_path: Path) -> None:
    for name in NAMES:
        bb.build(out=tmp_path / "gdk" / name / "greengrass-build", only=[name])
    built = load_build_folder(tmp_path / "gdk", BUNDLE)
    assert [r.name for r in built.recipes] == NAMES
    assert (
        built.folders["com.edgebundle.Sync"] == tmp_path / "gdk" / "com.edgebundle.Sync" / "greengrass-build"
    )
    # ...and a GDK folder where one component was never built is refused like any other.
    shutil.rmtree(tmp_path / "gdk" / NAMES[0])
    with pytest.raises(SettingsError, match=rf"lacks {NAMES[0]}"):
        load_build_folder(tmp_path / "gdk", BUNDLE)


def test_a_folder_that_is_no_build_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"not a build folder: expected .*/recipes"):
        load_build_folder(tmp_path, BUNDLE)


def test_the_app_refuses_an_incomplete_build_dir(tmp_path: Path) -> None:
    from bundlespec import load_spec
    from infra.app import build_app

    out = tmp_path / "greengrass-build"
    bb.build(out=out, only=["com.edgebundle.Sensing"])
    with pytest.raises(
        SettingsError, match=r"lacks com\.edgebundle\.Inference, com\.edgebundle\.QualityInspection"
    ):
        build_app(
            spec=load_spec(),
            staging_dir=tmp_path / "staging",
            outdir=str(tmp_path / "cdk.out"),
            build_dir=out,
            nag=False,
        )


def test_a_plain_synth_deploys_one_development_artifact_per_component(tmp_path: Path) -> None:
    from bundlespec import load_spec
    from infra.app import build_app

    _, stack = build_app(
        spec=load_spec(), staging_dir=tmp_path / "staging", outdir=str(tmp_path / "cdk.out"), nag=False
    )
    uploaded = sorted(stack.greengrass.artifacts)
    assert uploaded == [
        tmp_path / "staging" / "greengrass-build" / "artifacts" / r.name / r.version / "edgebundle.zip"
        for r in BUNDLE
    ]
