"""UpdateState, the CLI component operations and PutComponentMetric, with the real client."""

from __future__ import annotations

from pathlib import Path

import pytest
from awsiot.greengrasscoreipc.model import (
    InvalidArgumentsError,
    LifecycleState,
    Metric,
    MetricUnitType,
    ReportedLifecycleState,
    RequestStatus,
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
)

from localcore.ipc.testing import IpcHarness, ipc_server
from tests.localcore.ipc.conftest import POLICIES
from tests.localcore.ipc.fakes import FakeLifecycle


def test_update_state_reaches_the_runner(core: IpcHarness, lifecycle: FakeLifecycle) -> None:
    core.client("com.example.Sub").update_state(state=ReportedLifecycleState.ERRORED)
    assert ("report", "com.example.Sub=ERRORED") in lifecycle.calls
    assert core.server.reported_state("com.example.Sub") == "ERRORED"
    with pytest.raises(InvalidArgumentsError):
        core.client("com.example.Sub").update_state(state="DANCING")


def test_update_state_from_a_component_the_runner_does_not_know(core: IpcHarness) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        core.client("aws.greengrass.Metrics").update_state(state=ReportedLifecycleState.RUNNING)
    assert (missing.value.resource_type, missing.value.resource_name) == (
        "Component",
        "aws.greengrass.Metrics",
    )


def test_cli_operations(core: IpcHarness, lifecycle: FakeLifecycle) -> None:
    client = core.client("com.example.Pub")
    names = [c.component_name for c in client.list_components().components]
    assert names == ["com.example.Pub", "com.example.Sub", "com.example.Nobody"]
    details = client.get_component_details(component_name="com.example.Pub").component_details
    assert (details.version, details.state, details.configuration) == (
        "1.0.0",
        LifecycleState.RUNNING,
        {"rate": 5},
    )
    restart = client.restart_component(component_name="com.example.Sub")
    assert restart.restart_status == RequestStatus.SUCCEEDED
    lifecycle.refuse_restart = lambda name: True
    assert client.restart_component(component_name="com.example.Sub").restart_status == RequestStatus.FAILED
    assert client.stop_component(component_name="com.example.Nobody").stop_status == RequestStatus.SUCCEEDED
    assert ("stop", "com.example.Nobody") in lifecycle.calls
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_component_details(component_name="com.example.Ghost")
    assert missing.value.message == "Component with name com.example.Ghost not found in Greengrass"
    with pytest.raises(InvalidArgumentsError):
        client.restart_component(component_name="")


def test_cli_operations_need_a_policy(core: IpcHarness) -> None:
    with pytest.raises(UnauthorizedError) as denied:
        core.client("com.example.Sub").list_components()
    assert "aws.greengrass.Cli:aws.greengrass#ListComponents" in denied.value.message


def test_without_a_runner_cli_operations_are_not_supported_but_state_is_recorded(tmp_path: Path) -> None:
    with ipc_server(tmp_path, POLICIES) as core:
        client = core.client("com.example.Pub")
        with pytest.raises(ServiceError) as unsupported:
            client.list_components()
        assert (
            unsupported.value.message
            == "Operation aws.greengrass#ListComponents is not supported by Greengrass"
        )
        client.update_state(state=ReportedLifecycleState.RUNNING)
        assert core.server.reported_state("com.example.Pub") == "RUNNING"


def test_put_component_metric_is_kept_and_queryable(core: IpcHarness) -> None:
    client = core.client("aws.greengrass.Metrics")
    client.put_component_metric(
        metrics=[
            Metric(name="frames", unit=MetricUnitType.COUNT, value=12),
            Metric(name="lag", unit=MetricUnitType.SECONDS, value=0.5),
        ]
    )
    kept = core.server.metrics("aws.greengrass.Metrics")
    assert [(m.name, m.unit, m.value) for m in kept] == [("frames", "COUNT", 12.0), ("lag", "SECONDS", 0.5)]
    assert core.server.metrics("com.example.Pub") == []
    with pytest.raises(InvalidArgumentsError):
        client.put_component_metric(metrics=[Metric(name="x" * 33, unit=MetricUnitType.COUNT, value=1)])
    with pytest.raises(InvalidArgumentsError):
        client.put_component_metric(metrics=[Metric(name="neg", unit=MetricUnitType.COUNT, value=-1)])
    with pytest.raises(InvalidArgumentsError):
        client.put_component_metric(metrics=[])


def test_put_component_metric_is_reserved_for_aws_components_as_in_the_nucleus(tmp_path: Path) -> None:
    policy = {"aws.greengrass.ipc.componentmetric": {"m": {"operations": ["*"], "resources": ["*"]}}}
    with ipc_server(tmp_path, {"com.example.Mine": policy}) as core, pytest.raises(UnauthorizedError):
        core.client("com.example.Mine").put_component_metric(
            metrics=[Metric(name="n", unit=MetricUnitType.COUNT, value=1)]
        )
