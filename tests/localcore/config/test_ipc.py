"""The real ConfigStore behind the real IPC server, driven by the real awsiotsdk client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from awsiot.greengrasscoreipc.model import FailedUpdateConditionCheckError, ResourceNotFoundError

from localcore.config import ConfigStore
from localcore.ipc.testing import IpcHarness, ipc_server

SENSING = "com.example.Sensing"
DASHBOARD = "com.example.Dashboard"


class Updates:
    """ConfigurationUpdateEvents from a subscription, with a condition to wait on."""

    def __init__(self) -> None:
        self.paths: list[list[str]] = []
        self._cond = threading.Condition()

    def on_event(self, event: Any) -> None:
        with self._cond:
            self.paths.append(list(event.configuration_update_event.key_path))
            self._cond.notify_all()

    def wait_for(self, path: list[str], timeout: float = 5.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: path in self.paths, timeout):
                raise AssertionError(f"no update for {path} within {timeout}s; got {self.paths}")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def config(tmp_path: Path) -> ConfigStore:
    store = ConfigStore(root=tmp_path)
    store.set_defaults(SENSING, {"Interval": 5, "mqtt": {"Port": 8883}})
    store.set_defaults(DASHBOARD, {})
    return store


@pytest.fixture
def core(tmp_path: Path, config: ConfigStore) -> Iterator[IpcHarness]:
    with ipc_server(tmp_path, {SENSING: {}, DASHBOARD: {}}, config=config) as harness:
        yield harness


def test_a_component_updates_its_configuration_and_another_reads_it(core: IpcHarness) -> None:
    sensing = core.client(SENSING)
    sensing.update_configuration(
        key_path=["MQTT"], value_to_merge={"port": 1883, "tls": False}, timestamp=_now()
    )
    answer = core.client(DASHBOARD).get_configuration(component_name=SENSING, key_path=["mqtt"])
    assert (answer.component_name, answer.value) == (SENSING, {"Port": 1883, "tls": False})
    assert sensing.get_configuration().value == {"Interval": 5, "mqtt": {"Port": 1883, "tls": False}}
    assert sensing.get_configuration(key_path=["Interval"]).value == {"Interval": 5}


def test_a_stale_timestamp_is_a_failed_condition_and_keeps_the_value(core: IpcHarness) -> None:
    sensing = core.client(SENSING)
    now = _now()
    sensing.update_configuration(key_path=[], value_to_merge={"interval": 7}, timestamp=now)
    with pytest.raises(FailedUpdateConditionCheckError):
        sensing.update_configuration(
            key_path=[], value_to_merge={"interval": 9}, timestamp=now - timedelta(minutes=1)
        )
    assert sensing.get_configuration(key_path=["Interval"]).value == {"Interval": 7}


def test_missing_keys_are_resource_not_found(core: IpcHarness) -> None:
    client = core.client(DASHBOARD)
    with pytest.raises(ResourceNotFoundError):
        client.get_configuration(component_name=SENSING, key_path=["nope"])
    with pytest.raises(ResourceNotFoundError):
        client.subscribe_to_configuration_update(
            component_name=SENSING, key_path=["nope"], on_stream_event=print
        )


def test_subscribers_hear_ipc_and_deployment_changes(core: IpcHarness, config: ConfigStore) -> None:
    updates = Updates()
    _, operation = core.client(DASHBOARD).subscribe_to_configuration_update(
        component_name=SENSING, key_path=["mqtt"], on_stream_event=updates.on_event
    )
    try:
        core.client(SENSING).update_configuration(
            key_path=["mqtt"], value_to_merge={"port": 1}, timestamp=_now()
        )
        updates.wait_for(["mqtt", "Port"])
        # The runner applying a deployment's configurationUpdate reaches the same subscribers.
        config.apply_deployment_update(SENSING, reset=["/mqtt/port"], merge={"mqtt": {"qos": 1}})
        updates.wait_for(["mqtt", "qos"])
        assert config.get(SENSING, ["mqtt"]) == {"Port": 8883, "qos": 1}
        assert ["Interval"] not in updates.paths
    finally:
        operation.close().result(5)


def test_configuration_survives_a_core_restart(tmp_path: Path, core: IpcHarness) -> None:
    core.client(SENSING).update_configuration(key_path=[], value_to_merge={"interval": 11}, timestamp=_now())
    reopened = ConfigStore(root=tmp_path)
    with ipc_server(tmp_path / "second", {SENSING: {}}, config=reopened) as second:
        assert second.client(SENSING).get_configuration(key_path=["Interval"]).value == {"Interval": 11}
