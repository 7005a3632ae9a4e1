"""The CDK app: ``python -m infra.app`` synthesizes the cloud assembly into ``cdk.out/`` offline.

The account comes from the deploying credentials (``CDK_DEFAULT_ACCOUNT``, set by the ``cdk`` CLI),
the region from ``bundle.yaml``. Without an account (an offline synth) the template is
environment-agnostic. cdk-nag's AwsSolutions checks run on every
synth, so a finding without a justified suppression fails it.
"""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk

from bundlebuild.build import BuildError, build
from bundlespec import BundleSpec, load_spec
from infra.constants import RECIPES_DIR
from infra.exceptions import SettingsError
from infra.greengrass.artifacts import ArtifactFiles
from infra.greengrass.build_folder import load_build_folder
from infra.greengrass.recipes import load_recipes
from infra.nag import add_aws_solutions_checks
from infra.stack import EdgeBundleStack

# CDK feature flags, set here (not in cdk.json) so `python -m infra.app` and `cdk synth` agree.
FEATURE_FLAGS = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:checkSecretUsage": True,
    # Access logs delivered through a bucket policy, not the legacy LogDeliveryWrite ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def stack_name(spec: BundleSpec) -> str:
    """The CloudFormation stack name: ``edge-bundle`` becomes ``EdgeBundle``."""
    return "".join(part.title() for part in spec.project.replace("_", "-").split("-"))


def build_app(
    *,
    spec: BundleSpec,
    recipes_dir: Path = RECIPES_DIR,
    staging_dir: Path,
    outdir: str | None = None,
    build_dir: Path | None = None,
    nag: bool = True,
) -> tuple[cdk.App, EdgeBundleStack]:
    """The app with its one stack.

    With ``build_dir`` (``make build`` or GDK output, ``-c buildDir=...``) its recipes and
    artifacts (per-component, per-architecture zips with wheels) are deployed, once the folder is
    shown to hold every component of ``recipes_dir`` at its declared version. Without it, a
    development build of every component (its own code and models, no wheels: the device's Python
    must have the dependencies) is made into ``staging_dir`` first and deployed the same way.
    """
    app = cdk.App(outdir=outdir, context=FEATURE_FLAGS) if outdir else cdk.App(context=FEATURE_FLAGS)
    context_dir = app.node.try_get_context("buildDir")
    build_dir = build_dir or (Path(context_dir) if context_dir else None)
    recipes = load_recipes(recipes_dir)
    if build_dir is None:
        build_dir = staging_dir / "greengrass-build"
        try:
            build(project_root=recipes_dir.parent, out=build_dir)
        except BuildError as err:
            raise SettingsError(f"the development build for this synth failed: {err}") from err
    # The bundle is recipes/: a build folder lacking one of its components is refused.
    built = load_build_folder(build_dir, recipes)
    recipes = built.recipes
    artifact_files = ArtifactFiles(component_build_dirs=built.folders)
    # bundle.yaml's region is authoritative (the CLI's default region would silently move the stack).
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    env = cdk.Environment(account=account, region=spec.region) if account else None
    stack = EdgeBundleStack(
        app,
        stack_name(spec),
        spec=spec,
        recipes=recipes,
        artifact_files=artifact_files,
        env=env,
        description=f"{spec.project}: fleet identity, data path and Greengrass deployment",
    )
    if nag:
        add_aws_solutions_checks(app)
    return app, stack


def main() -> None:
    """Synthesize into ``cdk.out`` (or the CLI's ``CDK_OUTDIR``)."""
    outdir = os.environ.get("CDK_OUTDIR") or "cdk.out"
    app, _ = build_app(spec=load_spec(), staging_dir=Path(outdir) / "staging", outdir=outdir)
    app.synth()


if __name__ == "__main__":
    main()
