"""A deployment on a core running the nucleus lite profile reads new recipes by lite's rules.

Reference nucleus-lite.md, "Recipes" (LITE:docs/RECIPE_SUPPORT_CHANGES.md, and observed): a
manifest needs ``Platform.runtime`` ``"*"`` or ``"aws_nucleus_lite"``, without it "No lifecycle
was found for linux"; lifecycle keys are lower case. Deployment outcome per
greengrass-deployments.md §5: a recipe that cannot be read fails with FAILED_NO_STATE_CHANGE and
RECIPE_PARSE_ERROR, and the running version keeps running.
"""

from __future__ import annotations

from pathlib import Path

from localcore.runner.deployment import parse_deployment_document
from localcore.testing import running_core

NAME = "com.example.LiteSleeper"


def _recipe(folder: Path, version: str, platform: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{NAME}-{version}.yaml").write_text(
        f"""RecipeFormatVersion: "2020-01-25"
ComponentName: {NAME}
ComponentVersion: "{version}"
Manifests:
  - Platform: {platform}
    Lifecycle:
      run: "sleep 600"
"""
    )


def test_a_new_version_without_a_lite_manifest_is_refused_and_the_old_one_keeps_running(
    tmp_path: Path,
) -> None:
    recipes, new = tmp_path / "recipes", tmp_path / "new"
    _recipe(recipes, "1.0.0", "{os: linux, runtime: aws_nucleus_lite}")
    _recipe(new, "1.1.0", "{os: linux}")  # a classic-only recipe
    with running_core(tmp_path, recipes, nucleus="lite") as core:
        core.wait_for_state(NAME, "RUNNING", timeout=60)
        service = core.core.deployments
        document = parse_deployment_document(
            {"recipeDirectoryPath": str(new), "components": {NAME: {"componentVersion": "1.1.0"}}},
            "test",
            base=None,
        )
        record = service.wait(service.submit(document, local=True), timeout=120)
        assert record is not None
        details = record["deploymentStatusDetails"]
        assert record["status"] == "FAILED", record
        assert details["detailedDeploymentStatus"] == "FAILED_NO_STATE_CHANGE"
        assert "RECIPE_PARSE_ERROR" in details["deploymentErrorStack"]
        assert "No lifecycle was found for linux" in details["deploymentFailureCause"]
        assert core.runner.recipes[NAME].version == "1.0.0"
        assert core.state(NAME) == "RUNNING"
