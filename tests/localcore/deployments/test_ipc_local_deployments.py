"""The Greengrass CLI's local-deployment operations and the handshake errors, with the real client.

Shapes and messages: reference greengrass-deployments.md section 4.2 (CLI ``CLIEventStreamAgent``
l.441-790; NUC ``LifecycleIPCEventStreamAgent``, ``ConfigStoreIPCEventStreamAgent``).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from awsiot.greengrasscoreipc.model import (
    ConfigurationValidityReport,
    ConfigurationValidityStatus,
    DeploymentStatus,
    DetailedDeploymentStatus,
    InvalidArgumentsError,
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
)

from localcore.testing import running_core
from tests.localcore.deployments.conftest import NAME, write_recipe

OTHER = "test.deploy.Other"


def _other_recipe(folder: Path) -> None:
    (folder / "other.yaml").write_text(
        f"""RecipeFormatVersion: "2020-01-25"
ComponentName: {OTHER}
ComponentVersion: "1.0.0"
Manifests:
  - Lifecycle:
      Run: "sleep 300"
""",
        encoding="utf-8",
    )


def _wait_finished(client, deployment_id: str):  # type: ignore[no-untyped-def]
    for _ in range(600):
        deployment = client.get_local_deployment_status(deployment_id=deployment_id).deployment
        if deployment.status in (
            DeploymentStatus.SUCCEEDED,
            DeploymentStatus.FAILED,
            DeploymentStatus.CANCELED,
        ):
            return deployment
        time.sleep(0.1)  # polling, as the Greengrass CLI's status command does
    raise AssertionError(f"deployment {deployment_id} did not finish")


def test_create_get_and_list_with_the_nucleus_shapes(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes, cli=True)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        client = core.client_for(NAME)
        response = client.create_local_deployment(
            component_to_configuration={NAME: {"MERGE": {"interval": 9}}}
        )
        uuid.UUID(response.deployment_id)
        deployment = _wait_finished(client, response.deployment_id)
        assert deployment.status == DeploymentStatus.SUCCEEDED
        assert (
            deployment.deployment_status_details.detailed_deployment_status
            == DetailedDeploymentStatus.SUCCESSFUL
        )
        assert core.config.get(NAME, ["interval"]) == 9
        listed = client.list_local_deployments().local_deployments
        assert [d.deployment_id for d in listed] == [response.deployment_id]
        assert listed[0].created_on.endswith(" UTC")

        rejected = client.create_local_deployment(
            component_to_configuration={NAME: {"MERGE": {"interval": 0}}}
        )
        failed = _wait_finished(client, rejected.deployment_id)
        details = failed.deployment_status_details
        assert failed.status == DeploymentStatus.FAILED
        assert details.detailed_deployment_status == DetailedDeploymentStatus.FAILED_NO_STATE_CHANGE
        assert details.deployment_error_stack == ["DEPLOYMENT_FAILURE", "COMPONENT_CONFIGURATION_NOT_VALID"]
        assert (
            "message = interval: expected a positive number of seconds, got 0"
            in details.deployment_failure_cause
        )


def test_errors_of_the_local_deployment_operations(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes, cli=True)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_log(NAME, "participant ready")
        client = core.client_for(NAME)
        with pytest.raises(InvalidArgumentsError) as bad:
            client.get_local_deployment_status(deployment_id="not-a-uuid")
        assert bad.value.message == "Invalid deploymentId format received. DeploymentId is a UUID"
        with pytest.raises(ResourceNotFoundError) as missing:
            client.get_local_deployment_status(deployment_id=str(uuid.uuid4()))
        assert missing.value.message == "Cannot find deployment"
        assert missing.value.resource_type == "LocalDeployment"
        with pytest.raises(ResourceNotFoundError) as missing_cancel:
            client.cancel_local_deployment(deployment_id=(unknown := str(uuid.uuid4())))
        assert missing_cancel.value.message == f"Cannot find the deployment id provided {unknown}"
        with pytest.raises(InvalidArgumentsError) as colon:
            client.create_local_deployment(group_name="a:b")
        assert colon.value.message == "Thing group name cannot contain colon characters"
        done = client.create_local_deployment(component_to_configuration={NAME: {"MERGE": {"interval": 2}}})
        _wait_finished(client, done.deployment_id)
        assert client.cancel_local_deployment(deployment_id=done.deployment_id).message == (
            "Cancellation request is not processed because deployment is already finished"
        )


def test_the_cli_operations_need_aws_greengrass_cli_authorization(tmp_path: Path) -> None:
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    _other_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_state(OTHER, "RUNNING")
        client = core.client_for(OTHER)
        with pytest.raises(UnauthorizedError) as denied:
            client.create_local_deployment()
        assert f"Principal {OTHER} is not authorized to perform aws.greengrass.Cli:" in denied.value.message
        with pytest.raises(UnauthorizedError):
            client.list_local_deployments()


def test_handshake_replies_nobody_waits_for_are_refused(tmp_path: Path) -> None:
    """NUC messages (reference section 2.2, 2.3): no pending validation, not subscribed, null id."""
    recipes = tmp_path / "recipes"
    write_recipe(recipes)
    _other_recipe(recipes)
    with running_core(tmp_path, recipes) as core:
        core.wait_for_state(OTHER, "RUNNING")
        client = core.client_for(OTHER)
        report = ConfigurationValidityReport(
            status=ConfigurationValidityStatus.ACCEPTED, deployment_id=str(uuid.uuid4())
        )
        with pytest.raises(InvalidArgumentsError) as late:
            client.send_configuration_validity_report(configuration_validity_report=report)
        assert late.value.message == "Validation request either timed out or was never made"
        with pytest.raises(InvalidArgumentsError) as unsubscribed:
            client.defer_component_update(deployment_id=str(uuid.uuid4()), recheck_after_ms=0)
        assert unsubscribed.value.message == "Component is not subscribed to component update events"
        client.subscribe_to_component_updates(on_stream_event=lambda event: None)
        with pytest.raises(ServiceError) as no_round:
            client.defer_component_update(deployment_id=str(uuid.uuid4()), recheck_after_ms=0)
        assert no_round.value.message == "Time limit to respond to PreComponentUpdateEvent exceeded"
