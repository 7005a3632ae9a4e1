"""A component's part in a deployment, with the real awsiotsdk client against localcore.

The component validates a proposed configuration with its start-time validation and reports the
key-path message (reference greengrass-deployments.md section 2.3); it defers an update while it
is busy and acknowledges with recheck_after_ms=0 once it is not (section 2.2, trap 3).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

from msgspec import Meta

from components.common.deployment_participation import DeploymentParticipant, proposal_problem
from components.common.ipc import ComponentIpc
from components.common.structs import ConfigStruct
from localcore.runner.deployment import parse_deployment_document
from localcore.testing import running_core

NAME = "test.participation.Host"


class ExampleConfig(ConfigStruct, frozen=True):
    rate_hz: Annotated[float, Meta(gt=0)] = 1.0


def _recipe(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "host.yaml"
    path.write_text(
        f"""RecipeFormatVersion: "2020-01-25"
ComponentName: {NAME}
ComponentVersion: "1.0.0"
ComponentConfiguration:
  DefaultConfiguration: {{rateHz: 1.0}}
Manifests:
  - Lifecycle:
      Run: "sleep 300"
""",
        encoding="utf-8",
    )
    return folder


def test_the_proposal_check_is_the_start_time_validation() -> None:
    assert proposal_problem(ExampleConfig, {"rateHz": 2.0}) is None
    assert "rateHz" in (proposal_problem(ExampleConfig, {"rateHz": -1}) or "")


def test_a_rejected_configuration_fails_the_deployment_with_the_components_message(tmp_path: Path) -> None:
    with running_core(tmp_path, _recipe(tmp_path / "recipes")) as core:
        core.wait_for_state(NAME, "RUNNING")
        ipc = ComponentIpc(core.client_for(NAME), NAME, "test-thing")
        participant = DeploymentParticipant(ipc, ExampleConfig)
        participant.start()
        try:
            service = core.core.deployments
            document = {"components": {NAME: {"configurationUpdate": {"merge": {"rateHz": -1}}}}}
            deployment_id = service.submit(parse_deployment_document(document, "t"), local=True)
            record = service.wait(deployment_id, timeout=60) or {}
            cause = record["deploymentStatusDetails"]["deploymentFailureCause"]
            assert record["status"] == "FAILED"
            assert cause.startswith(
                f"Components reported that their to-be-deployed configuration is invalid {{ name = {NAME}, message = "
            )
            assert "rateHz" in cause
            assert core.config.get(NAME, ["rateHz"]) == 1.0
        finally:
            participant.stop()


def test_a_busy_component_defers_the_update_until_it_is_not(tmp_path: Path) -> None:
    busy = threading.Event()
    busy.set()
    asked = threading.Event()

    def blocker() -> str | None:
        asked.set()
        return "a batch is not yet committed" if busy.is_set() else None

    with running_core(tmp_path, _recipe(tmp_path / "recipes")) as core:
        core.wait_for_state(NAME, "RUNNING")
        ipc = ComponentIpc(core.client_for(NAME), NAME, "test-thing")
        participant = DeploymentParticipant(ipc, ExampleConfig, blocker)
        participant.start()
        try:
            service = core.core.deployments
            document = {"components": {NAME: {"configurationUpdate": {"merge": {"rateHz": 3.0}}}}}
            deployment_id = service.submit(parse_deployment_document(document, "t"), local=False)
            assert asked.wait(30)
            assert core.runner.wait_until(
                lambda: (service.records.get(deployment_id) or {}).get("stage") == "DEFERRED", timeout=30
            )
            assert core.config.get(NAME, ["rateHz"]) == 1.0
            busy.clear()
            record = service.wait(deployment_id, timeout=60) or {}
            assert record["status"] == "SUCCEEDED"
            assert core.config.get(NAME, ["rateHz"]) == 3.0
        finally:
            participant.stop()
