"""Synthesize once per session: jsii start-up and synthesis are the slow part of these tests.

- ``unit_templates``: one app holding a bare stack per logical unit (data, fleet, greengrass), each
  unit alone with only the inputs it takes, so a test reads one construct's template.
- ``full_app``: the real app (``infra.app.build_app``) with cdk-nag, synthesized into a tmp dir;
  nag findings, cfn-lint and the outputs are checked on what ``make synth`` writes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The machine's Node 20 works but jsii prints a banner about its end of life on every start.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

UNIT_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.edgebundle.Sync
ComponentVersion: "1.2.3"
ComponentConfiguration:
  DefaultConfiguration: {bucket: ""}
Manifests:
  - Platform: {os: linux}
    Artifacts:
      - Uri: s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/edgebundle.zip
        Unarchive: ZIP
    Lifecycle:
      Run:
        Script: "python3 -u -m components.sync"
"""


BUILT_RECIPE = """\
RecipeFormatVersion: "2020-01-25"
ComponentName: com.edgebundle.Sync
ComponentVersion: "1.2.3"
Manifests:
  - Platform: {os: linux, architecture: aarch64}
    Artifacts:
      - {Uri: "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/aarch64/edgebundle.zip", Unarchive: ZIP}
  - Platform: {os: linux, architecture: amd64}
    Artifacts:
      - {Uri: "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/amd64/edgebundle.zip", Unarchive: ZIP}
"""


@dataclass
class UnitTemplates:
    """The template of each unit's bare stack, as assertion Templates."""

    data: Any
    fleet: Any
    greengrass: Any
    greengrass_built: Any


@pytest.fixture(scope="session")
def spec() -> Any:
    from bundlespec import load_spec

    return load_spec()


@pytest.fixture(scope="session")
def unit_templates(tmp_path_factory: pytest.TempPathFactory, spec: Any) -> UnitTemplates:
    import aws_cdk as cdk
    from aws_cdk import aws_s3 as s3
    from aws_cdk.assertions import Template

    from infra.app import FEATURE_FLAGS
    from infra.data.infrastructure import DataPath
    from infra.fleet.infrastructure import FleetIdentity
    from infra.greengrass.artifacts import ArtifactFiles
    from infra.greengrass.infrastructure import GreengrassDeployment
    from infra.greengrass.recipes import load_recipes

    work = tmp_path_factory.mktemp("units")
    recipes_dir = work / "recipes"
    recipes_dir.mkdir()
    (recipes_dir / "com.edgebundle.Sync.yaml").write_text(UNIT_RECIPE, encoding="utf-8")
    artifact = work / "edgebundle.zip"
    artifact.write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip archive

    app = cdk.App(outdir=str(work / "cdk.out"), context=FEATURE_FLAGS)
    data_stack = cdk.Stack(app, "DataUnit")
    DataPath(data_stack, "Data", spec=spec)

    fleet_stack = cdk.Stack(app, "FleetUnit")
    bucket = s3.Bucket(fleet_stack, "Bucket")
    fleet = FleetIdentity(fleet_stack, "Fleet", spec=spec, data_bucket=bucket)
    fleet.allow_artifact_download([(bucket, "artifacts/edgebundle.zip")])

    gg_stack = cdk.Stack(app, "GreengrassUnit")
    GreengrassDeployment(
        gg_stack,
        "Greengrass",
        recipes=load_recipes(recipes_dir),
        artifact_files=ArtifactFiles(source_zip=artifact),
        thing_group_arn="arn:aws:iot:us-east-1:123456789012:thinggroup/edge-bundle-fleet",
        role_alias=spec.fleet.role_alias,
        deployment_name="edge-bundle-fleet",
        component_configuration={"com.edgebundle.Sync": {"bucket": "the-bucket"}},
    )
    # `make build --arch aarch64 --arch amd64` output: one zip per architecture.
    build_dir = work / "greengrass-build"
    (build_dir / "recipes").mkdir(parents=True)
    (build_dir / "recipes" / "com.edgebundle.Sync-1.2.3.yaml").write_text(BUILT_RECIPE, encoding="utf-8")
    for arch in ("aarch64", "amd64"):
        zip_path = build_dir / "artifacts" / "com.edgebundle.Sync" / "1.2.3" / arch / "edgebundle.zip"
        zip_path.parent.mkdir(parents=True)
        zip_path.write_bytes(b"PK\x05\x06" + b"\x00" * 16 + arch.encode()[:2])  # distinct bytes per arch
    built_stack = cdk.Stack(app, "GreengrassBuiltUnit")
    GreengrassDeployment(
        built_stack,
        "Greengrass",
        recipes=load_recipes(build_dir / "recipes"),
        artifact_files=ArtifactFiles(source_zip=artifact, build_dir=build_dir),
        thing_group_arn="arn:aws:iot:us-east-1:123456789012:thinggroup/edge-bundle-fleet",
        role_alias=spec.fleet.role_alias,
        deployment_name="edge-bundle-fleet",
    )
    return UnitTemplates(
        data=Template.from_stack(data_stack),
        fleet=Template.from_stack(fleet_stack),
        greengrass=Template.from_stack(gg_stack),
        greengrass_built=Template.from_stack(built_stack),
    )


@dataclass
class FullApp:
    """The synthesized real app: its assembly folder, stack template and validation report."""

    outdir: Path
    template: dict[str, Any]
    template_paths: list[Path]
    validation_report: dict[str, Any]


@pytest.fixture(scope="session")
def full_app(tmp_path_factory: pytest.TempPathFactory, spec: Any) -> Iterator[FullApp]:
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(spec=spec, staging_dir=outdir / "staging", outdir=str(outdir))
    app.synth()  # raises when a cdk-nag finding is not acknowledged
    template_paths = sorted(outdir.glob("*.template.json"))
    report_path = outdir / "validation-report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {"pluginReports": []}
    yield FullApp(
        outdir=outdir,
        template=json.loads((outdir / f"{stack.stack_name}.template.json").read_text()),
        template_paths=template_paths,
        validation_report=report,
    )
