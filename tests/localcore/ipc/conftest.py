"""Fixtures: a running IPC server with a few components and their policies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcore.config import ConfigStore
from localcore.contracts import ComponentInfo
from localcore.ipc.testing import IpcHarness, ipc_server
from tests.localcore.ipc.fakes import FakeLifecycle

PUBSUB_ALL = {"aws.greengrass.ipc.pubsub": {"all": {"operations": ["*"], "resources": ["*"]}}}

POLICIES: dict[str, Any] = {
    "com.example.Pub": {
        "aws.greengrass.ipc.pubsub": {
            "pub": {
                "operations": ["aws.greengrass#PublishToTopic"],
                "resources": ["sensors/*", "$aws/things/*"],
            },
            "sub": {
                "operations": ["aws.greengrass#SubscribeToTopic"],
                "resources": ["sensors/#", "alerts/+"],
            },
        },
        "aws.greengrass.ipc.mqttproxy": {
            "iot": {"operations": ["*"], "resources": ["dt/+/telemetry", "cmd/#"]},
        },
        "aws.greengrass.ShadowManager": {
            "shadow": {
                "operations": ["*"],
                "resources": ["$aws/things/dev-1/shadow", "$aws/things/dev-1/shadow/name/*", "dev-1"],
            }
        },
        "aws.greengrass.Cli": {
            "cli": {"operations": ["*"], "resources": ["*"]},
        },
    },
    "com.example.Sub": PUBSUB_ALL,
    "com.example.Nobody": {},
    "aws.greengrass.Metrics": {
        "aws.greengrass.ipc.componentmetric": {
            "m": {"operations": ["aws.greengrass#PutComponentMetric"], "resources": ["*"]}
        }
    },
}


@pytest.fixture
def config_service() -> ConfigStore:
    store = ConfigStore()
    store.set_defaults("com.example.Pub", {"mqtt": {"port": 8883, "Host": "localhost"}, "rate": 5})
    store.set_defaults("com.example.Sub", {"threshold": {"high": 30}})
    return store


@pytest.fixture
def lifecycle() -> FakeLifecycle:
    return FakeLifecycle(
        [
            ComponentInfo("com.example.Pub", "1.0.0", "RUNNING", {"rate": 5}),
            ComponentInfo("com.example.Sub", "1.2.0", "RUNNING"),
            ComponentInfo("com.example.Nobody", "0.1.0", "STARTING"),
        ]
    )


@pytest.fixture
def core(tmp_path: Path, config_service: ConfigStore, lifecycle: FakeLifecycle) -> Iterator[IpcHarness]:
    with ipc_server(tmp_path, POLICIES, config=config_service, lifecycle=lifecycle) as harness:
        yield harness
