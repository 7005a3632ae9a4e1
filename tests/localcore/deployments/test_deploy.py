"""Deployments on a running core, with a component that takes part through the real awsiotsdk client.

Semantics from reference greengrass-deployments.md (NUC @ a28341c): section 2 (order), 2.2 (defers),
2.3 (validation: REJECTED -> FAILED_NO_STATE_CHANGE with "Components reported that their
to-be-deployed configuration is invalid { name = ..., message = ... }"), 3.1/3.2 (rollback ->
FAILED_ROLLBACK_COMPLETE, the original cause "Service X in broken state after deployment").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from localcore.runner.deployment import parse_deployment_document
from localcore.testing import running_core
from tests.localcore.deployments.conftest import NAME, write_recipe


def _deploy(core: Any, document: dict[str, Any], *, local: bool = False) -> dict[str, Any]:
    service = core.core.deployments
    deployment_id = service.submit(parse_deployment_document(document, "test", base=None), local=local)
    record = service.wait(deployment_id, timeout=120)
    assert record is not None
    return record


def _update(merge: dict[str, Any]) -> dict[str, Any]:
    return {"components": {NAME: {"configurationUpdate": {"merge": merge}}}}


def test_a_config_change_the_component_accepts_succeeds_without_a_restart(tmp_path: Path) -> None:
    """A configuration-only change does not restart a generic component (reference trap 8)."""
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        record = _deploy(core, _update({"interval": 5}))
        assert record["status"] == "SUCCEEDED", record
        assert record["deploymentStatusDetails"]["detailedDeploymentStatus"] == "SUCCESSFUL"
        assert core.config.get(NAME, ["interval"]) == 5
        assert f"validated {record['deploymentId']}: ACCEPTED" in core.log(NAME)
        assert core.log(NAME).count("participant ready") == 1
        # A thing-group rehearsal notifies: acknowledged, then told it is over (section 2.2).
        core.wait_for_log(NAME, f"post-update {record['deploymentId']}")
        assert f"acknowledged {record['deploymentId']}" in core.log(NAME)


def test_a_config_the_component_rejects_fails_and_changes_nothing(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        record = _deploy(core, _update({"interval": -1}))
        details = record["deploymentStatusDetails"]
        assert record["status"] == "FAILED"
        assert details["detailedDeploymentStatus"] == "FAILED_NO_STATE_CHANGE"
        assert details["deploymentErrorStack"] == ["DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID"]
        assert details["deploymentFailureCause"] == (
            "Components reported that their to-be-deployed configuration is invalid "
            f"{{ name = {NAME}, message = interval: expected a positive number of seconds, got -1 }}"
        )
        assert core.config.get(NAME, ["interval"]) == 1.0


def test_a_new_version_that_crashes_at_start_is_rolled_back(tmp_path: Path) -> None:
    recipes, new = tmp_path / "recipes", tmp_path / "new"
    write_recipe(recipes)
    write_recipe(new, "1.1.0", crash=True)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        document = {
            "recipeDirectoryPath": str(new),
            "components": {
                NAME: {"componentVersion": "1.1.0", "configurationUpdate": {"merge": {"interval": 3}}}
            },
        }
        record = _deploy(core, document)
        details = record["deploymentStatusDetails"]
        assert record["status"] == "FAILED", record
        assert details["detailedDeploymentStatus"] == "FAILED_ROLLBACK_COMPLETE"
        assert details["deploymentErrorStack"] == [
            "DEPLOYMENT_FAILURE",
            "COMPONENT_UPDATE_ERROR",
            "COMPONENT_BROKEN",
        ]
        assert details["deploymentFailureCause"] == f"Service {NAME} in broken state after deployment"
        assert core.runner.recipes[NAME].version == "1.0.0"
        assert core.config.get(NAME, ["interval"]) == 1.0
        core.wait_for_state(NAME, "RUNNING")


def test_do_nothing_keeps_the_broken_version(tmp_path: Path) -> None:
    recipes, new = tmp_path / "recipes", tmp_path / "new"
    write_recipe(recipes)
    write_recipe(new, "1.1.0", crash=True)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        document = {
            "recipeDirectoryPath": str(new),
            "components": {NAME: {"componentVersion": "1.1.0"}},
            "deploymentPolicies": {"failureHandlingPolicy": "DO_NOTHING"},
        }
        record = _deploy(core, document)
        assert (
            record["deploymentStatusDetails"]["detailedDeploymentStatus"] == "FAILED_ROLLBACK_NOT_REQUESTED"
        )
        assert core.runner.recipes[NAME].version == "1.1.0"


def test_a_good_new_version_is_installed_and_running(tmp_path: Path) -> None:
    recipes, new = tmp_path / "recipes", tmp_path / "new"
    write_recipe(recipes)
    write_recipe(new, "1.2.0", interval=2.0)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        record = _deploy(
            core, {"recipeDirectoryPath": str(new), "components": {NAME: {"componentVersion": "1.2.0"}}}
        )
        assert record["status"] == "SUCCEEDED", record
        assert core.runner.recipes[NAME].version == "1.2.0"
        assert core.state(NAME) == "RUNNING"


def test_a_missing_version_fails_with_the_nucleus_message(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        record = _deploy(core, {"components": {NAME: {"componentVersion": "9.0.0"}}})
        details = record["deploymentStatusDetails"]
        assert details["detailedDeploymentStatus"] == "FAILED_NO_STATE_CHANGE"
        assert "NO_AVAILABLE_COMPONENT_VERSION" in details["deploymentErrorStack"]
        assert (
            f"Component {NAME} version constraints: thinggroup/rehearsal requires =9.0.0."
            in (details["deploymentFailureCause"])
        )


def test_a_defer_delays_the_update_until_the_component_stops_deferring(tmp_path: Path) -> None:
    """Each defer: sleep recheckAfterMs, then a new PreComponentUpdateEvent; no cap (trap 2)."""
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    flag = tmp_path / "busy"
    flag.write_text("", encoding="utf-8")
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        core.config.merge(NAME, {"deferFlag": str(flag)})
        service = core.core.deployments
        deployment_id = service.submit(parse_deployment_document(_update({"interval": 7}), "t"), local=False)
        core.wait_for_log(NAME, f"deferred {deployment_id}")
        core.runner.wait_until(lambda: core.log(NAME).count(f"deferred {deployment_id}") >= 2, timeout=30)
        assert (service.records.get(deployment_id) or {})["status"] == "IN_PROGRESS"
        assert core.config.get(NAME, ["interval"]) == 1.0
        flag.unlink()
        record = service.wait(deployment_id, timeout=60)
        assert record is not None and record["status"] == "SUCCEEDED"
        assert core.config.get(NAME, ["interval"]) == 7


def test_a_local_deployment_sends_no_update_events(tmp_path: Path) -> None:
    """Local deployments are SKIP_NOTIFY_COMPONENTS but still validate (reference section 1.5)."""
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        record = _deploy(core, _update({"interval": 4}), local=True)
        assert record["status"] == "SUCCEEDED"
        log = core.log(NAME)
        assert f"validated {record['deploymentId']}: ACCEPTED" in log
        assert "acknowledged" not in log and "post-update" not in log


def test_two_deployments_run_in_order(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        service = core.core.deployments
        first = service.submit(parse_deployment_document(_update({"interval": 2}), "t"), local=True)
        second = service.submit(parse_deployment_document(_update({"interval": 3}), "t"), local=True)
        assert (service.wait(second, timeout=60) or {})["status"] == "SUCCEEDED"
        assert (service.records.get(first) or {})["status"] == "SUCCEEDED"
        assert core.config.get(NAME, ["interval"]) == 3
        assert [r["deploymentId"] for r in service.records.all()] == [first, second]


def test_a_deployment_file_with_a_stand_in_entry_equal_to_the_start_deploys(tmp_path: Path) -> None:
    """`localcore deploy deployments/local.yaml` against `make run` must work as is."""
    from localcore.control import control_request

    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    start = {"components": {"aws.greengrass.ShadowManager": {"configurationUpdate": {"merge": {"a": 1}}}}}
    with running_core(tmp_path, recipes, deployment=start, control=True) as core:
        core.wait_for_log(NAME, "participant ready")
        path = tmp_path / "d.yaml"
        start["components"][NAME] = {"configurationUpdate": {"merge": {"interval": 6}}}
        path.write_text(yaml.safe_dump(start), encoding="utf-8")
        record = control_request(core.core.root, "deploy", {"file": str(path), "wait": True}, timeout=120)
        assert record["status"] == "SUCCEEDED", record
        assert core.config.get(NAME, ["interval"]) == 6


def test_cancel_a_queued_deployment_and_one_waiting_in_the_defer_phase(tmp_path: Path) -> None:
    """Cancel works before the merge: queued, or while components defer (reference section 5);
    a cancelled rehearsal still sends PostComponentUpdateEvent (trap 4). Matched on id, not type."""
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    flag = tmp_path / "busy"
    flag.write_text("", encoding="utf-8")
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        core.config.merge(NAME, {"deferFlag": str(flag)})
        service = core.core.deployments
        deferred = service.submit(parse_deployment_document(_update({"interval": 7}), "t"), local=False)
        queued = service.submit(parse_deployment_document(_update({"interval": 8}), "t"), local=False)
        core.wait_for_log(NAME, f"deferred {deferred}")
        assert service.cancel(queued) == f"Cancel request submitted. Deployment ID: {queued}"
        assert (service.records.get(queued) or {})["status"] == "CANCELED"
        service.cancel(deferred)
        record = service.wait(deferred, timeout=60) or {}
        assert record["status"] == "CANCELED" and record["deploymentStatusDetails"] is None
        assert core.config.get(NAME, ["interval"]) == 1.0
        core.wait_for_log(NAME, f"post-update {deferred}")
        assert (
            service.cancel(deferred)
            == "Cancellation request is not processed because deployment is already finished"
        )
